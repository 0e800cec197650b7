import numpy as np
import pytest
import torch
from pytorch_msssim import ssim as torch_ssim
from skimage.metrics import structural_similarity

import iqa
from iqa.errors import ImageSizeError
from tests.images import astronaut, camera, jpeg, noisy, random_image


def skimage_ssim(ref, dist, data_range=None):
    return structural_similarity(
        ref, dist, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range if data_range is not None else np.iinfo(ref.dtype).max,
        channel_axis=-1 if ref.ndim == 3 else None,
    )


CASES = {
    "rgb-jpeg": (astronaut(), jpeg(astronaut(), 15)),
    "gray-noise": (camera(), noisy(camera(), 12.0)),
    "min-size": (random_image((11, 11), seed=1), random_image((11, 11), seed=2)),
    "odd-rgb": (random_image((13, 29, 3), seed=3), noisy(random_image((13, 29, 3), seed=3), 30)),
    "tall-gray": (random_image((301, 17), seed=4), noisy(random_image((301, 17), seed=4), 5)),
    "wide-strips": (noisy(np.full((40, 2000, 3), 250, np.uint8), 1, 5),
                    noisy(np.full((40, 2000, 3), 250, np.uint8), 1, 6)),
    "sixteen-bit": (random_image((50, 64, 3), np.uint16, 7),
                    noisy(random_image((50, 64, 3), np.uint16, 7), 3000)),
}


@pytest.mark.parametrize("name", CASES)
def test_equals_scikit_image(name):
    ref, dist = CASES[name]
    assert iqa.ssim(ref, dist) == pytest.approx(skimage_ssim(ref, dist), abs=1e-9)


def test_large_bright_flat_area_keeps_float64_precision():
    # E[x^2] - mu^2 cancels on bright flat areas; float32 statistics miss by ~1e-6 here.
    ref = noisy(np.full((700, 900), 252, np.uint8), 0.8, 1)
    dist = noisy(np.full((700, 900), 252, np.uint8), 0.8, 2)
    assert iqa.ssim(ref, dist) == pytest.approx(skimage_ssim(ref, dist), abs=1e-9)


def test_float_images_with_data_range():
    rng = np.random.default_rng(0)
    ref = rng.random((40, 30))
    dist = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    expected = skimage_ssim(ref, dist, data_range=1.0)
    assert iqa.ssim(ref, dist, data_range=1.0) == pytest.approx(expected, abs=1e-9)


def test_constant_images_by_hand():
    # Zero variance everywhere: SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 100.0, 120.0, (0.01 * 255) ** 2
    ref = np.full((15, 12), a, np.uint8)
    dist = np.full((15, 12), b, np.uint8)
    assert iqa.ssim(ref, dist) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-12)
    assert iqa.ssim(ref, ref) == 1.0


def test_agrees_with_pytorch_msssim():
    ref, dist = astronaut(), jpeg(astronaut(), 25)
    x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(dist.copy()).permute(2, 0, 1)[None].double()
    expected = float(torch_ssim(x, y, data_range=255))
    # pytorch-msssim builds its Gaussian in float32 even for float64 input, which moves
    # the variances (E[x^2] - mu^2) by ~1e-8 relative: about 2e-6 in SSIM.
    assert iqa.ssim(ref, dist) == pytest.approx(expected, abs=1e-5)


def test_thread_count_does_not_change_the_value(monkeypatch):
    from iqa.metrics import _ssim_core

    ref, dist = astronaut(), jpeg(astronaut(), 40)
    threaded = iqa.ssim(ref, dist)
    monkeypatch.setattr(_ssim_core, "_PARALLEL_MIN", 10**12)
    assert iqa.ssim(ref, dist) == pytest.approx(threaded, abs=1e-13)


def test_too_small_says_minimum():
    with pytest.raises(ImageSizeError, match="at least 11x11.*got 10x30"):
        iqa.ssim(np.zeros((30, 10), np.uint8), np.zeros((30, 10), np.uint8))
