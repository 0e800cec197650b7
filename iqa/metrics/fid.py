"""FID, Fréchet Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale
update rule converge to a local Nash equilibrium").

Definition used: FID = ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2(Σ_r Σ_f)^½), where μ and Σ are the
mean and the unbiased sample covariance of the 2048-d pool3 features of the FID
Inception-v3 (TensorFlow "2015-12-05" graph, as ported by pytorch-fid) over each set.
rFID is the same number between originals and their reconstructions.

The images are resized to 299×299 in one of three named modes (``tf``, the default,
``pytorch-fid``, ``clean``; see :mod:`iqa.distribution.preprocess`), each reproducing one
reference implementation. Statistics are streamed in float64 (memory independent of the
number of images, see :mod:`iqa.distribution.stats`), and the matrix square root is taken through
a symmetric eigendecomposition (see :func:`iqa.distribution.stats.frechet_distance`): the result
is real, finite and non-negative, including for singular covariances.

FID from fewer images than feature dimensions (2048) is biased upward and its
covariances are rank-deficient; compare numbers only at equal image counts, ideally
10,000-50,000 per set as papers do.
"""

from __future__ import annotations

from typing import Any

from iqa.metrics.base import DISTRIBUTION, DistributionMetric, MetricInfo


class FID(DistributionMetric):
    """Adapter for the metric contract: statistics of each set → FID.

    ``real`` and ``fake`` are anything with ``mean`` and ``cov``: a
    :class:`~iqa.distribution.stats.FeatureStats`, a
    :class:`~iqa.distribution.statsfile.StatsFile`.
    """

    info = MetricInfo(
        name="fid",
        kind=DISTRIBUTION,
        higher_is_better=False,
        needs="network:fid-inception",
        extra="torch",
        definition="FID = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^1/2) of Inception "
        "pool3 features (Heusel et al. 2017)",
    )
    inputs = "stats"

    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        from iqa.distribution.stats import frechet_distance

        return {"fid": frechet_distance(real.mean, real.cov, fake.mean, fake.cov)}
