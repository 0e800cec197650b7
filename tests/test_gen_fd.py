"""Fréchet distance on arbitrary features, against pytorch-fid's ``calculate_frechet_distance``
fed ``numpy.cov`` statistics (the formula dgm-eval and EDM2 use for FD-DINOv2)."""

from __future__ import annotations

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from iqa.errors import InvalidArgument
from iqa.genmetrics import frechet_distance_features


def test_equals_pytorch_fid_formula_on_1024_d_features():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1500, 1024)).astype(np.float32)
    fake = (rng.normal(size=(1300, 1024)) * 1.1 + 0.05).astype(np.float32)
    ref = calculate_frechet_distance(
        real.astype(np.float64).mean(0),
        np.cov(real, rowvar=False),
        fake.astype(np.float64).mean(0),
        np.cov(fake, rowvar=False),
    )
    assert frechet_distance_features(real, fake) == pytest.approx(ref, rel=1e-6)


def test_identical_sets_give_zero():
    x = np.random.default_rng(1).normal(size=(200, 16))
    assert frechet_distance_features(x, x.copy()) == pytest.approx(0.0, abs=1e-9)


def test_bad_inputs():
    with pytest.raises(InvalidArgument, match="at least 2"):
        frechet_distance_features(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(InvalidArgument, match="same feature extractor"):
        frechet_distance_features(np.zeros((5, 4)), np.zeros((5, 3)))
