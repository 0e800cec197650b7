"""``-m fd --features NAME`` with a statistics file for a set: the Fréchet distance needs
only mu and sigma, so a file that holds them for the run's extractor stands in for a
folder (EDM2's ``dataset-refs/*.pkl``: its ``fd_dinov2`` entry for ``dinov2-vit-l-14``;
:mod:`iqa.distribution.foreign`). The other generative metrics need every image's
features, and a statistics file is refused for them
(:func:`iqa.distribution.gencompute.precheck`).

The file is read for the extractor (:func:`iqa.distribution.statsfile.read_stats`,
``extractor=NAME``): a file without that extractor's entry, or whose mu and sigma do not
have the extractor's dimension, is refused before any image is decoded. A folder's
features give mu and the unbiased covariance (N − 1) exactly as when both sets are
folders (:func:`iqa.genmetrics.fd.feature_stats`), and the distance is
:func:`iqa.distribution.stats.frechet_distance`.

How the file's images were preprocessed for the extractor follows the rules of
:mod:`iqa.distribution.provenance` for a statistics file that does not record the
Inception's resize mode: EDM2 does not record how it resized images for DINOv2 (``torch``
by default, ``pil`` on request), so the mode is unknown, reported as ``null`` with its
reason, and taken as the run's (``--features NAME:MODE``, else the extractor's default
``pil``). Naming the mode in ``--features NAME:MODE`` states it; otherwise a folder
compared with such a file gets a warning saying what was assumed. torch-fidelity's cached
statistics name their extractor, whose preprocessing is torch-fidelity's own (iqa's
``torch-fidelity`` mode): a run with another mode is refused. (A run always computes FID
too, so the file must also hold the Inception's statistics, EDM2's ``fid`` entry, or
torch-fidelity's Inception file must lie beside it: :mod:`iqa.distribution.foreign`.)
"""

from __future__ import annotations

from typing import Any


def read_sides(plans: list[Any], extractor: str) -> list[Any]:
    """The :class:`~iqa.distribution.statsfile.StatsFile` of ``extractor`` for each set
    that is a statistics file (``None`` for a folder); InputError naming a file that has
    no statistics of that extractor."""
    from iqa.distribution.statsfile import read_stats

    return [read_stats(plan.path, extractor=extractor) if plan.summary is not None else None
            for plan in plans]


def check(plans: list[Any], engine: Any, extractor: str) -> None:
    """Refuse, before any image is decoded, a statistics file without ``extractor``'s mu
    and sigma; warn when a folder is compared with a file whose preprocessing is unknown
    and the run does not state it."""
    from iqa.errors import UsageError

    files = read_sides(plans, extractor)
    run_mode, stated = _run_mode(engine, extractor)
    for plan, found in zip(plans, files):
        mode = None if found is None else (found.meta.get("foreign") or {}).get("resize")
        if mode is not None and mode != run_mode:
            raise UsageError(f"{plan.path}: its {extractor} statistics were computed with the "
                             f"{mode} preprocessing, and this run uses {run_mode}; use "
                             f"--features {extractor}:{mode} so that both sets are "
                             "preprocessed alike")
    if stated or all(f is not None for f in files):
        return
    for plan, found in zip(plans, files):
        if found is not None and (found.meta.get("foreign") or {}).get("resize") is None:
            engine.hooks.warn(
                f"{plan.path}: does not record how its images were preprocessed for "
                f"{extractor}; taken as this run's {run_mode} (EDM2 resizes with torch by "
                f"default): state it with --features {extractor}:MODE")


def frechet(features: tuple[Any, Any], plans: list[Any], engine: Any, extractor: str
            ) -> tuple[dict[str, float], dict[str, Any]]:
    """FD of the two sets, each from its features or its statistics file, and what the
    ``fd`` block says about the files (``stats_files``: side -> file, entry, mode)."""
    from iqa.distribution.stats import frechet_distance
    from iqa.genmetrics.fd import feature_stats

    files = read_sides(plans, extractor)
    run_mode, stated = _run_mode(engine, extractor)
    moments, described = [], {}
    for label, plan, found, rows in zip(("real", "fake"), plans, files, features):
        if found is None:
            stats = feature_stats(rows, f"{label} features")
            moments.append((stats.mean, stats.cov))
            continue
        moments.append((found.mean, found.cov))
        foreign = found.meta.get("foreign") or {}
        mode = foreign.get("resize")
        basis = foreign.get("resize_basis") or "recorded in the file"
        if mode is None:
            basis = (f"not recorded in the file ({basis}); " +
                     (f"stated with --features {extractor}:{run_mode}" if stated else
                      f"taken as this run's {run_mode}"))
        described[label] = {"file": str(plan.path), "tool": foreign.get("tool", "iqa"),
                            "format": foreign.get("format"), "entry": foreign.get("entry"),
                            "n": found.n, "preprocessing": mode, "preprocessing_basis": basis}
    (mu_r, sigma_r), (mu_f, sigma_f) = moments
    value = float(frechet_distance(mu_r, sigma_r, mu_f, sigma_f))
    return {"fd": value}, {"stats_files": described}


def describe(extractor: str, engine: Any) -> dict[str, Any]:
    """The extractor's definition when no set is a folder (no network is built)."""
    from iqa.features.registry import load

    mode, _ = _run_mode(engine, extractor)
    return {**load(extractor).info.describe(mode), "weights_sha256": None,
            "weights": "none used: both sets are statistics files"}


def _run_mode(engine: Any, extractor: str) -> tuple[str, bool]:
    """(the run's preprocessing mode for ``extractor``, whether ``--features`` names it)."""
    from iqa.features.registry import load, split_features

    name, mode = split_features(engine.options.features)
    mode = mode if name == extractor else None
    return load(extractor).info.mode(mode).name, mode is not None

