"""Channels and scales for SSIM and MS-SSIM: planes of an image, 2×2 means, per-channel work."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TypeVar

import numpy as np

from iqa.metrics._ssim_engine import compiled
from iqa.metrics._ssim_filter import run_all, thread_count

_T = TypeVar("_T")
_R = TypeVar("_R")
PARALLEL_MIN = 60_000  # below this many pixels a thread pool costs more than it saves


def split_channels(a: np.ndarray) -> list[np.ndarray]:
    """The channels of an H×W×C array as H×W planes: strided views for the compiled
    engine (its strips convert them in place), contiguous copies for BLAS if C > 1."""
    import cv2

    if a.shape[2] == 1 or compiled(a.shape[0] * a.shape[1]) is not None:
        return [a[:, :, c] for c in range(a.shape[2])]
    if a.dtype in _CV_DTYPES and a.shape[2] <= 4:
        return list(cv2.split(a))  # one pass for all channels
    return [np.ascontiguousarray(a[:, :, c]) for c in range(a.shape[2])]


_CV_DTYPES = tuple(
    np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)
)


_KERNEL_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16,
                                              np.float32, np.float64))


def half_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of :func:`half_size` of an array of ``dtype``."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32 if dtype.kind in "iu" and dtype.itemsize <= 2 else np.float64)


def half_size_of_rows(rows: np.ndarray, out: np.ndarray, kernel: ModuleType | None) -> None:
    """:func:`half_size` of float64 ``rows`` (exact copies of an image's pixels) into
    ``out``, whose dtype is :func:`half_dtype` of the image's: bit-identical to
    ``half_size`` of the image's own rows (integer sums are exact in float64 and their
    quarter-integer means in float32; float pixels are added in the same order)."""
    if kernel is not None:
        kernel.half_size_into(rows, out)
    else:
        np.copyto(out, half_size(rows), casting="same_kind")


def half_size(a: np.ndarray, kernel: ModuleType | None = None) -> np.ndarray:
    """2×2 mean; an odd side first repeats its last row/column (Wang's ``msssim.m``).

    ``msssim.m`` filters with ``ones(2)/4`` using ``imfilter(..., 'symmetric')`` and keeps
    ``1:2:end``: output ``i`` is the mean of rows ``2i`` and ``2i+1``, the row past the
    end being the last row again. The result has ``ceil(n/2)`` rows and columns.

    Integers of up to 16 bits are summed in integers and come back as float32: the sum
    (below 2**18 in magnitude) and the quarter-integer mean are exact in float32's 24
    bits. Anything else is summed and returned in float64 (exact for the float32 output
    of the integer case). No full-size copy is made: memory is the half-size result
    (and, for integers, its integer sum and the half-height sum of row pairs). With
    ``kernel`` (the compiled engine's module) the same sums run in one pass
    (bit-identical).
    """
    a = np.asarray(a)
    if kernel is not None and a.ndim == 2 and a.dtype in _KERNEL_DTYPES:
        out = np.empty(((a.shape[0] + 1) // 2, (a.shape[1] + 1) // 2),
                       np.float32 if a.dtype.kind in "iu" else np.float64)
        kernel.half_size_into(a, out)
        return out
    if a.dtype.kind in "iu" and a.dtype.itemsize <= 2:
        bits = 16 if a.dtype.itemsize == 1 else 32  # 4 × 8 bits fit in 16 (exact)
        acc = np.dtype(f"{'u' if a.dtype.kind == 'u' else ''}int{bits}")
        total = _sum_2x2(a, acc)
        out = total.astype(np.float32)
        out *= np.float32(0.25)
        return out
    total = _sum_2x2(a, np.float64)
    total *= 0.25
    return total


def _sum_2x2(a: np.ndarray, acc: type) -> np.ndarray:
    """Sums of 2×2 blocks in type ``acc``; an odd side repeats its last row/column."""
    h, w = a.shape
    he, we = h - h % 2, w - w % 2
    total = np.empty(((h + 1) // 2, (w + 1) // 2), acc)
    body = total[: he // 2, : we // 2]
    if np.dtype(acc).kind in "iu":
        # Integer sums are exact in any order: add row pairs first (whole contiguous
        # rows, converted on the way), then column pairs within one type.
        rows = np.add(a[0:he:2], a[1:he:2], dtype=acc)
        np.add(rows[:, 0:we:2], rows[:, 1:we:2], out=body)
    else:  # floats: keep the order ((a00 + a10) + a01) + a11
        np.add(a[0:he:2, 0:we:2], a[1:he:2, 0:we:2], out=body, dtype=acc)
        body += a[0:he:2, 1:we:2]
        body += a[1:he:2, 1:we:2]
    if w % 2:  # the last column, repeated: twice its two rows
        col = total[: he // 2, -1]
        np.add(a[0:he:2, -1], a[1:he:2, -1], out=col, dtype=acc)
        col *= 2
    if h % 2:  # the last row, repeated
        row = total[-1, : we // 2]
        np.add(a[-1, 0:we:2], a[-1, 1:we:2], out=row, dtype=acc)
        row *= 2
    if h % 2 and w % 2:
        total[-1, -1] = a[-1, -1]
        total[-1, -1] *= 4
    return total


def map_channels(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """Apply ``fn`` to each item, on the calling thread and the pool together."""
    items = list(items)
    big = sum(getattr(i[0], "size", 0) for i in items) >= PARALLEL_MIN
    workers = min(thread_count(), len(items)) if big else 1
    return run_all(items, lambda item, _: (fn(item), None), workers)
