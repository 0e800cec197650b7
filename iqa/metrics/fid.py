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

import os
from typing import Any

from iqa.metrics.base import DISTRIBUTION, DistributionMetric, MetricInfo


def fid(
    real: str | os.PathLike[str] | Any,
    fake: str | os.PathLike[str] | Any,
    *,
    resize: str = "tf",
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    cache: bool = True,
    skip_bad: bool = False,
    alpha: str = "drop",
    exif: bool = False,
) -> float:
    """FID between two sets of images.

    Parameters
    ----------
    real, fake : path, array, tensor or iterable of batches
        A folder of images (searched recursively; PNG, JPEG, WebP, TIFF, BMP; mixed
        sizes are fine), a ``.npz`` statistics file with ``mu`` and ``sigma``, or images
        in memory: a numpy array N×H×W×3, a torch tensor N×3×H×W (``uint8``, or float
        in [0, 1], quantized as ``round(x·255)`` like an 8-bit PNG), or an iterable of
        such batches (see :mod:`iqa.distribution.memory`). In-memory sets are not cached.
    resize : {"tf", "pytorch-fid", "clean"}
        Preprocessing: ``tf`` reproduces torch-fidelity / TTUR, ``pytorch-fid``
        reproduces ``python -m pytorch_fid``, ``clean`` reproduces clean-fid.
    weights : path, optional
        A state dict in pytorch-fid's layout; by default the official file from the
        weights manager (``iqa weights``).
    device : {"auto", "cpu", "cuda"}
    batch_size, workers : int, optional
        Images per forward pass and DataLoader worker processes (chosen per device).
        Results do not depend on them.
    cache : bool
        Reuse and store each folder's statistics in iqa's cache folder.
    skip_bad : bool
        Leave out files that cannot be decoded instead of raising ``InputError``.
    alpha : {"drop", "black", "white", "error"}
        Transparent images: ignore alpha (as the reference implementations do),
        composite over black or white, or refuse the file.
    exif : bool
        Apply EXIF orientation before resizing (the references do not).

    Returns
    -------
    float
        The FID. :func:`iqa.distribution.run.compare_sets` returns the same computation with all
        its details (counts, weights, sources, warnings).
    """
    from iqa.distribution.run import FIDOptions, compare_sets

    options = FIDOptions(
        resize=resize, weights=None if weights is None else str(weights), device=device,
        batch_size=batch_size, workers=workers, cache=cache, skip_bad=skip_bad,
        alpha=alpha, exif=exif,
    )
    return compare_sets(real, fake, options).fid


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

    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        from iqa.distribution.stats import frechet_distance

        return {"fid": frechet_distance(real.mean, real.cov, fake.mean, fake.cov)}
