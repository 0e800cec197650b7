"""One comparison of two sets of images: what ``iqa fid`` and :func:`iqa.fid` run.

Each set is a folder of images (its statistics come from the cache or are computed) or
a ``.npz`` statistics file. The network and its weights are resolved only when a folder
has to be computed, and built once. The library prints nothing: warnings and progress
go to the callbacks in :class:`Hooks` and are kept in :attr:`Comparison.warnings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqa.distribution.options import FIDOptions, FIDWarning, Hooks, python_warning
from iqa.distribution.preprocess import RESIZE_MODES
from iqa.distribution.ranks import current
from iqa.distribution.sets import (
    Engine,
    PathLike,
    SetPlan,
    SetSummary,
    plan_set,
    summarize_set,
)
from iqa.errors import InputError
from iqa.features.inception import FEATURE_DIM as _DIM
from iqa.metrics.kid import KIDValue

__all__ = ["Comparison", "Engine", "FIDOptions", "FIDWarning", "Hooks", "SetPlan",
           "SetSummary", "compare_sets", "plan_set", "summarize_set"]


@dataclass
class Comparison:
    """The result of one comparison, with everything a report needs."""

    fid: float
    real: SetSummary
    fake: SetSummary
    options: FIDOptions
    weights: Any = None  # iqa.weights.ResolvedWeights, when a folder was computed
    device: str | None = None
    kid: KIDValue | None = None
    kid_subset_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    available: dict[str, int | None] = field(default_factory=dict)
    #: Values of further distribution metrics (plugins), by key, and their classes.
    values: dict[str, float] = field(default_factory=dict)
    plugins: list[Any] = field(default_factory=list)
    #: Definitions of the generative metrics computed (iqa.distribution.generative).
    generative: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """One flat-ish dict: what ``iqa fid`` writes and quality gates read."""
        from iqa.features.inception import NETWORK_ID

        mode = RESIZE_MODES[self.options.resize]
        record: dict[str, Any] = {"real": self.real.path, "fake": self.fake.path,
                                  "fid": self.fid}
        if self.kid is not None:
            record.update(kid_mean=self.kid.mean, kid_std=self.kid.std)
        record.update(self.values)
        record.update(
            resize=self.options.resize,
            weights=None if self.weights is None else self.weights.describe(),
            counts={"real": self.real.n, "fake": self.fake.n,
                    "skipped_real": len(self.real.skipped),
                    "skipped_fake": len(self.fake.skipped)},
            network=NETWORK_ID,
            preprocessing={"resize": mode.name, "definition": mode.description,
                           "reproduces": mode.reference, "alpha": self.options.alpha,
                           "exif": self.options.exif},
            sources={"real": self.real.source, "fake": self.fake.source},
            device=self.device,
        )
        if self.kid is not None:
            record["kid"] = {"subsets": self.options.kid_subsets,
                             "subset_size": self.kid_subset_size, "seed": self.options.seed,
                             "kernel": f"(x.y/{_DIM} + 1)^3", "estimator": "unbiased MMD^2"}
        record["skipped"] = {
            side: [{"file": f, "reason": r} for f, r in s.skipped]
            for side, s in (("real", self.real), ("fake", self.fake))
        }
        limit = self.options.limit_record(self.available)
        if limit is not None:
            record["limit"] = limit
        files = {label: side for label, side in (("real", self.real), ("fake", self.fake))
                 if side.source == "stats file"}
        if files:
            from iqa.distribution.provenance import describe_file

            record["stats_files"] = {label: describe_file(side.meta, self.options.stats_resize,
                                                          side.path)
                                     for label, side in files.items()}
        record["definitions"] = self.definitions()
        record["settings"] = self.options.decode.describe()
        record["warnings"] = list(self.warnings)
        return record

    def weights_sha256(self) -> str | None:
        """The weights' digest: this run's, else the one both statistics files record."""
        if self.weights is not None:
            return self.weights.sha256
        digests = {(s.meta.get("weights") or {}).get("sha256") for s in (self.real, self.fake)}
        return digests.pop() if len(digests) == 1 else None

    def definitions(self) -> dict[str, Any]:
        """What each number means, per metric: a baseline with other definitions is told."""
        from iqa.features.inception import NETWORK_ID
        from iqa.registry import load, validate_params

        mode = RESIZE_MODES[self.options.resize]
        common = {"network": NETWORK_ID, "features": f"pool3, {_DIM}",
                  "weights_sha256": self.weights_sha256(), "resize": mode.name,
                  "resize_definition": mode.description, "alpha": self.options.alpha,
                  "exif": self.options.exif, "higher_is_better": False}
        defs = {"fid": {"definition": load("fid").info.definition, **common}}
        if self.kid is not None:
            defs["kid"] = {"definition": load("kid").info.definition, **common,
                           "kernel": f"(x.y/{_DIM} + 1)^3", "estimator": "unbiased MMD^2",
                           "subsets": self.options.kid_subsets,
                           "subset_size": self.kid_subset_size, "seed": self.options.seed}
        for cls in self.plugins:
            params = validate_params({k: v for k, v in self.options.params.items()
                                      if k.startswith(f"{cls.info.name}.")}, [cls.info.name])
            defs[cls.info.name] = {"definition": cls.info.definition, **common,
                                   "higher_is_better": cls.info.higher_is_better,
                                   "unit": cls.info.unit, **({"options": params} if params else {})}
        defs.update(self.generative)
        return defs


def compare_sets(real: PathLike | SetPlan, fake: PathLike | SetPlan,
                 options: FIDOptions | None = None, hooks: Hooks | None = None) -> Comparison:
    """FID (and KID when ``options.kid``) between two sets; see :func:`iqa.fid`."""
    options = options if options is not None else FIDOptions()
    from iqa.metrics.base import MetricOptions
    from iqa.metrics.fid import FID
    from iqa.metrics.kid import KID

    options.check()
    plugins = options.plugins()
    need = {side: options.need_features(side) for side in ("real", "fake")}
    hooks = hooks or Hooks(warn=python_warning)
    warnings: list[str] = []
    outer_warn = hooks.warn

    def warn(message: str) -> None:
        warnings.append(message)
        outer_warn(message)

    engine = Engine(options, Hooks(warn, hooks.info, hooks.progress, hooks.download))
    plans = [path if isinstance(path, SetPlan) else
             plan_set(path, need_features=need[label], limit=options.limit,
                      limit_seed=options.limit_seed)
             for path, label in ((real, "real"), (fake, "fake"))]
    from iqa.distribution.gencompute import add_generative, precheck
    from iqa.distribution.generative import other_extractors
    from iqa.distribution.provenance import check_plans

    check_plans(plans, engine, engine.hooks.warn)  # other ranks: no warnings
    listing_notes(plans, ("REAL", "FAKE"), options, engine.hooks.warn)
    precheck(plans, engine)
    engine.companion_names = other_extractors(options)
    sides = [summarize_set(plan, engine, label=label, need_features=need[label])
             for plan, label in zip(plans, ("real", "fake"))]
    current().leave_if_follower()  # under torchrun, rank 0 alone goes on
    _check_consistency(sides, engine, warn)
    for side in sides:
        _check_finite(side)
    value = FID(MetricOptions()).compute(*sides)["fid"]
    _finite_result("FID", value, sides)
    available = {label: plan.available for label, plan in zip(("real", "fake"), plans)}
    result = Comparison(value, *sides, options=options, warnings=warnings, available=available,
                        weights=engine.weights if engine.resolved else None,
                        device=engine.device if engine.resolved else None)
    if options.with_kid:
        smaller = min(len(s.features) for s in sides)  # type: ignore[arg-type]
        size = options.kid_subset_size
        if size > smaller:
            warn(f"--kid-subset-size {size} is larger than the smaller set ({smaller} images); "
                 f"using {smaller}")
            size = smaller
        params = {"kid.subsets": options.kid_subsets, "kid.subset_size": size,
                  "kid.seed": options.seed}
        kid = KID(MetricOptions(params=params)).compute(sides[0].features, sides[1].features)
        _finite_result("KID", kid["kid_mean"], sides)
        _finite_result("KID", kid["kid_std"], sides)
        result.kid = KIDValue(kid["kid_mean"], kid["kid_std"])
        result.kid_subset_size = size
    result.plugins = plugins
    for cls in plugins:
        result.values.update(_plugin_values(cls, sides, options, engine))
    add_generative(result, plans, engine)
    return result


def _plugin_values(cls: Any, sides: list[SetSummary], options: FIDOptions,
                   engine: Engine) -> dict[str, float]:
    """Run one plugin distribution metric on the two sets (see
    :class:`~iqa.metrics.base.DistributionMetric`): its values, checked."""
    from iqa.errors import PluginError
    from iqa.metrics.base import MetricOptions
    from iqa.registry import validate_params

    name = cls.info.name
    params = validate_params({k: v for k, v in options.params.items()
                              if k.startswith(f"{name}.")}, [name])
    metric = cls(MetricOptions(device=options.device, batch_size=options.batch_size,
                               params=params, warn=engine.hooks.warn))
    inputs = ([s.features for s in sides] if getattr(cls, "inputs", "stats") == "features"
              else sides)
    values = metric.compute(*inputs)
    if not isinstance(values, dict) or not values or not all(
            isinstance(k, str) and k.startswith(name) for k in values):
        raise PluginError(f"metric plugin {name!r} returned {values!r}: expected a dict of "
                          f"values whose keys start with {name!r}")
    out = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise PluginError(f"metric plugin {name!r}: {key} is {value!r}, not a number")
        _finite_result(key, float(value), sides)
        out[key] = float(value)
    return out


def _check_finite(side: SetSummary) -> None:
    """Features that are NaN or infinite (damaged weights, overflow) give no FID."""
    arrays = [side.mean, side.cov] + ([side.features] if side.features is not None else [])
    if not all(np.isfinite(a).all() for a in arrays):
        raise InputError(f"{side.path}: its Inception features are NaN or infinite, so no FID "
                         "or KID can be computed; check the network weights (--weights)",
                         side.path)


def _finite_result(name: str, value: float, sides: list[SetSummary]) -> None:
    """A non-finite FID or KID is an error with its reason, never a ``null`` result."""
    if np.isfinite(value):
        return
    largest = max(float(np.abs(a).max()) for s in sides
                  for a in (s.mean, s.cov, *([] if s.features is None else [s.features])))
    raise InputError(
        f"{name} of {sides[0].path} and {sides[1].path} is not a finite number ({value}): "
        f"their statistics hold values up to {largest:.3g}, too large for float64 "
        "arithmetic; check how the statistics were made", sides[1].path,
    )


def listing_notes(plans: list[SetPlan], labels: tuple[str, ...], options: FIDOptions,
                  warn: Any) -> None:
    """A warning per folder whose files differ from those the reference tool of
    ``--resize`` reads (:mod:`iqa.distribution.listing`); not with ``--limit``, which
    chooses files on purpose."""
    from iqa.distribution.listing import listing_note

    if options.limit is not None or not current().main:  # rank 0 alone warns
        return
    for plan, label in zip(plans, labels):
        if plan.files is not None and plan.memory is None and plan.summary is None:
            note = listing_note(label, plan.path, plan.files, options.resize)
            if note:
                warn(note)


def _check_consistency(sides: list[SetSummary], engine: Engine,
                       warn: Callable[[str], None]) -> None:
    """Warn about what makes the number hard to compare: few images (statistics files
    computed otherwise are refused before: :mod:`iqa.distribution.provenance`)."""
    counts = [s.n for s in sides]
    if any(n is not None and n <= _DIM for n in counts):
        shown = " and ".join(f"{n} {label} images" if n is not None else
                             f"{label} statistics of an unknown number of images"
                             for n, label in zip(counts, ("real", "fake")))
        warn(f"FID from {shown}: with {_DIM} or fewer images a covariance is "
             "rank-deficient and FID is biased upward; compare values only at equal image "
             "counts (papers use 10,000-50,000)")
