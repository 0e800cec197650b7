"""MS-SSIM, multi-scale structural similarity (Wang, Simoncelli & Bovik, 2003).

Definition used, following Wang's reference ``msssim.m``: five scales with weights
0.0448, 0.2856, 0.3001, 0.2363, 0.1333; at each scale the 11×11 Gaussian (σ = 1.5)
SSIM statistics over 'valid' windows with K1 = 0.01, K2 = 0.03 and the same
C1, C2 (from the data range) at every scale; the mean contrast-structure term of
scales 1–4 and the mean SSIM of scale 5 are raised to their weights and multiplied.
Between scales the image is reduced by a 2×2 mean; an odd side first repeats its
last row/column (``imfilter(.., ones(2)/4, 'symmetric')`` then ``1:2:end``), so a side
of n becomes ceil(n/2). Negative terms are clamped to 0 before the fractional powers
(as pytorch-msssim does), so the result is real and in [0, 1]. Colour images are
scored per channel and averaged. Five scales need both sides ≥ 161 pixels.

pytorch-msssim, piq and torchmetrics reduce odd sides differently (zero padding or
cropping) and differ from this on odd sizes by up to ~1e-3; on sizes whose every scale
is even they agree with it to float32 precision.

Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multiscale structural similarity for
image quality assessment", 37th Asilomar Conference on Signals, Systems and
Computers, 2003.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from iqa.errors import InvalidArgument, InvalidType
from iqa.io.images import Image
from iqa.metrics._arrays import ImageLike, as_pair
from iqa.metrics._ssim_core import (
    WIN,
    half_planes,
    half_size,
    map_channels,
    shared_full_scale_means,
    split_channels,
    ssim_cs_means,
    take_half_scale,
)
from iqa.metrics._ssim_engine import choice as engine_choice
from iqa.metrics._ssim_engine import compiled
from iqa.metrics.base import PAIR, MetricInfo, MetricOptions, PairMetric
from iqa.metrics.ssim import check_min_size

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def min_size(scales: int = len(WEIGHTS)) -> int:
    """Smallest side that still leaves an 11×11 image at the coarsest scale."""
    return (WIN - 1) * 2 ** (scales - 1) + 1


def ms_ssim(
    ref: ImageLike,
    dist: ImageLike,
    *,
    data_range: float | None = None,
    weights: Sequence[float] = WEIGHTS,
) -> float:
    """MS-SSIM of two images (H×W or H×W×C; ``uint8``, ``uint16`` or float).

    Parameters
    ----------
    ref, dist : ndarray, Image or path
        Reference and distorted image, same shape; each side at least 161 pixels
        for the default five scales. Arrays, nested lists, ``iqa.Image`` objects and
        file paths (decoded with ``iqa.load_image``'s defaults).
    data_range : float, optional
        Implied only for ``uint8`` (255) and ``uint16`` (65535); required for every
        other type (floats, other integers, Python lists).
    weights : sequence of float
        Per-scale exponents; their number sets the number of scales.

    Returns
    -------
    float
        MS-SSIM in [0, 1]; 1 means identical.

    Raises
    ------
    IQAError
        Also a ``ValueError`` or ``TypeError``: bad shapes, types, NaN pixels, range,
        an image smaller than the scales need.
    """
    ref, dist, data_range = as_pair(ref, dist, data_range, metric="ms_ssim")
    weights = _check_weights(weights)
    side = min_size(len(weights))
    check_min_size(ref.shape, side, "MS-SSIM", f"{len(weights)} scales of an 11x11 window")
    return _ms_ssim(ref, dist, data_range, weights)


def _ms_ssim(
    ref: np.ndarray,
    dist: np.ndarray,
    data_range: float,
    weights: Sequence[float],
    first: list[tuple[float, float]] | None = None,
    second: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> float:
    """MS-SSIM of checked H×W×C arrays; ``first``: the full-resolution (SSIM, cs) means;
    ``second`` (with ``first``): the channels' 2×2 means, made by the same pass."""
    pixels = ref.shape[0] * ref.shape[1]  # every scale runs on the full scale's engine
    channels = second
    if first is None:
        channels, per_scale = list(zip(split_channels(ref), split_channels(dist))), []
    else:
        per_scale = [first]
        if channels is None:  # the shared pass made no second scale: halve the images
            kernel = compiled(pixels)
            channels = map_channels(lambda p: (half_size(p[0], kernel), half_size(p[1], kernel)),
                                    zip(split_channels(ref), split_channels(dist)))
    for scale in range(len(per_scale), len(weights)):
        last = scale == len(weights) - 1
        # the strips of each scale also make the next scale (its 2×2 means, bit-identical)
        halves = None if last else half_planes(channels)
        per_scale.append(ssim_cs_means(channels, data_range, want_cs=not last,
                                       want_ssim=last, pixels=pixels, halves=halves))
        channels = halves
    scores = []
    for c in range(ref.shape[2]):
        value = 1.0
        for scale, w in enumerate(weights):
            s, cs = per_scale[scale][c]
            term = s if scale == len(weights) - 1 else cs
            value *= max(term, 0.0) ** w
        scores.append(value)
    return float(np.mean(scores))


def _check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(_number(w) for w in weights)
    except TypeError:
        raise InvalidType(
            f"ms_ssim: weights must be a sequence of numbers, not {weights!r:.60}"
        ) from None
    if not values or not all(math.isfinite(w) and w >= 0 for w in values):
        raise InvalidArgument(
            f"ms_ssim: weights must be one or more finite numbers ≥ 0, not {weights!r:.60}"
        )
    return values


def _number(w: object) -> float:
    """A weight as a float; TypeError for anything but a real number."""
    if isinstance(w, (bool, str, bytes)) or not isinstance(w, numbers.Real):
        raise TypeError(w)
    return float(w)


class MSSSIM(PairMetric):
    info = MetricInfo(
        name="ms_ssim",
        kind=PAIR,
        higher_is_better=True,
        needs="pixels",
        definition="MS-SSIM, 5 scales, Wang's weights and msssim.m downsampling "
        "(odd sides repeat the last row/column), per-channel mean (Wang et al. 2003)",
    )

    def __init__(self, options: MetricOptions | None = None) -> None:
        super().__init__(options)
        engine_choice()  # a bad IQA_SSIM_ENGINE stops a run before its first pair

    def check(self, ref: Image, dist: Image) -> None:
        check_min_size(ref.pixels.shape, min_size(), "MS-SSIM", "5 scales of an 11x11 window")

    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        return [self._one(r, d) for r, d in pairs]

    @staticmethod
    def _one(r: Image, d: Image) -> float:
        """:func:`ms_ssim` of a decoded pair, its first scale shared with SSIM."""
        ref, dist, data_range = as_pair(r.pixels, d.pixels, r.data_range, metric="ms_ssim")
        check_min_size(ref.shape, min_size(), "MS-SSIM", "5 scales of an 11x11 window")
        first = shared_full_scale_means(
            (r.pixels, d.pixels),
            lambda: list(zip(split_channels(ref), split_channels(dist))),
            data_range,
            halves=True,
        )
        second = take_half_scale(r.pixels, d.pixels, data_range)
        return _ms_ssim(ref, dist, data_range, WEIGHTS, first, second)

    def describe(self) -> dict:
        return {
            "definition": self.info.definition,
            "scales": len(WEIGHTS),
            "weights": list(WEIGHTS),
            "downsampling": "2x2 mean; odd side repeats last row/column (msssim.m)",
            "negative_terms": "clamped to 0",
            "window": "gaussian 11x11, sigma 1.5, valid",
            "channels": "mean of per-channel MS-SSIM",
        }
