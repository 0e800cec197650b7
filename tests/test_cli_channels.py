"""`iqa compare --channels`: explicit gray/RGB conversion, and small images whose
default metrics are undefined."""

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from iqa.io.channels import convert_channels
from tests.cli_helpers import run_iqa, strict_json
from tests.images import astronaut, camera, noisy


def _ssim(a, b, **kw):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255, **kw)


@pytest.fixture
def gray_vs_rgb(tmp_path):
    """A gray reference and its decoded output written as RGB (as dwebp does)."""
    gray = camera()[:200, :210].copy()
    decoded = noisy(gray, 6)
    rgb = np.repeat(decoded[..., None], 3, axis=-1)
    rgb[..., 0] = noisy(decoded, 2, seed=1)  # a little chroma, as a codec leaves
    Image.fromarray(gray).save(tmp_path / "ref.png")
    Image.fromarray(rgb).save(tmp_path / "out.png")
    return tmp_path / "ref.png", tmp_path / "out.png", gray, rgb


def test_as_is_refuses_the_mismatch_and_names_the_option(gray_vs_rgb):
    ref, out, _, _ = gray_vs_rgb
    result = run_iqa("compare", ref, out, "-m", "psnr")
    assert result.returncode == 2
    assert "gray 8-bit" in result.stderr and "RGB 8-bit" in result.stderr
    assert "--channels rgb" in result.stderr and len(result.stderr.splitlines()) == 1


def test_rgb_repeats_gray(gray_vs_rgb):
    ref, out, gray, rgb = gray_vs_rgb
    result = run_iqa("compare", ref, out, "-m", "psnr,ssim", "--channels", "rgb",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    pair = doc["pairs"][0]
    ref3 = np.repeat(gray[..., None], 3, axis=-1)
    assert pair["psnr"] == pytest.approx(peak_signal_noise_ratio(ref3, rgb), abs=1e-9)
    assert pair["ssim"] == pytest.approx(_ssim(ref3, rgb, channel_axis=-1), abs=1e-9)
    assert doc["settings"]["channels"] == "rgb"


def test_gray_is_pillows_luma(gray_vs_rgb):
    ref, out, gray, rgb = gray_vs_rgb
    result = run_iqa("compare", ref, out, "-m", "psnr,ssim", "--channels", "gray",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    pair = strict_json(result.stdout)["pairs"][0]
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    assert pair["psnr"] == pytest.approx(peak_signal_noise_ratio(gray, luma), abs=1e-9)
    assert pair["ssim"] == pytest.approx(_ssim(gray, luma), abs=1e-9)


def test_gray_conversion_equals_pillow_bit_for_bit():
    rgb = astronaut()
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.array_equal(convert_channels(rgb, "gray")[..., 0], expected)


def _basicsr_bgr2ycbcr_y(rgb: np.ndarray) -> np.ndarray:
    """BasicSR ``bgr2ycbcr(img, y_only=True)`` on uint8 input, its steps and dtypes: the
    BGR image / 255 in float32, a float64 dot with its weights, + 16, ``round()``."""
    x = np.ascontiguousarray(rgb[..., ::-1]).astype(np.float32)
    x /= 255.0
    return (np.dot(x, [24.966, 128.553, 65.481]) + 16.0).round().astype(np.uint8)


def test_y_is_basicsr_bgr2ycbcr():
    rgb = astronaut()[:64, :64]
    assert np.array_equal(convert_channels(rgb, "y")[..., 0], _basicsr_bgr2ycbcr_y(rgb))
    # Colours whose exact Y is a half (16 + 9307.5/255 = 52.5): BasicSR's float32 steps
    # land above it (53), where a float64 formula rounded half to even gives 52.
    ties = np.array([[[2, 44, 141], [2, 44, 142]]], np.uint8)
    assert convert_channels(ties, "y")[0, :, 0].tolist() == [53, 53]
    assert np.array_equal(convert_channels(ties, "y")[..., 0], _basicsr_bgr2ycbcr_y(ties))
    gray = camera()[:8, :8]
    as_rgb = np.repeat(gray[..., None], 3, axis=2)
    assert np.array_equal(convert_channels(gray[..., None], "y")[..., 0],
                          _basicsr_bgr2ycbcr_y(as_rgb))
    expected = _basicsr_bgr2ycbcr_y(rgb)
    sixteen = (rgb.astype(np.uint16) * 257)
    y16 = convert_channels(sixteen, "y")
    assert y16.dtype == np.uint16 and abs(int(y16.max()) - int(expected.max()) * 257) <= 257


def test_alpha_stays_a_separate_channel():
    la = np.dstack([camera()[:4, :4], np.full((4, 4), 128, np.uint8)])
    rgba = convert_channels(la, "rgb")
    assert rgba.shape == (4, 4, 4) and np.array_equal(rgba[..., 3], la[..., 1])
    assert np.array_equal(rgba[..., 0], rgba[..., 2])


def test_small_images_default_metrics_undefined_is_not_an_error(tmp_path):
    a = camera()[:100, :150].copy()
    Image.fromarray(a).save(tmp_path / "r.png")
    Image.fromarray(noisy(a, 4)).save(tmp_path / "d.png")
    result = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "at least 161x161" in result.stderr and "warning" in result.stderr
    doc = strict_json(result.stdout)
    pair = doc["pairs"][0]
    assert pair["ms_ssim"] is None and pair["psnr"] > 20 and pair["error"] is None
    assert "161x161" in pair["undefined"]["ms_ssim"]
    assert doc["counts"] == {"pairs": 1, "scored": 1, "failed": 0}
    assert doc["summary"]["ms_ssim"] == {"n": 0, "mean": None, "min": None, "max": None,
                                         "n_undefined": 1}
    assert doc["summary"]["psnr"]["n"] == 1
    table = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png")
    assert table.returncode == 0 and "could not be scored" not in table.stdout
    assert "ms_ssim: undefined for 1 pair(s)" in table.stdout


@pytest.mark.parametrize("args", [["-m", "psnr,ms_ssim"], ["--fail-if", "ms_ssim<0.5"]])
def test_small_images_metric_asked_by_name_is_an_error(tmp_path, args):
    a = camera()[:100, :150].copy()
    Image.fromarray(a).save(tmp_path / "r.png")
    Image.fromarray(noisy(a, 4)).save(tmp_path / "d.png")
    result = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", *args,
                     "--format", "json")
    assert result.returncode == 2
    pair = strict_json(result.stdout)["pairs"][0]
    assert pair["ms_ssim"] is None and "161x161" in pair["error"] and pair["psnr"] > 20


def test_every_8_bit_colour_is_basicsrs():
    """All 2^24 RGB colours: `--channels y` equals BasicSR's `bgr2ycbcr(y_only=True)` and
    `--luma`'s Y its `to_y_channel`, bit for bit (written here from their steps)."""
    from iqa.io.channels import bt601_luma

    r, g, b = np.meshgrid(*(np.arange(256, dtype=np.uint8),) * 3, indexing="ij")
    rgb = np.stack([r, g, b], axis=-1).reshape(4096, 4096, 3)
    del r, g, b
    assert np.array_equal(convert_channels(rgb, "y")[..., 0], _basicsr_bgr2ycbcr_y(rgb))
    x = np.ascontiguousarray(rgb[..., ::-1]).astype(np.float32) / 255.0
    y = ((np.dot(x, [24.966, 128.553, 65.481]) + 16.0) / 255.0).astype(np.float32)
    assert np.array_equal(bt601_luma(rgb, 255)[..., 0], (y * 255.0).astype(np.float64))
