"""Sufficient statistics of feature vectors, and the Fréchet distance between two Gaussians.

A set of feature vectors x₁…xₙ (rows of X) is summarised by ``n``, ``Σx`` and ``XᵀX``,
kept in float64. Memory is O(d²) whatever n is; no N×d array is ever held. Statistics
of disjoint parts of a set merge exactly by adding the three terms, so one set can be
split over batches, DataLoader workers, processes or GPUs (a ``torchrun`` launch would
``all_reduce(SUM)`` the three arrays of each rank) and the merged result does not depend
on the split beyond float64 rounding.

From the sums: μ = Σx / n and Σ = (XᵀX − n μμᵀ) / (n − 1), the unbiased sample
covariance that ``numpy.cov`` (used by pytorch-fid, torch-fidelity and clean-fid)
computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class FeatureStats:
    """``n``, ``Σx`` and ``XᵀX`` of a set of d-dimensional feature vectors, in float64."""

    n: int
    total: np.ndarray  # Σx, shape (d,)
    outer: np.ndarray  # XᵀX, shape (d, d)

    @classmethod
    def empty(cls, dim: int) -> FeatureStats:
        return cls(0, np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64))

    @classmethod
    def from_features(cls, features: np.ndarray) -> FeatureStats:
        stats = cls.empty(np.asarray(features).shape[1])
        stats.update(features)
        return stats

    @classmethod
    def from_moments(cls, mean: np.ndarray, cov: np.ndarray, n: int) -> FeatureStats:
        """Rebuild the sums from μ, Σ and n (as stored in a ``.npz`` statistics file)."""
        mean = np.asarray(mean, np.float64)
        cov = np.asarray(cov, np.float64)
        return cls(int(n), mean * n, cov * (n - 1) + np.outer(mean, mean) * n)

    @property
    def dim(self) -> int:
        return int(self.total.shape[0])

    def update(self, features: np.ndarray) -> None:
        """Add a batch of feature vectors (rows), converted to float64 first."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features must be N×{self.dim}, got shape {x.shape}")
        self.n += x.shape[0]
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    def __add__(self, other: FeatureStats) -> FeatureStats:
        if other.dim != self.dim:
            raise ValueError(f"cannot merge {self.dim}-d and {other.dim}-d statistics")
        return FeatureStats(self.n + other.n, self.total + other.total, self.outer + other.outer)

    @property
    def mean(self) -> np.ndarray:
        if self.n < 1:
            raise ValueError("the mean of an empty set is undefined")
        return self.total / self.n

    @property
    def cov(self) -> np.ndarray:
        """The unbiased sample covariance (denominator n − 1), exactly symmetric."""
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 feature vectors, got {self.n}")
        # The same operations as (C + Cᵀ) / 2 with C = (XᵀX − Σx Σxᵀ / n) / (n − 1), bit for
        # bit, in two 2048² buffers instead of six (each costs its page faults).
        cov = np.outer(self.total, self.total)
        cov /= self.n
        np.subtract(self.outer, cov, out=cov)
        cov /= self.n - 1
        out = _plus_transpose(cov)
        out /= 2
        return out


def merge(parts: Iterable[FeatureStats]) -> FeatureStats:
    """The statistics of the union of disjoint sets: the sum of their statistics."""
    merged: FeatureStats | None = None
    for part in parts:
        merged = part if merged is None else merged + part
    if merged is None:
        raise ValueError("merge() needs at least one FeatureStats")
    return merged


def _nonnegative(eigenvalues: np.ndarray, dim: int) -> np.ndarray:
    """Eigenvalues of a d×d PSD matrix with rounding noise removed.

    Values below ``max(λ) · d · ε`` cannot be told apart from zero in float64 (the
    tolerance ``numpy.linalg.matrix_rank`` uses); they are set to exactly 0, so the null
    space of a singular covariance contributes nothing instead of √noise.
    """
    top = float(eigenvalues.max(initial=0.0))
    return np.where(eigenvalues > top * dim * np.finfo(np.float64).eps, eigenvalues, 0.0)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1 Σ2)^½) for symmetric positive semi-definite Σ1, Σ2.

    With S = Σ1^½, the matrices Σ1Σ2 = S(SΣ2) and (SΣ2)S = SΣ2S have the same
    eigenvalues, and SΣ2S is symmetric positive semi-definite. So the trace is Σᵢ √λᵢ
    over the eigenvalues λᵢ of SΣ2S, computed with a symmetric eigensolver: real by
    construction and defined for singular Σ1 or Σ2. With Σ1 = V diag(w) Vᵀ restricted to
    its r non-zero eigenvalues, SΣ2S = V_r K V_rᵀ with K = W^½ V_rᵀ Σ2 V_r W^½, which has
    the same non-zero eigenvalues, so only the r×r matrix K is decomposed (r < n for
    fewer images than dimensions). Eigenvalues below float64 resolution (see
    :func:`_nonnegative`) count as 0, so a rank-deficient covariance gives the exact value
    where √ of rounding noise would add ~1e-7 per null direction. Checked against
    50-digit arithmetic (1e-14 relative) and, for 2048-d features of 100 images, against
    the exact nuclear-norm form (1e-8 absolute in FID, where ``sqrtm`` and ``eigvals`` of
    Σ1Σ2 are off by 2e-4).
    """
    # A full-rank Σ1 (enough images) takes the shorter road: Σ1 = LLᵀ (Cholesky) and
    # LᵀΣ2L, congruent to SΣ2S by an orthogonal matrix, so with the same eigenvalues;
    # only eigenvalues are needed then (no eigenvectors: about half the time at d = 2048).
    # LAPACK's divide-and-conquer driver (dsyevd, what numpy.linalg.eigvalsh and eigh
    # call): about 10x faster at d = 2048 with the vectors than the QR driver.
    # A singular Σ1 (fewer images than dimensions) is factored by Cholesky with complete
    # pivoting, which stops at its numerical rank r: Σ1 = F Fᵀ with F d×r, in O(d r²)
    # instead of the O(d³) eigendecomposition, and FᵀΣ2F (r×r) has the non-zero
    # eigenvalues of SΣ2S. The eigendecomposition remains the fallback. Order: the
    # unblocked pivoted factorisation up to rank 256 (milliseconds; a full-rank Σ1
    # leaves it at that rank), then plain Cholesky, then LAPACK's blocked pivoted
    # Cholesky (dpstrf, from SciPy). Everything else is NumPy's LAPACK: a run that reads
    # both sets from statistics of a few hundred images does not import SciPy (~0.2 s).
    lower = _pivoted_cholesky(sigma1, _UNBLOCKED_MAX_RANK)  # None: rank above it
    if lower is None:
        lower = _full_rank_cholesky(sigma1)
    if lower is None:
        lower = _pivoted_cholesky_blocked(sigma1)
    if lower is not None:
        k = lower.T @ sigma2 @ lower
    else:
        w, v = np.linalg.eigh(sigma1)
        w = _nonnegative(w, sigma1.shape[0])
        keep = w > 0
        root_w = np.sqrt(w[keep])
        v_r = v[:, keep]
        k = (v_r.T @ sigma2 @ v_r) * root_w[:, None] * root_w[None, :]
    eigenvalues = np.linalg.eigvalsh((k + k.T) / 2) if k.size else np.zeros(0)
    return float(np.sqrt(_nonnegative(eigenvalues, k.shape[0])).sum())


#: Largest rank the unblocked pivoted Cholesky handles (O(d r²) in matrix-vector
#: products: ~0.05 s at d = 2048, r = 256); above it, LAPACK's blocked dpstrf.
_UNBLOCKED_MAX_RANK = 256


def _pivoted_cholesky(sigma: np.ndarray, max_rank: int | None = None) -> np.ndarray | None:
    """F (d×r) with ``sigma`` = F Fᵀ, r its numerical rank, or None if it cannot be had
    (or, with ``max_rank``, when r is larger).

    Complete pivoting stops when the largest remaining pivot is at most d · ε · max(diag)
    (LAPACK dpstrf's default tolerance): what is left is rounding noise, dropped exactly
    as :func:`_nonnegative` drops the null space of the eigendecomposition (the routes
    agree to ~1e-16 relative on 2048-d covariances of 17 to 1,500 feature vectors). Up
    to rank :data:`_UNBLOCKED_MAX_RANK` the factor is built column by column here (the
    algorithm of LAPACK's dpstf2); a larger rank is left to dpstrf
    (:func:`_pivoted_cholesky_blocked`) unless ``max_rank`` says to give up.
    """
    d = sigma.shape[0]
    diag = np.diag(sigma).astype(np.float64, copy=True)
    if d == 0 or not np.any(diag > 0):
        return None
    stop = d * np.finfo(np.float64).eps * float(diag.max())
    width = min(d, _UNBLOCKED_MAX_RANK, d if max_rank is None else max_rank)
    factor = np.zeros((d, width))
    chosen = np.zeros(d, bool)
    for k in range(d):
        remaining = np.where(chosen, -np.inf, diag)
        p = int(np.argmax(remaining))
        top = float(remaining[p])
        if not top > stop:
            return factor[:, :k] if k else None
        if k == width:
            return None if max_rank is not None else _pivoted_cholesky_blocked(sigma)
        column = sigma[:, p] - factor[:, :k] @ factor[p, :k]
        root = np.sqrt(top)
        column /= root
        column[chosen] = 0.0  # rows of earlier pivots: zero in exact arithmetic
        column[p] = root
        factor[:, k] = column
        chosen[p] = True
        diag -= column * column
    return factor


def _pivoted_cholesky_blocked(sigma: np.ndarray) -> np.ndarray | None:
    """:func:`_pivoted_cholesky` by LAPACK's blocked dpstrf (SciPy), for large ranks."""
    from scipy.linalg import lapack

    if sigma.shape[0] == 0 or not np.any(np.diag(sigma) > 0):
        return None
    factor, pivots, rank, info = lapack.dpstrf(sigma, lower=1, tol=-1.0)
    if info < 0 or rank < 1:
        return None
    columns = np.tril(factor)[:, :rank]
    full = np.empty_like(columns)
    full[pivots - 1] = columns  # undo the row permutation: sigma = full @ full.T
    return full


def _full_rank_cholesky(sigma: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of ``sigma`` when it is clearly of full rank, else None.

    A singular PSD matrix (fewer images than dimensions) either fails the factorisation or
    leaves pivots at rounding level in the last rows; a pivot below
    ``max(pivot) · d · ε · 1e3`` sends the caller to the pivoted factorisation.
    """
    d = sigma.shape[0]
    if d == 0:
        return None
    try:
        lower = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    pivots = np.diag(lower) ** 2
    if not pivots.min() > pivots.max() * d * np.finfo(np.float64).eps * 1e3:
        return None
    return lower


_BLOCK = 256  # square blocks of a matrix and its transpose, read together, fit the caches


def _block_pairs(n: int):
    """(rows, columns) slices of the _BLOCK-sized blocks of an n×n matrix."""
    edges = [slice(i, i + _BLOCK) for i in range(0, n, _BLOCK)]
    return [(r, c) for r in edges for c in edges]


def _plus_transpose(a: np.ndarray) -> np.ndarray:
    """``a + a.T``, bit for bit, read in blocks (a whole transposed read misses the caches
    at every element: 42 ms against 29 ms for a 2048² matrix)."""
    out = np.empty_like(a)
    for rows, cols in _block_pairs(a.shape[0]):
        np.add(a[rows, cols], a[cols, rows].T, out=out[rows, cols])
    return out


def _is_symmetric(a: np.ndarray) -> bool:
    """``np.array_equal(a, a.T)`` of a square matrix, in blocks (11 ms against 35 ms at
    2048²)."""
    return all(np.array_equal(a[rows, cols], a[cols, rows].T)
               for rows, cols in _block_pairs(a.shape[0]) if rows.start <= cols.start)


def _symmetric(sigma: np.ndarray) -> np.ndarray:
    """(Σ + Σᵀ) / 2, bit for bit; ``sigma`` itself when it is exactly symmetric already
    (as every covariance of :attr:`FeatureStats.cov` is)."""
    if _is_symmetric(sigma):
        return sigma
    out = _plus_transpose(sigma)
    out /= 2
    return out


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The squared Fréchet (2-Wasserstein) distance between N(μ1, Σ1) and N(μ2, Σ2).

    d² = ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2·Tr((Σ1Σ2)^½)  (Heusel et al. 2017, FID).

    Method: the trace of the matrix square root is computed from the eigenvalues of
    the symmetric matrix Σ1^½ Σ2 Σ1^½ (see :func:`trace_sqrt_product`), in float64 with
    NumPy's symmetric eigensolver. Unlike ``scipy.linalg.sqrtm`` of the non-symmetric
    product Σ1Σ2 (pytorch-fid, clean-fid) or ``numpy.linalg.eigvals`` of it
    (torch-fidelity), this never produces complex numbers or NaN, handles singular
    covariances (fewer samples than dimensions) exactly, without adding ε to the
    diagonal, and never depends on the rounding of a non-symmetric solver. It takes two symmetric
    eigendecompositions at most, fewer with Cholesky factors (see
    :func:`trace_sqrt_product`; about 2 s in all for full-rank d = 2048 covariances on two
    CPU cores, where ``sqrtm`` takes ~12 s; far less with fewer images than dimensions). The
    result is clipped at 0: a distance is never negative.
    Values too large for float64 give ``inf`` (or NaN) without a NumPy warning; callers
    decide (``iqa fid`` refuses a non-finite FID with its reason).

    Raises ``ValueError`` for mismatched shapes or non-finite input.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"mean and covariance shapes do not match: μ1 {mu1.shape}, Σ1 {sigma1.shape}, "
            f"μ2 {mu2.shape}, Σ2 {sigma2.shape}"
        )
    for name, value in (("μ1", mu1), ("Σ1", sigma1), ("μ2", mu2), ("Σ2", sigma2)):
        if not np.isfinite(value.sum()) and not np.isfinite(value).all():
            raise ValueError(f"{name} holds NaN or infinite values")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow → inf, checked by callers
        diff = mu1 - mu2
        sigma1, sigma2 = _symmetric(sigma1), _symmetric(sigma2)
        value = (
            float(diff @ diff)
            + float(np.trace(sigma1))
            + float(np.trace(sigma2))
            - 2.0 * trace_sqrt_product(sigma1, sigma2)
        )
    return value if np.isnan(value) else max(value, 0.0)
