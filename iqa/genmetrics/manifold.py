"""Improved precision/recall and density/coverage of a generated set against a real set.

Both families describe each set by the union of k-NN balls around its feature vectors:
the ball of vector x has radius r_k(x), the distance to its k-th nearest neighbour in its
own set. The numbers then say which fraction of one set falls inside the other's balls.
Three conventions are in use and give different numbers on the same features:

=================  ====  ======  ===============================================
tool               k     ball    metrics
=================  ====  ======  ===============================================
torch-fidelity     3     ``≤``   precision, recall (``prc``, VGG-16 fc2 after ReLU)
ADM evaluator      3     ``≤``   precision, recall (Inception pool3 features)
``prdc`` package   5     ``<``   precision, recall, density, coverage
=================  ====  ======  ===============================================

:func:`precision_recall` follows torch-fidelity and the ADM evaluator, :func:`density_coverage`
the ``prdc`` package (where the two metrics come from), and :func:`prdc` returns all four
numbers exactly as ``prdc.compute_prdc``. Distances are computed in blocks in float64
(see :mod:`iqa.genmetrics.knn` for memory and time).

Argument order is always ``(real, fake)``. torch-fidelity's ``prc`` takes the generated set
first (``input1``) and the ADM evaluator the reference batch first; swapping the sets
swaps precision and recall.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from iqa.genmetrics import knn
from iqa.genmetrics._validate import feature_array, positive_int, same_dim


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


class DensityCoverage(NamedTuple):
    density: float
    coverage: float


class PRDC(NamedTuple):
    precision: float
    recall: float
    density: float
    coverage: float


def _inputs(real: object, fake: object, k: object) -> tuple[np.ndarray, np.ndarray, int]:
    k = positive_int(k, "k")
    real_a = feature_array(real, "real features", min_rows=k + 1)
    fake_a = feature_array(fake, "fake features", min_rows=k + 1)
    same_dim(real_a, fake_a, "real features", "fake features")
    return real_a, fake_a, k


def precision_recall(real: object, fake: object, *, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and
    Recall Metric for Assessing Generative Models").

    * precision = fraction of fake vectors φ_f with ‖φ_f − φ_r‖ ≤ r_k(φ_r) for some real φ_r;
    * recall = fraction of real vectors φ_r with ‖φ_r − φ_f‖ ≤ r_k(φ_f) for some fake φ_f;

    r_k is the distance to the k-th nearest neighbour within the same set (the vector
    itself not counted), k = 3 by default. This reproduces torch-fidelity 0.4
    (``metric_prc.calculate_precision_recall_full/part``: ``kthvalue(k + 1)`` radii and
    ``<=`` in the balls; VGG-16 ``fc2_relu`` features there) and the ADM evaluator of
    guided-diffusion (``ManifoldEstimator``, ``nhood_sizes=(3,)``, ``<=``; Inception pool3
    features there), and the paper's reference code (kynkaat/improved-precision-and-recall-metric).
    The ``prdc`` package's precision and recall use ``<`` instead; see :func:`prdc`.

    ``real`` and ``fake`` are N×d feature arrays (any real dtype; each set needs at least
    k + 1 vectors); order matters: ``(real, fake)``. Distances are float64 (torch-fidelity
    computes them in the features' dtype, float32; the ADM evaluator in float16, falling
    back to float32 only on overflow, so its fractions can differ from exact ones by a few
    1e-4 on 10,000 images).
    """
    real_a, fake_a, k = _inputs(real, fake, k)
    counts = knn.cross_pass(
        real_a, fake_a, knn.knn_radii_sq(real_a, k), knn.knn_radii_sq(fake_a, k), strict=False
    )
    if counts.real_in_fake is None:  # pragma: no cover - cross_pass counts both ways
        raise RuntimeError("k-NN pass returned no real-in-fake counts")
    return PrecisionRecall(float(counts.fake_in_real.mean()), float(counts.real_in_fake.mean()))


def density_coverage(real: object, fake: object, *, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
    Generative Models"), as the authors' ``prdc`` package (clovaai, ``compute_prdc``) computes them.

    * density = (1 / (k·M)) Σ_j Σ_i 1[‖φ_f,j − φ_r,i‖ < r_k(φ_r,i)] over M fakes and all reals
      (can exceed 1: a fake inside many real balls counts many times);
    * coverage = (1 / N) Σ_i 1[min_j ‖φ_r,i − φ_f,j‖ < r_k(φ_r,i)] over N reals;

    with r_k the distance from a real vector to its k-th nearest other real vector, k = 5
    by default (the paper's and the package README's choice; ``compute_prdc`` has no
    default). The balls are open (strict ``<``), as in ``prdc``. Only real balls are used:
    both metrics need no k-NN radii of the fake set.

    Identical sets give coverage 1 (each real has a fake at distance 0 < r_k, as long as
    r_k > 0) and density ≈ 1. A real vector with k duplicates has r_k = 0 and, the ball
    being open, covers nothing: ``prdc`` counts it the same way.
    """
    real_a, fake_a, k = _inputs(real, fake, k)
    real_radii = knn.knn_radii_sq(real_a, k)
    counts = knn.cross_pass(real_a, fake_a, real_radii, None, strict=True)
    density = float(counts.fake_ball_count.sum()) / (k * fake_a.shape[0])
    coverage = float(counts.real_holds_fake.mean())
    return DensityCoverage(density, coverage)


def prdc(real: object, fake: object, *, k: int = 5) -> PRDC:
    """Precision, recall, density and coverage exactly as ``prdc.compute_prdc(real, fake, k)``
    (Naeem et al. 2020; github.com/clovaai/generative-evaluation-prdc).

    All four use open balls (``<``) and the same k for both sets. The precision and recall
    differ from :func:`precision_recall` (torch-fidelity, ADM: ``≤`` and k = 3), so a paper
    quoting "precision" must say which.
    """
    real_a, fake_a, k = _inputs(real, fake, k)
    real_radii = knn.knn_radii_sq(real_a, k)
    counts = knn.cross_pass(real_a, fake_a, real_radii, knn.knn_radii_sq(fake_a, k), strict=True)
    if counts.real_in_fake is None:  # pragma: no cover - cross_pass counts both ways
        raise RuntimeError("k-NN pass returned no real-in-fake counts")
    return PRDC(
        precision=float(counts.fake_in_real.mean()),
        recall=float(counts.real_in_fake.mean()),
        density=float(counts.fake_ball_count.sum()) / (k * fake_a.shape[0]),
        coverage=float(counts.real_holds_fake.mean()),
    )
