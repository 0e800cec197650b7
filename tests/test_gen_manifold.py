"""Precision/recall (torch-fidelity's ``prc``) and density/coverage (the ``prdc`` package).

References: torch-fidelity 0.4 ``metric_prc.calculate_precision_recall_full/part`` (generated
set first, ``<=``, ``kthvalue(k + 1)``), ``prdc.compute_prdc`` 0.2 (real first, ``<``).
Hand-worked cases in 1-D pin the k-NN balls: ``≤`` against ``<``, duplicates, set order.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from torch_fidelity.metric_prc import (
    calculate_precision_recall_full,
    calculate_precision_recall_part,
)

from iqa.errors import InvalidArgument, InvalidType
from iqa.genmetrics import density_coverage, knn, prdc, precision_recall


def _sets(seed: int, n_real: int = 600, n_fake: int = 450, dim: int = 64, offset: float = 0.0):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n_real, dim)) + offset
    fake = rng.normal(0.2, 1.15, size=(n_fake, dim)) + offset
    return real, fake


def _prdc_package(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        return compute_prdc(real, fake, k)


def _torch_fidelity(real: np.ndarray, fake: np.ndarray, k: int, part: bool = False):
    fn = calculate_precision_recall_part if part else calculate_precision_recall_full
    # torch-fidelity's convention: features_1 = generated, features_2 = real.
    return fn(torch.from_numpy(fake), torch.from_numpy(real), k, 10000)


@pytest.mark.parametrize("seed,offset", [(0, 0.0), (1, 0.0), (2, 30.0)])
def test_precision_recall_equals_torch_fidelity(seed, offset):
    real, fake = _sets(seed, offset=offset)  # offset: all-positive, far from 0 like ReLU features
    ours = precision_recall(real, fake)
    ref_p, ref_r = _torch_fidelity(real, fake, 3)
    assert 0.02 < ours.precision < 0.98 and 0.02 < ours.recall < 0.98
    # torch-fidelity averages in float32: 1e-7 apart at most.
    assert ours.precision == pytest.approx(ref_p, abs=1e-6)
    assert ours.recall == pytest.approx(ref_r, abs=1e-6)


def test_precision_recall_other_k_equals_torch_fidelity_part():
    real, fake = _sets(3, 300, 310, 16)
    ours = precision_recall(real, fake, k=7)
    ref_p, ref_r = _torch_fidelity(real, fake, 7, part=True)
    assert ours.precision == pytest.approx(ref_p, abs=1e-6)
    assert ours.recall == pytest.approx(ref_r, abs=1e-6)


@pytest.mark.parametrize("seed,k", [(0, 5), (4, 3), (5, 10)])
def test_prdc_equals_the_prdc_package(seed, k):
    real, fake = _sets(seed)
    ours = prdc(real, fake, k=k)
    ref = _prdc_package(real, fake, k)
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(float(ref[name]), abs=1e-12), name
    dc = density_coverage(real, fake, k=k)
    assert dc == (ours.density, ours.coverage)


def test_identical_sets():
    real, _ = _sets(6)
    ours = prdc(real, real.copy(), k=5)
    ref = _prdc_package(real, real, 5)
    assert ours.precision == ours.recall == ours.coverage == 1.0
    # Each real ball (open) holds the vector itself and its k − 1 nearest: density exactly 1.
    assert ours.density == float(ref["density"]) == 1.0
    assert precision_recall(real, real.copy()) == (1.0, 1.0)


# 1-D, k = 1. real = {0, 1, 3}: radii 1, 1, 2.  fake = {2, 5, 6}: radii 3, 1, 1.
# Precision, closed balls: fake 2 is at distance 1 from real 1 (radius 1): in; fake 5 at
# distance 2 from real 3 (radius 2): in, by equality; fake 6 is 3 from real 3: out -> 2/3.
# With open balls fake 2 is still in (1 < 2 from real 3), fake 5 is out -> 1/3.
# Recall: every real is within 3 of fake 2 (radius 3) -> 1 either way.
# Density (open): only fake 2 lies in a real ball (real 3's) -> 1 / (k * 3) = 1/3.
# Coverage (open): real 0's nearest fake is 2 away (radius 1), real 1's 1 away (radius 1,
# not < 1), real 3's 1 away (radius 2) -> 1/3.
REAL_1D = np.array([[0.0], [1.0], [3.0]])
FAKE_1D = np.array([[2.0], [5.0], [6.0]])


def test_hand_worked_ties_closed_against_open_balls():
    assert precision_recall(REAL_1D, FAKE_1D, k=1) == pytest.approx((2 / 3, 1.0), abs=1e-15)
    assert prdc(REAL_1D, FAKE_1D, k=1) == pytest.approx((1 / 3, 1.0, 1 / 3, 1 / 3), abs=1e-15)
    assert density_coverage(REAL_1D, FAKE_1D, k=1) == pytest.approx((1 / 3, 1 / 3), abs=1e-15)
    ref = _prdc_package(REAL_1D, FAKE_1D, 1)
    assert (ref["precision"], ref["recall"], ref["density"], ref["coverage"]) == pytest.approx(
        (1 / 3, 1.0, 1 / 3, 1 / 3)
    )
    assert _torch_fidelity(REAL_1D, FAKE_1D, 1) == pytest.approx((2 / 3, 1.0))


# real = {0, 0, 4}, k = 1: radii 0, 0, 4 (a duplicate is a neighbour at distance 0).
# fake = {0, 4, 9}. Closed balls: fake 0 lies on the radius-0 balls, fake 4 on real 4 -> 2/3.
# Open balls: radius-0 balls hold nothing; fake 0 is 4 from real 4 (not < 4) -> only fake 4.
# Coverage: only real 4 has a fake strictly inside its ball -> 1/3.
def test_hand_worked_duplicates():
    real, fake = np.array([[0.0], [0.0], [4.0]]), np.array([[0.0], [4.0], [9.0]])
    assert precision_recall(real, fake, k=1).precision == pytest.approx(2 / 3, abs=1e-15)
    ours = prdc(real, fake, k=1)
    assert (ours.precision, ours.coverage) == pytest.approx((1 / 3, 1 / 3), abs=1e-15)
    ref = _prdc_package(real, fake, 1)
    assert ours == pytest.approx(
        (ref["precision"], ref["recall"], ref["density"], ref["coverage"]), abs=1e-15
    )
    assert _torch_fidelity(real, fake, 1)[0] == pytest.approx(2 / 3)


def test_order_matters_swapping_swaps_precision_and_recall():
    real, fake = _sets(7, 200, 150, 8)
    ab, ba = precision_recall(real, fake), precision_recall(fake, real)
    assert ab.precision != ab.recall
    assert (ab.precision, ab.recall) == (ba.recall, ba.precision)


def test_blocks_do_not_change_the_result(monkeypatch):
    real, fake = _sets(8, 203, 157, 12)
    whole = (precision_recall(real, fake), prdc(real, fake))
    monkeypatch.setattr(knn, "ROW_BLOCK", 7)
    monkeypatch.setattr(knn, "COL_BLOCK", 5)
    assert (precision_recall(real, fake), prdc(real, fake)) == whole


def test_float32_and_torch_inputs_accepted():
    real, fake = _sets(9, 120, 100, 8)
    a = precision_recall(real.astype(np.float32), torch.from_numpy(fake.astype(np.float32)))
    assert 0 < a.precision < 1 and 0 < a.recall < 1


def test_bad_inputs_are_refused_with_the_fix():
    real, fake = _sets(10, 20, 20, 4)
    with pytest.raises(InvalidArgument, match="at least 4"):
        precision_recall(real[:3], fake)
    with pytest.raises(InvalidArgument, match="extract both sets"):
        prdc(real, fake[:, :3])
    bad = fake.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        density_coverage(real, bad)
    with pytest.raises(InvalidArgument, match="2-D"):
        precision_recall(real[0], fake)
    with pytest.raises(InvalidType):
        precision_recall(real, fake, k=2.5)
    with pytest.raises(InvalidArgument, match="k must be at least 1"):
        prdc(real, fake, k=0)


def test_distances_are_computed_in_blocks_not_as_one_matrix():
    import tracemalloc

    real, fake = _sets(11, 7000, 7000, 8)
    real, fake = real.astype(np.float32), fake.astype(np.float32)
    tracemalloc.start()
    try:
        prdc(real, fake)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One 7000×7000 float64 distance matrix alone would take 392 MB; blocks take ~100 MB.
    assert peak < 150e6
