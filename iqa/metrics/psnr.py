"""PSNR, peak signal-to-noise ratio, with interpretation bands.

Definition used: PSNR = 10·log10(MAX² / MSE), MSE the mean squared difference over all
pixels and channels in float64, MAX the data range (255 for 8-bit, 65535 for 16-bit,
given for floats). This equals ``skimage.metrics.peak_signal_noise_ratio``. Identical
images have MSE = 0 and an infinite PSNR.

With ``luma=True`` PSNR is computed on the BT.601 luma of RGB images, as
super-resolution and codec papers report it:
Y = 16·MAX/255 + (65.481·R + 128.553·G + 24.966·B)/255 (no rounding; MAX unchanged),
the formula of MATLAB's ``rgb2ycbcr`` and BasicSR's ``to_y_channel``.
Gray images are used as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from iqa.errors import UsageError
from iqa.io.images import Image
from iqa.metrics._arrays import as_pair
from iqa.metrics.base import PAIR, MetricInfo, PairMetric

#: (lower bound in dB, band id, what it means), from best to worst.
BANDS = (
    (math.inf, "identical", "identical images (MSE = 0)"),
    (50.0, "near-lossless", "near-lossless, only tiny errors"),
    (30.0, "hard-to-see", "differences hard for the eye to see"),
    (20.0, "visible", "differences visible"),
    (10.0, "degraded", "clearly degraded, structure still recognisable"),
    (-math.inf, "unrecognisable", "hard to tell whether it is the same image"),
)

_BT601 = np.array([65.481, 128.553, 24.966]) / 255.0


def psnr(
    ref: np.ndarray, dist: np.ndarray, *, data_range: float | None = None, luma: bool = False
) -> float:
    """PSNR in dB of two images (H×W or H×W×C); ``inf`` when they are identical.

    Parameters
    ----------
    ref, dist : ndarray
        Reference and distorted image, same shape.
    data_range : float, optional
        MAX. Defaults to 255 for ``uint8``, 65535 for ``uint16``; required for floats.
    luma : bool
        Score the BT.601 luma (Y) of RGB images instead of all channels.
    """
    ref, dist, data_range = as_pair(ref, dist, data_range, metric="psnr")
    a = ref.astype(np.float64)
    b = dist.astype(np.float64)
    if luma:
        a, b = _luma(a, data_range), _luma(b, data_range)
    mse = float(np.mean((a - b) ** 2, dtype=np.float64))
    if mse == 0.0:
        return math.inf
    return float(10 * np.log10((data_range**2) / mse))


def _luma(a: np.ndarray, data_range: float) -> np.ndarray:
    if a.shape[2] == 1:
        return a
    if a.shape[2] != 3:
        raise UsageError(f"psnr: luma needs RGB or gray images, got {a.shape[2]} channels")
    return a @ _BT601 + 16.0 * data_range / 255.0


def band(value: float | None) -> tuple[str, str]:
    """The interpretation band of a PSNR value: (id, description)."""
    if value is None or math.isnan(value):
        return "", ""
    for lower, key, text in BANDS:
        if value >= lower:
            return key, text
    return BANDS[-1][1], BANDS[-1][2]  # pragma: no cover - -inf bound catches all


class PSNR(PairMetric):
    info = MetricInfo(
        name="psnr",
        kind=PAIR,
        higher_is_better=True,
        needs="pixels",
        definition="PSNR = 10 log10(MAX^2 / MSE), MSE over all pixels and channels",
        unit="dB",
    )

    @property
    def luma(self) -> bool:
        return bool(self.options.params.get("psnr.luma", False))

    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        return [psnr(r.pixels, d.pixels, data_range=r.data_range, luma=self.luma) for r, d in pairs]

    def annotate(self, value: float | None) -> dict:
        return {"psnr_band": band(value)[0] or None}

    def describe(self) -> dict:
        return {
            "definition": self.info.definition,
            "channels": "BT.601 luma (Y), unrounded" if self.luma else "all channels",
            "max": "data range: 255 (8-bit), 65535 (16-bit)",
            "infinite": "identical images: null in JSON, inf in CSV, psnr_band 'identical'",
            "bands_db": {key: lower for lower, key, _ in BANDS if math.isfinite(lower)},
        }
