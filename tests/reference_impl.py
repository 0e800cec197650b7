"""Literal float64 translations of the reference definitions, used as test oracles.

``ssim_index_new`` and ``msssim`` follow Wang's MATLAB files (ssim_index_new.m, msssim.m)
line by line: ``filter2(window, img, 'valid')``, ``imfilter(img, ones(2)/4, 'symmetric',
'same')`` then ``img(1:2:end, 1:2:end)``. They are slow and simple on purpose.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import correlate2d

MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    half = (size - 1) / 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    return h / h.sum()


def ssim_index_new(img1: np.ndarray, img2: np.ndarray, L: float) -> tuple[float, float]:
    """(mean SSIM, mean CS) of two 2-D images, as Wang's ssim_index_new.m."""
    window = fspecial_gaussian()
    C1, C2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    img1 = img1.astype(np.float64)
    img2 = img2.astype(np.float64)

    def filter2(a):
        return correlate2d(a, window, mode="valid")

    mu1, mu2 = filter2(img1), filter2(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = filter2(img1 * img1) - mu1_sq
    sigma2_sq = filter2(img2 * img2) - mu2_sq
    sigma12 = filter2(img1 * img2) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + C1) * (2 * sigma12 + C2)) / (
        (mu1_sq + mu2_sq + C1) * (sigma1_sq + sigma2_sq + C2)
    )
    cs_map = (2 * sigma12 + C2) / (sigma1_sq + sigma2_sq + C2)
    return float(ssim_map.mean()), float(cs_map.mean())


def downsample_msssim_m(img: np.ndarray) -> np.ndarray:
    """imfilter(img, ones(2)/4, 'symmetric', 'same') then img(1:2:end, 1:2:end)."""
    padded = np.pad(img.astype(np.float64), ((0, 1), (0, 1)), mode="symmetric")
    filtered = (
        padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]
    ) / 4.0
    return filtered[::2, ::2]


def msssim(img1: np.ndarray, img2: np.ndarray, L: float) -> float:
    """MS-SSIM of two 2-D images, as Wang's msssim.m (negative terms clamped to 0)."""
    mssim, mcs = [], []
    for level in range(5):
        s, cs = ssim_index_new(img1, img2, L)
        mssim.append(s)
        mcs.append(cs)
        if level < 4:
            img1, img2 = downsample_msssim_m(img1), downsample_msssim_m(img2)
    mcs_arr = np.maximum(np.array(mcs[:4]), 0.0)
    return float(np.prod(mcs_arr ** MS_WEIGHTS[:4]) * max(mssim[4], 0.0) ** MS_WEIGHTS[4])


def per_channel(fn, a: np.ndarray, b: np.ndarray, L: float) -> float:
    if a.ndim == 2:
        return fn(a, b, L)
    return float(np.mean([fn(a[..., c], b[..., c], L) for c in range(a.shape[2])]))
