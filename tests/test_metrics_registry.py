"""Metric names for `-m`: aliases, "did you mean", and what `all` means."""

from __future__ import annotations

import pytest

from iqa.errors import UsageError
from iqa.registry import resolve_pair_metrics


@pytest.mark.parametrize("spelling", ["ms_ssim", "ms-ssim", "msssim", "MS-SSIM", "MS_SSIM",
                                      " Ms-Ssim ", "MSSSIM", "multiscale-ssim"])
def test_common_spellings_of_ms_ssim(spelling):
    assert resolve_pair_metrics(spelling) == ["ms_ssim"]


def test_order_kept_and_duplicates_dropped():
    assert resolve_pair_metrics("PSNR,ms-ssim,ssim,psnr,msssim") == ["psnr", "ms_ssim", "ssim"]


@pytest.mark.parametrize("typo, suggestion", [("ssmi", "ssim"), ("psnrr", "psnr"),
                                               ("ms-sim", "ms_ssim"), ("lpip", "lpips")])
def test_near_miss_gets_did_you_mean_and_only_pair_metrics(typo, suggestion):
    with pytest.raises(UsageError) as info:
        resolve_pair_metrics(f"psnr,{typo}")
    text = str(info.value)
    assert f"did you mean '{suggestion}'" in text
    assert typo in text
    assert "psnr, ssim, ms_ssim, lpips" in text
    assert "fid" not in text and "kid" not in text
    assert "\n" not in text


def test_distribution_metric_says_which_command():
    with pytest.raises(UsageError, match="iqa fid"):
        resolve_pair_metrics("psnr,FID")


@pytest.mark.parametrize("spec", ["", ",", " , "])
def test_empty_is_a_usage_error(spec):
    with pytest.raises(UsageError, match="at least one metric"):
        resolve_pair_metrics(spec)


def test_all_offline_without_lpips_weights_skips_it_with_one_note(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    monkeypatch.setenv("IQA_OFFLINE", "1")
    notes: list[str] = []
    assert resolve_pair_metrics("all", warn=notes.append) == ["psnr", "ssim", "ms_ssim"]
    assert len(notes) == 1 and "lpips" in notes[0] and "\n" not in notes[0]
    assert "IQA_OFFLINE" in notes[0]


def test_all_includes_lpips_when_its_weights_are_here(backbones):
    notes: list[str] = []
    assert resolve_pair_metrics("all", warn=notes.append) == ["psnr", "ssim", "ms_ssim", "lpips"]
    assert notes == []


def test_all_skips_lpips_without_torch(backbones, monkeypatch):
    from iqa.metrics import lpips

    monkeypatch.setattr(lpips, "missing_packages", lambda: ["torch"])
    notes: list[str] = []
    assert resolve_pair_metrics("ALL,psnr", warn=notes.append) == ["psnr", "ssim", "ms_ssim"]
    assert "pip install" in notes[0]


def test_all_follows_the_lpips_net(backbones, tmp_path, monkeypatch):
    """Availability is checked for the trunk that would be used (--lpips-net)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    notes: list[str] = []
    names = resolve_pair_metrics("all", params={"lpips.net": "vgg"}, warn=notes.append)
    assert "lpips" not in names and "VGG-16" in notes[0]


def test_named_metric_is_kept_even_if_unavailable(tmp_path, monkeypatch):
    """Only `all` skips; a metric asked for by name fails later with its own error."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    assert resolve_pair_metrics("lpips,all") == ["lpips", "psnr", "ssim", "ms_ssim"]
