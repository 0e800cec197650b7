"""Blocked k-nearest-neighbour geometry of two feature sets, in float64.

Every k-NN metric here (precision/recall, density/coverage) needs, for N feature vectors,
the distance from each vector to its k-th nearest neighbour in its own set (the radius of
its k-NN ball) and, between the two sets, which vectors fall in which balls. With
N = 50,000 a full N×N float64 distance matrix would take 20 GB, so distances are computed
one block at a time: ``ROW_BLOCK`` rows × ``COL_BLOCK`` columns (16 MiB of float64; the
distances, their tolerances and candidate indices take about 90 MiB), with only the
feature rows of the two blocks converted to float64 (``(ROW_BLOCK + COL_BLOCK)·d`` values,
96 MiB for 4096-d VGG-16 features). Peak extra memory is therefore about 200 MiB
whatever N is, plus O(N) result vectors; the caller keeps the features (N·d
float32 values: 800 MiB for 50,000 4096-d vectors). Time is dominated by three
matrix products (real×real, fake×fake, real×fake), about 6·N²·d floating-point operations.

Squared distances are computed as ‖a‖² + ‖b‖² − 2⟨a, b⟩ in float64 (the form
scikit-learn, PyTorch's ``cdist`` for large inputs and the ADM evaluator use), clamped at
0, and compared *squared*: ``d(a, b) ≤ r`` is decided as ``d² ≤ r²``, which avoids the
ties a rounded square root can create. That fast form is off by rounding (far less than
``TOL``·(‖a‖² + ‖b‖²)), so radii are taken from exactly summed Σ(aᵢ − bᵢ)² of the nearest
candidates, and every comparison closer than that tolerance to its radius is decided on
the exact sum too (:func:`exact_sq`). Ties are then decided consistently: a fake vector
that duplicates a real one lies exactly on the balls the real one lies on — the case of
identical sets, where ``prdc`` (which passes the same array twice and gets an exactly
zero diagonal from scikit-learn) gives density exactly 1.

A vector's distance to itself is set to exactly 0, so "the k-th nearest neighbour other
than itself" is the (k+1)-th smallest distance in its row including itself — the
definition torch-fidelity (``kthvalue(k + 1)``), ``prdc`` (``get_kth_value(k + 1)``) and
the ADM evaluator (``partition`` index k) all use, which also counts a duplicate of a
vector as a neighbour at distance 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

ROW_BLOCK = 1024
COL_BLOCK = 2048
EXTRA = 16  # candidates kept beyond k + 1 to find the exact radius
TOL = 1e-10  # relative tolerance of the fast squared distance, see _tolerance


def _blocks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def _f64(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.asarray(x[start:stop], dtype=np.float64)


def squared_norms(x: np.ndarray) -> np.ndarray:
    """‖xᵢ‖² of every row, in float64, one row block at a time."""
    out = np.empty(x.shape[0], np.float64)
    for start, stop in _blocks(x.shape[0], COL_BLOCK):
        block = _f64(x, start, stop)
        out[start:stop] = np.einsum("ij,ij->i", block, block)
    return out


def _sq_dists(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d2 = a @ b.T
    d2 *= -2.0
    d2 += a_sq[:, None]
    d2 += b_sq[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2


def exact_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ (aᵢ − bᵢ)² of paired rows, in float64, summed in one fixed order.

    The same pair gives the same bits whichever set it comes from and in either order
    ((a − b)² and (b − a)² are equal), so equal distances compare equal: ties between a
    k-NN radius and a distance to a duplicate vector are decided exactly.
    """
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return np.add.reduce(np.ascontiguousarray(diff * diff), axis=1)


def _tolerance(a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """A bound on the rounding error of ‖a‖² + ‖b‖² − 2⟨a, b⟩ (far above d·ε·(‖a‖² + ‖b‖²))."""
    return TOL * (a_sq[:, None] + b_sq[None, :]) + np.finfo(np.float64).tiny


def knn_radii_sq(x: np.ndarray, k: int, x_sq: np.ndarray | None = None) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row (N ≥ k + 1).

    Candidates come from the fast form; the radius is then the (k+1)-th smallest *exact*
    squared distance (:func:`exact_sq`) among the k + 1 + ``EXTRA`` nearest candidates. A
    row whose candidates are all within the rounding tolerance of each other (more than
    ``EXTRA`` near-equal distances, e.g. many duplicates) is recomputed exactly against
    every row.
    """
    n = x.shape[0]
    x_sq = squared_norms(x) if x_sq is None else x_sq
    keep = min(n, k + 1 + EXTRA)
    radii = np.empty(n, np.float64)
    for r0, r1 in _blocks(n, ROW_BLOCK):
        rows = _f64(x, r0, r1)
        best_d = np.empty((r1 - r0, 0))
        best_i = np.empty((r1 - r0, 0), np.int64)
        for c0, c1 in _blocks(n, COL_BLOCK):
            d2 = _sq_dists(rows, x_sq[r0:r1], _f64(x, c0, c1), x_sq[c0:c1])
            lo, hi = max(r0, c0), min(r1, c1)
            if lo < hi:  # this block holds some rows' distance to themselves
                idx = np.arange(lo, hi)
                d2[idx - r0, idx - c0] = 0.0
            cand_d = np.concatenate([best_d, d2], axis=1)
            cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(c0, c1), d2.shape)], axis=1)
            if cand_d.shape[1] > keep:
                part = np.argpartition(cand_d, keep - 1, axis=1)[:, :keep]
                cand_d = np.take_along_axis(cand_d, part, axis=1)
                cand_i = np.take_along_axis(cand_i, part, axis=1)
            best_d, best_i = cand_d, cand_i
        for row in range(r1 - r0):
            radii[r0 + row] = _exact_radius(x, r0 + row, best_d[row], best_i[row], k, x_sq)
    return radii


def _exact_radius(
    x: np.ndarray, i: int, cand_d: np.ndarray, cand_i: np.ndarray, k: int, x_sq: np.ndarray
) -> float:
    order = np.argsort(cand_d, kind="stable")
    cand_d, cand_i = cand_d[order], cand_i[order]
    margin = 2 * TOL * (x_sq[i] + x_sq[cand_i[k]]) + np.finfo(np.float64).tiny
    if len(cand_i) < x.shape[0] and cand_d[-1] <= cand_d[k] + margin:
        cand_i = np.arange(x.shape[0])  # too many near-ties: every row is a candidate
    exact = np.concatenate(
        [
            exact_sq(np.broadcast_to(x[i], (b - a, x.shape[1])), x[cand_i[a:b]])
            for a, b in _blocks(len(cand_i), COL_BLOCK)
        ]
    )
    exact[cand_i == i] = 0.0
    return float(np.partition(exact, k)[k])


def _inside(
    d2: np.ndarray,
    tol: np.ndarray,
    threshold: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    strict: bool,
) -> np.ndarray:
    """``d² < threshold`` (or ``≤``), with pairs within ``tol`` of it decided on exact distances."""
    inside = np.less if strict else np.less_equal
    result = inside(d2, threshold)
    ambiguous = np.nonzero(np.abs(d2 - threshold) <= tol)
    if ambiguous[0].size:
        exact = exact_sq(rows[ambiguous[0]], cols[ambiguous[1]])
        result[ambiguous] = inside(exact, np.broadcast_to(threshold, d2.shape)[ambiguous])
    return result


@dataclass
class CrossCounts:
    """What one pass over all real×fake distances establishes.

    ``fake_in_real[j]``: fake j lies in at least one real k-NN ball;
    ``fake_ball_count[j]``: in how many real balls it lies;
    ``real_holds_fake[i]``: the ball of real i holds at least one fake (coverage);
    ``real_in_fake[i]``: real i lies in at least one fake ball (None when not asked).
    """

    fake_in_real: np.ndarray
    fake_ball_count: np.ndarray
    real_holds_fake: np.ndarray
    real_in_fake: np.ndarray | None


def cross_pass(
    real: np.ndarray,
    fake: np.ndarray,
    real_radii_sq: np.ndarray,
    fake_radii_sq: np.ndarray | None,
    *,
    strict: bool,
) -> CrossCounts:
    """Compare every fake with every real, block by block; ``strict`` selects ``<`` over ``≤``."""
    real_sq, fake_sq = squared_norms(real), squared_norms(fake)
    n_real, n_fake = real.shape[0], fake.shape[0]
    fake_in_real = np.zeros(n_fake, bool)
    fake_count = np.zeros(n_fake, np.int64)
    real_holds = np.zeros(n_real, bool)
    real_in_fake = None if fake_radii_sq is None else np.zeros(n_real, bool)
    for f0, f1 in _blocks(n_fake, ROW_BLOCK):
        rows = _f64(fake, f0, f1)
        for c0, c1 in _blocks(n_real, COL_BLOCK):
            cols = _f64(real, c0, c1)
            d2 = _sq_dists(rows, fake_sq[f0:f1], cols, real_sq[c0:c1])
            tol = _tolerance(fake_sq[f0:f1], real_sq[c0:c1])
            in_real = _inside(d2, tol, real_radii_sq[None, c0:c1], rows, cols, strict)
            fake_in_real[f0:f1] |= in_real.any(axis=1)
            fake_count[f0:f1] += in_real.sum(axis=1)
            real_holds[c0:c1] |= in_real.any(axis=0)
            if real_in_fake is not None and fake_radii_sq is not None:
                in_fake = _inside(d2, tol, fake_radii_sq[f0:f1, None], rows, cols, strict)
                real_in_fake[c0:c1] |= in_fake.any(axis=0)
    return CrossCounts(fake_in_real, fake_count, real_holds, real_in_fake)
