"""Memory of the pixel metrics does not grow with the image beyond a few bytes per pixel.

A 13000×13000 PNG once took 13 GB for PSNR (four float64 copies of the image). PSNR now
sums its squared error in strips of rows; these tests measure the peak of numpy's
allocations with ``tracemalloc`` (numpy reports its buffers to it).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

import iqa
from iqa.metrics.psnr import STRIP_BYTES
from tests.images import random_image


def peak_bytes(fn, *args, **kwargs) -> tuple[float, int]:
    tracemalloc.start()
    try:
        value = fn(*args, **kwargs)
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CASES = {
    "uint8-rgb": lambda a: (a, {}),
    "uint16-gray": lambda a: (a[:, :, 0].astype(np.uint16) * 257, {}),
    "uint8-luma": lambda a: (a, {"luma": True}),
    "float32": lambda a: (a.astype(np.float32) / 255, {"data_range": 1.0}),
}


@pytest.mark.parametrize("case", CASES)
def test_psnr_memory_is_bounded_by_strips(case):
    ref = random_image((1500, 1400, 3), seed=1)
    dist = random_image((1500, 1400, 3), seed=2)
    (a, options), (b, _) = CASES[case](ref), CASES[case](dist)
    value, peak = peak_bytes(iqa.psnr, a, b, **options)
    # a few strip-sized float64 temporaries, whatever the image size (was 4 full copies)
    assert peak < 5 * STRIP_BYTES, peak
    if "luma" not in options:
        # float64 arithmetic (scikit-image computes float32 inputs in float32)
        a64, b64 = (x.astype(np.float64) if x.dtype.kind == "f" else x for x in (a, b))
        expected = peak_signal_noise_ratio(a64, b64, data_range=options.get("data_range"))
        assert value == pytest.approx(expected, rel=1e-15, abs=0)


def test_psnr_strips_cover_every_row():
    """A difference in the last row of a tall image, beyond the first strip, counts."""
    ref = np.zeros((STRIP_BYTES // 8 + 7, 3), np.uint8)
    dist = ref.copy()
    dist[-1, 2] = 10
    expected = 10 * np.log10(255**2 / (100 / ref.size))
    assert iqa.psnr(ref, dist) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name, per_pixel", [("ssim", 0.5), ("ms_ssim", 3.5)])
def test_ssim_and_ms_ssim_memory_per_pixel(name, per_pixel):
    """Measured: SSIM 0.1 B/px besides its reused strip buffers; MS-SSIM 3 B/px: its half-size
    float32 planes of both images (1 B/px each) and the next scale in float64. It was
    6 B/px while the 2×2 mean made a full-size float32 copy of each image first."""
    ref = random_image((2000, 2100), seed=1)
    dist = random_image((2000, 2100), seed=2)
    fn = getattr(iqa, name)
    fn(ref, dist)  # the engine's per-thread strip buffers (~9 MB each) are kept for reuse
    _, peak = peak_bytes(fn, ref, dist)
    assert peak < per_pixel * ref.size + (4 << 20), peak / ref.size
