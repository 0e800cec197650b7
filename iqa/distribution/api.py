"""``iqa.fid()`` and ``iqa.kid()``: FID and KID between two sets, as one call.

These functions run the set pipeline (:func:`iqa.distribution.run.compare_sets`); the
metrics themselves (:mod:`iqa.metrics.fid`, :mod:`iqa.metrics.kid`) only compute a
number from statistics or features and depend on nothing above them.
"""

from __future__ import annotations

import os
from typing import Any

from iqa.distribution.run import FIDOptions, compare_sets
from iqa.io.policy import DEFAULT_MAX_IMAGE_MB
from iqa.metrics.kid import DEFAULT_SEED, DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, KIDValue
from iqa.params import as_flags

#: :func:`kid`'s names for the options that :class:`FIDOptions` calls ``kid_*``.
_KID_PARAMS = {"kid_subsets": "subsets", "kid_subset_size": "subset_size"}


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
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    accept_jpeg_warnings: bool = False,
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
    max_image_mb : float
        Refuse, from its header, an image whose decoded pixels need more MiB than this.
    accept_jpeg_warnings : bool
        Accept JPEGs whose damaged data libjpeg reconstructs (refused by default).

    Raises
    ------
    InvalidArgument
        A parameter that cannot work; the message starts with its name (``resize=``).

    Returns
    -------
    float
        The FID. :func:`iqa.distribution.run.compare_sets` returns the same computation with all
        its details (counts, weights, sources, warnings).
    """
    options = FIDOptions(
        resize=resize, weights=None if weights is None else str(weights), device=device,
        batch_size=batch_size, workers=workers, cache=cache, skip_bad=skip_bad,
        alpha=alpha, exif=exif, max_image_mb=max_image_mb,
        accept_jpeg_warnings=accept_jpeg_warnings,
    )
    return compare_sets(real, fake, options).fid


def kid(
    real: str | os.PathLike[str] | Any,
    fake: str | os.PathLike[str] | Any,
    *,
    subsets: int = DEFAULT_SUBSETS,
    subset_size: int = DEFAULT_SUBSET_SIZE,
    seed: int = DEFAULT_SEED,
    **options: Any,
) -> KIDValue:
    """KID between two folders of images, ``.npz`` files saved with features, or images
    in memory (arrays, tensors, iterables of batches, as for :func:`iqa.fid`).

    Returns ``KIDValue(mean, std)``. ``subset_size`` is reduced to the size of the
    smaller set when that is smaller. Other keyword options are those of
    :func:`iqa.fid` (``resize``, ``weights``, ``device``, ``batch_size``, ``workers``,
    ``cache``, ``skip_bad``, ``alpha``, ``exif``).
    """
    with as_flags(_KID_PARAMS):
        result = compare_sets(
            real, fake,
            FIDOptions(kid=True, kid_subsets=subsets, kid_subset_size=subset_size, seed=seed,
                       **options),
        )
    if result.kid is None:  # pragma: no cover - compare_sets computes KID when asked
        raise RuntimeError("KID was not computed")
    return result.kid
