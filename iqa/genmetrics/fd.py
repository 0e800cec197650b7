"""The Fréchet distance between two sets of feature vectors from any extractor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from iqa.genmetrics._validate import feature_array, same_dim

if TYPE_CHECKING:
    from iqa.distribution.stats import FeatureStats


def frechet_distance_features(real: object, fake: object) -> float:
    """d² = ‖μ_r − μ_f‖² + Tr(Σ_r) + Tr(Σ_f) − 2 Tr((Σ_r Σ_f)^½) of two N×d feature arrays.

    The FID formula (Heusel et al. 2017) on features of any network: with DINOv2 ViT-L/14
    CLS features it is FD-DINOv2 (Stein et al. 2023, dgm-eval; EDM2 reports it), with
    CLIP features CLIP-FID (clean-fid ``clip_vit_b_32``, torch-fidelity ``clip-vit-b-32``).
    Means and unbiased covariances (``numpy.cov``, denominator N − 1, as all those tools)
    are accumulated in float64, 4,096 rows at a time, by
    :class:`iqa.distribution.stats.FeatureStats`, and the distance is
    :func:`iqa.distribution.stats.frechet_distance` (symmetric eigensolver,
    exact for singular covariances). Each set needs at least 2 vectors. The number is
    only comparable to another computed with the same extractor *and* preprocessing (for
    FD-DINOv2, dgm-eval and EDM2 resize with PIL bicubic to 224×224; torch-fidelity's
    ``dinov2-vit-l-14`` uses its own bilinear resize and gives a different value).
    """
    from iqa.distribution.stats import frechet_distance

    x = feature_array(real, "real features", min_rows=2)
    y = feature_array(fake, "fake features", min_rows=2)
    same_dim(x, y, "real features", "fake features")
    sx, sy = _stats(x), _stats(y)
    return frechet_distance(sx.mean, sx.cov, sy.mean, sy.cov)


def feature_stats(features: object, what: str) -> FeatureStats:
    """Mean and unbiased covariance (denominator N − 1) of an N×d feature array, as
    :func:`frechet_distance_features` takes them: for a Fréchet distance against a
    statistics file's mu and sigma."""
    return _stats(feature_array(features, what, min_rows=2))


def _stats(x: np.ndarray) -> FeatureStats:
    """Float64 sums of ``x`` fed 4,096 rows at a time (no N×d float64 copy)."""
    from iqa.distribution.stats import FeatureStats

    stats = FeatureStats.empty(x.shape[1])
    for start in range(0, x.shape[0], 4096):
        stats.update(x[start : start + 4096])
    return stats
