"""The separable 11×11 Gaussian of SSIM as banded matrix products, and the threads that run it.

The separable filter runs as banded matrix products in BLAS (vectorised float64
multiply-adds) over overlapping strided views, without copies: the vertical pass makes
4 output rows from 14 input rows (a 4×14 band), the horizontal pass 8 output columns
from 18 input columns (an 18×8 band), both for the four inputs at once. Each filtered
value is two rounds of at most 18 multiply-adds of the float64 taps (the same Gaussian
as scikit-image's).

Work is cut into items (strips of rows) shared out between the calling thread and a
small pool: NumPy and BLAS release the GIL. Each thread keeps one set of strip buffers
(:class:`Workspace`), reused across calls. While they run, BLAS is held to one thread of
its own per calling thread: the products are small, and a multi-threaded OpenBLAS
called from several threads at once serialises the calls and leaves its own threads
spinning (measured: three times the time of the same work, twice the CPU time).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import TypeVar

import numpy as np

WIN = 11
SIGMA = 1.5
PAD = WIN // 2
MAPS = 4  # filtered inputs: x, y, x·y, (x − y)²
ROWS_OUT = 4  # output rows per block of the vertical band product
COLS_OUT = 8  # output columns per block of the horizontal band product
# OpenBLAS runs large products on threads of its own (for a 4×14 band from about
# 1e6 multiply-adds). Each product here stays near 1e5 (4·14·1920, 4·128·18·8), so
# the pool alone decides how many threads run.
_GEMM_MAX_WIDTH = 1920
_F8 = np.dtype(np.float64).itemsize

_T = TypeVar("_T")
_R = TypeVar("_R")
_S = TypeVar("_S")


@lru_cache(maxsize=1)
def gaussian_kernel() -> np.ndarray:
    """The normalised 1-D Gaussian, 11 taps, σ = 1.5 (separable factor of the window)."""
    x = np.arange(WIN, dtype=np.float64) - PAD
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
    bands = np.repeat(_band(ROWS_OUT)[None, None], MAPS, axis=0)
    bands[2] *= 2.0
    bands.setflags(write=False)
    return bands


@lru_cache(maxsize=1)
def _horizontal_band() -> np.ndarray:
    """Right operand of the horizontal pass, shape (18, 8)."""
    band = np.ascontiguousarray(_band(COLS_OUT).T)
    band.setflags(write=False)
    return band


def thread_count() -> int:
    """Threads for the pixel metrics: ``IQA_THREADS``, else the usable cores."""
    from iqa.environment import threads

    chosen = threads()
    if chosen is not None:
        return chosen
    from iqa.device import usable_cpus

    return usable_cpus()


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="iqa-ssim")


def view(
    a: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int = 0
) -> np.ndarray:
    """View of C-contiguous float64 ``a``, strides and offset in elements (a fast as_strided)."""
    return np.ndarray(shape, np.float64, a, offset * _F8, tuple(s * _F8 for s in strides))


class Workspace:
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
        src_size = MAPS * (rows + WIN - 1) * width
        mid_size = (MAPS * rows + 1) * width
        if self._src.size < src_size:
            self._src = np.zeros(src_size)
        if self._mid.size < mid_size:
            self._mid = np.zeros(mid_size)
        self.rows, self.width = rows, width
        self.blocks = -(-(width - WIN + 1) // COLS_OUT)
        self.out_width = self.blocks * COLS_OUT
        self.src = self._src[:src_size].reshape(MAPS, rows + WIN - 1, width)
        self.mid = self._mid[:mid_size].reshape(MAPS * rows + 1, width)

    def filter(self, rows: int) -> np.ndarray:
        """Valid Gaussian filter of the first ``rows + 10`` rows of each input.

        ``rows`` is a multiple of 4, at most ``self.rows``. Returns the maps μx, μy,
        2·E[x·y] and E[(x − y)²], shape (4, rows, out_width), in ``src``.
        """
        w, ow = self.width, self.out_width
        n = rows // ROWS_OUT
        bands = _vertical_bands()
        for c0 in range(0, w, _GEMM_MAX_WIDTH):
            cols = min(_GEMM_MAX_WIDTH, w - c0)
            strides = (self.src.shape[1] * w, ROWS_OUT * w, w, 1)
            blocks = view(self.src, (MAPS, n, bands.shape[-1], cols), strides, c0)
            strides = (rows * w, ROWS_OUT * w, w, 1)
            np.matmul(bands, blocks, out=view(self.mid, (MAPS, n, ROWS_OUT, cols), strides, c0))
        self.mid[MAPS * rows] = 0.0  # read past the last row of the last map
        band = _horizontal_band()
        blocks = view(self.mid, (self.blocks, MAPS * rows, band.shape[0]), (COLS_OUT, w, 1))
        maps = view(self.src, (MAPS, rows, ow), (rows * ow, ow, 1))
        out = view(maps, (self.blocks, MAPS * rows, COLS_OUT), (COLS_OUT, ow, 1))
        np.matmul(blocks, band, out=out)
        return maps

    def row_buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """Scratch rows of the compiled kernel in ``mid``: (4, 2, width) and (4, width)."""
        w = self.width
        return (self._mid[: 8 * w].reshape(MAPS, 2, w),
                self._mid[8 * w : 12 * w].reshape(MAPS, w))

    def scratch(self, rows: int, index: int = 0) -> np.ndarray:
        """Map-sized buffer ``index`` (0 or 1) in ``mid``, free once ``filter`` has returned."""
        size = rows * self.out_width
        return view(self.mid, (rows, self.out_width), (self.out_width, 1), index * size)


_spare: list[Workspace] = []
_spare_lock = threading.Lock()


def workspace(ws: Workspace | None, rows: int, width: int) -> Workspace:
    """``ws``, or a spare set of buffers, laid out for ``rows`` × ``width`` strips."""
    if ws is None:
        with _spare_lock:
            ws = _spare.pop() if _spare else Workspace()
    ws.shape_for(rows, width)
    return ws


def keep(ws: Workspace | None) -> None:
    """Keep a thread's buffers for the next call (at most one set per thread)."""
    if ws is not None:
        with _spare_lock:
            if len(_spare) < thread_count():
                _spare.append(ws)


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; without it BLAS keeps its threads
        return None
    return ThreadpoolController().select(user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread per caller inside; the first caller in sets it, the last out
    restores what it was (calls may overlap from several threads)."""
    global _blas_users, _blas_limiter
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = controller.limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def run_all(
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

    with single_threaded_blas():
        futures = [_pool().submit(loop) for _ in range(workers - 1)]
        loop()
        for future in futures:
            future.result()
    return results
