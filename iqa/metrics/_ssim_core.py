"""The SSIM engine shared by SSIM and MS-SSIM: float64 statistics, computed fast.

The local statistics are the 11×11 Gaussian (σ = 1.5) weighted means over 'valid'
windows (the window never leaves the image), which is what scikit-image keeps after
cropping its reflected borders and what Wang's ``ssim_index.m`` computes with
``filter2(..., 'valid')``. Four maps are filtered: μx, μy, E[x·y] and E[(x − y)²].
With P = 2 μx μy and D = (μx − μy)², the four terms of SSIM are

    2 μx μy + C1 = P + C1              μx² + μy² + C1 = P + D + C1
    2 σxy + C2 = 2 E[x·y] − P + C2     σx² + σy² + C2 = (2 σxy + C2) + E[(x − y)²] − D

(σx² + σy² − 2 σxy = Var(x − y)).

Accuracy: all arithmetic is float64 (no float32 anywhere: float32 statistics move SSIM
by ~1e-6 on bright flat areas, where E[x²] − μ² cancels). 8- and 16-bit pixels, their
products and squared differences are exact in float64; the taps are the same float64
Gaussian as scikit-image's, and each filtered value is two rounds of at most 18
multiply-adds, so it is off by less than ~1e-14 of the largest value in its window
(8-bit: ≤ 65025 · 1e-14 ≈ 7e-10, against C2 = 58.5). The two cancelling differences,
2 E[x·y] − P and E[(x − y)²] − D, lose no more than scikit-image's E[x²] − μx² does, so
the SSIM and contrast-structure maps agree with the float64 reference to ~1e-11 per
pixel, and their means closer still.

Speed: two engines compute the same strips (:mod:`iqa.metrics._ssim_engine` chooses).
The BLAS engine filters in :mod:`iqa.metrics._ssim_filter` (banded BLAS products over
strips of rows, each thread with its own strip buffers, all channels' strips shared out
between the calling thread and a small pool); after it, the per-pixel steps make 11
passes over a strip (OpenCV's ``multiply`` with a scale and ``addWeighted`` with a
constant each do two NumPy steps in one), and the SSIM map is never stored to be
summed: its sum is ``numpy.vdot`` of the luminance and contrast-structure maps. The
compiled engine (:mod:`iqa.metrics._ssim_kernel`, numba) runs each strip as one loop
nest on the same threads and buffers, about 3.5× faster.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NamedTuple

import numpy as np

from iqa.metrics._ssim_engine import compiled
from iqa.metrics._ssim_filter import (
    ROWS_OUT,
    WIN,
    Workspace,
    keep,
    run_all,
    thread_count,
    workspace,
)
from iqa.metrics._ssim_scales import (
    PARALLEL_MIN,
    half_dtype,
    half_size,
    half_size_of_rows,
    map_channels,
    split_channels,
)

__all__ = [
    "WIN", "half_planes", "half_size", "map_channels", "shared_full_scale_means", "split_channels",
    "ssim_cs_means", "take_half_scale", "thread_count",
]

K1, K2 = 0.01, 0.03
_STRIP_PIXELS = 128_000  # output pixels per strip: its buffers stay in the caches
_STRIP_MAX_ROWS = 128
_NO_MAP = np.zeros((0, 1))
_PARALLEL_MIN = PARALLEL_MIN


class _Job(NamedTuple):
    #: the compiled engine's module (:mod:`iqa.metrics._ssim_kernel`: the strip and
    #: 2×2-mean kernels), or None for BLAS and NumPy
    kernel: ModuleType | None
    c1: float
    c2: float
    want_ssim: bool
    want_cs: bool
    #: per channel, an (H-10)×(W-10) float64 array that receives the SSIM map, or None
    maps: Sequence[np.ndarray] | None = None
    #: also sum the squared differences of the pixels (PSNR's, from the same strips)
    want_sse: bool = False
    #: per channel, the (x, y) arrays that receive the 2×2 means of the channel's pixels
    #: (MS-SSIM's second scale, from the rows each strip reads anyway), or None
    halves: Sequence[tuple[np.ndarray, np.ndarray]] | None = None


def _strip_sums(
    ws: Workspace, x: np.ndarray, y: np.ndarray, r0: int, r1: int, job: _Job,
    out: np.ndarray | None = None, half: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float, float]:
    """Sums of the SSIM map and the contrast-structure map over output rows r0..r1-1,
    and (with ``job.want_sse``) of (x − y)² over the input rows this strip owns.

    ``out`` (rows r0..r1-1 of the channel's map) receives the SSIM map strip; its sum
    is the returned one up to rounding (the returned sum never depends on ``out``).
    ``half`` (the channel's two half-size planes) receives the 2×2 means of the input
    rows this strip owns (``r0`` is even: strips are a multiple of 4 rows high).
    """
    import cv2

    rows = r1 - r0
    n_in = min(rows + WIN - 1, x.shape[0] - r0)
    last = r1 + WIN - 1 >= x.shape[0]  # a strip owns its first `rows` input rows; the last all
    xs, ys, xy, dd = (m[:n_in] for m in ws.src)
    np.copyto(xs, x[r0 : r0 + n_in])
    np.copyto(ys, y[r0 : r0 + n_in])
    if half is not None:  # while the rows are in the caches
        own = n_in if last else rows
        h0 = r0 // 2
        for src, plane in ((xs, half[0]), (ys, half[1])):
            half_size_of_rows(src[:own], plane[h0 : h0 + (own + 1) // 2], job.kernel)
    if job.kernel is not None:
        ws.src[:2, n_in : rows + WIN] = 0.0
        vb, hb = ws.row_buffers()
        sse_rows = (n_in if last else rows) if job.want_sse else 0
        s, cs, sse = job.kernel.strip_sums(ws.src, rows, job.c1, job.c2, job.want_ssim,
                                           sse_rows, _NO_MAP if out is None else out, vb, hb)
        return (s if job.want_ssim else 0.0), (cs if job.want_cs else 0.0), sse
    np.multiply(xs, ys, out=xy)
    np.subtract(xs, ys, out=dd)
    np.multiply(dd, dd, out=dd)
    sse = 0.0
    if job.want_sse:
        sse = float(dd[: n_in if last else rows].sum())
    padded = -(-rows // ROWS_OUT) * ROWS_OUT  # rows past r1 are computed and dropped
    ws.src[:, n_in : padded + WIN - 1] = 0.0  # past the bottom of the image
    mx, my, sxy, dd = ws.filter(padded)[:, :rows]
    p = ws.scratch(padded)[:rows]
    cv2.multiply(mx, my, dst=p, scale=2.0)  # P = 2 μx μy
    np.subtract(mx, my, out=mx)
    np.multiply(mx, mx, out=mx)  # D = (μx − μy)²
    cv2.addWeighted(sxy, 1.0, p, -1.0, job.c2, dst=sxy)  # 2 σxy + C2
    np.subtract(dd, mx, out=dd)
    np.add(dd, sxy, out=dd)  # σx² + σy² + C2
    np.divide(sxy, dd, out=sxy)  # contrast-structure map
    sxy[:, ws.width - WIN + 1 :] = 0.0  # columns whose window leaves the image
    cs_sum = float(sxy.sum()) if job.want_cs else 0.0
    if not job.want_ssim:
        return 0.0, cs_sum, sse
    np.add(p, job.c1, out=p)  # 2 μx μy + C1
    np.add(mx, p, out=mx)  # μx² + μy² + C1
    np.divide(p, mx, out=p)  # luminance map
    if out is not None:
        w = out.shape[1]
        np.multiply(p[:, :w], sxy[:, :w], out=out)
    return float(np.vdot(p, sxy)), cs_sum, sse


def _strip_rows(height: int, width: int) -> int:
    """Output rows per strip: a multiple of 4, strips of about equal height."""
    out_h = height - WIN + 1
    target = max(1, min(_STRIP_PIXELS // width, _STRIP_MAX_ROWS))
    rows = -(-out_h // -(-out_h // target))
    return -(-rows // ROWS_OUT) * ROWS_OUT


def ssim_cs_means(
    channels: Sequence[tuple[np.ndarray, np.ndarray]],
    data_range: float,
    *,
    want_cs: bool,
    want_ssim: bool = True,
    maps: Sequence[np.ndarray] | None = None,
    sse: list[float] | None = None,
    pixels: int | None = None,
    halves: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[tuple[float, float]]:
    """Mean SSIM and mean contrast-structure term of each (x, y) pair of 2-D channels.

    Channels must be at least 11×11. Returns ``(mean_ssim, mean_cs)`` per channel;
    ``mean_cs`` is 0.0 unless ``want_cs`` and ``mean_ssim`` is 0.0 unless ``want_ssim``
    (MS-SSIM needs only one of the two at each scale). ``maps``, one float64
    ``(H-10)×(W-10)`` array per channel, receive the SSIM maps whose means are returned.
    ``sse``, an empty list, receives each channel's sum of (x − y)² over all its pixels
    (summed in float64 over strips: exact while the sum stays below 2**53).
    ``pixels``: the full-resolution pixels per channel that choose the engine (MS-SSIM's
    lower scales pass their first scale's); by default the channels' own.
    ``halves``, per channel two arrays of :func:`half_size`'s shape and dtype
    (:func:`half_planes`), receive the 2×2 means of x and y, bit-identical to
    ``half_size``, from the same pass.
    """
    x0 = channels[0][0]
    kernel = compiled(x0.shape[0] * x0.shape[1] if pixels is None else pixels)
    job = _Job(kernel, (K1 * data_range) ** 2, (K2 * data_range) ** 2, want_ssim, want_cs,
               maps, sse is not None, halves)
    strips = []
    for index, (x, _) in enumerate(channels):
        rows = _strip_rows(*x.shape)
        out_h = x.shape[0] - WIN + 1
        strips += [(index, rows, r0, min(r0 + rows, out_h)) for r0 in range(0, out_h, rows)]

    def run(strip: tuple[int, int, int, int], ws: Workspace | None):
        index, rows, r0, r1 = strip
        x, y = channels[index]
        ws = workspace(ws, rows, x.shape[1])
        out = None if job.maps is None else job.maps[index][r0:r1]
        half = None if job.halves is None else job.halves[index]
        return _strip_sums(ws, x, y, r0, r1, job, out, half), ws

    total = sum(x.size for x, _ in channels)
    workers = min(thread_count(), len(strips)) if total >= _PARALLEL_MIN else 1
    results = run_all(strips, run, workers, keep)
    sums = [[0.0, 0.0, 0.0] for _ in channels]
    for (index, *_), (s, cs, e) in zip(strips, results):
        sums[index][0] += s
        sums[index][1] += cs
        sums[index][2] += e
    if sse is not None:
        sse.extend(e for _, _, e in sums)
    means = []
    for (x, _), (s, cs, _) in zip(channels, sums):
        n = (x.shape[0] - WIN + 1) * (x.shape[1] - WIN + 1)
        means.append((s / n, cs / n))
    return means


_SHARED_MAX = 64  # pairs remembered: more than any batch a run scores at once
_HALVES_MAX = 4  # of them, pairs whose half-size planes are held for MS-SSIM


class _Entry:
    """What the full-resolution pass of one pair left for the other metrics."""

    __slots__ = ("ref", "dist", "means", "sse", "halves")

    def __init__(self, ref: np.ndarray, dist: np.ndarray, means: list, sse: int | None,
                 halves: list | None) -> None:
        self.ref, self.dist = weakref.ref(ref), weakref.ref(dist)
        self.means, self.sse, self.halves = means, sse, halves


_shared: OrderedDict[tuple[int, int, float], _Entry] = OrderedDict()
_shared_lock = threading.Lock()


def half_planes(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list:
    """Empty (x, y) arrays for :func:`half_size` of each pair of channels."""
    planes = []
    for x, y in pairs:
        shape = ((x.shape[0] + 1) // 2, (x.shape[1] + 1) // 2)
        planes.append((np.empty(shape, half_dtype(x.dtype)), np.empty(shape, half_dtype(y.dtype))))
    return planes


def shared_full_scale_means(
    key: tuple[np.ndarray, np.ndarray],
    channels: Callable[[], Sequence[tuple[np.ndarray, np.ndarray]]],
    data_range: float,
    maps: Sequence[np.ndarray] | None = None,
    halves: bool = False,
) -> list[tuple[float, float]]:
    """``ssim_cs_means(channels(), data_range, want_cs=True)``, computed once per pair.

    With ``maps`` the means are computed again (bit-identical) while the SSIM maps are
    filled, and remembered for the other metric. With ``halves`` the pass that computes
    the means also makes the 2×2 means of both images' channels (MS-SSIM's second scale,
    from the rows the strips read anyway), which :func:`take_half_scale` hands over once.

    SSIM and the first scale of MS-SSIM filter the same full-resolution images with the
    same window and constants: the first metric to score a pair computes both means per
    channel (the contrast-structure map is a step of the SSIM map, so this costs one
    more sum) and the other reuses them. The means are bit-identical to those of
    ``want_cs=False`` and of ``want_ssim=False``, so each metric's value is exactly its
    standalone value. For integer pixels the same strips also give the exact sum of
    squared differences, which PSNR takes from :func:`shared_squared_error`.

    Results are remembered for the last few pairs, keyed by the identity of the two
    arrays in ``key`` (held by weak references, so an entry dies with its arrays and
    is never matched by a new array at a reused address) and the data range; half-size
    planes for the last few of those only (a dropped one is made again by MS-SSIM, with
    the same values). The arrays must not change in place between the calls: this is
    for decoded :class:`~iqa.io.images.Image` pixels (frozen), not for the public
    functions, which never share.
    """
    ref, dist = key
    ident = (id(ref), id(dist), float(data_range))
    entry = _lookup(ref, dist, ident)
    if maps is None and entry is not None:
        return entry.means
    pairs = channels()
    sse: list[float] | None = [] if _exact_sse(pairs) else None
    # with maps asked after a first pass, that pass's planes (or their absence) stand
    planes = half_planes(pairs) if halves and entry is None else None
    means = ssim_cs_means(pairs, data_range, want_cs=True, maps=maps, sse=sse, halves=planes)
    total = None if sse is None else sum(int(e) for e in sse)
    if entry is not None:
        planes = entry.halves
    with _shared_lock:
        _shared[ident] = _Entry(ref, dist, means, total, planes)
        _shared.move_to_end(ident)
        while len(_shared) > _SHARED_MAX:
            _shared.popitem(last=False)
        holding = [e for e in reversed(_shared.values()) if e.halves is not None]
        for old in holding[_HALVES_MAX:]:
            old.halves = None
    return means


def take_half_scale(ref: np.ndarray, dist: np.ndarray, data_range: float) -> list | None:
    """The half-size (x, y) planes per channel that the shared pass of these two arrays
    made (:func:`shared_full_scale_means` with ``halves``), handed over once; else None."""
    entry = _lookup(ref, dist, (id(ref), id(dist), float(data_range)))
    if entry is None:
        return None
    with _shared_lock:
        planes, entry.halves = entry.halves, None
    return planes


def shared_squared_error(ref: np.ndarray, dist: np.ndarray, data_range: float) -> int | None:
    """The exact integer sum of (ref − dist)² over all pixels and channels, if SSIM or
    MS-SSIM has already filtered these two arrays (see :func:`shared_full_scale_means`)
    and their pixels are integers; else None."""
    entry = _lookup(ref, dist, (id(ref), id(dist), float(data_range)))
    return None if entry is None else entry.sse


def _lookup(ref: np.ndarray, dist: np.ndarray, ident: tuple[int, int, float]) -> _Entry | None:
    with _shared_lock:
        entry = _shared.get(ident)
        if entry is not None and entry.ref() is ref and entry.dist() is dist:
            _shared.move_to_end(ident)
            return entry
    return None


def _exact_sse(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether each channel's float64 sum of squared differences is an exact integer:
    integer pixels of at most 16 bits whose largest possible sum stays below 2**53."""
    x = pairs[0][0]
    if x.dtype.kind not in "ui" or x.dtype.itemsize > 2:
        return False
    info = np.iinfo(x.dtype)
    return (int(info.max) - int(info.min)) ** 2 * x.size < 2**53
