"""Bjøntegaard delta rate (BD-rate) and delta quality (BD-PSNR, BD-SSIM, ...).

Definitions (G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves",
VCEG-M33, 2001; the piecewise cubic variant of JVET/AOM common test conditions), computed
exactly as the ``bjontegaard`` package (Herglotz et al., v1.3) does:

* **BD-rate**: interpolate ``log10(rate)`` as a function of quality for ANCHOR and TEST,
  integrate both over the quality interval the two curves share, and turn the mean
  difference ``d`` into percent: ``(10**d - 1) * 100``. Negative: TEST needs fewer bits
  for the same quality. Scale-free: rates in bpp, kbps or bytes give the same number as
  long as ANCHOR and TEST use the same unit.
* **BD-quality**: interpolate quality as a function of ``log10(rate)``, integrate over the
  shared log-rate interval, mean difference TEST - ANCHOR in the metric's unit. For a
  lower-is-better metric (LPIPS) a negative BD-quality means TEST is better.

Interpolation (``method``): ``pchip`` (piecewise cubic Hermite, scipy's
``PchipInterpolator``; the default), ``akima`` (``Akima1DInterpolator``) or ``cubic``
(VCEG-M33: one third-order polynomial least-squares fit, ``numpy.polyfit``).

Curves must be strictly monotonic (checked by :mod:`iqa.rd.curves` before this is called);
the overlap of the two intervals, as a fraction of their union, is returned with every
value so that callers can warn (the ``bjontegaard`` package warns under 75 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METHODS = ("pchip", "cubic", "akima")
MIN_OVERLAP = 0.75  # the bjontegaard package's warning threshold


@dataclass(frozen=True)
class Delta:
    """One Bjøntegaard delta: its value and how much the two curves overlap (0..1)."""

    value: float
    overlap: float


class _Cubic:
    """VCEG-M33's fit: one cubic polynomial by least squares, integrated exactly."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self._antiderivative = np.polyint(np.polyfit(x, y, 3))

    def integrate(self, lo: float, hi: float) -> float:
        return float(np.polyval(self._antiderivative, hi) - np.polyval(self._antiderivative, lo))


def interpolator(x: np.ndarray, y: np.ndarray, method: str):
    """An object with ``integrate(lo, hi)`` (and, except ``cubic``, ``__call__``) through
    the points; ``x`` must be strictly increasing."""
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator

        return PchipInterpolator(x, y)
    if method == "akima":
        from scipy.interpolate import Akima1DInterpolator

        return Akima1DInterpolator(x, y)
    if method == "cubic":
        return _Cubic(x, y)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def evaluate(x: np.ndarray, y: np.ndarray, method: str, at: np.ndarray) -> np.ndarray:
    """The interpolated curve at ``at`` (for plots)."""
    x, y = _ascending(x, y)
    if method == "cubic":
        return np.polyval(np.polyfit(x, y, 3), at)
    return interpolator(x, y, method)(at)


def _ascending(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    return np.asarray(x, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]


def delta(
    x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    method: str = "pchip",
) -> Delta:
    """Mean of ``f_test - f_anchor`` over the shared ``x`` interval (``bd_linear``).

    ``f`` interpolates ``y`` over ``x``; the interval is ``[max of the minima, min of the
    maxima]``. Zero overlap gives ``value = nan``.
    """
    xa, ya = _ascending(x_anchor, y_anchor)
    xt, yt = _ascending(x_test, y_test)
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    total = max(xa[-1], xt[-1]) - min(xa[0], xt[0])
    overlap = max(hi - lo, 0.0) / total if total > 0 else 0.0
    if overlap == 0:
        return Delta(math.nan, 0.0)
    area_anchor = interpolator(xa, ya, method).integrate(lo, hi)
    area_test = interpolator(xt, yt, method).integrate(lo, hi)
    return Delta(float((area_test - area_anchor) / (hi - lo)), float(overlap))


def bd_rate(
    rate_anchor, quality_anchor, rate_test, quality_test, method: str = "pchip"
) -> Delta:
    """BD-rate in percent (negative: TEST needs fewer bits at equal quality)."""
    d = delta(np.asarray(quality_anchor, dtype=np.float64),
              np.log10(np.asarray(rate_anchor, dtype=np.float64)),
              np.asarray(quality_test, dtype=np.float64),
              np.log10(np.asarray(rate_test, dtype=np.float64)), method)
    return Delta((10.0 ** d.value - 1.0) * 100.0, d.overlap)


def bd_quality(
    rate_anchor, quality_anchor, rate_test, quality_test, method: str = "pchip"
) -> Delta:
    """BD-quality (BD-PSNR in dB for PSNR): mean TEST - ANCHOR quality at equal rate."""
    return delta(np.log10(np.asarray(rate_anchor, dtype=np.float64)),
                 np.asarray(quality_anchor, dtype=np.float64),
                 np.log10(np.asarray(rate_test, dtype=np.float64)),
                 np.asarray(quality_test, dtype=np.float64), method)
