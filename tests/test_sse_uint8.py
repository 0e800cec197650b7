"""The exact 8-bit sum of squared differences through OpenCV, against int64 NumPy.

Every step must be exact (absdiff, the square in 16 bits, the 16-bit L1 sum), so the
sum equals the integer NumPy gives on any content: the largest differences on a 4K RGB
pair (5.4e11, past 32-bit sums and past one 2^15 block), rows of 70,001 samples,
views that OpenCV cannot take as they are (steps, reversed axes, more than 4 channels),
and one sample.
"""

import numpy as np
import pytest

from iqa.metrics import _sse
from iqa.metrics._sse import sse_uint8
from iqa.metrics.psnr import mean_squared_error
from iqa.video.sse import frame_sse


def exact(a, b):
    return int(((a.astype(np.int64) - b) ** 2).sum())


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    return a, rng.integers(0, 256, a.shape, dtype=np.uint8)


def test_the_largest_differences_of_a_4k_rgb_pair():
    full = np.full((2160, 3840, 3), 255, np.uint8)
    zero = np.zeros_like(full)
    assert sse_uint8(full, zero) == sse_uint8(zero, full) == 255**2 * full.size
    assert sse_uint8(full, full) == 0


@pytest.mark.parametrize("view", ["whole", "plane", "steps", "crop", "flipped", "bgr"])
def test_random_content_and_views(big, view):
    a, b = big
    cut = {"whole": np.s_[...], "plane": np.s_[:, :, 1], "steps": np.s_[::2, ::3],
           "crop": np.s_[5:900, 7:1000], "flipped": np.s_[::-1, :, :],
           "bgr": np.s_[:, :, ::-1]}[view]
    assert sse_uint8(a[cut], b[cut]) == exact(a[cut], b[cut])


def test_long_rows_many_channels_and_tiny_arrays(monkeypatch):
    rng = np.random.default_rng(1)
    w, v = (rng.integers(0, 256, (3, 70001), dtype=np.uint8) for _ in range(2))
    assert sse_uint8(w, v) == exact(w, v)
    assert sse_uint8(w.T, v.T) == exact(w, v)
    c7, d7 = (rng.integers(0, 256, (31, 17, 7), dtype=np.uint8) for _ in range(2))
    assert sse_uint8(c7, d7) == exact(c7, d7)
    assert sse_uint8(c7[:, ::2], d7[:, ::2]) == exact(c7[:, ::2], d7[:, ::2])
    assert sse_uint8(c7[:1, :1, :1], d7[:1, :1, :1]) == exact(c7[:1, :1, :1], d7[:1, :1, :1])
    assert sse_uint8(np.zeros((0, 5), np.uint8), np.zeros((0, 5), np.uint8)) == 0
    monkeypatch.setattr(_sse, "STRIP_SAMPLES", 1000)  # many strips, the last one short
    assert sse_uint8(c7, d7) == exact(c7, d7)


def test_refuses_what_it_does_not_do():
    a = np.zeros((4, 4), np.uint8)
    for other in (np.zeros((4, 4), np.uint16), np.zeros((4, 5), np.uint8)):
        with pytest.raises(ValueError, match="uint8"):
            sse_uint8(a, other)


def test_psnr_and_video_planes_take_it_and_give_the_same_integer(big):
    a, b = big
    crop = np.s_[:1081, :1921]
    assert mean_squared_error(a[crop], b[crop]) == exact(a[crop], b[crop]) / a[crop].size
    planes = [a[:1080, :1920, 0], a[:540, :960, 1], a[:540, :960, 2]]
    others = [b[:1080, :1920, 0], b[:540, :960, 1], b[:540, :960, 2]]
    assert frame_sse(planes, others, 8) == tuple(exact(x, y) for x, y in zip(planes, others))
