"""Generative-model metrics beyond FID and KID in one ``iqa fid`` run: ``is``, ``fd``,
``precision``, ``recall``, ``density``, ``coverage`` (``-m``/``--metric``).

Each metric is computed on the features of one registered extractor
(:mod:`iqa.features.registry`), the one its reference tool uses:

=============  ===========  =========================================================
metric         extractor    reference
=============  ===========  =========================================================
``is``         inception    torch-fidelity ``isc`` (10 splits; ``is.mode=adm``: the ADM
                            evaluator's 5,000-image splits); the FAKE set's score
``precision``  vgg16        torch-fidelity ``prc`` (Kynkäänniemi et al. 2019, k = 3);
``recall``                  ``--features inception``: the ADM evaluator's variant
``density``    vgg16        the ``prdc`` package (Naeem et al. 2020, k = 5)
``coverage``
``fd``         inception    Fréchet distance on the ``--features`` extractor
``kid``        inception    KID on the ``--features`` extractor (torch-fidelity ``kid``:
                            kernel (x·y/d + 1)³, d its dimension); on the Inception it is
                            the FID pipeline's KID
``cmmd``       clip-vit-    google-research ``cmmd``: biased MMD², Gaussian RBF σ = 10,
               l-14-336     ×1000, on L2-normalised CLIP ViT-L/14@336px embeddings
=============  ===========  =========================================================

``--features NAME`` moves ``fd``, ``kid``, ``precision``, ``recall``, ``density`` and
``coverage`` to another extractor; ``fid`` and ``is`` stay on the FID Inception and
``cmmd`` on its CLIP (``-m cmmd --features X`` with another X is refused: CMMD is defined
on those embeddings only). Inception
features come from the FID pass (with its ``--resize`` and cache). Every other extractor
embeds the same decoded pixels in that pass (:mod:`iqa.distribution.companions`), so
each file is decoded once for all of them; only a folder whose Inception statistics
come from the cache is decoded again, once, for the others
(:mod:`iqa.distribution.feature_pass`). ``fd``
takes a statistics file that holds the extractor's mu and sigma (EDM2's ``fd_dinov2``)
in place of a folder (:mod:`iqa.distribution.genstats`); the other metrics need folders. Each value
is a top-level key of the result (``is`` with ``is_std``), and the ``definitions`` block
names its extractor, layer, preprocessing, weights digest and parameters.

This module is the metrics' table and the choice of extractors;
:mod:`iqa.distribution.gencompute` computes the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iqa.errors import UsageError
from iqa.features.registry import split_features
from iqa.params import invalid


@dataclass(frozen=True)
class GenMetric:
    name: str
    extractor: str  # the default extractor
    follows_features: bool  # --features changes it
    higher_is_better: bool
    definition: str


METRICS: dict[str, GenMetric] = {m.name: m for m in (
    GenMetric("is", "inception", False, True,
              "Inception Score exp(E_x KL(p(y|x) || p(y))) of the FAKE set, from the FID "
              "Inception's 1008 logits without bias (Salimans et al. 2016)"),
    GenMetric("fd", "inception", True, False,
              "Frechet distance |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^1/2) of the "
              "extractor's features (Heusel et al. 2017; FD-DINOv2: Stein et al. 2023)"),
    GenMetric("precision", "vgg16", True, True,
              "improved precision: share of FAKE features within the k-NN ball (<=) of some "
              "REAL feature (Kynkaanniemi et al. 2019), as torch-fidelity prc"),
    GenMetric("recall", "vgg16", True, True,
              "improved recall: share of REAL features within the k-NN ball (<=) of some "
              "FAKE feature (Kynkaanniemi et al. 2019), as torch-fidelity prc"),
    GenMetric("density", "vgg16", True, True,
              "density: mean count of REAL k-NN balls (<) holding each FAKE feature, / k "
              "(Naeem et al. 2020), as the prdc package"),
    GenMetric("coverage", "vgg16", True, True,
              "coverage: share of REAL features whose k-NN ball (<) holds a FAKE feature "
              "(Naeem et al. 2020), as the prdc package"),
    GenMetric("kid", "inception", True, False,
              "KID = unbiased MMD^2 of the extractor's features, kernel (x.y/d + 1)^3, mean "
              "over random subsets (Binkowski et al. 2018), as torch-fidelity kid"),
    GenMetric("cmmd", "clip-vit-l-14-336", False, False,
              "CMMD = 1000 * biased MMD^2 of L2-normalised CLIP ViT-L/14@336px embeddings, "
              "Gaussian RBF kernel sigma = 10 (Jayasumana et al. 2024), as google-research "
              "cmmd"),
)}
#: The only extractor CMMD is defined on.
CMMD_EXTRACTOR = "clip-vit-l-14-336"
#: k of each k-NN metric (the values of the papers and reference tools).
NEAREST_K = {"precision": 3, "recall": 3, "density": 5, "coverage": 5}
#: Options of ``is`` (``--metric-option is.mode=adm``): name -> (type, default, choices).
IS_OPTIONS: dict[str, tuple[type, Any, tuple[Any, ...] | None]] = {
    "mode": (str, "torch-fidelity", ("torch-fidelity", "adm")),
    "splits": (int, 10, None),
    "split_size": (int, 5000, None),
}


def selected(metrics: tuple[str, ...]) -> list[str]:
    """The generative metrics among ``metrics``, in order, without duplicates."""
    return [m for m in dict.fromkeys(metrics) if m in METRICS]


def extractors(metrics: tuple[str, ...], features: str | None) -> dict[str, str]:
    """Metric name -> extractor name for the generative metrics among ``metrics``. KID on
    the Inception is left out: the FID pipeline computes it (:func:`kid_moves`)."""
    features, _ = split_features(features)
    out = {m: (features if features is not None and METRICS[m].follows_features
               else METRICS[m].extractor) for m in selected(metrics)}
    if out.get("kid") == "inception":
        del out["kid"]
    return out


def kid_moves(features: str | None) -> bool:
    """Whether KID (``-m kid`` or ``--kid``) is computed here, on ``features``, instead of
    by the FID pipeline on the Inception."""
    name, _ = split_features(features)
    return name is not None and name != "inception"


def run_metrics(options: Any) -> tuple[str, ...]:
    """``options.metrics``, with ``kid`` when ``--kid`` asks for it."""
    return options.metrics + (("kid",) if options.kid else ())


def is_params(params: dict[str, Any]) -> dict[str, Any]:
    """The ``is.*`` options, converted and checked (defaults filled in)."""
    out = {name: default for name, (_, default, _) in IS_OPTIONS.items()}
    for key, value in params.items():
        metric, _, name = key.partition(".")
        if metric != "is":
            continue
        if name not in IS_OPTIONS:
            raise UsageError(f"metric option {key}: is has no option {name!r}; its options: "
                             f"{', '.join(IS_OPTIONS)}")
        kind, _, choices = IS_OPTIONS[name]
        if kind is int and (isinstance(value, bool) or (
                isinstance(value, float) and not value.is_integer())):
            raise UsageError(f"metric option {key}={value}: expected a whole number")
        try:
            converted = kind(value)
        except (TypeError, ValueError):
            raise UsageError(f"metric option {key}={value}: expected {kind.__name__}") from None
        if choices is not None and converted not in choices:
            raise UsageError(f"metric option {key}={value}: must be one of {', '.join(choices)}")
        if kind is int and converted < 1:
            raise UsageError(f"metric option {key}={value}: must be at least 1")
        out[name] = converted
    if out["mode"] != "adm" and any(k == "is.split_size" for k in params):
        raise UsageError("metric option is.split_size: applies to is.mode=adm (the ADM "
                         "evaluator's splits of that many images); torch-fidelity's mode "
                         "splits into is.splits parts")
    return out


def check(metrics: tuple[str, ...], features: str | None, params: dict[str, Any]) -> None:
    """Refuse before any work: an unknown ``features`` extractor, ``features`` that no
    chosen metric uses, bad ``is.*`` options."""
    from iqa.features.registry import load

    chosen = selected(metrics)
    _no_other_options(params)
    if features is not None and features.endswith(":"):
        raise invalid("features", f"{features!r}: name a preprocessing mode after the "
                      f"colon, or give {features[:-1]} alone for its default")
    features, mode = split_features(features)
    if features is not None:
        cls = load(features)  # UsageError / PluginError naming it
        if mode is not None:
            if features == "inception":
                raise invalid("features", f"'inception:{mode}': the Inception's "
                              "preprocessing is chosen with --resize")
            try:
                cls.info.mode(mode)
            except UsageError as exc:
                raise invalid("features", f"'{features}:{mode}': {exc}") from None
        if not any(METRICS[m].follows_features for m in chosen):
            if "cmmd" in chosen and features != CMMD_EXTRACTOR:
                raise invalid("features", f"{features!r}: cmmd is defined on "
                              f"{CMMD_EXTRACTOR} embeddings only (google-research's "
                              "reference); drop --features, or use fd or kid for a distance "
                              f"on {features} features")
            if not ("cmmd" in chosen and features == CMMD_EXTRACTOR):
                raise invalid("features", f"{features!r}: applies to fd, kid, precision, "
                              "recall, density and coverage; add one of them to --metric")
    if "is" in chosen:
        is_params(params)
    elif any(k.startswith("is.") for k in params):
        raise invalid("metrics", "is options given without the is metric")


#: Flags that set what a ``kid.*`` option would (``iqa fid`` has them already).
_KID_FLAGS = {"subsets": "--kid-subsets", "subset_size": "--kid-subset-size", "seed": "--seed"}


def _no_other_options(params: dict[str, Any]) -> None:
    """Refuse options of the generative metrics other than ``is``: they have none here
    (k of the k-NN metrics and CMMD's sigma are the papers' values), and KID's are the
    ``--kid-*`` flags. Given anyway, they would be silently ignored."""
    for key in params:
        metric, _, name = key.partition(".")
        if metric not in METRICS or metric == "is":
            continue
        if metric == "kid" and name in _KID_FLAGS:
            python = "seed=" if name == "seed" else f"kid_{name}= in iqa.fid, {name}="
            raise invalid("params", f"{key}: iqa fid sets it with {_KID_FLAGS[name]} "
                          f"({python} in iqa.kid)")
        raise invalid("params", f"{key}: {metric} takes no options in iqa fid (its "
                      "constants are the paper's and the reference tool's)")


def other_extractors(options: Any) -> tuple[str, ...]:
    """The extractors other than the FID Inception that the run's metrics use, sorted:
    each folder's decode pass feeds them too."""
    assigned = extractors(run_metrics(options), options.features)
    return tuple(sorted({e for e in assigned.values() if e != "inception"}))


def inception_feature_users(metrics: tuple[str, ...], features: str | None,
                            side: str | None = None) -> list[str]:
    """The generative metrics that read the FID pass's per-image Inception features (of
    ``side``, "real" or "fake"; None: of either). ``fd`` on the Inception is FID itself
    and takes the FID statistics; ``is`` reads the FAKE set's features only."""
    return [m for m, e in extractors(metrics, features).items()
            if e == "inception" and m != "fd" and not (m == "is" and side == "real")]


def needs_inception_features(metrics: tuple[str, ...], features: str | None,
                             side: str | None = None) -> bool:
    """Whether :func:`inception_feature_users` names any metric."""
    return bool(inception_feature_users(metrics, features, side))
