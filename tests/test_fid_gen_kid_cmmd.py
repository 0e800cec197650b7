"""``iqa fid -m kid --features NAME`` and ``-m cmmd``.

* KID on another extractor's features equals torch-fidelity's ``kid_features_to_metric``
  on fixed features, and, end to end, torch-fidelity's KID with its own VGG-16 extractor
  on the same images and (seeded random) weights.
* ``cmmd`` runs on ``clip-vit-l-14-336`` (seeded random ViT-L/14@336px weights imported
  ``--unverified``): the CLI's value equals a float64 implementation of google-research's
  formula on the extractor's embeddings of the same images, and the JSON names extractor,
  preprocessing and weights. ``-m cmmd`` with another extractor is refused in one line.
"""

from __future__ import annotations

import importlib
import json
import types

import numpy as np
import pytest

from tests.cli_helpers import run_iqa
from tests.fid_helpers import make_pair

COUNT = 5


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("kidcmmd"), COUNT, seed=21)


def _engine(**options):
    warned = []
    return types.SimpleNamespace(options=types.SimpleNamespace(**options),
                                 hooks=types.SimpleNamespace(warn=warned.append)), warned


def test_kid_on_other_features_equals_torch_fidelity():
    import torch
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    from iqa.distribution.gencompute import _compute

    rng = np.random.default_rng(4)
    real = np.abs(rng.normal(size=(30, 1024))).astype(np.float32)
    fake = np.abs(rng.normal(size=(25, 1024)) + 0.1).astype(np.float32)
    engine, warned = _engine(kid_subsets=7, kid_subset_size=40, seed=2020)
    values, extra = _compute("kid", real, fake, engine, None)
    # torch-fidelity's convention: the generated set is input1
    ref = kid_features_to_metric(torch.from_numpy(fake).double(),
                                 torch.from_numpy(real).double(), kid_subsets=7,
                                 kid_subset_size=25, rng_seed=2020, verbose=False)
    assert values["kid_mean"] == pytest.approx(ref[KEY_METRIC_KID_MEAN], rel=1e-10)
    assert values["kid_std"] == pytest.approx(ref[KEY_METRIC_KID_STD], rel=1e-10)
    assert extra["kernel"] == "(x.y/1024 + 1)^3" and extra["subset_size"] == 25
    assert len(warned) == 1 and "larger than the smaller set (25 images)" in warned[0]


def test_kid_on_vgg16_equals_torch_fidelity_end_to_end(folders, backbones, tmp_path,
                                                       tmp_path_factory, fid_weights):
    import torch

    vgg_file = tmp_path / "vgg16.pth"
    torch.save(backbones["vgg"], vgg_file)
    real, fake = folders
    root = tmp_path_factory.getbasetemp() / "caches"  # where `backbones` imported VGG-16
    env = {"IQA_CACHE_DIR": str(root / "iqa"), "TORCH_HOME": str(root / "torch"),
           "IQA_OFFLINE": "1"}
    done = run_iqa("fid", real, fake, "-m", "kid", "--features", "vgg16", "--kid-subsets", "4",
                   "--kid-subset-size", "5", "--weights", fid_weights, "--no-cache",
                   "--device", "cpu", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    ours = json.loads(done.stdout)
    from PIL import Image
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16
    from torch_fidelity.metric_kid import kid_features_to_metric

    net = FeatureExtractorVGG16("vgg16", ["fc2_relu"], feature_extractor_weights_path=str(vgg_file))

    def features(folder):  # torch-fidelity's own extractor, one image per batch
        rows = []
        for path in sorted(folder.iterdir()):
            pixels = np.array(Image.open(path).convert("RGB"))
            with torch.no_grad():
                rows.append(net(torch.from_numpy(pixels).permute(2, 0, 1)[None])[0][0])
        return torch.stack(rows).double()  # float64: torch-fidelity's kernels in float64

    ref = kid_features_to_metric(features(fake), features(real), kid_subsets=4,
                                 kid_subset_size=5, rng_seed=2020, verbose=False)
    assert ours["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-3)
    d = ours["definitions"]["kid"]
    assert (d["extractor"], d["dim"], d["kernel"]) == ("vgg16", 4096, "(x.y/4096 + 1)^3")
    assert "kid" not in ours or not isinstance(ours.get("kid"), float)
    assert "kept in memory" in done.stderr  # the memory the kept features take


@pytest.fixture(scope="module")
def clip_l(tmp_path_factory):
    """Seeded random ViT-L/14@336px image-tower weights (float16, OpenAI's key names),
    imported --unverified into caches of this module."""
    import torch

    from iqa.features.clip_openai import VIT_L_14_336, tower_shapes
    from iqa.weights import import_file

    required, _ = tower_shapes(VIT_L_14_336)
    g = torch.Generator().manual_seed(5)
    state = {}
    for key, shape in required.items():
        t = torch.randn(shape, generator=g) * 0.02
        if "ln_" in key and key.endswith("weight"):
            t = t + 1
        state["visual." + key] = t.half()
    root = tmp_path_factory.mktemp("clipcache")
    path = root / "clip-l-converted.pth"
    torch.save(state, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setenv("IQA_CACHE_DIR", str(root / "iqa"))
        assert not import_file("clip-vit-l-14-336", path, unverified=True).verified
    path.unlink()
    env = {"IQA_CACHE_DIR": str(root / "iqa"), "TORCH_HOME": str(root / "torch"),
           "IQA_OFFLINE": "1"}
    return env, {k[len("visual."):]: v.float() for k, v in state.items()}


def _cmmd_float64(x: np.ndarray, y: np.ndarray) -> float:
    """google-research cmmd distance.mmd in float64: sigma 10, scale 1000, biased."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    gamma = 1 / (2 * 10.0**2)

    def k(a, b):
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-gamma * sq).mean()

    return 1000 * (k(x, x) + k(y, y) - 2 * k(x, y))


def test_cmmd_equals_the_reference_formula_on_the_extractor(clip_l, fid_weights,
                                                            tmp_path, monkeypatch):
    # In process, two images a set: ViT-L/14 at 336 px costs seconds per image on a CPU.
    cmmd_module = importlib.import_module("iqa.genmetrics.cmmd")  # the module, not the function
    from iqa.distribution.run import FIDOptions, compare_sets
    from iqa.features.clip_vit_l_14_336 import NAME

    env, _ = clip_l
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    real, fake = make_pair(tmp_path, 2, seed=22)
    seen = []
    original = cmmd_module.cmmd
    monkeypatch.setattr(cmmd_module, "cmmd", lambda x, y: seen.append((x, y)) or original(x, y))
    options = FIDOptions(metrics=("cmmd",), weights=str(fid_weights), cache=False,
                         device="cpu", workers=0)
    record = compare_sets(str(real), str(fake), options).record()
    (x, y), = seen
    assert x.shape == y.shape == (2, 768) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-6)
    expected = _cmmd_float64(x, y)
    assert expected > 0
    assert record["cmmd"] == pytest.approx(expected, rel=1e-9)
    d = record["definitions"]["cmmd"]
    assert (d["extractor"], d["preprocessing"], d["dim"]) == (NAME, "cmmd", 768)
    assert (d["sigma"], d["scale"]) == (10.0, 1000.0)
    assert d["weights"][0]["name"] == NAME and d["weights"][0]["verified"] is False
    assert "fid" in record  # FID is still computed alongside


def test_cmmd_with_another_extractor_is_refused(folders):
    done = run_iqa("fid", *folders, "-m", "cmmd", "--features", "dinov2-vit-l-14")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cmmd is defined on clip-vit-l-14-336 embeddings only" in lines[0]


@pytest.mark.parametrize("features,message", [
    ("dinov2-vit-l-14:bilinear", "'dinov2-vit-l-14:bilinear': extractor dinov2-vit-l-14 has "
     "no preprocessing 'bilinear'; its modes: pil, torch, torch-fidelity"),
    ("inception:clean", "preprocessing is chosen with --resize"),
])
def test_a_bad_preprocessing_mode_is_refused(folders, features, message):
    done = run_iqa("fid", *folders, "-m", "fd", "--features", features)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_the_mode_after_the_colon_reaches_the_extractor(monkeypatch):
    from iqa.distribution import genextract
    from iqa.features import registry
    from iqa.features.dinov2_vit_l_14 import DINOv2Extractor

    built = []

    class Probe:
        info = DINOv2Extractor.info.__class__(**{**DINOv2Extractor.info.__dict__,
                                                 "weights": (), "extra": None})

        def __init__(self, states, device="cpu", preprocessing=None):
            built.append(self.info.mode(preprocessing).name)

    monkeypatch.setattr(registry, "load", lambda name: Probe)
    for features, expected in (("dinov2-vit-l-14:torch", "torch"), ("dinov2-vit-l-14", "pil"),
                               (None, "pil")):
        engine, _ = _engine(features=features)
        engine.hooks.download, engine.device = None, "cpu"
        genextract.build("dinov2-vit-l-14", engine)
        assert built.pop() == expected


def test_save_stats_with_kid_keeps_inception_features_and_refuses_kid_elsewhere(
        folders, fid_weights, tmp_path):
    real = folders[0]
    done = run_iqa("fid", real, "--save-stats", tmp_path / "real.npz", "-m", "kid",
                   "--weights", fid_weights, "--no-cache", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "real.npz")["features"].shape == (COUNT, 2048)
    done = run_iqa("fid", real, "--save-stats", tmp_path / "other.npz", "-m", "kid",
                   "--features", "vgg16", "--weights", fid_weights)
    assert done.returncode == 2
    assert "-m kid compare REAL and FAKE" in done.stderr
    assert not (tmp_path / "other.npz").exists()
