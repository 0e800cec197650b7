"""What ``iqa compare --maps DIR --html FILE`` keeps of each pair while the run scores it.

:class:`PairVisuals` is the ``on_map`` sink of :func:`iqa.compare.score_pairs`: each map
arrives from the metric's own pass, is drawn once (:mod:`iqa.output.maps`) and

* with ``--maps DIR``, written as ``DIR/KEY.METRIC.png`` at the image's resolution
  (a temporary file renamed when complete; an input is never overwritten), with one
  ``legend.METRIC.png`` per metric;
* with ``--html``, kept for the pairs that are among the worst N so far (ranked by the
  rank metric, see :func:`rank_metric`): a reduced JPEG of the heat map and, for the
  region whose local SSIM is lowest (else the highest squared error or LPIPS), its
  position. Memory stays O(N) whatever the number of pairs.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqa.output.maps import (
    MAP_METRICS,
    PALETTE,
    indices,
    legend,
    legend_name,
    map_name,
    palette_png,
    png_bytes,
)

#: Longest side of the reduced images in the report.
THUMB_SIDE = 480
#: Side of the full-resolution crop of the worst region.
REGION_SIDE = 160
JPEG_QUALITY = 80
#: Threads that encode and write map PNGs.
WRITERS = max(1, min(4, (os.cpu_count() or 2) - 1))
#: Metrics the worst pairs are ranked by, first one selected wins.
RANK_ORDER = ("ssim", "psnr", "lpips", "ms_ssim")


def rank_metric(names: Sequence[str]) -> str | None:
    """The metric that decides the worst pairs: SSIM, else PSNR, LPIPS, MS-SSIM, else
    the first selected."""
    for name in RANK_ORDER:
        if name in names:
            return name
    return names[0] if names else None


@dataclass
class Kept:
    """What the report shows of one pair besides its numbers."""

    maps: dict[str, bytes] = field(default_factory=dict)  # metric -> reduced JPEG
    region: tuple[int, int, int, int] | None = None  # x, y, w, h at full resolution
    region_metric: str = ""
    region_maps: dict[str, bytes] = field(default_factory=dict)  # metric -> PNG of region


class PairVisuals:
    """The ``on_map`` sink of a compare run (see the module docstring).

    PNG maps are encoded and written on a few threads (zlib releases the GIL), at most
    a few maps behind the scoring; :func:`running` waits for them at the end and, on an
    error or a signal, cancels those not started (each file is complete or absent).
    """

    def __init__(self, *, maps_dir: str | None, keep: int, rank: str | None,
                 higher_is_better: bool = True, protected: set[tuple[int, int]] = frozenset()):
        self.maps_dir = maps_dir
        self.keep = keep
        self.rank = rank
        self.higher_is_better = higher_is_better
        self.protected = protected
        self.kept: dict[str, Kept] = {}
        self._pending: dict[str, dict[str, tuple]] = {}
        self._ranked: list[tuple[float, int, dict[str, Any]]] = []
        self._legends: set[str] = set()
        self._count = 0
        self._pool: Any = None
        self._writes: deque = deque()

    def __call__(self, pair: Any, images: Any, metric: str, value: Any, value_map: Any) -> None:
        if metric not in MAP_METRICS or value_map is None:
            return
        ref = images[0]
        shape = ref.pixels.shape[:2]
        index = indices(metric, np.asarray(value_map), shape, ref.data_range)
        if self.maps_dir is not None:
            self._write(pair.key, metric, index)
        if self.keep > 0:  # pictures are made in add(), only if the pair is among the worst
            self._pending.setdefault(pair.key, {})[metric] = (index, value_map, ref.data_range)

    def _write(self, key: str, metric: str, index: np.ndarray) -> None:
        from iqa.output.files import write_file_bytes

        if metric not in self._legends:
            self._legends.add(metric)
            write_file_bytes(os.path.join(self.maps_dir, legend_name(metric)),
                             png_bytes(legend(metric)), self.protected)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="iqa-maps")
        path = os.path.join(self.maps_dir, map_name(key, metric))
        self._writes.append(self._pool.submit(
            lambda: write_file_bytes(path, palette_png(index), self.protected)))
        while len(self._writes) > 2 * WRITERS:  # bounded: memory does not grow
            self._writes.popleft().result()

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the map files (raising the first error), or cancel those not begun."""
        if self._pool is None:
            return
        if cancel:
            self._pool.shutdown(wait=True, cancel_futures=True)
            return
        while self._writes:
            self._writes.popleft().result()
        self._pool.shutdown(wait=True)

    def add(self, record: dict[str, Any]) -> None:
        """A scored pair: keep its pictures if it is among the worst ``keep`` so far."""
        key = record["pair"]
        pending = self._pending.pop(key, {})
        value = record.get(self.rank) if self.rank else None
        if self.keep <= 0 or value is None or (isinstance(value, float) and math.isnan(value)):
            return
        badness = -value if self.higher_is_better else value
        self._count += 1
        entry = (badness, self._count, record)
        self._ranked.append(entry)
        self._ranked.sort(key=lambda t: (-t[0], t[1]))
        for _, _, dropped in self._ranked[self.keep:]:
            self.kept.pop(dropped["pair"], None)
        del self._ranked[self.keep:]
        if entry in self._ranked:
            self.kept[key] = _pictures(pending)

    def worst(self) -> list[tuple[dict[str, Any], Kept]]:
        """The worst pairs, worst first, with what was kept of each."""
        return [(r, self.kept.get(r["pair"], Kept())) for _, _, r in self._ranked]


def _pictures(pending: dict[str, tuple]) -> Kept:
    """Reduced heat maps and the worst region (by the first of MAP_METRICS present)."""
    from iqa.output.maps import worst_region

    kept = Kept()
    for metric in MAP_METRICS:
        if metric not in pending:
            continue
        index, value_map, data_range = pending[metric]
        rgb = PALETTE[index]
        kept.maps[metric] = jpeg_bytes(reduce(rgb))
        if kept.region is None:
            kept.region = worst_region(metric, np.asarray(value_map), index.shape, REGION_SIDE,
                                       data_range)
            kept.region_metric = metric
        x, y, w, h = kept.region
        kept.region_maps[metric] = png_bytes(np.ascontiguousarray(rgb[y:y + h, x:x + w]))
    return kept


@contextmanager
def running(sink: PairVisuals | None) -> Iterator[None]:
    """Around a run that feeds ``sink``: map files finished at the end, or cancelled."""
    if sink is None:
        yield
        return
    try:
        yield
    except BaseException:
        sink.close(cancel=True)
        raise
    sink.close()


def reduce(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """``rgb`` with its longest side at most ``side`` (OpenCV's area interpolation)."""
    import cv2

    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def jpeg_bytes(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def display_rgb(pixels: np.ndarray, data_range: float) -> np.ndarray:
    """An image as 8-bit RGB for the page: scaled from its data range, gray repeated,
    a fourth (alpha) channel left out."""
    a = np.asarray(pixels)
    if a.dtype != np.uint8 or data_range != 255:
        a = np.clip(np.asarray(a, np.float64) * (255.0 / data_range), 0, 255).round() \
            .astype(np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def start_visuals(*, maps_dir: str | None, html: str | None, worst: int, metrics: Sequence[Any],
                  inputs: Sequence[str], keys: Sequence[str] = ()) -> PairVisuals | None:
    """The ``on_map`` sink for ``--maps DIR`` / ``--html FILE`` (``None`` without both).

    ``DIR`` is created if missing; a ``DIR`` that is a file, a map name (of the pairs
    ``keys``) that is one of the ``inputs``, or a pair whose maps would take the name of
    a colour legend (``legend.METRIC.png``: the pair ``legend`` of ``--pair-by stem``),
    is refused (``UsageError``) before any work. A map name is ``KEY.METRIC.png`` and a
    metric name has no dot, so ``legend`` is the only key that can collide, and with its
    own metric's legend only; clips' ``KEY.frameN.METRIC_y.png`` never can.
    ``metrics`` are the built metrics (the rank metric is chosen among them)."""
    if maps_dir is None and html is None:
        return None
    from iqa.output.maps import input_identities

    if maps_dir is not None:
        prepare_maps_dir(maps_dir)
    names = [m.info.name for m in metrics]
    protected = input_identities(list(inputs))
    if maps_dir is not None:
        _check_map_targets(maps_dir, keys, [n for n in names if n in MAP_METRICS], protected)
    rank = rank_metric(names)
    higher = next((m.info.higher_is_better for m in metrics if m.info.name == rank), True)
    return PairVisuals(maps_dir=maps_dir, keep=worst if html is not None else 0, rank=rank,
                       higher_is_better=higher, protected=protected)


def prepare_maps_dir(maps_dir: str) -> None:
    """Create ``--maps DIR`` if missing; a ``DIR`` that is a file or cannot be created is
    refused (``UsageError``)."""
    from iqa.errors import UsageError
    from iqa.output.files import is_link_loop

    if os.path.exists(maps_dir) and not os.path.isdir(maps_dir):
        raise UsageError(f"--maps {maps_dir}: is a file; give a folder (created if missing)")
    if is_link_loop(maps_dir):
        raise UsageError(f"--maps {maps_dir}: is a loop of symbolic links (it names no "
                         "folder); remove the link or choose another folder")
    try:
        os.makedirs(maps_dir, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--maps {maps_dir}: cannot create the folder "
                         f"({exc.strerror or exc}); choose a writable place") from None


def _check_map_targets(folder: str, keys: Sequence[str], metrics: Sequence[str],
                       protected: set[tuple[int, int]]) -> None:
    from iqa.errors import UsageError
    from iqa.output.maps import input_identities

    legends = {legend_name(m) for m in metrics}
    for key in keys:
        taken = sorted(legends & {os.path.normpath(map_name(key, m)) for m in metrics})
        if taken:
            raise UsageError(
                f"--maps {folder}: the maps of the pair {key} would replace the colour "
                f"legends ({', '.join(taken)}); rename its files, or pair by path "
                "(--pair-by path keeps the suffix in the name)")
    names = [*legends, *(map_name(k, m) for k in keys for m in metrics)]
    for name in names:
        path = os.path.join(folder, name)
        if os.path.exists(path) and input_identities([path]) & protected:
            raise UsageError(f"--maps {folder}: the map {name} would replace the input {path}; "
                             "choose another folder for the maps")
