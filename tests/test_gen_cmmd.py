"""CMMD against a float64 port of google-research's reference (cmmd/distance.py, ``mmd``:
``_SIGMA = 10``, ``_SCALE = 1000``, biased estimator), plus hand-worked cases."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from iqa.errors import InvalidArgument
from iqa.genmetrics import cmmd, knn


def _reference_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """google-research/cmmd distance.py ``mmd`` with jax.numpy replaced by numpy float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x_sqnorms = np.diag(np.matmul(x, x.T))
    y_sqnorms = np.diag(np.matmul(y, y.T))
    gamma = 1 / (2 * 10**2)
    k_xx = np.mean(
        np.exp(
            -gamma
            * (-2 * np.matmul(x, x.T) + np.expand_dims(x_sqnorms, 1) + np.expand_dims(x_sqnorms, 0))
        )
    )
    k_xy = np.mean(
        np.exp(
            -gamma
            * (-2 * np.matmul(x, y.T) + np.expand_dims(x_sqnorms, 1) + np.expand_dims(y_sqnorms, 0))
        )
    )
    k_yy = np.mean(
        np.exp(
            -gamma
            * (-2 * np.matmul(y, y.T) + np.expand_dims(y_sqnorms, 1) + np.expand_dims(y_sqnorms, 0))
        )
    )
    return 1000 * (k_xx + k_yy - 2 * k_xy)


def _unit(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + shift
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("n_x,n_y,shift", [(300, 300, 0.3), (257, 410, 0.05)])
def test_equals_the_reference_formula(n_x, n_y, shift):
    x, y = _unit(n_x, 768, 0), _unit(n_y, 768, 1, shift)
    ours = cmmd(x, y)
    assert ours > 0
    assert ours == pytest.approx(_reference_mmd(x, y), rel=1e-9)


def test_blocks_do_not_change_the_result(monkeypatch):
    x, y = _unit(50, 16, 2), _unit(37, 16, 3, 0.2)
    whole = cmmd(x, y)
    monkeypatch.setattr(knn, "ROW_BLOCK", 7)
    monkeypatch.setattr(knn, "COL_BLOCK", 5)
    assert cmmd(x, y) == pytest.approx(whole, rel=1e-12)


def test_identical_sets_give_zero():
    x = _unit(100, 32, 4)
    assert cmmd(x, x.copy()) == 0.0


def test_hand_worked_single_points():
    # One point per set, 10 apart: 1000·(1 + 1 − 2·exp(−10²/(2·10²))) = 2000·(1 − e^−½).
    x, y = np.array([[0.0, 0.0]]), np.array([[6.0, 8.0]])
    assert cmmd(x, y) == pytest.approx(2000 * (1 - math.exp(-0.5)), rel=1e-14)
    assert cmmd(x, y, sigma=5.0, scale=1.0) == pytest.approx(2 * (1 - math.exp(-2.0)), rel=1e-14)


def test_biased_estimator_includes_the_diagonal():
    # {0, 2} against {1}: k_xx = (2 + 2e^{-4/200}) / 4, k_yy = 1, k_xy = e^{-1/200}.
    x, y = np.array([[0.0], [2.0]]), np.array([[1.0]])
    expected = 1000 * ((2 + 2 * math.exp(-4 / 200)) / 4 + 1 - 2 * math.exp(-1 / 200))
    assert cmmd(x, y) == pytest.approx(expected, rel=1e-12)


def test_bad_inputs():
    with pytest.raises(InvalidArgument, match="same feature extractor"):
        cmmd(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(InvalidArgument, match="sigma"):
        cmmd(np.zeros((3, 4)), np.zeros((3, 4)), sigma=0.0)
    # every bad constant is one clear error, never a bare ZeroDivision/Overflow/TypeError
    from iqa.errors import InvalidType

    for sigma in (1e-300, 1e200, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument, match="sigma"):
            cmmd(np.zeros((3, 4)), np.ones((3, 4)), sigma=sigma)
    for sigma in ("10", True, None):
        with pytest.raises(InvalidType, match="sigma must be a number"):
            cmmd(np.zeros((3, 4)), np.ones((3, 4)), sigma=sigma)
    with pytest.raises(InvalidArgument, match="scale"):
        cmmd(np.zeros((3, 4)), np.ones((3, 4)), scale=float("nan"))
    # features so large that their squared distances overflow are refused, not scored
    with pytest.raises(InvalidArgument, match="beyond"):
        cmmd(np.full((3, 4), 1e160), np.ones((3, 4)))


def test_no_torch_at_import_or_use():
    code = (
        "import sys, numpy as np, iqa.genmetrics as g; "
        "x = np.eye(4); g.cmmd(x, x); g.prdc(x, x, k=1); g.precision_recall(x, x, k=1); "
        "g.inception_score(x, inputs='probs', splits=2); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
