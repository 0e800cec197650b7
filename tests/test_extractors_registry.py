"""Feature extractors registered through the entry-point group ``iqa.extractors``: listed
without importing torch, a broken plugin named in one line while the others still work,
and each built-in's preprocessing and features against the reference tool's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from iqa.errors import PluginError, UsageError
from iqa.features import registry
from tests.cli_helpers import ROOT, run_iqa


def _plugin_dist(tmp_path, lines: str):
    """A distribution on sys.path that registers ``lines`` in ``iqa.extractors``."""
    info = tmp_path / "iqa_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iqa-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[iqa.extractors]\n" + lines)
    (tmp_path / "fake_extractor.py").write_text(
        "class NotAnExtractor:\n    info = None\n")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}


def test_builtins_listed_and_loaded_without_torch():
    code = ("import sys; from iqa.features.registry import load_all, registered; "
            "names = sorted(registered()); classes, errors = load_all(); "
            "print(names, [c.info.name for c in classes], errors, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True)
    names = "['clip-vit-b-32', 'clip-vit-l-14-336', 'dinov2-vit-l-14', 'inception', 'vgg16']"
    assert out.stdout.strip() == f"{names} {names} [] False"


def test_metrics_command_lists_extractors_and_names_broken_plugins(tmp_path):
    env = _plugin_dist(tmp_path, "broken = no_such_module_xyz:X\n"
                                 "notone = fake_extractor:NotAnExtractor\n")
    result = run_iqa("metrics", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    by_name = {e["name"]: e for e in doc["extractors"]}
    assert set(by_name) == {"inception", "vgg16", "clip-vit-b-32", "clip-vit-l-14-336",
                            "dinov2-vit-l-14"}
    assert [m["name"] for m in by_name["dinov2-vit-l-14"]["preprocessing"]] == [
        "pil", "torch", "torch-fidelity"]
    assert by_name["clip-vit-l-14-336"]["dim"] == 768
    assert by_name["inception"]["dim"] == 2048 and by_name["inception"]["input_size"] == 299
    assert [m["name"] for m in by_name["inception"]["preprocessing"]] == [
        "tf", "pytorch-fid", "clean"]
    assert by_name["vgg16"]["weights"] == ["vgg16"] and by_name["vgg16"]["dim"] == 4096
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "extractor plugin 'broken'" in lines[0] and "iqa-test-plugin" in lines[0]
    assert "ModuleNotFoundError" in lines[0]
    assert "extractor plugin 'notone'" in lines[1] and "extractor contract" in lines[1]
    table = run_iqa("metrics", env=env)
    assert table.returncode == 0
    assert "feature extractors" in table.stdout and "fc2 after ReLU" in table.stdout


def test_unknown_extractor_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown feature extractor 'dinov3'.*inception"):
        registry.load("dinov3")


def test_broken_plugin_in_process(monkeypatch):
    found = {"bad": registry.Registered("bad", "json:loads", "somepkg")}
    monkeypatch.setattr(registry, "registered", lambda: found)
    with pytest.raises(PluginError, match=r"extractor plugin 'bad' \(json:loads, from package "
                                          r"somepkg\) does not implement"):
        registry.load("bad")


def test_unknown_preprocessing_names_the_modes():
    info = registry.load("vgg16").info
    with pytest.raises(UsageError, match="vgg16 has no preprocessing 'clean'; its modes: tf"):
        info.mode("clean")


def _uint8_images(n: int, h: int, w: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("mode", ["tf", "pytorch-fid", "clean"])
def test_inception_preprocessing_equals_the_resize_modes(mode):
    """The extractor's batched preprocessing gives the per-image resize of ``--resize``
    bit for bit (those are tested against torch-fidelity, pytorch-fid and clean-fid)."""
    import torch

    from iqa.distribution.preprocess import RESIZE_MODES
    from iqa.features.fid_inception import InceptionExtractor

    images = _uint8_images(3, 37, 53, seed=5)
    extractor = InceptionExtractor.__new__(InceptionExtractor)
    extractor.preprocessing, extractor.device = mode, "cpu"
    ours = extractor.preprocess(images)
    expected = torch.stack([RESIZE_MODES[mode].fn(np.ascontiguousarray(
        im.permute(1, 2, 0).numpy())) for im in images])
    assert ours.shape == (3, 3, 299, 299)
    assert torch.equal(ours, expected)


def test_vgg16_extractor_equals_torch_fidelity(tmp_path):
    """uint8 images → fc2_relu, against torch-fidelity 0.4's ``vgg16`` extractor built from
    the same seeded random torchvision state dict."""
    import torch
    import torchvision
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

    torch.manual_seed(3)
    state = torchvision.models.vgg16(weights=None).state_dict()
    path = tmp_path / "vgg16-random.pth"
    torch.save(state, path)
    ours = registry.load("vgg16")({"vgg16": state}, device="cpu")
    theirs = FeatureExtractorVGG16("vgg16", ["fc2_relu"],
                                   feature_extractor_weights_path=str(path))
    images = _uint8_images(4, 45, 71, seed=8)
    mine = ours.features(images).numpy()
    with torch.no_grad():
        ref = theirs(images)[0].numpy()
    assert mine.shape == (4, 4096)
    np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())
