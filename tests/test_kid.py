"""KID math against torch-fidelity's implementation, on synthetic features.

The comparison on real Inception features of real images is in test_fid_reference.py.
"""

import numpy as np
import pytest
import torch

from iqa.metrics.base import MetricOptions
from iqa.metrics.kid import KID, kid_from_features, polynomial_mmd2


def _features(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(n, 2048)) * 0.5 + shift)


def _torch_fidelity(real: np.ndarray, fake: np.ndarray, **kwargs) -> tuple[float, float]:
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    # float64 tensors: torch-fidelity then computes its kernels in float64 too. Its
    # convention: input1 is the generated set (as in its README and its prc).
    out = kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), verbose=False,
                                 **kwargs)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def test_full_unbiased_estimate_equals_torch_fidelity():
    real, fake = _features(40, 0), _features(36, 1, shift=0.05)
    ours = kid_from_features(real, fake, subsets=1, subset_size=36, seed=3)
    mean, std = _torch_fidelity(real, fake, kid_subsets=1, kid_subset_size=36, rng_seed=3)
    assert ours.mean == pytest.approx(mean, rel=1e-12)
    assert ours.std == 0.0 == std


def test_random_subsets_are_drawn_as_torch_fidelity_draws_them():
    real, fake = _features(30, 2), _features(25, 3, shift=0.1)
    ours = kid_from_features(real, fake, subsets=7, subset_size=10, seed=11)
    mean, std = _torch_fidelity(real, fake, kid_subsets=7, kid_subset_size=10, rng_seed=11)
    assert ours.mean == pytest.approx(mean, rel=1e-12)
    assert ours.std == pytest.approx(std, rel=1e-10)
    # the order matters for which images each subset holds
    other, _ = _torch_fidelity(fake, real, kid_subsets=7, kid_subset_size=10, rng_seed=11)
    assert abs(other - ours.mean) > 1e-9 * abs(ours.mean)


def test_mmd_of_a_set_with_itself_is_near_zero_and_shift_increases_it():
    x = _features(50, 4)
    y = _features(50, 5)
    same = polynomial_mmd2(x, y)
    shifted = polynomial_mmd2(x, y + 0.2)
    assert abs(same) < 0.05 * shifted
    assert shifted > 0


def test_polynomial_mmd_by_hand():
    # d = 2, m = 2: k(a, b) = (a.b / 2 + 1)^3.
    x = np.array([[0.0, 0.0], [2.0, 0.0]])
    y = np.array([[0.0, 2.0], [0.0, 0.0]])
    k = lambda a, b: (a @ b / 2 + 1) ** 3  # noqa: E731
    within = (2 * k(x[0], x[1]) + 2 * k(y[0], y[1])) / 2
    between = sum(k(a, b) for a in x for b in y) / 4
    assert polynomial_mmd2(x, y) == pytest.approx(within - 2 * between, rel=1e-14)


def test_subset_size_and_options_are_checked():
    real, fake = _features(5, 6), _features(5, 7)
    with pytest.raises(ValueError, match="subset_size"):
        kid_from_features(real, fake, subsets=1, subset_size=6)
    with pytest.raises(ValueError, match="subsets"):
        kid_from_features(real, fake, subsets=0, subset_size=3)


def test_metric_adapter():
    assert KID.info.name == "kid" and KID.info.kind == "distribution"
    assert KID.info.higher_is_better is False
    assert KID.info.needs == "network:fid-inception"
    assert "Binkowski" in KID.info.definition
    real, fake = _features(12, 8), _features(12, 9, shift=0.1)
    params = {"kid.subsets": 3, "kid.subset_size": 6, "kid.seed": 1}
    out = KID(MetricOptions(params=params)).compute(real, fake)
    expected = kid_from_features(real, fake, subsets=3, subset_size=6, seed=1)
    assert out == {"kid_mean": expected.mean, "kid_std": expected.std}
