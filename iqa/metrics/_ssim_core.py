"""The SSIM engine shared by SSIM and MS-SSIM: exact float64 statistics, computed fast.

The local statistics are the 11×11 Gaussian (σ = 1.5) weighted means of ``x``, ``y``,
``x² + y²`` and ``x·y`` over 'valid' windows (the window never leaves the image), which
is what scikit-image keeps after cropping its reflected borders and what Wang's
``ssim_index.m`` computes with ``filter2(..., 'valid')``. Only the sum σx² + σy² enters
SSIM, so four maps are filtered instead of five.

Speed without losing float64: the image is cut into horizontal strips whose
temporaries stay in the CPU caches (valid filtering makes strips exact: a strip of
``R`` output rows reads ``R + 10`` input rows), every step works in place, and the
strips of all channels run on a thread pool (OpenCV and NumPy release the GIL).
float32 is not used because it moves SSIM by ~1e-6 on bright flat areas, where
E[x²] − μ² cancels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

WIN = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
_PAD = WIN // 2
_STRIP_ELEMENTS = 200_000  # float64 elements per strip map: ~1.6 MB, cache-sized
_PARALLEL_MIN = 60_000  # below this many pixels a thread pool costs more than it saves


@lru_cache(maxsize=1)
def gaussian_kernel() -> np.ndarray:
    """The normalised 1-D Gaussian, 11 taps, σ = 1.5 (separable factor of the window)."""
    x = np.arange(WIN, dtype=np.float64) - _PAD
    g = np.exp(-0.5 * (x / SIGMA) ** 2)
    return g / g.sum()


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


def _filter(a: np.ndarray) -> np.ndarray:
    import cv2

    g = gaussian_kernel()
    # Borders are irrelevant: only rows and columns whose window lies inside are kept.
    return cv2.sepFilter2D(a, cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT)


def _strip_sums(
    x: np.ndarray, y: np.ndarray, r0: int, r1: int, c1: float, c2: float, want_cs: bool
) -> tuple[float, float]:
    """Sums of the SSIM map (and the contrast-structure map) over output rows r0..r1-1."""
    xs = x[r0 : r1 + WIN - 1].astype(np.float64)
    ys = y[r0 : r1 + WIN - 1].astype(np.float64)
    rows = slice(_PAD, -_PAD)
    mx = _filter(xs)[rows]
    my = _filter(ys)[rows]
    sxy = _filter(np.multiply(xs, ys))[rows]
    np.multiply(xs, xs, out=xs)
    np.multiply(ys, ys, out=ys)
    xs += ys
    s2 = _filter(xs)[rows]
    # Full-width rows stay contiguous (fast); the 5 border columns are dropped in the sums.
    t = np.multiply(mx, my)  # μx μy
    np.multiply(mx, mx, out=mx)
    np.multiply(my, my, out=my)
    mx += my  # μx² + μy²
    sxy -= t
    sxy *= 2.0
    sxy += c2  # 2 σxy + C2
    s2 -= mx
    s2 += c2  # σx² + σy² + C2
    t *= 2.0
    t += c1  # 2 μx μy + C1
    mx += c1  # μx² + μy² + C1
    cols = slice(_PAD, x.shape[1] - _PAD)
    cs_sum = 0.0
    if want_cs:
        np.divide(sxy, s2, out=sxy)  # contrast-structure map
        cs_sum = float(sxy[:, cols].sum())
        np.divide(t, mx, out=t)
        t *= sxy
    else:
        t *= sxy
        mx *= s2
        np.divide(t, mx, out=t)
    return float(t[:, cols].sum()), cs_sum


def ssim_cs_means(
    channels: Sequence[tuple[np.ndarray, np.ndarray]], data_range: float, *, want_cs: bool
) -> list[tuple[float, float]]:
    """Mean SSIM and mean contrast-structure term of each (x, y) pair of 2-D channels.

    Channels must be at least 11×11. Returns ``(mean_ssim, mean_cs)`` per channel
    (``mean_cs`` is 0.0 unless ``want_cs``).
    """
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    jobs = []
    for index, (x, y) in enumerate(channels):
        h, w = x.shape
        out_h = h - WIN + 1
        step = max(16, _STRIP_ELEMENTS // w)
        for r0 in range(0, out_h, step):
            jobs.append((index, x, y, r0, min(r0 + step, out_h)))
    total = sum(x.size for x, _ in channels)

    def run(job):
        index, x, y, r0, r1 = job
        return index, _strip_sums(x, y, r0, r1, c1, c2, want_cs)

    results = _pool().map(run, jobs) if total >= _PARALLEL_MIN and len(jobs) > 1 else map(run, jobs)
    sums = [[0.0, 0.0] for _ in channels]
    for index, (s, cs) in results:
        sums[index][0] += s
        sums[index][1] += cs
    means = []
    for (x, _), (s, cs) in zip(channels, sums):
        n = (x.shape[0] - WIN + 1) * (x.shape[1] - WIN + 1)
        means.append((s / n, cs / n))
    return means


def half_size(a: np.ndarray) -> np.ndarray:
    """2×2 mean; an odd side first repeats its last row/column (Wang's ``msssim.m``).

    ``msssim.m`` filters with ``ones(2)/4`` using ``imfilter(..., 'symmetric')`` and keeps
    ``1:2:end``: output ``i`` is the mean of rows ``2i`` and ``2i+1``, the row past the
    end being the last row again. The result has ``ceil(n/2)`` rows and columns.
    """
    import cv2

    a = np.asarray(a, dtype=np.float64)
    h, w = a.shape
    if h % 2 or w % 2:
        a = cv2.copyMakeBorder(a, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    # INTER_AREA with an exact factor of 2 is the 2×2 mean.
    return cv2.resize(a, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)


def map_channels(fn, items):
    """Apply ``fn`` to each item on the shared pool (used for per-channel downsampling)."""
    items = list(items)
    if len(items) > 1 and sum(getattr(i[0], "size", 0) for i in items) >= _PARALLEL_MIN:
        return list(_pool().map(fn, items))
    return [fn(i) for i in items]
