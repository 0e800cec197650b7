"""``iqa fid -m is,fd,precision,recall,density,coverage``: one command line, each number
against the tool it reproduces on the same images and the same weights.

* ``is`` ↔ ``torch_fidelity.calculate_metrics(isc=True)`` on the real FID Inception with a
  seeded random logits layer (the shared test weights have a zero ``fc``);
* ``precision``/``recall`` ↔ ``torch_fidelity.calculate_metrics(prc=True,
  feature_extractor="vgg16")`` with seeded random VGG-16 weights (imported
  ``--unverified``, as a user with converted weights does);
* ``density``/``coverage`` ↔ ``prdc.compute_prdc`` on torch-fidelity's VGG-16 features;
* ``fd --features vgg16`` ↔ torch-fidelity's ``fid_features_to_statistics`` /
  ``fid_statistics_to_metric`` on the same features.

The references take one image per batch (the folders hold mixed sizes).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from tests.cli_helpers import run_iqa
from tests.fid_helpers import make_pair

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")
COUNT = 10


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("gen"), COUNT, seed=11)


@pytest.fixture(scope="module")
def random_fc(fid_weights, tmp_path_factory):
    """The real FID Inception with a seeded random 1008-way logits layer."""
    import torch

    state = torch.load(fid_weights, weights_only=True)
    g = torch.Generator().manual_seed(12)
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=g) * 0.05
    state["fc.bias"] = torch.randn(state["fc.bias"].shape, generator=g)
    path = tmp_path_factory.mktemp("fc") / "inception-random-fc.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def vgg_file(backbones, tmp_path_factory):
    import torch

    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(backbones["vgg"], path)
    return path


@pytest.fixture(scope="module")
def ours(folders, random_fc, backbones, tmp_path_factory):
    real, fake = folders
    root = tmp_path_factory.getbasetemp() / "caches"  # where `backbones` imported VGG-16
    env = {"IQA_CACHE_DIR": str(root / "iqa"), "TORCH_HOME": str(root / "torch"),
           "IQA_OFFLINE": "1"}
    done = run_iqa("fid", real, fake, "-m", "fid,is", "--metric", "fd,precision,recall",
                   "-m", "density,coverage", "--features", "vgg16", "--weights", random_fc,
                   "--metric-option", "is.splits=2", "--no-cache", "--device", "cpu",
                   "--fail-if", "precision>1.5", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _torch_fidelity(real, fake, **kwargs):
    import torch_fidelity

    return torch_fidelity.calculate_metrics(
        input1=str(fake), input2=str(real), cuda=False, batch_size=1, save_cpu_ram=True,
        cache=False, verbose=False, **kwargs)


def test_inception_score_equals_torch_fidelity(ours, folders, random_fc):
    ref = _torch_fidelity(*folders, isc=True, isc_splits=2,
                          feature_extractor_weights_path=str(random_fc))
    assert ours["is"] == pytest.approx(ref["inception_score_mean"], rel=1e-5)
    assert ours["is_std"] == pytest.approx(ref["inception_score_std"], rel=1e-3, abs=1e-6)
    assert ours["is"] > 1.01  # a random logits layer still separates the images
    d = ours["definitions"]["is"]
    assert (d["extractor"], d["preprocessing"], d["splits"], d["set"]) == (
        "inception", "tf", 2, "fake")


def _vgg_reference_features(folder, vgg_file):
    import torch
    from PIL import Image
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

    net = FeatureExtractorVGG16("vgg16", ["fc2_relu"], feature_extractor_weights_path=str(vgg_file))
    rows = []
    for path in sorted(folder.iterdir()):
        pixels = np.array(Image.open(path).convert("RGB"))
        with torch.no_grad():
            rows.append(net(torch.from_numpy(pixels).permute(2, 0, 1)[None])[0][0].numpy())
    return np.stack(rows).astype(np.float64)


def test_precision_recall_equal_torch_fidelity(ours, folders, vgg_file):
    ref = _torch_fidelity(*folders, prc=True, feature_extractor="vgg16",
                          feature_extractor_weights_path=str(vgg_file))
    assert ours["precision"] == pytest.approx(ref["precision"], abs=1e-12)
    assert ours["recall"] == pytest.approx(ref["recall"], abs=1e-12)
    d = ours["definitions"]["precision"]
    assert (d["extractor"], d["layer"], d["k"], d["dim"]) == ("vgg16", "fc2 after ReLU", 3, 4096)
    assert d["weights"][0]["verified"] is False


def test_density_coverage_and_fd_on_the_same_features(ours, folders, vgg_file):
    from prdc import compute_prdc
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    real = _vgg_reference_features(folders[0], vgg_file)
    fake = _vgg_reference_features(folders[1], vgg_file)
    with contextlib.redirect_stdout(io.StringIO()):
        ref = compute_prdc(real, fake, 5)
    assert ours["density"] == pytest.approx(ref["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(ref["coverage"], abs=1e-12)
    import torch

    stats = [fid_features_to_statistics(torch.from_numpy(x)) for x in (real, fake)]
    fd = fid_statistics_to_metric(stats[0], stats[1], False)["frechet_inception_distance"]
    assert ours["fd"] == pytest.approx(fd, rel=1e-4)
    assert ours["definitions"]["fd"]["extractor"] == "vgg16"
    assert ours["fd"] != pytest.approx(ours["fid"], rel=1e-2)


def test_every_metric_is_named_with_its_extractor(ours):
    assert ours["metrics"] == ["fid", "is", "fd", "precision", "recall", "density", "coverage"]
    density = ours["definitions"]["density"]
    assert (density["k"], density["ball"], density["extractor"]) == (5, "<", "vgg16")
    assert ours["gates"]["passed"] is True and ours["gates"]["exit_code"] == 0


@pytest.mark.parametrize("args,message", [
    (["--features", "vgg16"], "--features 'vgg16': applies to fd, kid, precision"),
    (["-m", "precision", "--features", "dinov9"], "unknown feature extractor 'dinov9'"),
    (["-m", "is", "--metric-option", "is.mode=tf"], "is.mode=tf: must be one of"),
    (["-m", "is", "--metric-option", "is.bins=3"], "is has no option 'bins'"),
    (["--save-stats", "x.npz", "-m", "precision"], "-m precision compare REAL and FAKE"),
    (["--kid", "--metric-option", "kid.subsets=3"], "kid.subsets: iqa fid sets it with "
                                                    "--kid-subsets"),
    (["-m", "precision", "--metric-option", "precision.k=10"], "precision takes no options"),
    (["-m", "cmmd", "--metric-option", "cmmd.sigma=1"], "cmmd takes no options"),
    (["-m", "is", "--metric-option", "is.split_size=10"], "applies to is.mode=adm"),
    (["-m", "is", "--metric-option", "is.splits=2.5"], "is.splits=2.5: expected int"),
    (["-m", "precision", "--features", "vgg16:"], "name a preprocessing mode after the colon"),
])
def test_bad_options_stop_before_any_work(folders, args, message, tmp_path):
    sets = folders[:1] if "--save-stats" in args else folders
    done = run_iqa("fid", *sets, *[str(tmp_path / a) if a.endswith(".npz") else a
                                    for a in args])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_zero_logits_layer_refused_before_any_image(folders, fid_weights):
    done = run_iqa("fid", *folders, "-m", "is", "--weights", fid_weights, "--no-cache")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "warning" not in line]
    assert len(errors) == 1 and "fc.weight" in errors[0] and "all zeros" in errors[0]
    assert "images in" not in done.stderr  # refused before decoding


def test_vgg_metrics_refuse_a_statistics_file(folders, tmp_path):
    from iqa.distribution.stats import FeatureStats
    from iqa.distribution.statsfile import write_stats

    stats = FeatureStats.empty(2048)
    stats.update(np.random.default_rng(0).normal(size=(4, 2048)))
    npz = tmp_path / "real.npz"
    write_stats(npz, stats, {})
    done = run_iqa("fid", npz, folders[1], "-m", "precision")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        "precision need the features of the vgg16 extractor, and this set is a statistics "
        "file; give the folder of images")
    assert "images in" not in done.stderr


def test_fd_and_is_take_a_statistics_file_without_features(ours, folders, random_fc,
                                                           tmp_path):
    """FD on the Inception is FID itself (mu and sigma suffice), and IS reads the FAKE
    set only: a REAL statistics file without features serves both (the ADM evaluator's
    reference batch). What does need features names itself."""
    real, fake = folders
    npz = tmp_path / "real.npz"
    saved = run_iqa("fid", real, "--save-stats", npz, "--weights", random_fc, "--no-cache")
    assert saved.returncode == 0, saved.stderr
    done = run_iqa("fid", npz, fake, "-m", "fd,is", "--weights", random_fc, "--no-cache",
                   "--metric-option", "is.splits=2", "--format", "json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["fd"] == got["fid"] == pytest.approx(ours["fid"], rel=1e-9)
    assert got["is"] == pytest.approx(ours["is"], rel=1e-12)
    both = run_iqa("fid", npz, npz, "-m", "fd", "--weights", random_fc, "--format", "json")
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout)["fd"] == pytest.approx(0, abs=1e-6)
    kid = run_iqa("fid", fake, npz, "-m", "is", "--kid", "--weights", random_fc)
    assert kid.returncode == 2
    assert "npz: KID, IS need the features of each image" in kid.stderr
