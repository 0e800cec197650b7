"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for
Image Generation"): the maximum mean discrepancy between CLIP embeddings of two sets."""

from __future__ import annotations

import numpy as np

from iqa.errors import InvalidArgument
from iqa.genmetrics import knn
from iqa.genmetrics._validate import feature_array, positive_number, same_dim

SIGMA = 10.0
SCALE = 1000.0


def _mean_kernel(
    a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray, gamma: float
) -> float:
    """mean over all pairs (i, j) of exp(−γ‖aᵢ − bⱼ‖²), diagonal included, block by block."""
    total = 0.0
    for r0, r1 in knn._blocks(a.shape[0], knn.ROW_BLOCK):
        rows = knn._f64(a, r0, r1)
        for c0, c1 in knn._blocks(b.shape[0], knn.COL_BLOCK):
            cols = knn._f64(b, c0, c1)
            d2 = rows @ cols.T
            d2 *= -2.0
            d2 += a_sq[r0:r1, None]
            d2 += b_sq[None, c0:c1]
            d2 *= -gamma
            total += float(np.exp(d2).sum())
    return total / (a.shape[0] * b.shape[0])


def cmmd(real: object, fake: object, *, sigma: float = SIGMA, scale: float = SCALE) -> float:
    """CMMD = scale · MMD²_b(real, fake), Gaussian RBF kernel k(x, y) = exp(−‖x − y‖² / 2σ²).

    MMD²_b = mean k(xᵢ, xⱼ) + mean k(yᵢ, yⱼ) − 2 mean k(xᵢ, yⱼ), every mean over all pairs
    *including* i = j: the biased (minimum-variance) estimator of Gretton et al. 2012,
    Eq. 5 — not KID's unbiased one. σ = 10 and scale = 1000 are the paper's constants.
    This reproduces google-research's reference (``cmmd/distance.py``: ``mmd``, ``_SIGMA =
    10``, ``_SCALE = 1000``, squared distances as ‖x‖² + ‖y‖² − 2⟨x, y⟩, not clamped), in
    float64 where the reference runs JAX in float32, and in blocks (see
    :mod:`iqa.genmetrics.knn`) where the reference forms n×n matrices.

    The inputs are CLIP ViT-L/14@336px image embeddings, L2-normalised (the reference calls
    scenic's ``CLIP`` with its default ``normalize=True``, which divides each embedding by
    its norm); this function does not normalise, so features from another extractor, or
    unnormalised ones, give a different, non-comparable number. The sets may differ in
    size (the reference allows it). Identical sets give exactly 0.
    """
    x = feature_array(real, "real embeddings")
    y = feature_array(fake, "fake embeddings")
    same_dim(x, y, "real embeddings", "fake embeddings")
    sigma = positive_number(sigma, "sigma")
    scale = positive_number(scale, "scale")
    twice_variance = 2.0 * sigma * sigma  # Python floats: inf or 0 here, never an error
    if not (0.0 < twice_variance < np.inf):
        raise InvalidArgument(f"sigma {sigma:g} is out of range (2 sigma^2 is "
                              f"{twice_variance:g}); the paper's sigma is 10")
    gamma = 1.0 / twice_variance
    x_sq, y_sq = knn.squared_norms(x), knn.squared_norms(y)
    k_xx = _mean_kernel(x, x_sq, x, x_sq, gamma)
    k_yy = _mean_kernel(y, y_sq, y, y_sq, gamma)
    k_xy = _mean_kernel(x, x_sq, y, y_sq, gamma)
    return float(scale) * (k_xx + k_yy - 2.0 * k_xy)
