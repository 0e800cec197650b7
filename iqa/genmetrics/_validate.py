"""Checks shared by the feature-array metrics: one clear error per mistake."""

from __future__ import annotations

import numpy as np

from iqa.errors import InvalidArgument, InvalidType


def feature_array(value: object, name: str, *, min_rows: int = 1) -> np.ndarray:
    """``value`` as a 2-D real array (N×d, N ≥ ``min_rows``) of finite numbers, unchanged dtype.

    Float16/32/64 and integer arrays are accepted as they are (no copy); the metrics
    convert blocks to float64 as they go. Raises :class:`InvalidArgument` or
    :class:`InvalidType` naming ``name`` and the fix.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise InvalidType(
            f"{name} must hold real numbers, got dtype {array.dtype}; pass a float array"
        )
    if array.ndim != 2:
        raise InvalidArgument(
            f"{name} must be a 2-D array (one feature vector per row), got shape {array.shape}"
        )
    if array.shape[0] < min_rows:
        raise InvalidArgument(
            f"{name} has {array.shape[0]} feature vectors, this metric needs at least "
            f"{min_rows}; use more images"
        )
    if array.shape[1] < 1:
        raise InvalidArgument(f"{name} has feature dimension 0; pass non-empty features")
    if np.issubdtype(array.dtype, np.floating) and not _all_finite(array):
        raise InvalidArgument(f"{name} holds NaN or infinite values; check the feature extractor")
    if _largest(array) > _LARGEST:
        raise InvalidArgument(
            f"{name} holds values beyond ±1e150, whose squared distances and products "
            "overflow float64; check the feature extractor")
    return array


#: Above this magnitude, a sum of squares of a few thousand values overflows float64
#: (1.8e308): distances would be inf and the metrics silently wrong.
_LARGEST = 1e150


def _largest(array: np.ndarray, rows: int = 4096) -> float:
    """max |x| over the array, in blocks (no full-size temporary); 0 when empty."""
    if not np.issubdtype(array.dtype, np.floating):
        return float(max((np.abs(array[i:i + rows].astype(np.float64)).max()
                          for i in range(0, array.shape[0], rows)), default=0.0))
    return float(max((np.abs(array[i:i + rows]).max() for i in range(0, array.shape[0], rows)),
                     default=0.0))


def positive_number(value: object, name: str) -> float:
    """A finite positive real (not a bool or a string), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidType(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise InvalidArgument(f"{name} must be a finite positive number, got {value}")
    return number


def _all_finite(array: np.ndarray, rows: int = 4096) -> bool:
    """``np.isfinite(array).all()`` without a full-size boolean temporary."""
    return all(np.isfinite(array[i : i + rows]).all() for i in range(0, array.shape[0], rows))


def same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise InvalidArgument(
            f"{name_a} is {a.shape[1]}-d but {name_b} is {b.shape[1]}-d; extract both sets "
            "with the same feature extractor"
        )


def positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidType(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be at least {minimum}, got {value}")
    return int(value)
