"""Inception Score: torch-fidelity 0.4 ``metric_isc.isc_features_to_metric`` (10 shuffled
splits) and the ADM evaluator's ``compute_inception_score`` (5,000-image splits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import isc_features_to_metric

from iqa.errors import InvalidArgument, UsageError
from iqa.genmetrics import inception_score, unbiased_logits


def _logits(n: int, c: int = 1008, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, c)) * 3).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _adm_reference(preds: np.ndarray, split_size: int = 5000) -> float:
    """guided-diffusion evaluations/evaluator.py, Evaluator.compute_inception_score, after
    its softmax (here in float64)."""
    scores = []
    for i in range(0, len(preds), split_size):
        part = preds[i : i + split_size]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return float(np.mean(scores))


@pytest.mark.parametrize("n,splits", [(1003, 10), (500, 7), (50, 1)])
def test_equals_torch_fidelity(n, splits):
    logits = _logits(n, seed=n)
    ours = inception_score(logits, splits=splits)
    ref = isc_features_to_metric(torch.from_numpy(logits), splits, True, 2020)
    assert ours.mean == pytest.approx(ref["inception_score_mean"], rel=1e-12)
    assert ours.std == pytest.approx(ref["inception_score_std"], rel=1e-9, abs=1e-12)
    assert len(ours.split_scores) == splits


def test_torch_fidelity_shuffles_with_its_seed():
    logits = _logits(400, 20, seed=1)
    other = inception_score(logits, seed=7)
    ref = isc_features_to_metric(torch.from_numpy(logits), 10, True, 7)
    assert other.mean == pytest.approx(ref["inception_score_mean"], rel=1e-12)
    assert other.mean != inception_score(logits).mean


def test_adm_split_size_5000_equals_the_adm_evaluator():
    logits = _logits(12_000, 10, seed=2)  # splits of 5,000, 5,000 and 2,000
    ours = inception_score(logits, mode="adm")
    assert len(ours.split_scores) == 3
    reference = _adm_reference(_softmax(logits.astype(np.float64)))
    assert ours.mean == pytest.approx(reference, rel=1e-12)
    # the two conventions disagree on the same logits
    assert abs(ours.mean - inception_score(logits).mean) > 1e-3


def test_probabilities_give_the_same_score_as_logits():
    logits = _logits(300, 50, seed=3).astype(np.float64)
    assert inception_score(_softmax(logits), inputs="probs", mode="adm", split_size=100).mean == (
        pytest.approx(inception_score(logits, mode="adm", split_size=100).mean, rel=1e-12)
    )


def test_hand_worked_one_hot_predictions():
    # 4 images, each certain of a different class: p(y) is uniform, KL = log 4 each, IS = 4.
    probs = np.eye(4)
    assert inception_score(probs, inputs="probs", splits=1).mean == pytest.approx(4.0, rel=1e-15)
    # all images certain of the same class: KL = 0, IS = 1
    same = np.tile([[0.0, 1.0, 0.0]], (6, 1))
    assert inception_score(same, inputs="probs", mode="adm").mean == pytest.approx(1.0, rel=1e-15)


def test_unbiased_logits_are_pool3_times_weight_without_bias():
    rng = np.random.default_rng(4)
    pool3, w = rng.random((5, 2048), np.float32), rng.normal(size=(1008, 2048)).astype(np.float32)
    expected = torch.from_numpy(pool3).double().mm(torch.from_numpy(w).double().T).numpy()
    np.testing.assert_allclose(unbiased_logits(pool3, w), expected, rtol=1e-12, atol=1e-10)
    with pytest.raises(InvalidArgument, match="same network"):
        unbiased_logits(pool3, w[:, :100])


def test_bad_arguments():
    logits = _logits(20, 5)
    with pytest.raises(InvalidArgument, match="fewer splits"):
        inception_score(logits, splits=21)
    with pytest.raises(UsageError, match="adm"):
        inception_score(logits, split_size=10)
    with pytest.raises(UsageError, match="torch-fidelity"):
        inception_score(logits, mode="adm", splits=2)
    with pytest.raises(UsageError, match="unknown Inception Score mode"):
        inception_score(logits, mode="tf")
    with pytest.raises(InvalidArgument, match="sum to 1"):
        inception_score(logits, inputs="probs")


def test_is_options_are_whole_numbers_and_split_size_needs_adm():
    from iqa.distribution.generative import is_params
    from iqa.errors import UsageError

    assert is_params({"is.splits": 4})["splits"] == 4
    assert is_params({"is.splits": "4", "is.split_size": "7", "is.mode": "adm"})["split_size"] == 7
    for bad in (2.7, True, "2.5", 0):
        with pytest.raises(UsageError, match="is.splits"):
            is_params({"is.splits": bad})
    with pytest.raises(UsageError, match="applies to is.mode=adm"):
        is_params({"is.split_size": 100})
