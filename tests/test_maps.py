"""Error maps (``full=True``) come from the same computation as the values.

SSIM's map is checked against scikit-image's (its valid region), the squared-error map
against a numpy squared difference, LPIPS's against ``lpips.LPIPS(spatial=True)`` with
the seeded random trunks of ``tests/test_lpips.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import iqa
from iqa.metrics.psnr import mean_squared_error
from tests.images import astronaut, camera, jpeg
from tests.test_lpips import reference_model


def _pair(kind: str):
    if kind == "gray":
        ref = camera()[:97, :131]
        return ref[:, :, None][:, :, 0], jpeg(ref, 15)
    ref = astronaut()[60:187, 40:213]
    return ref, jpeg(ref, 15)


@pytest.mark.parametrize("kind", ["rgb", "gray"])
def test_ssim_map_mean_is_the_value(kind):
    from skimage.metrics import structural_similarity

    ref, dist = _pair(kind)
    value, smap = iqa.ssim(ref, dist, full=True)
    assert value == iqa.ssim(ref, dist)
    assert abs(smap.mean() - value) < 1e-12
    h, w = ref.shape[:2]
    assert smap.shape[:2] == (h - 10, w - 10)
    # scikit-image 0.26, gaussian_weights=True, sigma=1.5, population covariance: the
    # same map on the valid region (its 5-pixel border uses reflected windows)
    channel = {"channel_axis": -1} if ref.ndim == 3 else {}
    sk_value, sk_map = structural_similarity(
        ref, dist, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=255, full=True, **channel)
    assert abs(sk_value - value) < 1e-12
    assert np.abs(sk_map[5:-5, 5:-5] - smap).max() < 1e-10


def test_ssim_map_large_image_uses_all_strips():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (700, 301, 3), dtype=np.uint8)
    dist = np.clip(ref + rng.normal(0, 9, ref.shape), 0, 255).astype(np.uint8)
    value, smap = iqa.ssim(ref, dist, full=True)
    assert abs(smap.mean() - value) < 1e-12
    assert np.isfinite(smap).all()


@pytest.mark.parametrize("luma", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "float"])
def test_squared_error_map_mean_is_the_mse(luma, dtype):
    ref, dist = _pair("rgb")
    kwargs = {}
    if dtype == "float":
        ref, dist = ref / 255.0, dist / 255.0
        kwargs["data_range"] = 1.0
    value, error = iqa.psnr(ref, dist, luma=luma, full=True, **kwargs)
    assert value == iqa.psnr(ref, dist, luma=luma, **kwargs)
    mse = mean_squared_error(np.asarray(ref), np.asarray(dist), luma=luma,
                             data_range=kwargs.get("data_range", 255))
    assert error.shape == ref.shape[:2]
    assert abs(error.mean() - mse) <= 1e-12 * mse
    if not luma:  # by hand: squared difference averaged over the channels
        by_hand = ((ref.astype(np.float64) - dist) ** 2).mean(axis=2)
        assert np.abs(by_hand - error).max() <= 1e-12
    assert abs(10 * np.log10(kwargs.get("data_range", 255) ** 2 / error.mean()) - value) < 1e-9


def test_lpips_map_is_the_lpips_spatial_map(backbones):
    import torch

    ref, dist = _pair("rgb")
    value, lmap = iqa.lpips(ref, dist, full=True, device="cpu")
    assert abs(value - iqa.lpips(ref, dist, device="cpu")) < 1e-6
    assert lmap.shape == ref.shape[:2]
    model = reference_model("alex", backbones["alex"])
    spatial = reference_model("alex", backbones["alex"])
    spatial.spatial = True

    def tensor(x):
        return torch.from_numpy(x.astype(np.float64) / 127.5 - 1).float().permute(2, 0, 1)[None]

    with torch.no_grad():
        expected_map = spatial(tensor(ref), tensor(dist))[0, 0].double().numpy()
        expected = float(model(tensor(ref), tensor(dist)))
    assert abs(value - expected) < 1e-6
    assert np.abs(lmap - expected_map).max() < 1e-6
    # the map's mean is LPIPS up to the bilinear upsampling of each layer's map
    # (here 6e-8 absolute, 2e-5 relative)
    assert abs(lmap.mean() - value) < 1e-6
    assert abs(lmap.mean() - value) < 1e-4 * value



def test_metric_classes_score_maps_equal_score():
    """The compare runner's path: score_maps gives score's values and the maps' means."""
    from iqa.io.images import Image
    from iqa.metrics.base import MetricOptions
    from iqa.metrics.psnr import PSNR
    from iqa.metrics.ssim import SSIM

    ref, dist = _pair("rgb")
    pair = (Image(pixels=ref, path="r.png"), Image(pixels=dist, path="d.png"))
    for cls in (SSIM, PSNR):
        metric = cls(MetricOptions(device="cpu"))
        [(value, value_map)] = metric.score_maps([pair])
        assert value == metric.score([pair])[0]
        if cls is SSIM:
            assert value_map.shape == (ref.shape[0] - 10, ref.shape[1] - 10)
            assert abs(value_map.mean() - value) < 1e-12  # channel mean of the maps
        else:
            assert abs(10 * np.log10(255**2 / value_map.mean()) - value) < 1e-9


def test_compare_lpips_map_from_the_run(backbones, tmp_path):
    import cv2

    from tests.cli_helpers import run_iqa, strict_json

    ref, dist = _pair("rgb")
    cv2.imwrite(str(tmp_path / "r.png"), ref[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "d.png"), dist[:, :, ::-1])
    result = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", "-m", "ssim,lpips",
                     "--maps", tmp_path / "maps", "--format", "json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    record = strict_json(result.stdout)["pairs"][0]
    value, lmap = iqa.lpips(ref, dist, full=True, device="cpu")
    assert abs(record["lpips"] - value) < 1e-6
    from iqa.output.maps import colorize

    png = cv2.imread(str(tmp_path / "maps" / "d.png.lpips.png"))[:, :, ::-1]
    assert np.array_equal(png, colorize("lpips", lmap, ref.shape[:2], 255))


def test_compare_files_writes_maps_and_report(tmp_path):
    import cv2

    ref, dist = _pair("rgb")
    cv2.imwrite(str(tmp_path / "r.png"), ref[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "d.png"), dist[:, :, ::-1])
    plain = iqa.compare_files(str(tmp_path / "r.png"), [str(tmp_path / "d.png")],
                              metrics="psnr,ssim")
    doc = iqa.compare_files(str(tmp_path / "r.png"), [str(tmp_path / "d.png")],
                            metrics="psnr,ssim", maps=str(tmp_path / "maps"),
                            html=str(tmp_path / "r.html"))
    assert doc["pairs"] == plain["pairs"]  # the maps change no number
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == [
        "d.png.psnr.png", "d.png.ssim.png", "legend.psnr.png", "legend.ssim.png"]
    page = (tmp_path / "r.html").read_text()
    assert page.count('class="pairview"') == 1 and repr(doc["pairs"][0]["ssim"]) in page
