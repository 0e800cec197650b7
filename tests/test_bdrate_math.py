"""BD-rate / BD-quality against the bjontegaard package and hand-worked cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from iqa.rd.bdrate import METHODS, bd_quality, bd_rate

bjontegaard = pytest.importorskip("bjontegaard")

# The bjontegaard package's README example (rate in kbps, PSNR in dB).
RATE_A = np.array([9487.76, 4593.60, 2486.44, 1358.24])
PSNR_A = np.array([40.037, 38.615, 36.845, 34.851])
RATE_T = np.array([9787.80, 4469.00, 2451.52, 1356.24])
PSNR_T = np.array([40.121, 38.651, 36.970, 34.987])


def _reference(fn, ra, qa, rt, qt, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(ra, qa, rt, qt, method=method, require_matching_points=False)


@pytest.mark.parametrize("method", METHODS)
def test_readme_example_equals_bjontegaard(method):
    ours_rate = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value
    ours_q = bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value
    ref_rate = _reference(bjontegaard.bd_rate, RATE_A, PSNR_A, RATE_T, PSNR_T, method)
    ref_q = _reference(bjontegaard.bd_psnr, RATE_A, PSNR_A, RATE_T, PSNR_T, method)
    assert ours_rate == pytest.approx(ref_rate, rel=1e-9, abs=0)
    assert ours_q == pytest.approx(ref_q, rel=1e-9, abs=0)
    # The published README value for pchip: -4.417 % and 0.1197 dB.
    if method == "pchip":
        assert ours_rate == pytest.approx(-4.4174853506, abs=1e-9)


def _random_curve(rng, n, lower_is_better=False):
    rates = np.sort(rng.uniform(0.05, 4.0, n))
    rates = rates[np.concatenate([[True], np.diff(rates) > 1e-3])]
    quality = 30 + np.cumsum(rng.uniform(0.3, 3.0, rates.size))
    if lower_is_better:
        quality = 1.0 / quality
    return rates, quality


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lower", [False, True])
def test_random_monotonic_curves_equal_bjontegaard(method, lower):
    rng = np.random.default_rng(11 + lower)
    compared = 0
    for _ in range(40):
        ra, qa = _random_curve(rng, int(rng.integers(4, 9)), lower)
        rt, qt = _random_curve(rng, int(rng.integers(4, 9)), lower)
        rt = rt * rng.uniform(0.7, 1.3)
        ours = bd_rate(ra, qa, rt, qt, method)
        # The package wants quality ascending for BD-rate (it asserts otherwise).
        flip = slice(None, None, -1 if lower else 1)
        ref = _reference(bjontegaard.bd_rate, ra[flip], qa[flip], rt[flip], qt[flip], method)
        if np.isnan(ref):  # no overlap: we return nan with overlap 0 (the CLI refuses it)
            assert np.isnan(ours.value) and ours.overlap == 0
            continue
        compared += 1
        assert ours.value == pytest.approx(ref, rel=1e-9, abs=1e-12)
        ref_q = _reference(bjontegaard.bd_psnr, ra, qa, rt, qt, method)
        assert bd_quality(ra, qa, rt, qt, method).value == pytest.approx(ref_q, rel=1e-9,
                                                                          abs=1e-12)
    assert compared >= 30


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_give_zero(method):
    assert bd_rate(RATE_A, PSNR_A, RATE_A, PSNR_A, method).value == 0.0
    assert bd_quality(RATE_A, PSNR_A, RATE_A, PSNR_A, method).value == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_ten_percent_fewer_bits_is_minus_ten_percent(method):
    result = bd_rate(RATE_A, PSNR_A, RATE_A * 0.9, PSNR_A, method)
    assert result.value == pytest.approx(-10.0, abs=1e-9)
    assert result.overlap == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_scale_invariance(method):
    base = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value
    for scale in (1e-3, 8.0, 1 / 1024, 12345.0):
        scaled = bd_rate(RATE_A * scale, PSNR_A, RATE_T * scale, PSNR_T, method).value
        assert scaled == pytest.approx(base, rel=1e-9)
        q = bd_quality(RATE_A * scale, PSNR_A, RATE_T * scale, PSNR_T, method).value
        assert q == pytest.approx(bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value,
                                  rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_swapping_anchor_and_test(method):
    """BD-rate is a ratio of geometric-mean rates: swapped, 100/(100+b) - 1, not -b."""
    forward = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value
    backward = bd_rate(RATE_T, PSNR_T, RATE_A, PSNR_A, method).value
    assert backward == pytest.approx((100.0 / (100.0 + forward) - 1.0) * 100.0, rel=1e-12)
    assert backward != pytest.approx(-forward, rel=1e-6)
    # BD-quality is a plain mean difference: swapping negates it.
    q = bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value
    assert bd_quality(RATE_T, PSNR_T, RATE_A, PSNR_A, method).value == pytest.approx(-q, rel=1e-12)


def test_order_of_points_does_not_matter():
    order = [2, 0, 3, 1]
    assert bd_rate(RATE_A[order], PSNR_A[order], RATE_T, PSNR_T).value == pytest.approx(
        bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T).value, rel=1e-12)


def test_lower_is_better_metric_sign():
    """LPIPS falls with rate: TEST reaching the same LPIPS at 0.8x the bits is -20 %."""
    rates = np.array([0.2, 0.4, 0.8, 1.6])
    lpips = np.array([0.40, 0.25, 0.15, 0.08])
    assert bd_rate(rates, lpips, rates * 0.8, lpips).value == pytest.approx(-20.0, abs=1e-9)
    # At equal rate TEST has lower (better) LPIPS: negative BD-quality.
    assert bd_quality(rates, lpips, rates * 0.8, lpips).value < 0
