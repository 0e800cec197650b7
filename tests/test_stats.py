"""Sufficient statistics and the Fréchet distance, against closed forms and references."""

import inspect

import numpy as np
import pytest

from iqa.distribution import stats as stats_module
from iqa.distribution.stats import FeatureStats, frechet_distance, merge, trace_sqrt_product


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return np.abs(rng.normal(size=(n, d)) @ mixing + shift)  # ReLU-like, correlated


def _sqrtm_reference(mu1, s1, mu2, s2) -> float:
    """pytorch-fid's formula with scipy.linalg.sqrtm (full-rank case only)."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def test_diagonal_covariances_have_a_closed_form():
    # For diagonal Σ1 = diag(a), Σ2 = diag(b): FID = |μ1-μ2|² + Σ (√a - √b)².
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 4, 16), rng.uniform(0.1, 4, 16)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_one_dimensional_case_and_identical_gaussians():
    # d = 1: (μ1-μ2)² + (σ1-σ2)².
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1, rel=1e-12)
    cov = np.cov(_features(50, 8, 0), rowvar=False)
    assert frechet_distance(np.ones(8), cov, np.ones(8), cov) == pytest.approx(0, abs=1e-9)


def test_full_rank_matches_scipy_sqrtm():
    f1, f2 = _features(400, 32, 0), _features(400, 32, 1, shift=0.2)
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_sqrtm_reference(mu1, s1, mu2, s2), rel=1e-9)


def _exact_trace_sqrt(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((Σ1Σ2)^½) in 50-digit arithmetic (mpmath), the reference for the singular case."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        w, v = mpmath.eigsy(mpmath.matrix(s1.tolist()))
        root = v * mpmath.diag([mpmath.sqrt(max(x, 0)) for x in w]) * v.T
        middle = root * mpmath.matrix(s2.tolist()) * root
        eigenvalues, _ = mpmath.eigsy((middle + middle.T) / 2)
        return float(sum(mpmath.sqrt(max(x, 0)) for x in eigenvalues))


def test_singular_covariances_give_the_exact_real_nonnegative_value():
    # 10 samples in 40 dimensions: both covariances have rank 9.
    f1, f2 = _features(10, 40, 2), _features(10, 40, 3, shift=0.1)
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    assert np.linalg.matrix_rank(s1) == 9
    value = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(value, float) and np.isfinite(value) and value > 0
    diff = mu1 - mu2
    exact = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * _exact_trace_sqrt(s1, s2)
    assert value == pytest.approx(exact, rel=1e-12)
    # torch-fidelity's formula (Σ √eig(Σ1Σ2) as complex, real part) is off by √noise.
    eig = np.linalg.eigvals(s1 @ s2).astype(np.complex128)
    theirs = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig).real.sum()
    assert value == pytest.approx(theirs, abs=1e-5)


def test_few_samples_in_2048_dimensions_match_the_nuclear_norm_formula():
    # With n < d, Tr((Σ1Σ2)^½) is the sum of singular values of A1 A2ᵀ / √((n1-1)(n2-1)),
    # A the centred feature rows: an exact small computation, no null space involved.
    f1, f2 = _features(30, 2048, 11), _features(40, 2048, 12, shift=0.05)
    a1, a2 = f1 - f1.mean(0), f2 - f2.mean(0)
    nuclear = np.linalg.svd(a1 @ a2.T / np.sqrt(29 * 39), compute_uv=False).sum()
    s1, s2 = FeatureStats.from_features(f1), FeatureStats.from_features(f2)
    diff = s1.mean - s2.mean
    exact = diff @ diff + np.trace(s1.cov) + np.trace(s2.cov) - 2 * nuclear
    assert frechet_distance(s1.mean, s1.cov, s2.mean, s2.cov) == pytest.approx(exact, rel=1e-10)


def test_zero_covariance_and_rounding_never_go_negative():
    z = np.zeros((8, 8))
    assert frechet_distance(np.zeros(8), z, np.zeros(8), z) == 0.0
    f = _features(5, 32, 4)  # rank 4: eigenvalues of the product round around zero
    cov = np.cov(f, rowvar=False)
    assert frechet_distance(f.mean(0), cov, f.mean(0), cov) >= 0.0
    assert trace_sqrt_product(cov, cov) == pytest.approx(np.trace(cov), rel=1e-9)


def test_does_not_depend_on_scipy_sqrtm(monkeypatch):
    # SciPy 1.18 removed sqrtm's `disp`; the distance does not call sqrtm at all.
    import scipy.linalg

    def broken(*args, **kwargs):
        raise AssertionError("sqrtm must not be called")

    monkeypatch.setattr(scipy.linalg, "sqrtm", broken)
    f1, f2 = _features(30, 16, 5), _features(30, 16, 6)
    frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
    assert "disp" not in inspect.getsource(stats_module)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    bad = np.eye(3)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(3), bad, np.zeros(3), np.eye(3))


def test_streaming_statistics_equal_numpy_mean_and_cov():
    f = _features(257, 48, 7).astype(np.float32)
    s = FeatureStats.empty(48)
    for start in range(0, 257, 50):
        s.update(f[start:start + 50])
    assert s.n == 257
    np.testing.assert_allclose(s.mean, f.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.cov, np.cov(f.astype(np.float64), rowvar=False),
                               rtol=1e-9, atol=1e-12)
    assert np.array_equal(s.cov, s.cov.T)


@pytest.mark.parametrize("d", [1, 7, 256, 257, 600])
def test_blockwise_transpose_steps_equal_the_whole_matrix_ones(d):
    """The covariance's (C + Cᵀ) and the symmetry check of the Fréchet distance run in
    cache-sized blocks: bit for bit what the whole-matrix NumPy expressions give, at and
    across the block edges."""
    rng = np.random.default_rng(d)
    a = rng.normal(size=(d, d))
    assert np.array_equal(stats_module._plus_transpose(a), np.add(a, a.T))
    sym = np.add(a, a.T)
    assert stats_module._is_symmetric(sym)
    for i, j in {(d - 1, 0), (0, d - 1), (d // 2, d - 1)} - {(0, 0)} if d > 1 else []:
        bent = sym.copy()
        bent[i, j] = np.nextafter(bent[i, j], np.inf)
        assert not stats_module._is_symmetric(bent)
        assert np.array_equal(stats_module._symmetric(bent), np.add(bent, bent.T) / 2)
    nan = sym.copy()
    nan[0, 0] = np.nan
    assert not stats_module._is_symmetric(nan)  # as np.array_equal(nan, nan.T)
    f = rng.normal(size=(d + 3, d))
    s = FeatureStats.from_features(f)
    c = (s.outer - np.outer(s.total, s.total) / s.n) / (s.n - 1)
    assert np.array_equal(s.cov, np.add(c, c.T) / 2)


def test_partial_statistics_merge_exactly_by_addition():
    f = _features(300, 32, 8)
    whole = FeatureStats.from_features(f)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, 300), 5, replace=False))
    shards = [FeatureStats.from_features(part) for part in np.split(f, cuts)]
    merged = merge(shards)
    assert merged.n == whole.n
    np.testing.assert_allclose(merged.total, whole.total, rtol=1e-13)
    np.testing.assert_allclose(merged.outer, whole.outer, rtol=1e-13)
    other = FeatureStats.from_features(_features(40, 32, 9))
    value_whole = frechet_distance(whole.mean, whole.cov, other.mean, other.cov)
    value_merged = frechet_distance(merged.mean, merged.cov, other.mean, other.cov)
    assert value_merged == pytest.approx(value_whole, rel=1e-10)


def test_moments_round_trip_and_guards():
    f = _features(20, 8, 10)
    s = FeatureStats.from_features(f)
    back = FeatureStats.from_moments(s.mean, s.cov, s.n)
    np.testing.assert_allclose(back.outer, s.outer, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        _ = FeatureStats.from_features(f[:1]).cov
    with pytest.raises(ValueError, match="N×8"):
        s.update(np.zeros((2, 9)))
    with pytest.raises(ValueError):
        merge([])


def test_full_rank_shortcut_equals_the_eigendecomposition_route(monkeypatch):
    """With more samples than dimensions Σ1 is factored by Cholesky (eigenvalues only);
    the result equals the route through Σ1's eigendecomposition, which rank-deficient
    covariances take."""
    from iqa.distribution import stats

    rng = np.random.default_rng(5)
    d = 96
    x = rng.normal(size=(400, d)) * np.linspace(0.05, 4, d)
    y = rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) * 0.2
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert stats._full_rank_cholesky(s1) is not None
    assert stats._full_rank_cholesky(np.cov(x[:50], rowvar=False)) is None  # rank 49 < 96
    fast = stats.trace_sqrt_product(s1, s2)
    for route in ("_full_rank_cholesky", "_pivoted_cholesky", "_pivoted_cholesky_blocked"):
        monkeypatch.setattr(stats, route, lambda *args: None)
    slow = stats.trace_sqrt_product(s1, s2)
    assert fast == pytest.approx(slow, rel=1e-12)


@pytest.mark.parametrize(("n", "d"), [(2, 128), (9, 128), (60, 128), (300, 384)])
def test_rank_deficient_pivoted_cholesky_equals_the_eigendecomposition_route(monkeypatch, n, d):
    """Fewer samples than dimensions: Σ1 = F Fᵀ with F d×(n − 1) from pivoted Cholesky
    (column by column up to rank 256, LAPACK's blocked dpstrf above), and the trace
    equals the route through Σ1's eigendecomposition."""
    from iqa.distribution import stats

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)) * np.linspace(0.05, 4, d)
    y = rng.normal(size=(n + 7, d))
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert stats._full_rank_cholesky(s1) is None
    unblocked = n - 1 <= stats._UNBLOCKED_MAX_RANK
    assert (stats._pivoted_cholesky(s1, stats._UNBLOCKED_MAX_RANK) is None) is not unblocked
    factors = [stats._pivoted_cholesky(s1), stats._pivoted_cholesky_blocked(s1)]
    for factor in factors:
        assert factor.shape == (d, n - 1)
        np.testing.assert_allclose(factor @ factor.T, s1, rtol=0,
                                   atol=1e-12 * np.abs(s1).max())
    traces = [np.linalg.eigvalsh(f.T @ s2 @ f) for f in factors]
    np.testing.assert_allclose(*traces, rtol=1e-10, atol=1e-12 * traces[1].max())
    fast = stats.trace_sqrt_product(s1, s2)
    for route in ("_pivoted_cholesky", "_pivoted_cholesky_blocked"):
        monkeypatch.setattr(stats, route, lambda *args: None)
    slow = stats.trace_sqrt_product(s1, s2)
    assert fast == pytest.approx(slow, rel=1e-12)
    monkeypatch.undo()
    assert stats._pivoted_cholesky(np.zeros((4, 4))) is None
    assert stats._pivoted_cholesky_blocked(np.zeros((4, 4))) is None
