"""The one input validator shared by the array API of every pixel metric."""

from __future__ import annotations

import numpy as np

from iqa.errors import ImageSizeError, UsageError


def as_pair(
    ref: np.ndarray, dist: np.ndarray, data_range: float | None, *, metric: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """Check two arrays and return them as H×W×C with the data range to use.

    Integer images take the range of their type unless ``data_range`` is given
    (255 for ``uint8``, 65535 for ``uint16``, as scikit-image does); float images
    must give it.
    """
    ref = np.asarray(ref)
    dist = np.asarray(dist)
    if ref.shape != dist.shape:
        raise ImageSizeError(
            f"{metric}: reference is {_shape(ref)} but distorted is {_shape(dist)}; "
            "the two images must have the same size and channel count"
        )
    if ref.ndim not in (2, 3):
        raise UsageError(f"{metric}: expected H×W or H×W×C arrays, got shape {ref.shape}")
    for a in (ref, dist):
        if a.dtype == bool or not (np.issubdtype(a.dtype, np.number)) or np.iscomplexobj(a):
            raise UsageError(f"{metric}: arrays must be real numbers, got {a.dtype}")
    if data_range is None:
        if ref.dtype != dist.dtype:
            raise UsageError(
                f"{metric}: arrays have different types ({ref.dtype}, {dist.dtype}); "
                "pass data_range= explicitly"
            )
        if not np.issubdtype(ref.dtype, np.integer):
            raise UsageError(
                f"{metric}: data_range= is required for {ref.dtype} images "
                "(e.g. data_range=1.0 for images in [0, 1])"
            )
        info = np.iinfo(ref.dtype)
        data_range = float(info.max) if info.min == 0 else float(info.max - info.min)
    elif not np.isfinite(data_range) or data_range <= 0:
        raise UsageError(f"{metric}: data_range must be a positive number, not {data_range}")
    if ref.ndim == 2:
        ref, dist = ref[:, :, None], dist[:, :, None]
    return ref, dist, float(data_range)


def _shape(a: np.ndarray) -> str:
    if a.ndim == 3:
        return f"{a.shape[1]}x{a.shape[0]}x{a.shape[2]}"
    if a.ndim == 2:
        return f"{a.shape[1]}x{a.shape[0]}"
    return str(a.shape)
