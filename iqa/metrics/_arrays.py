"""The one input validator shared by the array API of every pixel metric.

What the functions ``psnr``, ``ssim``, ``ms_ssim`` and ``lpips`` accept (README,
"Python API"):

* **Images**: numpy arrays H×W or H×W×C (C ≥ 1), anything ``np.asarray`` turns into
  one (nested lists), :class:`~iqa.io.images.Image` objects, and file paths (``str`` or
  ``os.PathLike``), decoded with :func:`~iqa.io.images.load_image`'s defaults.
* **Data range** (MAX, or L in SSIM): an ``Image`` implies 2^bits − 1 from its own bit
  depth (1023 for a 10-bit image; two ``Image`` objects of different bit depths are
  refused); arrays: ``uint8`` implies 255 and ``uint16`` 65535, the values
  scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` both infer.
  Every other type needs ``data_range=``: floats (as in scikit-image's SSIM),
  signed and 32/64-bit integers (scikit-image infers 32767 or 65535 for int16 depending
  on the function, and 2⁶³ for int64, the type of a Python list of ints — never the
  range of real pixels). Nothing is guessed from the pixel values.
* ``data_range`` must be a real number (not a string or bool) with 1e-150 ≤ L ≤ 1e150,
  so that L² and (0.01·L)² are ordinary float64 numbers.
* NaN and infinite pixels are refused.

Every refusal is an :class:`~iqa.errors.IQAError` that is also a ``ValueError`` (bad
value or shape) or ``TypeError`` (wrong type), so code written for scikit-image's
exceptions keeps working.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from iqa.errors import InvalidArgument, InvalidImageSize, InvalidType
from iqa.io.images import Image, load_image

#: What the array API accepts as an image (nested sequences included).
ImageLike = Union[np.ndarray, Image, str, "os.PathLike[str]", Sequence[Any]]

#: data_range bounds: L² and (K·L)² stay normal float64 numbers.
MIN_RANGE, MAX_RANGE = 1e-150, 1e150

#: Types whose range is implied (scikit-image's values for them).
IMPLIED_RANGE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def as_pair(
    ref: ImageLike, dist: ImageLike, data_range: Any, *, metric: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """Check two images and return them as H×W×C arrays with the data range to use.

    See the module docstring for what is accepted; raises :class:`InvalidArgument`,
    :class:`InvalidType`, :class:`InvalidImageSize` or an ``InputError`` for a path that
    cannot be decoded.
    """
    ref, dist = _loaded(ref), _loaded(dist)
    if data_range is None:
        data_range = _image_range(ref, dist, metric)
    ref = as_array(ref, metric, "reference")
    dist = as_array(dist, metric, "distorted")
    if ref.shape != dist.shape:
        raise InvalidImageSize(
            f"{metric}: reference is {_shape(ref)} but distorted is {_shape(dist)}; "
            "the two images must have the same size and channel count"
        )
    if data_range is None:
        data_range = implied_range(ref.dtype, dist.dtype, metric)
    else:
        data_range = check_range(data_range, metric)
    for a, role in ((ref, "reference"), (dist, "distorted")):
        _check_finite(a, metric, role)
    if ref.ndim == 2:
        ref, dist = ref[:, :, None], dist[:, :, None]
    return ref, dist, data_range


def _loaded(image: ImageLike) -> ImageLike:
    return load_image(image) if isinstance(image, (str, os.PathLike)) else image


def _image_range(ref: ImageLike, dist: ImageLike, metric: str) -> float | None:
    """MAX = 2^bits − 1 of the ``Image`` inputs (their bit depth, not their dtype's)."""
    images = [x for x in (ref, dist) if isinstance(x, Image)]
    if not images:
        return None
    if len(images) == 2 and ref.bits != dist.bits:
        raise InvalidArgument(
            f"{metric}: the reference is {ref.bits}-bit but the distorted image is "
            f"{dist.bits}-bit; compare images of the same bit depth"
        )
    if len(images) == 1:
        other = dist if images[0] is ref else ref
        if getattr(other, "dtype", None) != images[0].pixels.dtype:
            return None  # the dtype rule decides (and reports a mismatch)
    return float(images[0].data_range)


def as_array(image: ImageLike, metric: str, role: str) -> np.ndarray:
    """An H×W or H×W×C real array from an array, nested list, ``Image`` or path."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    if isinstance(image, Image):
        return image.pixels
    if image is None or isinstance(image, (bytes, bytearray)):
        raise InvalidType(
            f"{metric}: the {role} image is {type(image).__name__}; give an array, an "
            "iqa Image or a file path"
        )
    try:
        a = np.asarray(image)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise InvalidArgument(
            f"{metric}: the {role} image is not a rectangular array "
            f"({str(exc).splitlines()[0]})"
        ) from None
    if a.dtype == bool or np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise InvalidType(
            f"{metric}: the {role} image has {a.dtype} pixels; give real numbers "
            "(uint8, uint16, other integers or floats with data_range=)"
            + ("; for a mask use a.astype(np.uint8) with data_range=1" if a.dtype == bool
               else "")
        )
    if a.ndim not in (2, 3):
        raise InvalidArgument(
            f"{metric}: expected H×W or H×W×C arrays, got shape {a.shape} for the {role} "
            "image (score a batch one image at a time)"
        )
    if 0 in a.shape:
        raise InvalidArgument(f"{metric}: the {role} image is empty (shape {a.shape})")
    return a


def implied_range(ref: np.dtype, dist: np.dtype, metric: str) -> float:
    """MAX implied by the pixel type: 255 for uint8, 65535 for uint16, else refused."""
    if ref != dist:
        raise InvalidArgument(
            f"{metric}: the images have different types ({ref}, {dist}); "
            "pass data_range= explicitly"
        )
    implied = IMPLIED_RANGE.get(np.dtype(ref))
    if implied is not None:
        return implied
    if np.issubdtype(ref, np.floating):
        hint = "e.g. data_range=1.0 for images in [0, 1], 255 for [0, 255]"
    else:
        hint = ("only uint8 (255) and uint16 (65535) imply one; a Python list of ints "
                "becomes int64; e.g. data_range=255 for 8-bit values")
    raise InvalidArgument(f"{metric}: data_range= is required for {ref} images ({hint})")


def check_range(data_range: Any, metric: str) -> float:
    """``data_range`` as a float, or a one-line error saying what is wrong with it."""
    if isinstance(data_range, (bool, np.bool_)) or not isinstance(data_range, numbers.Real):
        raise InvalidType(
            f"{metric}: data_range must be a number, not {type(data_range).__name__} "
            f"{data_range!r:.40}"
        )
    try:
        value = float(data_range)
    except OverflowError:
        value = float("inf")
    if not (MIN_RANGE <= value <= MAX_RANGE):  # also refuses NaN
        raise InvalidArgument(
            f"{metric}: data_range must be a positive number between {MIN_RANGE:g} and "
            f"{MAX_RANGE:g} (the images' maximum minus minimum possible value), "
            f"not {data_range!r:.40}"
        )
    return value


def _check_finite(a: np.ndarray, metric: str, role: str) -> None:
    if not np.issubdtype(a.dtype, np.floating):
        return
    low, high = np.min(a), np.max(a)  # NaN propagates; ±inf is the min or the max
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InvalidArgument(
            f"{metric}: the {role} image has pixels that are not finite "
            f"({a[tuple(bad)]} at {tuple(int(i) for i in bad)}); NaN and inf cannot be scored"
        )


def _shape(a: np.ndarray) -> str:
    if a.ndim == 3:
        return f"{a.shape[1]}x{a.shape[0]}x{a.shape[2]}"
    if a.ndim == 2:
        return f"{a.shape[1]}x{a.shape[0]}"
    return str(a.shape)
