"""Pooling per-frame scores into one number per clip.

For a clip of n frames with scores x_1 … x_n:

- ``mean``  = Σ x / n (the arithmetic mean, libvmaf's default pooling);
- ``min``, ``max``;
- ``harmonic_mean`` = n / Σ 1/(x + 1) − 1, libvmaf's definition (its
  ``VMAF_POOL_METHOD_HARMONIC_MEAN``; the +1 keeps scores of 0 finite), which weighs bad
  frames more than the mean does;
- ``p1``, ``p5`` = the 1st and 5th percentiles, NumPy's default ("linear") definition:
  with the scores sorted, the value at position q/100 · (n − 1), interpolated linearly
  between its two neighbours (``numpy.percentile(x, q)``).

Infinite scores (PSNR of identical frames) pool as numbers do: the mean and max of a clip
with an identical frame are ``inf``; the harmonic mean treats 1/(inf + 1) as 0; a
percentile that interpolates towards an infinite value is ``inf`` (NumPy would give
``nan`` there). A score of ``None`` (a metric that does not apply to a frame) makes every
pooled value ``None``.

For PSNR, also pool by MSE (:func:`mse_pooled_psnr`): the PSNR of the mean MSE, which is
what ffmpeg prints at the end of its ``psnr`` filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from iqa.errors import UsageError

POOLINGS = ("mean", "min", "max", "harmonic_mean", "p1", "p5")


def harmonic_mean(values: Sequence[float]) -> float:
    """libvmaf's harmonic mean: n / Σ 1/(x + 1) − 1."""
    total = 0.0
    for x in values:
        total += 0.0 if math.isinf(x) and x > 0 else (math.inf if x == -1.0 else 1.0 / (x + 1.0))
    if total == 0.0:
        return math.inf
    return len(values) / total - 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """``numpy.percentile(values, q)`` (linear), with infinite neighbours giving ``inf``."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if np.isfinite(x).all():
        return float(np.percentile(x, q))
    pos = q / 100.0 * (len(x) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(x) - 1)
    frac = pos - lo
    if frac == 0.0 or x[lo] == x[hi]:
        return float(x[lo])
    a, b = float(x[lo]), float(x[hi])
    if math.isinf(b) or math.isinf(a):
        return b if math.isinf(b) else a
    # NumPy's linear interpolation (numpy.lib._function_base_impl._lerp)
    return b - (b - a) * (1.0 - frac) if frac >= 0.5 else a + (b - a) * frac


def pool(values: Sequence[float | None]) -> dict[str, float | None]:
    """Every pooling of :data:`POOLINGS` over per-frame ``values`` (see module docstring)."""
    if len(values) == 0:
        raise UsageError("cannot pool an empty list of frame scores")
    if any(v is None for v in values):
        return dict.fromkeys(POOLINGS)
    xs = [float(v) for v in values]  # type: ignore[arg-type]
    if any(math.isnan(x) for x in xs):
        raise ValueError("frame scores contain NaN")
    return {
        "mean": math.fsum(xs) / len(xs) if not any(math.isinf(x) for x in xs) else _inf_mean(xs),
        "min": min(xs),
        "max": max(xs),
        "harmonic_mean": harmonic_mean(xs),
        "p1": percentile(xs, 1),
        "p5": percentile(xs, 5),
    }


def _inf_mean(xs: list[float]) -> float:
    pos = any(x == math.inf for x in xs)
    neg = any(x == -math.inf for x in xs)
    return math.nan if pos and neg else (math.inf if pos else -math.inf)


def mse_pooled_psnr(mses: Sequence[float], peak: float) -> float:
    """PSNR of the mean MSE, 10·log10(peak² / (Σ mse / n)), summed in order as ffmpeg."""
    if len(mses) == 0:
        raise UsageError("cannot pool an empty list of frame scores")
    total = 0.0
    for m in mses:
        total += m
    mean = total / len(mses)
    return math.inf if mean == 0.0 else 10.0 * math.log10(peak * peak / mean)
