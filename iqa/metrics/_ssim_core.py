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

Speed: the separable filter runs as banded matrix products in BLAS (vectorised
float64 multiply-adds) over overlapping strided views, without copies: the vertical
pass makes 4 output rows from 14 input rows (a 4×14 band), the horizontal pass 8
output columns from 18 input columns (an 18×8 band), both for the four inputs at once.
The image is cut into horizontal strips (valid filtering makes strips exact: ``R``
output rows read ``R + 10`` input rows); each thread keeps one set of strip buffers
(about 9 MB for a 1920-wide image), reused across calls, and the strips of all
channels are shared out between the calling thread and a small pool (NumPy and BLAS
release the GIL).
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from typing import NamedTuple, TypeVar

import numpy as np

WIN = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
_PAD = WIN // 2
_MAPS = 4  # filtered inputs: x, y, x·y, (x − y)²
_ROWS_OUT = 4  # output rows per block of the vertical band product
_COLS_OUT = 8  # output columns per block of the horizontal band product
_STRIP_PIXELS = 128_000  # output pixels per strip: its buffers stay in the caches
_STRIP_MAX_ROWS = 128
# OpenBLAS runs large products on threads of its own (for a 4×14 band from about
# 1e6 multiply-adds). Each product here stays near 1e5 (4·14·1920, 4·128·18·8), so
# the pool alone decides how many threads run.
_GEMM_MAX_WIDTH = 1920
_PARALLEL_MIN = 60_000  # below this many pixels a thread pool costs more than it saves
_F8 = np.dtype(np.float64).itemsize

_T = TypeVar("_T")
_R = TypeVar("_R")
_S = TypeVar("_S")


@lru_cache(maxsize=1)
def gaussian_kernel() -> np.ndarray:
    """The normalised 1-D Gaussian, 11 taps, σ = 1.5 (separable factor of the window)."""
    x = np.arange(WIN, dtype=np.float64) - _PAD
    g = np.exp(-0.5 * (x / SIGMA) ** 2)
    return g / g.sum()


@cache
def _band(block: int) -> np.ndarray:
    """``block × (block + 10)`` matrix whose row ``i`` holds the 11 taps from column ``i``."""
    band = np.zeros((block, block + WIN - 1))
    for i in range(block):
        band[i, i : i + WIN] = gaussian_kernel()
    return band


@lru_cache(maxsize=1)
def _vertical_bands() -> np.ndarray:
    """Left operand of the vertical pass, one band per input, shape (4, 1, 4, 14).

    The x·y band is doubled (exact), so the third map comes out as 2·E[x·y].
    """
    bands = np.repeat(_band(_ROWS_OUT)[None, None], _MAPS, axis=0)
    bands[2] *= 2.0
    bands.setflags(write=False)
    return bands


@lru_cache(maxsize=1)
def _horizontal_band() -> np.ndarray:
    """Right operand of the horizontal pass, shape (18, 8)."""
    band = np.ascontiguousarray(_band(_COLS_OUT).T)
    band.setflags(write=False)
    return band


def thread_count() -> int:
    env = os.environ.get("IQA_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="iqa-ssim")


def _view(
    a: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int = 0
) -> np.ndarray:
    """View of C-contiguous float64 ``a``, strides and offset in elements (a fast as_strided)."""
    return np.ndarray(shape, np.float64, a, offset * _F8, tuple(s * _F8 for s in strides))


class _Workspace:
    """Buffers for strips of ``rows`` output rows of a ``width``-wide channel.

    ``src`` holds the four inputs, each ``rows + 10`` rows; after the vertical pass
    (into ``mid``) it is free and receives the four filtered maps, ``out_width`` wide
    (``width - 10`` rounded up to a multiple of 8). The horizontal pass reads up to 7
    values past the end of a row of ``mid``: they come from the next row (or from a
    row of zeros after the last) and feed only output columns past ``width - 10``,
    which are left out of the sums. Rows past the end of the image are zeros too, so
    nothing depends on what the buffers held before.
    """

    def __init__(self) -> None:
        self._src = self._mid = np.zeros(0)
        self.rows = self.width = 0

    def shape_for(self, rows: int, width: int) -> None:
        """Lay the buffers out for ``rows`` × ``width`` strips, growing them if needed."""
        if (rows, width) == (self.rows, self.width):
            return
        src_size = _MAPS * (rows + WIN - 1) * width
        mid_size = (_MAPS * rows + 1) * width
        if self._src.size < src_size:
            self._src = np.zeros(src_size)
        if self._mid.size < mid_size:
            self._mid = np.zeros(mid_size)
        self.rows, self.width = rows, width
        self.blocks = -(-(width - WIN + 1) // _COLS_OUT)
        self.out_width = self.blocks * _COLS_OUT
        self.src = self._src[:src_size].reshape(_MAPS, rows + WIN - 1, width)
        self.mid = self._mid[:mid_size].reshape(_MAPS * rows + 1, width)

    def filter(self, rows: int) -> np.ndarray:
        """Valid Gaussian filter of the first ``rows + 10`` rows of each input.

        ``rows`` is a multiple of 4, at most ``self.rows``. Returns the maps μx, μy,
        2·E[x·y] and E[(x − y)²], shape (4, rows, out_width), in ``src``.
        """
        w, ow = self.width, self.out_width
        n = rows // _ROWS_OUT
        bands = _vertical_bands()
        for c0 in range(0, w, _GEMM_MAX_WIDTH):
            cols = min(_GEMM_MAX_WIDTH, w - c0)
            strides = (self.src.shape[1] * w, _ROWS_OUT * w, w, 1)
            blocks = _view(self.src, (_MAPS, n, bands.shape[-1], cols), strides, c0)
            strides = (rows * w, _ROWS_OUT * w, w, 1)
            np.matmul(bands, blocks, out=_view(self.mid, (_MAPS, n, _ROWS_OUT, cols), strides, c0))
        self.mid[_MAPS * rows] = 0.0  # read past the last row of the last map
        band = _horizontal_band()
        blocks = _view(self.mid, (self.blocks, _MAPS * rows, band.shape[0]), (_COLS_OUT, w, 1))
        maps = _view(self.src, (_MAPS, rows, ow), (rows * ow, ow, 1))
        out = _view(maps, (self.blocks, _MAPS * rows, _COLS_OUT), (_COLS_OUT, ow, 1))
        np.matmul(blocks, band, out=out)
        return maps

    def scratch(self, rows: int) -> np.ndarray:
        """A fifth map-sized buffer, in ``mid`` (free once ``filter`` has returned)."""
        return _view(self.mid, (rows, self.out_width), (self.out_width, 1))


_StripResult = tuple[tuple[float, float], _Workspace]


class _Job(NamedTuple):
    c1: float
    c2: float
    want_ssim: bool
    want_cs: bool
    #: per channel, an (H-10)×(W-10) float64 array that receives the SSIM map, or None
    maps: Sequence[np.ndarray] | None = None


def _strip_sums(
    ws: _Workspace, x: np.ndarray, y: np.ndarray, r0: int, r1: int, job: _Job,
    out: np.ndarray | None = None,
) -> tuple[float, float]:
    """Sums of the SSIM map and of the contrast-structure map over output rows r0..r1-1.

    ``out`` (rows r0..r1-1 of the channel's map) receives the SSIM map strip whose sum
    is returned: the map and the value come from the same arithmetic.
    """
    rows = r1 - r0
    n_in = min(rows + WIN - 1, x.shape[0] - r0)
    xs, ys, xy, dd = (m[:n_in] for m in ws.src)
    np.copyto(xs, x[r0 : r0 + n_in])
    np.copyto(ys, y[r0 : r0 + n_in])
    np.multiply(xs, ys, out=xy)
    np.subtract(xs, ys, out=dd)
    np.multiply(dd, dd, out=dd)
    padded = -(-rows // _ROWS_OUT) * _ROWS_OUT  # rows past r1 are computed and dropped
    ws.src[:, n_in : padded + WIN - 1] = 0.0  # past the bottom of the image
    mx, my, sxy, dd = ws.filter(padded)[:, :rows]
    t = ws.scratch(padded)[:rows]
    np.multiply(mx, my, out=t)
    t *= 2.0  # P = 2 μx μy
    mx -= my
    mx *= mx  # D = (μx - μy)²
    sxy -= t
    sxy += job.c2  # 2 σxy + C2
    dd -= mx
    dd += sxy  # σx² + σy² + C2
    np.divide(sxy, dd, out=sxy)  # contrast-structure map
    sxy[:, ws.width - WIN + 1 :] = 0.0  # columns whose window leaves the image
    cs_sum = float(sxy.sum()) if job.want_cs else 0.0
    if not job.want_ssim:
        return 0.0, cs_sum
    t += job.c1  # 2 μx μy + C1
    mx += t  # μx² + μy² + C1
    np.divide(t, mx, out=t)  # luminance map
    t *= sxy
    if out is not None:
        out[...] = t[:, : out.shape[1]]
    return float(t.sum()), cs_sum


def _strip_rows(height: int, width: int) -> int:
    """Output rows per strip: a multiple of 4, strips of about equal height."""
    out_h = height - WIN + 1
    target = max(1, min(_STRIP_PIXELS // width, _STRIP_MAX_ROWS))
    rows = -(-out_h // -(-out_h // target))
    return -(-rows // _ROWS_OUT) * _ROWS_OUT


_spare: list[_Workspace] = []
_spare_lock = threading.Lock()


def _workspace(ws: _Workspace | None, rows: int, width: int) -> _Workspace:
    if ws is None:
        with _spare_lock:
            ws = _spare.pop() if _spare else _Workspace()
    ws.shape_for(rows, width)
    return ws


def _keep(ws: _Workspace | None) -> None:
    """Keep a thread's buffers for the next call (at most one set per thread)."""
    if ws is not None:
        with _spare_lock:
            if len(_spare) < thread_count():
                _spare.append(ws)


def ssim_cs_means(
    channels: Sequence[tuple[np.ndarray, np.ndarray]],
    data_range: float,
    *,
    want_cs: bool,
    want_ssim: bool = True,
    maps: Sequence[np.ndarray] | None = None,
) -> list[tuple[float, float]]:
    """Mean SSIM and mean contrast-structure term of each (x, y) pair of 2-D channels.

    Channels must be at least 11×11. Returns ``(mean_ssim, mean_cs)`` per channel;
    ``mean_cs`` is 0.0 unless ``want_cs`` and ``mean_ssim`` is 0.0 unless ``want_ssim``
    (MS-SSIM needs only one of the two at each scale). ``maps``, one float64
    ``(H-10)×(W-10)`` array per channel, receive the SSIM maps whose means are returned.
    """
    job = _Job((K1 * data_range) ** 2, (K2 * data_range) ** 2, want_ssim, want_cs, maps)
    strips = []
    for index, (x, _) in enumerate(channels):
        rows = _strip_rows(*x.shape)
        out_h = x.shape[0] - WIN + 1
        strips += [(index, rows, r0, min(r0 + rows, out_h)) for r0 in range(0, out_h, rows)]

    def run(strip: tuple[int, int, int, int], ws: _Workspace | None) -> _StripResult:
        index, rows, r0, r1 = strip
        x, y = channels[index]
        ws = _workspace(ws, rows, x.shape[1])
        out = None if job.maps is None else job.maps[index][r0:r1]
        return _strip_sums(ws, x, y, r0, r1, job, out), ws

    total = sum(x.size for x, _ in channels)
    workers = min(thread_count(), len(strips)) if total >= _PARALLEL_MIN else 1
    results = _run_all(strips, run, workers, _keep)
    sums = [[0.0, 0.0] for _ in channels]
    for (index, *_), (s, cs) in zip(strips, results):
        sums[index][0] += s
        sums[index][1] += cs
    means = []
    for (x, _), (s, cs) in zip(channels, sums):
        n = (x.shape[0] - WIN + 1) * (x.shape[1] - WIN + 1)
        means.append((s / n, cs / n))
    return means


_SHARED_MAX = 64  # pairs remembered: more than any batch a run scores at once
_shared: OrderedDict[tuple[int, int, float], tuple[weakref.ref, weakref.ref, list]] = OrderedDict()
_shared_lock = threading.Lock()


def shared_full_scale_means(
    key: tuple[np.ndarray, np.ndarray],
    channels: Callable[[], Sequence[tuple[np.ndarray, np.ndarray]]],
    data_range: float,
    maps: Sequence[np.ndarray] | None = None,
) -> list[tuple[float, float]]:
    """``ssim_cs_means(channels(), data_range, want_cs=True)``, computed once per pair.

    With ``maps`` the means are computed again (bit-identical) while the SSIM maps are
    filled, and remembered for the other metric.

    SSIM and the first scale of MS-SSIM filter the same full-resolution images with the
    same window and constants: the first metric to score a pair computes both means per
    channel (the contrast-structure map is a step of the SSIM map, so this costs one
    more sum) and the other reuses them. The means are bit-identical to those of
    ``want_cs=False`` and of ``want_ssim=False``, so each metric's value is exactly its
    standalone value.

    Results are remembered for the last few pairs, keyed by the identity of the two
    arrays in ``key`` (held by weak references, so an entry dies with its arrays and
    is never matched by a new array at a reused address) and the data range. The
    arrays must not change in place between the calls: this is for decoded
    :class:`~iqa.io.images.Image` pixels (frozen), not for the public functions, which
    never share.
    """
    ref, dist = key
    ident = (id(ref), id(dist), float(data_range))
    with _shared_lock:
        entry = _shared.get(ident)
        if maps is None and entry is not None and entry[0]() is ref and entry[1]() is dist:
            _shared.move_to_end(ident)
            return entry[2]
    means = ssim_cs_means(channels(), data_range, want_cs=True, maps=maps)
    with _shared_lock:
        _shared[ident] = (weakref.ref(ref), weakref.ref(dist), means)
        while len(_shared) > _SHARED_MAX:
            _shared.popitem(last=False)
    return means


def _run_all(
    items: Sequence[_T],
    fn: Callable[[_T, _S | None], tuple[_R, _S]],
    workers: int,
    done: Callable[[_S | None], None] = lambda state: None,
) -> list[_R]:
    """``fn`` over ``items`` on ``workers`` threads (the caller is one), results in order.

    Each thread takes the next item from a shared counter and hands its own state (its
    buffers) from one item to the next, then to ``done``. Results are summed in item
    order afterwards, so the value does not depend on the thread count or timing.
    """
    results: list = [None] * len(items)
    counter = itertools.count()

    def loop() -> None:
        state = None
        while (i := next(counter)) < len(items):
            results[i], state = fn(items[i], state)
        done(state)

    futures = [_pool().submit(loop) for _ in range(workers - 1)]
    loop()
    for future in futures:
        future.result()
    return results


def split_channels(a: np.ndarray) -> list[np.ndarray]:
    """The channels of an H×W×C array as H×W planes (contiguous copies if C > 1)."""
    import cv2

    if a.shape[2] == 1:
        return [a[:, :, 0]]
    if a.dtype in _CV_DTYPES and a.shape[2] <= 4:
        return list(cv2.split(a))  # one pass for all channels
    return [np.ascontiguousarray(a[:, :, c]) for c in range(a.shape[2])]


_CV_DTYPES = tuple(
    np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)
)


def half_size(a: np.ndarray) -> np.ndarray:
    """2×2 mean; an odd side first repeats its last row/column (Wang's ``msssim.m``).

    ``msssim.m`` filters with ``ones(2)/4`` using ``imfilter(..., 'symmetric')`` and keeps
    ``1:2:end``: output ``i`` is the mean of rows ``2i`` and ``2i+1``, the row past the
    end being the last row again. The result has ``ceil(n/2)`` rows and columns.

    Integers of up to 16 bits are summed in integers and come back as float32: the sum
    (below 2**18 in magnitude) and the quarter-integer mean are exact in float32's 24
    bits. Anything else is summed and returned in float64 (exact for the float32 output
    of the integer case). No full-size copy is made: memory is the half-size result
    (and, for integers, its integer sum and the half-height sum of row pairs).
    """
    a = np.asarray(a)
    if a.dtype.kind in "iu" and a.dtype.itemsize <= 2:
        bits = 16 if a.dtype.itemsize == 1 else 32  # 4 × 8 bits fit in 16 (exact)
        acc = np.dtype(f"{'u' if a.dtype.kind == 'u' else ''}int{bits}")
        total = _sum_2x2(a, acc)
        out = total.astype(np.float32)
        out *= np.float32(0.25)
        return out
    total = _sum_2x2(a, np.float64)
    total *= 0.25
    return total


def _sum_2x2(a: np.ndarray, acc: type) -> np.ndarray:
    """Sums of 2×2 blocks in type ``acc``; an odd side repeats its last row/column."""
    h, w = a.shape
    he, we = h - h % 2, w - w % 2
    total = np.empty(((h + 1) // 2, (w + 1) // 2), acc)
    body = total[: he // 2, : we // 2]
    if np.dtype(acc).kind in "iu":
        # Integer sums are exact in any order: add row pairs first (whole contiguous
        # rows, converted on the way), then column pairs within one type.
        rows = np.add(a[0:he:2], a[1:he:2], dtype=acc)
        np.add(rows[:, 0:we:2], rows[:, 1:we:2], out=body)
    else:  # floats: keep the order ((a00 + a10) + a01) + a11
        np.add(a[0:he:2, 0:we:2], a[1:he:2, 0:we:2], out=body, dtype=acc)
        body += a[0:he:2, 1:we:2]
        body += a[1:he:2, 1:we:2]
    if w % 2:  # the last column, repeated: twice its two rows
        col = total[: he // 2, -1]
        np.add(a[0:he:2, -1], a[1:he:2, -1], out=col, dtype=acc)
        col *= 2
    if h % 2:  # the last row, repeated
        row = total[-1, : we // 2]
        np.add(a[-1, 0:we:2], a[-1, 1:we:2], out=row, dtype=acc)
        row *= 2
    if h % 2 and w % 2:
        total[-1, -1] = a[-1, -1]
        total[-1, -1] *= 4
    return total


def map_channels(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """Apply ``fn`` to each item, on the calling thread and the pool together."""
    items = list(items)
    big = sum(getattr(i[0], "size", 0) for i in items) >= _PARALLEL_MIN
    workers = min(thread_count(), len(items)) if big else 1
    return _run_all(items, lambda item, _: (fn(item), None), workers)
