"""Exact sums of squared differences of two planes, fast.

The sum is an integer, as in ffmpeg's ``vf_psnr`` (``uint64_t`` per plane). It is
computed as an ``int32`` difference into a reused buffer, then the squares of each row
summed by ``einsum`` in ``int32`` — exact because a row's sum is checked to stay under
2^31 (8-bit: rows up to 33,025 samples; 10-bit: 2,052; wider rows and deeper samples
are cut into column blocks that fit) — and the row sums added in ``int64``. Samples of
13 bits and more, where fewer than 16 squares fit under 2^31, use ``int64`` throughout.
The plane is done in strips of rows whose differences stay in the CPU caches (a whole
1080p plane of int32 differences does not, and takes 2 to 6 times longer). Measured on
a 1920×1080 8-bit 4:2:0 frame: about 1.7 ms, against about 12 ms for a float64
difference and BLAS dot product. 8-bit planes go through OpenCV instead
(:func:`iqa.metrics._sse.sse_uint8`, the same integer), about 0.45 ms for that luma plane.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from iqa.metrics._sse import sse_uint8

_INT32_LIMIT = 2**31 - 1
_STRIP_SAMPLES = 131_072  # a strip's int32 differences (512 KiB) stay in the CPU caches
_PARALLEL_MIN = 1_000_000  # samples per frame below which threads cost more than they save
_local = threading.local()


def _buffer(shape: tuple[int, int], dtype: type) -> np.ndarray:
    """A per-thread scratch array of ``shape`` (reused while the shape stays the same)."""
    cache = getattr(_local, "buffers", None)
    if cache is None:
        cache = _local.buffers = {}
    key = (shape, np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None:
        if len(cache) > 8:  # a few plane shapes at a time; forget the old ones
            cache.clear()
        buf = cache[key] = np.empty(shape, dtype)
    return buf


def plane_sse(ref: np.ndarray, dist: np.ndarray, bits: int) -> int:
    """Σ (ref − dist)² over a 2-D plane, exactly, for samples of ``bits`` bits."""
    if ref.shape != dist.shape or ref.ndim != 2:
        raise ValueError(f"planes differ in shape: {ref.shape} vs {dist.shape}")
    if ref.dtype == np.uint8 and dist.dtype == np.uint8:
        return sse_uint8(ref, dist)
    top = (1 << bits) - 1
    cols = _INT32_LIMIT // (top * top) if top else _INT32_LIMIT
    wide = cols < 16
    dtype = np.int64 if wide else np.int32
    height, width = ref.shape
    rows = max(1, min(height, _STRIP_SAMPLES // width))
    strip = _buffer((rows, width), dtype)
    total = 0
    for r0 in range(0, height, rows):
        diff = strip[: min(rows, height - r0)]
        diff[...] = ref[r0 : r0 + rows]  # widening copy, then subtract: faster than casting
        np.subtract(diff, dist[r0 : r0 + rows], out=diff)
        if wide:
            total += int(np.einsum("ij,ij->i", diff, diff).sum())
            continue
        for c0 in range(0, width, cols):
            block = diff[:, c0 : c0 + cols]
            total += int(np.einsum("ij,ij->i", block, block).sum(dtype=np.int64))
    return total


def frame_sse(
    ref_planes: Sequence[np.ndarray], dist_planes: Sequence[np.ndarray], bits: int
) -> tuple[int, ...]:
    """:func:`plane_sse` of each plane pair; large frames are cut into bands of rows
    scored on a thread pool (``IQA_THREADS`` threads, default: the usable CPUs; NumPy
    releases the GIL). The sums are integers, so they do not depend on the threads."""
    sizes = [p.size for p in ref_planes]
    threads = _threads()
    if threads == 1 or sum(sizes) < _PARALLEL_MIN:
        return tuple(plane_sse(a, b, bits) for a, b in zip(ref_planes, dist_planes))
    band = max(_STRIP_SAMPLES, sum(sizes) // (2 * threads))
    tasks = []
    for c, (a, b) in enumerate(zip(ref_planes, dist_planes)):
        rows = max(1, band // a.shape[1])
        tasks += [(c, a[r0 : r0 + rows], b[r0 : r0 + rows]) for r0 in range(0, a.shape[0], rows)]
    sums = [0] * len(sizes)
    for c, value in zip((t[0] for t in tasks),
                        _pool(threads).map(lambda t: plane_sse(t[1], t[2], bits), tasks)):
        sums[c] += value
    return tuple(sums)


def _threads() -> int:
    from iqa.metrics._ssim_core import thread_count  # one IQA_THREADS policy for all metrics

    return thread_count()


@lru_cache(maxsize=4)
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="iqa-sse")
