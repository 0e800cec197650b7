"""The sets of one comparison: planning an input (a folder, a statistics file, an
in-memory array) and turning it into feature statistics, from the cache or computed
(under torchrun, each rank its shard; :mod:`iqa.distribution.ranks`). The engine holds
the run's device, weights and network, each resolved on first need.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.distribution.options import FIDOptions, Hooks
from iqa.distribution.preprocess import resize_mode
from iqa.distribution.ranks import current
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError, UsageError

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
    #: Features of the run's other extractors, when the same decode pass made them.
    companions: dict[str, np.ndarray] = field(default_factory=dict)


class Engine:
    """Device, weights and network of a run, each resolved on first need and kept."""

    def __init__(self, options: FIDOptions, hooks: Hooks) -> None:
        self.options = options
        self.hooks = hooks if current().main else Hooks()  # other ranks report nothing
        self._device: str | None = None
        self._weights: Any = None
        self._network: Any = None
        #: Extractors other than the Inception that the run's metrics need: a folder's
        #: decode pass feeds them too (:mod:`iqa.distribution.companions`).
        self.companion_names: tuple[str, ...] = ()
        self._companions: Any = None

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

    def companions(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The companion extractors, built once, and what each is
        (:func:`iqa.distribution.genextract.build_all`)."""
        if self._companions is None:
            from iqa.distribution.genextract import build_all

            self._companions = build_all(self.companion_names, self)
        return self._companions

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


def set_order(files: list[Path]) -> list[Path]:
    """The files of a set in torch-fidelity's order: sorted by their real paths (links
    resolved) as text. The order decides KID's random subsets and IS's splits, so with
    the same seed they are torch-fidelity's also on a folder of links."""
    from iqa.distribution.listing import real_paths

    reals = real_paths(files)
    return [files[i] for i in sorted(range(len(files)), key=reals.__getitem__)]


def limit_files(files: list[Path], limit: int | None, seed: int | None) -> list[Path]:
    """The first ``limit`` files (sorted), or with ``seed`` ``limit`` files drawn without
    replacement by ``numpy.random.default_rng(seed)``, kept in sorted order."""
    if limit is None or limit >= len(files):
        return files
    if seed is None:
        return files[:limit]
    chosen = np.random.default_rng(seed).choice(len(files), size=limit, replace=False)
    return [files[i] for i in sorted(chosen)]


def plan_set(path: PathLike, *, need_features: bool | str, limit: int | None = None,
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
        files = set_order(list_images(p))
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
                  need_features: bool | str) -> SetSummary:
    """The statistics of one set: a ``.npz`` file, a cached folder, or a computed folder."""
    plan = path if isinstance(path, SetPlan) else plan_set(path, need_features=need_features)
    if plan.summary is not None:
        return plan.summary
    if plan.memory is not None:
        return _memory(plan, engine, need_features)
    return _folder(plan.path, plan.files or [], engine, label, need_features)


def _stats_file(path: Path, need_features: bool | str) -> SetSummary:
    """``need_features``: what needs each image's features ("KID", "IS, precision"), or a
    bool (True: KID)."""
    from iqa.distribution.statsfile import read_stats

    sf = read_stats(path, features=bool(need_features))  # 8 KiB per image: only if needed
    if need_features and sf.features is None:
        users = need_features if isinstance(need_features, str) else "KID"
        raise UsageError(
            f"{path}: {users} need{'s' if ',' not in users else ''} the features of each "
            "image, and this file holds only mu and sigma; give the image folder, or save "
            "its statistics with --save-stats and --kid"
        )
    n = sf.n if sf.n is not None else sf.feature_rows
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
    names = "".join(f", {name}" for name in engine.companion_names)
    with progress(f"{label} (inception{names}): {folder}" if names else f"{label}: {folder}",
                  stop - start) as advance:
        result = group.collect(lambda: extract(
            [str(f) for f in files[start:stop]], engine.network, options.decode,
            device=engine.device, batch_size=batch, workers=_workers(options, engine.device),
            keep_features=need_features, skip_bad=options.skip_bad, advance=advance,
            on_skip=(lambda file, reason: hooks.warn(f"skipped: {reason}")) if alone else None,
            companions=_companions(engine),
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
    summary = _summary(folder, "images", result.stats, result.features, result.skipped,
                       result.seconds)
    summary.companions = result.companions
    return summary


def _companions(engine: Engine) -> Any:
    """A fresh :class:`~iqa.distribution.companions.Companions` of the run's other
    extractors, or None when it has none."""
    if not engine.companion_names:
        return None
    from iqa.distribution.companions import Companions
    from iqa.distribution.genextract import batch_size

    return Companions(engine.companions()[0], chunk=batch_size(engine))


def _placeholder(folder: Path) -> SetSummary:
    """What ranks other than 0 hold for a set: nothing (rank 0 has the statistics)."""
    return SetSummary(str(folder), "images", np.zeros(0), np.zeros((0, 0)), None)


def _memory(plan: SetPlan, engine: Engine, need_features: bool) -> SetSummary:
    """Statistics of an in-memory set (never cached: there is no file to key on). An
    ``.npz`` of images is shared out like a folder (:func:`_npz_images`)."""
    import time

    from iqa.distribution.memory import extract_arrays

    if hasattr(plan.memory, "window"):
        return _npz_images(plan, engine, need_features)
    name = str(plan.path)
    start = time.perf_counter()
    stats, features = extract_arrays(
        plan.memory, name, engine.network, resize_mode(engine.options.resize).fn,
        device=engine.device, keep_features=need_features,
        batch_size=engine.options.batch_size or _default_batch(engine.device))
    source = getattr(plan.memory, "source", "memory")  # an .npz of images: "images"
    return _summary(plan.path, source, stats, features, [], time.perf_counter() - start)


def _npz_images(plan: SetPlan, engine: Engine, need_features: bool) -> SetSummary:
    """An ``.npz`` of images (:class:`~iqa.distribution.npzimages.NpzImages`): under
    torchrun each rank extracts its share (whole batches, :meth:`Ranks.span`) and rank 0
    gets the sums and features in image order (:meth:`Ranks.combine`), as for a folder;
    in one process, the whole file."""
    group = current()
    batch = engine.options.batch_size or _default_batch(engine.device)
    start, stop = group.span(plan.memory.shape[0], batch)
    result = group.collect(lambda: _extract_window(plan, engine, need_features, batch,
                                                   start, stop))
    result = group.combine(result)
    if not group.main:
        return group.collect(lambda: None) or _placeholder(plan.path)
    return group.collect(lambda: _window_summary(plan, result))


def _extract_window(plan: SetPlan, engine: Engine, need_features: bool, batch: int,
                    start: int, stop: int) -> Any:
    """One rank's images ``[start, stop)`` of an ``.npz``, as an Extraction."""
    import time

    from iqa.distribution.data import Extraction
    from iqa.distribution.memory import extract_arrays

    began = time.perf_counter()
    stats, features = extract_arrays(
        plan.memory.window(start, stop), str(plan.path), engine.network,
        resize_mode(engine.options.resize).fn, device=engine.device,
        keep_features=need_features, batch_size=batch, least=0)
    return Extraction(stats, features, [], time.perf_counter() - began)


def _window_summary(plan: SetPlan, result: Any) -> SetSummary:
    """Rank 0: the whole ``.npz``'s statistics, checked (at least 2 images)."""
    from iqa.distribution.memory import too_few

    if result.stats.n < 2:
        raise too_few(str(plan.path), result.stats.n)
    return _summary(plan.path, plan.memory.source, result.stats, result.features, [],
                    result.seconds)


def _summary(folder: Path, source: str, stats: FeatureStats, features: np.ndarray | None,
             skipped: list[tuple[str, str]], seconds: float | None) -> SetSummary:
    return SetSummary(str(folder), source, stats.mean, stats.cov, stats.n, stats, features,
                      list(skipped), seconds=seconds)


def _default_batch(device: str) -> int:
    from iqa.device import default_batch_size
    from iqa.distribution.network import DEFAULT_BATCH

    return default_batch_size(device, DEFAULT_BATCH, 16)


def _workers(options: FIDOptions, device: str) -> int | None:
    from iqa.device import default_workers

    return default_workers(device) if options.workers is None else options.workers
