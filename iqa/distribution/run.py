"""One comparison of two sets of images: what ``iqa fid`` and :func:`iqa.fid` run.

Each set is a folder of images (its statistics come from the cache or are computed) or
a ``.npz`` statistics file. The network and its weights are resolved only when a folder
has to be computed, and built once. The library prints nothing: warnings and progress
go to the callbacks in :class:`Hooks` and are kept in :attr:`Comparison.warnings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.distribution.options import FIDOptions, FIDWarning, Hooks, python_warning
from iqa.distribution.preprocess import RESIZE_MODES, resize_mode
from iqa.distribution.ranks import current
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError, UsageError
from iqa.features.inception import FEATURE_DIM as _DIM
from iqa.metrics.kid import KIDValue

__all__ = ["Comparison", "Engine", "FIDOptions", "FIDWarning", "Hooks", "SetPlan",
           "SetSummary", "compare_sets", "plan_set", "summarize_set"]

PathLike = str | os.PathLike[str]
#: Statistics files: iqa's, pytorch-fid's, clean-fid's and ADM's .npz, torch-fidelity's
#: .pt, EDM2's .pkl (iqa.distribution.foreign).
STATS_SUFFIXES = (".npz", ".pt", ".pkl")


@dataclass
class SetSummary:
    """One side of a comparison: where its statistics came from, and the statistics."""

    path: str
    source: str  # "images", "cache" or "stats file"
    mean: np.ndarray
    cov: np.ndarray
    n: int | None
    stats: FeatureStats | None = None
    features: np.ndarray | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


class Engine:
    """Device, weights and network of a run, each resolved on first need and kept."""

    def __init__(self, options: FIDOptions, hooks: Hooks) -> None:
        self.options = options
        self.hooks = hooks if current().main else Hooks()  # other ranks report nothing
        self._device: str | None = None
        self._weights: Any = None
        self._network: Any = None

    @property
    def device(self) -> str:
        if self._device is None:
            from iqa.device import resolve_device

            self._device = resolve_device(self.options.device)
        return self._device

    @property
    def resolved(self) -> bool:
        return self._weights is not None

    @property
    def weights(self) -> Any:
        if self._weights is None:
            from iqa.distribution.network import resolve_weights
            from iqa.errors import WeightsError
            from iqa.extras import require

            try:
                self._weights = resolve_weights(self.options.weights, self.hooks.download)
            except WeightsError:  # without torch, installing it comes first
                require("torch", "iqa fid on image folders")
                raise
            if self._weights.warning:
                self.hooks.warn(self._weights.warning)
        return self._weights

    @property
    def network(self) -> Any:
        if self._network is None:
            from iqa.distribution.network import inception

            self._network = inception(self.weights, self.device)
        return self._network

    def cache_settings(self) -> dict[str, Any]:
        from iqa.features.inception import NETWORK_ID

        settings = {"network": NETWORK_ID, "weights_sha256": self.weights.sha256,
                    "device": self.device, **self.options.decode.describe()}
        if self.options.limit is not None:  # a subset gets its own entry
            settings["limit"] = [self.options.limit, self.options.limit_seed]
        return settings

    def meta(self) -> dict[str, Any]:
        """What a statistics file records about how it was computed."""
        from iqa import __version__
        from iqa.features.inception import NETWORK_ID

        w = self.weights
        return {"network": NETWORK_ID, **self.options.decode.describe(), "iqa": __version__,
                "weights": {"name": w.name, "sha256": w.sha256, "verified": w.verified}}


@dataclass
class SetPlan:
    """A checked input: a folder with its image files, or a statistics file already read."""

    path: Path
    files: list[Path] | None = None
    summary: SetSummary | None = None
    available: int | None = None  # image files in the folder before --limit
    memory: Any = None  # an in-memory set (see iqa.distribution.memory)


def limit_files(files: list[Path], limit: int | None, seed: int | None) -> list[Path]:
    """The first ``limit`` files (sorted), or with ``seed`` ``limit`` files drawn without
    replacement by ``numpy.random.default_rng(seed)``, kept in sorted order."""
    if limit is None or limit >= len(files):
        return files
    if seed is None:
        return files[:limit]
    chosen = np.random.default_rng(seed).choice(len(files), size=limit, replace=False)
    return [files[i] for i in sorted(chosen)]


def plan_set(path: PathLike, *, need_features: bool, limit: int | None = None,
             limit_seed: int | None = None) -> SetPlan:
    """Check one input before anything is computed; :class:`InputError` if unusable.

    ``limit``/``limit_seed`` select the files of a folder (:func:`limit_files`).
    Anything that is not a path is an in-memory set (:mod:`iqa.distribution.memory`)."""
    from iqa.distribution.memory import describe, is_in_memory
    from iqa.io.pairing import list_images

    if is_in_memory(path):
        return SetPlan(Path(describe(path)), memory=path)
    p = Path(path)
    if p.is_dir():
        files = list_images(p)
        if not files:
            raise InputError(f"{path}: folder holds no images (PNG, JPEG, WebP, TIFF, BMP)",
                             str(path))
        if len(files) < 2:
            raise InputError(f"{path}: holds 1 image; FID and KID need at least 2 images per "
                             "set", str(path))
        return SetPlan(p, files=limit_files(files, limit, limit_seed), available=len(files))
    if p.is_file():
        if p.suffix.lower() in STATS_SUFFIXES:
            from iqa.distribution.npzimages import NpzImages, images_only

            if p.suffix.lower() == ".npz" and images_only(p):  # an ADM sample batch
                images = NpzImages(p)
                return SetPlan(p, memory=images, available=images.shape[0])
            return SetPlan(p, summary=_stats_file(p, need_features))
        raise InputError(f"{path}: expected a folder of images or a statistics file (.npz; "
                         "torch-fidelity's .pt, EDM2's .pkl)", str(path))
    raise InputError(f"{path}: no such file or folder", str(path))


def summarize_set(path: PathLike | SetPlan, engine: Engine, *, label: str,
                  need_features: bool) -> SetSummary:
    """The statistics of one set: a ``.npz`` file, a cached folder, or a computed folder."""
    plan = path if isinstance(path, SetPlan) else plan_set(path, need_features=need_features)
    if plan.summary is not None:
        return plan.summary
    if plan.memory is not None:
        return _memory(plan, engine, need_features)
    return _folder(plan.path, plan.files or [], engine, label, need_features)


def _stats_file(path: Path, need_features: bool) -> SetSummary:
    from iqa.distribution.statsfile import read_stats

    sf = read_stats(path)
    if need_features and sf.features is None:
        raise UsageError(
            f"{path}: KID needs the features of each set, and this file holds only mu and "
            "sigma; give the image folder, or save its statistics with --save-stats and --kid"
        )
    n = sf.n if sf.n is not None else (len(sf.features) if sf.features is not None else None)
    return SetSummary(str(path), "stats file", sf.mean, sf.cov, n, None, sf.features,
                      meta=sf.meta)


def _refuse_skipped(skipped: list[tuple[str, str]]) -> None:
    file, reason = skipped[0]
    raise InputError(
        f"{reason}; remove or replace the file, or leave unreadable files out with --skip-bad",
        file,
    )


def _folder(folder: Path, files: list[Path], engine: Engine, label: str,
            need_features: bool) -> SetSummary:
    """A folder's statistics from the cache, or computed; under torchrun each rank
    computes its shard and rank 0 gets the whole (:mod:`iqa.distribution.ranks`)."""
    from iqa.distribution.data import extract

    options, hooks = engine.options, engine.hooks
    group = current()
    cache, cached = group.collect(
        lambda: _cached(folder, files, engine, need_features) if group.main else (None, None))
    if group.broadcast(cached is not None):
        return cached if group.main else _placeholder(folder)
    batch = options.batch_size or _default_batch(engine.device)
    start, stop = group.span(len(files), batch)
    progress = hooks.progress or (lambda label, total: nullcontext(None))
    alone = group.world == 1  # several ranks: rank 0 names skipped files once gathered
    with progress(f"{label}: {folder}", stop - start) as advance:
        result = group.collect(lambda: extract(
            [str(f) for f in files[start:stop]], engine.network, options.decode,
            device=engine.device, batch_size=batch, workers=_workers(options, engine.device),
            keep_features=need_features, skip_bad=options.skip_bad, advance=advance,
            on_skip=(lambda file, reason: hooks.warn(f"skipped: {reason}")) if alone else None,
        ))
    result = group.combine(result)
    if not group.main:
        return group.collect(lambda: None) or _placeholder(folder)
    return group.collect(lambda: _computed(folder, files, engine, cache, result, alone))


def _cached(folder: Path, files: list[Path], engine: Engine,
            need_features: bool) -> tuple[Any, SetSummary | None]:
    """(the folder's cache or None, its cached statistics or None)."""
    from iqa.distribution.statscache import StatsCache

    options, hooks = engine.options, engine.hooks
    if not options.cache:
        return None, None
    cache = StatsCache(folder, files, engine.cache_settings(), options.cache_key)
    entry, why = cache.load(need_features)
    if entry is not None:
        if entry.skipped and not options.skip_bad:
            _refuse_skipped(entry.skipped)
        hooks.info(f"{folder}: statistics of {entry.stats.n} images from the cache")
        return cache, _summary(folder, "cache", entry.stats, entry.features, entry.skipped, None)
    if why.startswith("corrupt"):
        hooks.warn(f"{folder}: cached statistics {cache.path} are unusable ({why}); "
                   "recomputing them")
    elif why == "stale":
        hooks.info(f"{folder}: files changed since its statistics were cached; recomputing")
    return cache, None


def _computed(folder: Path, files: list[Path], engine: Engine, cache: Any, result: Any,
              alone: bool) -> SetSummary:
    """Check a folder's computed statistics, report them and store them in the cache."""
    hooks = engine.hooks
    if not alone:
        for _, reason in result.skipped:
            hooks.warn(f"skipped: {reason}")
    n = result.stats.n
    if n < 2:
        raise InputError(f"{folder}: only {n} of {len(files)} images could be read; FID and "
                         "KID need at least 2 images per set", str(folder))
    rate = n / result.seconds if result.seconds > 0 else float("inf")
    hooks.info(f"{folder}: {n} images in {result.seconds:.1f} s ({rate:.1f} images/s)")
    if cache is not None:
        try:
            cache.store(result.stats, result.features, result.skipped)
        except OSError as exc:
            hooks.warn(f"could not write the statistics cache {cache.path} ({exc.strerror or exc})")
    return _summary(folder, "images", result.stats, result.features, result.skipped,
                    result.seconds)


def _placeholder(folder: Path) -> SetSummary:
    """What ranks other than 0 hold for a set: nothing (rank 0 has the statistics)."""
    return SetSummary(str(folder), "images", np.zeros(0), np.zeros((0, 0)), None)


def _memory(plan: SetPlan, engine: Engine, need_features: bool) -> SetSummary:
    """Statistics of an in-memory set (never cached: there is no file to key on)."""
    import time

    from iqa.distribution.memory import extract_arrays

    name = str(plan.path)
    start = time.perf_counter()
    stats, features = extract_arrays(
        plan.memory, name, engine.network, resize_mode(engine.options.resize).fn,
        device=engine.device, keep_features=need_features,
        batch_size=engine.options.batch_size or _default_batch(engine.device))
    source = getattr(plan.memory, "source", "memory")  # an .npz of images: "images"
    return _summary(plan.path, source, stats, features, [], time.perf_counter() - start)


def _summary(folder: Path, source: str, stats: FeatureStats, features: np.ndarray | None,
             skipped: list[tuple[str, str]], seconds: float | None) -> SetSummary:
    return SetSummary(str(folder), source, stats.mean, stats.cov, stats.n, stats, features,
                      list(skipped), seconds=seconds)


def _default_batch(device: str) -> int:
    from iqa.device import default_batch_size
    from iqa.distribution.network import DEFAULT_BATCH

    return default_batch_size(device, DEFAULT_BATCH, 16)


def _workers(options: FIDOptions, device: str) -> int:
    from iqa.device import default_workers

    return default_workers(device) if options.workers is None else options.workers


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
    need_features = options.need_features()
    hooks = hooks or Hooks(warn=python_warning)
    warnings: list[str] = []
    outer_warn = hooks.warn

    def warn(message: str) -> None:
        warnings.append(message)
        outer_warn(message)

    engine = Engine(options, Hooks(warn, hooks.info, hooks.progress, hooks.download))
    plans = [path if isinstance(path, SetPlan) else
             plan_set(path, need_features=need_features, limit=options.limit,
                      limit_seed=options.limit_seed) for path in (real, fake)]
    from iqa.distribution.generative import add_generative, precheck
    from iqa.distribution.provenance import check_plans

    check_plans(plans, engine, engine.hooks.warn)  # other ranks: no warnings
    precheck(plans, engine)
    sides = [summarize_set(plan, engine, label=label, need_features=need_features)
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
