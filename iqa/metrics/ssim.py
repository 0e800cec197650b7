"""SSIM, the structural similarity index (Wang, Bovik, Sheikh & Simoncelli, 2004).

Definition used: an 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03,
C1 = (K1·L)², C2 = (K2·L)² with L the data range, population (not sample) statistics,
'valid' windows only (no padding), and the mean of the SSIM map. A colour image is
scored per channel and the channel scores are averaged. This equals
``skimage.metrics.structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=L, channel_axis=-1)``.

Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment:
from error visibility to structural similarity", IEEE TIP 13(4), 2004.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from iqa.errors import InvalidImageSize
from iqa.io.images import Image
from iqa.metrics._arrays import ImageLike, as_pair
from iqa.metrics._ssim_core import (
    WIN,
    shared_full_scale_means,
    split_channels,
    ssim_cs_means,
)
from iqa.metrics._ssim_engine import choice as engine_choice
from iqa.metrics.base import PAIR, MetricInfo, MetricOptions, PairMetric


def ssim(
    ref: ImageLike, dist: ImageLike, *, data_range: float | None = None, full: bool = False
) -> float | tuple[float, np.ndarray]:
    """Mean SSIM of two images (H×W or H×W×C; ``uint8``, ``uint16`` or float).

    Parameters
    ----------
    ref, dist : ndarray, Image or path
        Reference and distorted image, same shape, at least 11×11. Arrays, nested
        lists, ``iqa.Image`` objects and file paths (decoded with ``iqa.load_image``'s
        defaults).
    data_range : float, optional
        L in C1 = (0.01·L)², C2 = (0.03·L)². Implied only for ``uint8`` (255) and
        ``uint16`` (65535), as scikit-image does; required for every other type
        (floats, other integers, Python lists).
    full : bool
        Also return the SSIM map (scikit-image's keyword).

    Returns
    -------
    float
        SSIM in [-1, 1]; 1 means identical.
    ndarray, only with ``full=True``
        The SSIM map, float64, of the valid windows: (H-10)×(W-10) for an H×W input,
        (H-10)×(W-10)×C for a colour one. Pixel (i, j) is the window centred on image
        pixel (i+5, j+5). The value is the mean of this map (computed in the same pass;
        the two agree to rounding, ~1e-15). scikit-image returns an H×W map whose
        5-pixel border comes from reflected windows and is left out of its mean; here
        that border is left out of the map too.

    Raises
    ------
    IQAError
        Also a ``ValueError`` or ``TypeError``: bad shapes, types, NaN pixels, range,
        an image smaller than 11×11.
    """
    ref, dist, data_range = as_pair(ref, dist, data_range, metric="ssim")
    check_min_size(ref.shape, WIN, "SSIM", "the 11x11 Gaussian window")
    channels = list(zip(split_channels(ref), split_channels(dist)))
    maps = new_maps(ref.shape) if full else None
    means = ssim_cs_means(channels, data_range, want_cs=False, maps=maps)
    value = float(np.mean([s for s, _ in means]))
    if maps is None:
        return value
    return value, (maps[0] if ref.shape[2] == 1 else np.stack(maps, axis=2))


def new_maps(shape: tuple[int, ...]) -> list[np.ndarray]:
    """One empty (H-10)×(W-10) float64 SSIM map per channel of an H×W×C image."""
    h, w, c = shape
    return [np.empty((h - WIN + 1, w - WIN + 1)) for _ in range(c)]


def check_min_size(shape: tuple[int, ...], minimum: int, metric: str, why: str) -> None:
    h, w = shape[:2]
    if h < minimum or w < minimum:
        raise InvalidImageSize(
            f"{metric} needs images of at least {minimum}x{minimum} pixels ({why}); "
            f"got {w}x{h}"
        )


class SSIM(PairMetric):
    info = MetricInfo(
        name="ssim",
        kind=PAIR,
        higher_is_better=True,
        needs="pixels",
        definition="SSIM, 11x11 Gaussian window sigma=1.5, K=(0.01, 0.03), valid "
        "windows, per-channel mean (Wang et al. 2004)",
    )

    def __init__(self, options: MetricOptions | None = None) -> None:
        super().__init__(options)
        engine_choice()  # a bad IQA_SSIM_ENGINE stops a run before its first pair
        self._halves = False

    def alongside(self, names: Collection[str]) -> None:
        """With MS-SSIM in the run, the full-resolution pass also makes its second scale."""
        self._halves = "ms_ssim" in names

    def check(self, ref: Image, dist: Image) -> None:
        check_min_size(ref.pixels.shape, WIN, "SSIM", "the 11x11 Gaussian window")

    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        return [self._one(r, d, halves=self._halves) for r, d in pairs]

    def score_maps(self, pairs: Sequence[tuple[Image, Image]]) -> list[tuple[float, np.ndarray]]:
        """Each pair's value and its (H-10)×(W-10) map, the mean over channels of the
        per-channel SSIM maps (whose mean is the value), from the same pass."""
        out = []
        for r, d in pairs:
            maps = new_maps(r.pixels.shape if r.pixels.ndim == 3 else (*r.pixels.shape, 1))
            value = self._one(r, d, maps, self._halves)
            mean = maps[0]  # the channels' mean, in place
            for m in maps[1:]:
                mean += m
            if len(maps) > 1:
                mean /= len(maps)
            out.append((value, mean))
        return out

    @staticmethod
    def _one(r: Image, d: Image, maps: list[np.ndarray] | None = None,
             halves: bool = False) -> float:
        """:func:`ssim` of a decoded pair, its full-resolution pass shared with MS-SSIM
        (``halves``: the pass also makes MS-SSIM's second scale)."""
        ref, dist, data_range = as_pair(r.pixels, d.pixels, r.data_range, metric="ssim")
        check_min_size(ref.shape, WIN, "SSIM", "the 11x11 Gaussian window")
        means = shared_full_scale_means(
            (r.pixels, d.pixels),
            lambda: list(zip(split_channels(ref), split_channels(dist))),
            data_range,
            maps,
            halves,
        )
        return float(np.mean([s for s, _ in means]))

    def describe(self) -> dict:
        return {
            "definition": self.info.definition,
            "window": "gaussian 11x11, sigma 1.5",
            "k1": 0.01,
            "k2": 0.03,
            "padding": "valid",
            "covariance": "population",
            "channels": "mean of per-channel SSIM",
            "reference": "skimage.metrics.structural_similarity(gaussian_weights=True, "
            "sigma=1.5, use_sample_covariance=False)",
        }
