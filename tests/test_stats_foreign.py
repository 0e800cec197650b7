"""Statistics files of other tools: each written by that tool's own code (or built as its
code builds it) from fixed features, read by ``iqa fid``, giving the FID of iqa's own
statistics of the same features (1e-9 relative).

The features are random, 256 × 2048, in float32 as Inception pool3 features come out of
every tool. Where a tool keeps ``mu`` in float32 (clean-fid, torch-fidelity: ``np.mean``
of float32 features), the features are multiples of 1/64 below 4, so every partial sum
is exact in float32 and, with N a power of two, so is the stored mean: the comparison is
of the file format, not of float32 rounding.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from iqa.distribution.run import FIDOptions, compare_sets
from iqa.distribution.stats import FeatureStats
from iqa.distribution.statsfile import read_stats, write_stats
from iqa.errors import InputError, UsageError

N = 256  # a power of two: the float32 mean of exact sums is exact


def _features(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(N, 2048)) / 64).astype(np.float32)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """iqa's own statistics files of the real and the fake features."""
    root = tmp_path_factory.mktemp("own")
    files = {}
    for name, seed in (("real", 1), ("fake", 2)):
        path = root / f"{name}.npz"
        write_stats(path, FeatureStats.from_features(_features(seed)), {"resize": "tf"})
        files[name] = path
    return files


def _fid(real, fake, **options) -> float:
    return compare_sets(real, fake, FIDOptions(**options)).fid


@pytest.fixture(scope="module")
def reference_fid(own):
    return _fid(own["real"], own["fake"])


def test_pytorch_fid_npz_written_by_pytorch_fid(own, reference_fid, tmp_path, monkeypatch):
    import pytorch_fid.fid_score as pf

    class Network:  # pytorch-fid builds its InceptionV3; the features are given instead
        BLOCK_INDEX_BY_DIM = {2048: 3}

        def __init__(self, blocks):
            pass

        def to(self, device):
            return self

    monkeypatch.setattr(pf, "InceptionV3", Network)
    monkeypatch.setattr(pf, "get_activations", lambda files, *a, **k: _features(1)
                        .astype(np.float64))  # pytorch-fid's pred_arr is float64
    (tmp_path / "images").mkdir()
    target = tmp_path / "ref.npz"
    pf.save_fid_stats([str(tmp_path / "images"), str(target)], 50, "cpu", 2048)
    with np.load(target) as data:
        assert sorted(data.files) == ["mu", "sigma"]
    result = compare_sets(target, own["fake"], FIDOptions())
    assert result.fid == pytest.approx(reference_fid, rel=1e-9)
    described = result.record()["stats_files"]["real"]
    assert described["resize"] is None and "unknown" in described["resize_basis"]
    assert described["tool"] == "pytorch-fid or clean-fid"


def test_clean_fid_npz_written_by_clean_fid(own, reference_fid, tmp_path, monkeypatch):
    import cleanfid
    import cleanfid.fid as cf

    package = tmp_path / "cleanfid"
    package.mkdir()
    monkeypatch.setattr(cleanfid, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(cf, "build_feature_extractor", lambda *a, **k: None)
    monkeypatch.setattr(cf, "get_folder_features", lambda *a, **k: _features(1))
    cf.make_custom_stats("ref", str(tmp_path), mode="clean", device="cpu", verbose=False)
    target = package / "stats" / "ref_clean_custom_na.npz"
    with np.load(target) as data:
        assert data["mu"].dtype == np.float32 and data["sigma"].dtype == np.float64
    fake = tmp_path / "fake-clean.npz"  # iqa's statistics, made with --resize clean
    write_stats(fake, FeatureStats.from_features(_features(2)), {"resize": "clean"})
    result = compare_sets(target, fake, FIDOptions(resize="clean"))
    assert result.fid == pytest.approx(reference_fid, rel=1e-9)
    described = result.record()["stats_files"]["real"]
    assert described["resize"] == "clean" and "mode=clean" in described["resize_basis"]
    # The name says clean: with two statistics files whose modes differ, refused.
    with pytest.raises(InputError, match="preprocessed differently"):
        _fid(target, own["fake"])
    # A mode stated with --stats-resize that the name contradicts: refused.
    with pytest.raises(InputError, match="--stats-resize says tf"):
        _fid(target, own["fake"], stats_resize="tf")


def test_adm_reference_batch(own, reference_fid, tmp_path):
    # As the ADM evaluator's compute_statistics: np.mean and np.cov of the activations.
    pool, spatial = _features(1), _features(3)[:, :2023]
    images = np.zeros((N, 8, 8, 3), np.uint8)
    target = tmp_path / "VIRTUAL_ref.npz"
    np.savez(target, arr_0=images, mu=pool.mean(0), sigma=np.cov(pool, rowvar=False),
             mu_s=spatial.mean(0), sigma_s=np.cov(spatial, rowvar=False))
    result = compare_sets(target, own["fake"], FIDOptions())
    assert result.fid == pytest.approx(reference_fid, rel=1e-9)
    assert result.record()["stats_files"]["real"]["resize"] == "tf"
    images_only = tmp_path / "samples.npz"
    np.savez(images_only, arr_0=images)
    with pytest.raises(InputError, match="no mu and sigma.*iqa fid. reads its images"):
        read_stats(images_only)


def _edm2_stats(features: np.ndarray) -> dict:
    """As EDM2's calculate_stats_for_iterable: float64 sums, then mu and sigma."""
    import torch

    x = torch.from_numpy(features).to(torch.float64)
    n = x.shape[0]
    cum_mu, cum_sigma = x.sum(0), x.T @ x
    mu = cum_mu / n
    sigma = (cum_sigma - mu.ger(mu) * n) / (n - 1)
    return dict(mu=mu.numpy(), sigma=sigma.numpy())


def test_edm2_pickle(own, reference_fid, tmp_path):
    stats = dict(num_images=N, fid=_edm2_stats(_features(1)),
                 fd_dinov2=_edm2_stats(_features(4)[:, :1024]))
    target = tmp_path / "img64.pkl"
    with open(target, "wb") as f:
        pickle.dump(stats, f)
    loaded = read_stats(target)
    assert loaded.n == N and loaded.meta["foreign"]["entry"] == "fid"
    assert loaded.meta["foreign"]["entries"] == ["fid", "fd_dinov2"]
    result = compare_sets(target, own["fake"], FIDOptions())
    assert result.fid == pytest.approx(reference_fid, rel=1e-9)
    assert result.real.n == N
    # The DINOv2 entry is picked for DINOv2 features, and is 1024-d.
    assert read_stats.__kwdefaults__["extractor"] == "inception"
    only_dino = tmp_path / "dino.pkl"
    with open(only_dino, "wb") as f:
        pickle.dump({"num_images": N, "fd_dinov2": stats["fd_dinov2"]}, f)
    with pytest.raises(InputError, match="fd_dinov2 only.*inception"):
        read_stats(only_dino)


def test_torch_fidelity_cache_written_by_torch_fidelity(own, reference_fid, tmp_path):
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics
    from torch_fidelity.utils import cache_lookup_one_recompute_on_miss

    name = "cifar10-train-inception-v3-compat-stat-fid-2048"
    cache_lookup_one_recompute_on_miss(
        name, lambda: fid_features_to_statistics(torch.from_numpy(_features(1))),
        cache=True, cache_root=str(tmp_path), verbose=False)
    target = tmp_path / f"{name}.pt"
    result = compare_sets(target, own["fake"], FIDOptions())
    assert result.fid == pytest.approx(reference_fid, rel=1e-9)
    assert result.record()["stats_files"]["real"]["entry"] == "stat-fid-2048"
    # Another extractor's or layer's statistics are not the FID Inception's.
    for other, message in (("x-dinov2-vit-l-14-stat-fid-dinov2", "of dinov2-vit-l-14, and this "
                            "run also needs inception's.*x-inception-v3-compat-stat-fid-2048.pt: "
                            "not found"),
                           ("x-clip-vit-b-16-stat-fid-clip", "clip-vit-b-16 extractor"),
                           ("x-inception-v3-compat-stat-fid-768", "layer 768")):
        path = tmp_path / f"{other}.pt"
        path.write_bytes(target.read_bytes())
        with pytest.raises(InputError, match=message):
            read_stats(path)


def test_the_entry_is_picked_by_the_runs_extractor(own, tmp_path):
    """torch-fidelity's VGG-16 fc2_relu statistics are iqa's vgg16 features, not FID's."""
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics
    from torch_fidelity.utils import cache_lookup_one_recompute_on_miss

    features = np.concatenate([_features(5), _features(6)], axis=1)[:, :4096]
    name = "ref-vgg16-stat-fid-fc2_relu"
    cache_lookup_one_recompute_on_miss(
        name, lambda: fid_features_to_statistics(torch.from_numpy(features)),
        cache=True, cache_root=str(tmp_path), verbose=False)
    path = tmp_path / f"{name}.pt"
    loaded = read_stats(path, extractor="vgg16")
    ours = FeatureStats.from_features(features)
    np.testing.assert_array_equal(loaded.mean, ours.mean)
    np.testing.assert_allclose(loaded.cov, ours.cov, rtol=1e-12, atol=1e-12)
    assert loaded.meta["foreign"]["resize"] == "tf" and "network" not in loaded.meta
    # torch-fidelity keeps the Inception's statistics of the same input beside it.
    with pytest.raises(InputError, match="statistics of vgg16, and this run also needs "
                       "inception's, which torch-fidelity keeps beside it as "
                       "ref-inception-v3-compat-stat-fid-2048.pt: not found"):
        read_stats(path)
    with pytest.raises(InputError, match="iqa's FID Inception statistics.*needs vgg16"):
        read_stats(own["real"], extractor="vgg16")


def test_stats_resize_states_what_a_file_does_not_record(own, tmp_path):
    target = tmp_path / "pf.npz"
    with np.load(own["real"]) as data:
        np.savez(target, mu=data["mu"], sigma=data["sigma"])
    stated = compare_sets(target, own["fake"], FIDOptions(stats_resize="tf"))
    assert stated.record()["stats_files"]["real"]["resize_basis"] == "stated with --stats-resize"
    # Stated otherwise than the other file records: refused.
    with pytest.raises(InputError, match="records it.*--stats-resize says clean"):
        _fid(target, own["fake"], stats_resize="clean")
    with pytest.raises(UsageError, match="stats_resize"):
        _fid(target, own["fake"], stats_resize="bicubic")


def test_other_networks_and_weights_are_refused(own, tmp_path):
    stats = FeatureStats.from_features(_features(1))
    other = tmp_path / "other-net.npz"
    write_stats(other, stats, {"resize": "tf", "network": "vgg16:fc2"})
    with pytest.raises(InputError, match="holds statistics of vgg16:fc2"):
        _fid(other, own["fake"])
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    write_stats(a, stats, {"resize": "tf", "weights": {"sha256": "1" * 64}})
    write_stats(b, stats, {"resize": "tf", "weights": {"sha256": "2" * 64}})
    with pytest.raises(InputError, match="other weights"):
        _fid(a, b)


def test_a_foreign_file_against_a_folder(tmp_path, fid_weights):
    from tests.cli_helpers import run_iqa, strict_json
    from tests.fid_helpers import natural_crops, write_set

    folder = tmp_path / "samples"
    write_set(folder, natural_crops(4, seed=5, square=64))
    clean = tmp_path / "ref_clean_custom_na.npz"  # clean-fid's name: mode clean
    unknown = tmp_path / "ref.npz"  # pytorch-fid's: the mode is not recorded
    for path in (clean, unknown):
        np.savez(path, **{k: v for k, v in np.load(own_file(tmp_path)).items()
                          if k in ("mu", "sigma")})
    base = ("--weights", fid_weights, "--no-cache", "--format", "json")

    # Refused before any image is decoded: the file says clean, the run resizes with tf.
    refused = run_iqa("fid", clean, folder, *base)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"iqa: {clean}: was computed with --resize clean (clean-fid's file name records "
        "mode=clean), and this run resizes images with --resize tf; give --resize clean, or "
        "statistics made with --resize tf"]
    stated = run_iqa("fid", unknown, folder, *base, "--stats-resize", "pytorch-fid")
    assert stated.returncode == 2 and "--resize pytorch-fid (stated with --stats-resize)" \
        in stated.stderr

    # Unknown and unstated: computed, with a warning saying what was assumed.
    ok = run_iqa("fid", unknown, folder, *base)
    assert ok.returncode == 0, ok.stderr
    doc = strict_json(ok.stdout)
    assert any("does not record how its images were resized; taken as --resize tf" in w
               for w in doc["warnings"])
    assert doc["stats_files"]["real"]["resize"] is None
    same = run_iqa("fid", clean, folder, *base, "--resize", "clean")
    assert same.returncode == 0, same.stderr
    assert strict_json(same.stdout)["stats_files"]["real"]["resize"] == "clean"


def own_file(root) -> str:
    path = root / "own-real.npz"
    write_stats(path, FeatureStats.from_features(_features(1)[:64]), {"resize": "tf"})
    return str(path)


def test_an_adm_sample_batch_is_a_set_of_images(tmp_path, fid_weights):
    """``arr_0`` only (as the ADM evaluator's sample batches): the images, streamed from the
    archive (compressed or not), give the FID of the same images as PNG files."""
    from tests.fid_helpers import natural_crops, write_set

    crops = natural_crops(6, seed=7, square=48)
    folder = tmp_path / "samples"
    write_set(folder, crops)
    reference = tmp_path / "ref"
    write_set(reference, natural_crops(6, seed=8, square=48))
    batch = tmp_path / "samples_6x48x48x3.npz"
    np.savez_compressed(batch, arr_0=np.stack(crops))
    options = FIDOptions(weights=str(fid_weights), cache=False, workers=0)
    from_files = compare_sets(reference, folder, options)
    from_batch = compare_sets(reference, batch, options)
    assert from_batch.fake.n == 6
    np.testing.assert_allclose(from_batch.fake.mean, from_files.fake.mean, rtol=1e-5, atol=1e-6)
    assert from_batch.fid == pytest.approx(from_files.fid, rel=1e-5)
    wrong = tmp_path / "float.npz"
    np.savez(wrong, arr_0=np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(InputError, match="arr_0 is float32 of shape .2, 8, 8, 3.; images"):
        compare_sets(reference, wrong, options)
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, arr_0=np.stack(crops))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=str(truncated)):
        compare_sets(reference, truncated, options)
