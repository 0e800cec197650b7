"""``--luma`` on PSNR, SSIM and MS-SSIM, and ``--crop-border N``, against BasicSR.

The reference follows BasicSR's ``basicsr/metrics/psnr_ssim.py`` (``calculate_psnr`` /
``calculate_ssim`` with ``test_y_channel=True``) and ``basicsr/utils/color_util.py``
(``to_y_channel`` → ``bgr2ycbcr(y_only=True)``) step by step, dtypes included: the image
in OpenCV's BGR order, / 255 in float32, the weights [24.966, 128.553, 65.481] of B, G, R
in a float64 dot product, + 16, / 255 and back to float32, × 255 in float32, then
float64 for the metric.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from iqa.metrics.ms_ssim import ms_ssim
from tests.cli_helpers import run_iqa, strict_json
from tests.images import astronaut, jpeg, noisy


def to_y_channel(img: np.ndarray) -> np.ndarray:
    """BasicSR ``to_y_channel`` on an RGB uint8 image (turned to BGR first, as cv2 reads
    it): Y in [16, 235], float32 as BasicSR returns it."""
    bgr = np.ascontiguousarray(img[..., ::-1])
    x = bgr.astype(np.float32) / 255.0
    y = np.dot(x, [24.966, 128.553, 65.481]) + 16.0  # float64
    y = (y / 255.0).astype(np.float32)  # _convert_output_type_range(float32)
    return y[..., None] * 255.0  # float32


def calculate_psnr(img, img2, crop_border):
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    img, img2 = to_y_channel(img), to_y_channel(img2)
    mse = np.mean((img.astype(np.float64) - img2.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10.0 * np.log10(255.0 * 255.0 / mse)


def _ssim(img, img2):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(img, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(img2, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = cv2.filter2D(img**2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(img2**2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(img * img2, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / (
        (mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean()


def calculate_ssim(img, img2, crop_border):
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    img, img2 = to_y_channel(img).astype(np.float64), to_y_channel(img2).astype(np.float64)
    return np.array([_ssim(img[..., i], img2[..., i]) for i in range(img.shape[2])]).mean()


@pytest.fixture(scope="module")
def sr_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sr")
    ref = astronaut()[40:260, 100:330]  # 230x220
    dist = noisy(jpeg(ref, 40), 3.0)
    Image.fromarray(ref).save(folder / "ref.png")
    Image.fromarray(dist).save(folder / "dist.png")
    return folder / "ref.png", folder / "dist.png", ref, dist


@pytest.mark.parametrize("crop", [0, 4])
def test_luma_and_crop_border_equal_basicsr(sr_pair, crop):
    ref_path, dist_path, ref, dist = sr_pair
    args = ["--luma", "--format", "json", "-m", "psnr,ssim,ms_ssim"]
    if crop:
        args += ["--crop-border", str(crop)]
    result = run_iqa("compare", ref_path, dist_path, *args)
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    pair = doc["pairs"][0]
    assert pair["psnr"] == pytest.approx(calculate_psnr(ref, dist, crop), abs=1e-6)
    assert pair["ssim"] == pytest.approx(calculate_ssim(ref, dist, crop), abs=1e-6)
    c = slice(crop, -crop) if crop else slice(None)
    y_ref, y_dist = to_y_channel(ref[c, c]), to_y_channel(dist[c, c])
    assert pair["ms_ssim"] == pytest.approx(ms_ssim(y_ref, y_dist, data_range=255.0), abs=1e-6)
    for name in ("psnr", "ssim", "ms_ssim"):
        assert "luma" in doc["definitions"][name]["channels"].lower()
    if crop:
        assert doc["settings"]["crop_border"] == crop
    # the rate is the whole file's, per pixel of the whole decoded image
    assert pair["bpp"] == pytest.approx(8 * dist_path.stat().st_size / (230 * 220))


@pytest.mark.parametrize("changed, crop", [(0.01, 0), (0.001, 4), (0.0005, 0)])
def test_near_lossless_luma_psnr_equals_basicsr(tmp_path, changed, crop):
    """Above 70 dB the float32 rounding of BasicSR's Y shows (a float64 Y was up to
    6.5e-5 dB away): the values must still be BasicSR's, to float noise."""
    ref = astronaut()[:200, :160]
    rng = np.random.default_rng(7)
    step = np.where(rng.random(ref.shape) < changed, rng.choice([-1, 1], ref.shape), 0)
    dist = np.clip(ref.astype(int) + step, 0, 255).astype(np.uint8)
    Image.fromarray(ref).save(tmp_path / "r.png")
    Image.fromarray(dist).save(tmp_path / "d.png")
    result = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", "--luma",
                     "--crop-border", str(crop), "-m", "psnr,ssim", "--format", "json")
    assert result.returncode == 0, result.stderr
    pair = strict_json(result.stdout)["pairs"][0]
    expected = calculate_psnr(ref, dist, crop)
    assert expected > 72
    assert pair["psnr"] == pytest.approx(expected, rel=1e-12, abs=0)
    assert pair["ssim"] == pytest.approx(calculate_ssim(ref, dist, crop), abs=1e-9)


def test_crop_border_without_luma_crops_every_channel(sr_pair):
    from skimage.metrics import peak_signal_noise_ratio

    ref_path, dist_path, ref, dist = sr_pair
    result = run_iqa("compare", ref_path, dist_path, "--crop-border", "3", "-m", "psnr",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    value = strict_json(result.stdout)["pairs"][0]["psnr"]
    assert value == pytest.approx(peak_signal_noise_ratio(ref[3:-3, 3:-3], dist[3:-3, 3:-3]),
                                  abs=1e-9)


def test_crop_border_larger_than_the_image_is_one_line(sr_pair):
    ref_path, dist_path, _, _ = sr_pair
    result = run_iqa("compare", ref_path, dist_path, "--crop-border", "110", "-m", "psnr")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--crop-border 110" in result.stderr


def test_the_library_luma_psnr_equals_the_command_lines(tmp_path):
    """`iqa.psnr(luma=True)` on 8-bit arrays takes BasicSR's float32 steps too: the same
    value as `iqa compare --luma` and BasicSR near lossless, where a float64 Y differs."""
    import iqa

    ref = astronaut()[:200, :160]
    rng = np.random.default_rng(9)
    step = np.where(rng.random(ref.shape) < 0.002, rng.choice([-1, 1], ref.shape), 0)
    dist = np.clip(ref.astype(int) + step, 0, 255).astype(np.uint8)
    Image.fromarray(ref).save(tmp_path / "r.png")
    Image.fromarray(dist).save(tmp_path / "d.png")
    cli = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", "--luma", "-m", "psnr",
                  "--format", "json")
    assert cli.returncode == 0, cli.stderr
    value = strict_json(cli.stdout)["pairs"][0]["psnr"]
    expected = calculate_psnr(ref, dist, 0)
    assert expected > 75
    assert iqa.psnr(ref, dist, luma=True) == pytest.approx(expected, rel=1e-12, abs=0)
    assert value == pytest.approx(expected, rel=1e-12, abs=0)
