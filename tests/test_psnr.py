import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

import iqa
from iqa.errors import ImageSizeError, UsageError
from iqa.metrics.psnr import band
from tests.images import astronaut, camera, jpeg, noisy, random_image


def test_hand_computed_tiny_case():
    # Two 2x2 gray images differing by 1, 2, 3, 4: MSE = (1+4+9+16)/4 = 7.5.
    ref = np.array([[10, 20], [30, 40]], np.uint8)
    dist = np.array([[11, 22], [33, 44]], np.uint8)
    assert iqa.psnr(ref, dist) == pytest.approx(10 * math.log10(255**2 / 7.5), abs=1e-12)


def test_sixteen_bit_uses_65535():
    ref = np.full((4, 4), 1000, np.uint16)
    dist = ref.copy()
    dist[0, 0] += 4  # MSE = 16 / 16 = 1
    assert iqa.psnr(ref, dist) == pytest.approx(20 * math.log10(65535), abs=1e-9)


@pytest.mark.parametrize(
    "ref, dist",
    [
        (astronaut(), jpeg(astronaut(), 20)),
        (camera(), noisy(camera(), 7.0)),
        (random_image((37, 41, 3), np.uint16, 1), random_image((37, 41, 3), np.uint16, 2)),
    ],
)
def test_equals_scikit_image(ref, dist):
    assert iqa.psnr(ref, dist) == pytest.approx(peak_signal_noise_ratio(ref, dist), abs=1e-10)


def test_float_needs_data_range():
    a = np.random.default_rng(0).random((8, 8))
    with pytest.raises(UsageError, match="data_range"):
        iqa.psnr(a, a * 0.9)
    expected = peak_signal_noise_ratio(a, a * 0.9, data_range=1.0)
    assert iqa.psnr(a, a * 0.9, data_range=1.0) == pytest.approx(expected, abs=1e-10)


def test_identical_is_infinite():
    img = camera()
    assert iqa.psnr(img, img) == math.inf
    assert band(math.inf)[0] == "identical"


def test_luma_is_bt601_y():
    ref, dist = astronaut(), jpeg(astronaut(), 30)

    def y(img):  # MATLAB rgb2ycbcr, unrounded, in float64
        f = img.astype(np.float64) / 255.0
        return 16.0 + 65.481 * f[..., 0] + 128.553 * f[..., 1] + 24.966 * f[..., 2]

    # 8-bit Y is BasicSR's, held in float32 (tests/test_compare_luma.py: bit for bit);
    # 4e-8 dB from the float64 formula at 34 dB
    expected = peak_signal_noise_ratio(y(ref), y(dist), data_range=255)
    assert iqa.psnr(ref, dist, luma=True) == pytest.approx(expected, abs=1e-6)
    deep = (ref.astype(np.uint16) << 8) | ref, (dist.astype(np.uint16) << 8) | dist

    def y16(img):  # 16-bit: the float64 formula on the image's own scale
        f = img.astype(np.float64)
        return (16.0 * 65535 + 65.481 * f[..., 0] + 128.553 * f[..., 1]
                + 24.966 * f[..., 2]) / 255.0

    expected16 = peak_signal_noise_ratio(y16(deep[0]), y16(deep[1]), data_range=65535)
    assert iqa.psnr(*deep, luma=True) == pytest.approx(expected16, abs=1e-9)
    gray = camera()
    assert iqa.psnr(gray, noisy(gray, 3), luma=True) == iqa.psnr(gray, noisy(gray, 3))


def test_shape_mismatch_names_sizes():
    with pytest.raises(ImageSizeError, match="10x12.*12x10"):
        iqa.psnr(np.zeros((12, 10), np.uint8), np.zeros((10, 12), np.uint8))


@pytest.mark.parametrize(
    "value, key",
    [
        (math.inf, "identical"),
        (50.0, "near-lossless"),
        (49.99, "hard-to-see"),
        (30.0, "hard-to-see"),
        (29.99, "visible"),
        (20.0, "visible"),
        (19.99, "degraded"),
        (10.0, "degraded"),
        (9.99, "unrecognisable"),
        (-3.0, "unrecognisable"),
    ],
)
def test_bands(value, key):
    assert band(value)[0] == key
