import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim as torch_ms_ssim

import iqa
from iqa.errors import ImageSizeError
from iqa.metrics._ssim_core import half_size
from tests.images import astronaut, camera, jpeg, noisy, random_image
from tests.reference_impl import downsample_msssim_m, msssim, per_channel


@pytest.mark.parametrize(
    "shape", [(161, 161), (162, 175), (183, 201, 3), (256, 256, 3), (333, 170)]
)
def test_equals_float64_msssim_m_on_odd_and_even_sizes(shape):
    ref = random_image(shape, seed=sum(shape))
    ref = np.clip(ref.astype(int) // 2 + 64, 0, 255).astype(np.uint8)  # keep cs > 0
    dist = noisy(ref, 10.0, seed=3)
    expected = per_channel(msssim, ref, dist, 255.0)
    assert iqa.ms_ssim(ref, dist) == pytest.approx(expected, abs=1e-10)


def test_natural_images_against_msssim_m():
    ref, dist = astronaut()[:377, :401], jpeg(astronaut()[:377, :401].copy(), 20)
    assert iqa.ms_ssim(ref, dist) == pytest.approx(per_channel(msssim, ref, dist, 255.0), abs=1e-10)
    gray, gdist = camera(), noisy(camera(), 9)
    assert iqa.ms_ssim(gray, gdist) == pytest.approx(msssim(gray, gdist, 255.0), abs=1e-10)


def test_sixteen_bit():
    ref = random_image((170, 180, 3), np.uint16, 5)
    dist = noisy(ref, 2000, 6)
    expected = per_channel(msssim, ref, dist, 65535.0)
    assert iqa.ms_ssim(ref, dist) == pytest.approx(expected, abs=1e-10)


def test_downsampling_repeats_last_row_and_column():
    a = np.arange(15, dtype=np.float64).reshape(3, 5)
    # rows (0,1) and (2,2); columns (0,1), (2,3), (4,4)
    expected = np.array([[3.0, 5.0, 6.5], [10.5, 12.5, 14.0]])
    np.testing.assert_allclose(half_size(a), expected, atol=1e-12)
    np.testing.assert_allclose(downsample_msssim_m(a), expected, atol=1e-12)


def test_agrees_with_pytorch_msssim_when_every_scale_is_even():
    # 256 -> 128 -> 64 -> 32 -> 16: no odd side, so the downsampling rules coincide.
    ref = astronaut()[:256, :256].copy()
    dist = jpeg(ref, 30)
    x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(dist.copy()).permute(2, 0, 1)[None].double()
    expected = float(torch_ms_ssim(x, y, data_range=255))
    # pytorch-msssim builds its Gaussian in float32 even for float64 input, which moves
    # the variances (E[x^2] - mu^2) by ~1e-8 relative: about 2e-6 in SSIM.
    assert iqa.ms_ssim(ref, dist) == pytest.approx(expected, abs=1e-5)


def test_odd_sizes_differ_from_pytorch_msssim_padding():
    # pytorch-msssim zero-pads odd sides before pooling; msssim.m repeats the last row.
    ref = astronaut()[:323, :323].copy()
    dist = jpeg(ref, 30)
    x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(dist.copy()).permute(2, 0, 1)[None].double()
    theirs = float(torch_ms_ssim(x, y, data_range=255))
    ours = iqa.ms_ssim(ref, dist)
    assert ours == pytest.approx(per_channel(msssim, ref, dist, 255.0), abs=1e-10)
    assert abs(ours - theirs) > 1e-7


def test_negative_contrast_is_clamped():
    ref = random_image((161, 161), seed=1)
    dist = 255 - ref  # anti-correlated: cs < 0 at the first scale
    value = iqa.ms_ssim(ref, dist)
    assert value == 0.0 or 0.0 <= value < 0.05
    assert np.isfinite(value)


def test_identical_is_one():
    img = astronaut()
    assert iqa.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_too_small_says_161():
    img = np.zeros((200, 160), np.uint8)
    with pytest.raises(ImageSizeError, match="at least 161x161.*got 160x200"):
        iqa.ms_ssim(img, img)
