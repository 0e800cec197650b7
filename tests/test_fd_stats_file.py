"""``iqa fid FOLDER REF.pkl -m fd --features dinov2-vit-l-14``: a statistics file that
holds the extractor's mu and sigma (EDM2's ``fd_dinov2`` entry) stands in for a folder.

* FD(folder A, EDM2 pickle of folder B) equals FD(folder A, folder B) to 1e-9 relative:
  the pickle is built as EDM2's ``calculate_stats_for_iterable`` builds it (float64 sums,
  ``(Σxxᵀ − n μμᵀ) / (n − 1)``) from the DINOv2 features iqa computed for B (seeded
  random ViT-L/14 weights, imported ``--unverified``; three 64-px images a set, since
  ViT-L costs seconds per image on a CPU). Two pickles give the same number too.
* The ``fd`` block names the side that came from a file, its entry, and how its images
  were preprocessed (unknown for EDM2: a warning says what was assumed).
* Refused through the CLI in one line, exit 2, before any image is decoded: a pickle
  without ``fd_dinov2``, one of another dimension, kid or precision on a statistics file.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tests.cli_helpers import run_iqa
from tests.fid_helpers import make_pair
from tests.test_gen_clip import b32_archive  # noqa: F401  (random CLIP ViT-B/32 archive)
from tests.test_gen_dinov2 import state  # noqa: F401  (seeded random DINOv2 weights)
from tests.test_stats_foreign import _edm2_stats

NAME = "dinov2-vit-l-14"
COUNT = 3


@pytest.fixture(scope="module")
def dino_caches(state, tmp_path_factory):  # noqa: F811
    """The seeded weights imported --unverified into caches of this module (float16, as
    a converted checkpoint might be; the extractor computes in float32)."""
    import torch

    from iqa.weights import import_file

    root = tmp_path_factory.mktemp("dinocache")
    path = root / "dinov2-converted.pth"
    torch.save({k: v.half() for k, v in state.items()}, path)
    env = {"IQA_CACHE_DIR": str(root / "iqa"), "TORCH_HOME": str(root / "torch"),
           "IQA_OFFLINE": "1"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert not import_file(NAME, path, unverified=True).verified
    path.unlink()
    return env


def _pickle(path, **entries) -> None:
    with open(path, "wb") as f:
        pickle.dump(entries, f)


def _folders_watching_fd(env, tmp_path, monkeypatch, *, seed):
    """Two folders of COUNT images, the DINOv2 caches in the environment, and the list
    that receives the (real, fake) features each FD from features is computed on."""
    import iqa.genmetrics

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    real, fake = make_pair(tmp_path, COUNT, seed=seed, square=64)
    seen = []
    original = iqa.genmetrics.frechet_distance_features
    monkeypatch.setattr(iqa.genmetrics, "frechet_distance_features",
                        lambda x, y: seen.append((x, y)) or original(x, y))
    return real, fake, seen


def test_fd_against_an_edm2_pickle_equals_fd_against_the_folder(dino_caches, fid_weights,
                                                                tmp_path, monkeypatch):
    from iqa.distribution.run import FIDOptions, compare_sets

    real, fake, seen = _folders_watching_fd(dino_caches, tmp_path, monkeypatch, seed=31)
    options = FIDOptions(metrics=("fd",), features=NAME, weights=str(fid_weights),
                         cache=False, device="cpu", workers=0)
    folders = compare_sets(str(real), str(fake), options)
    (x, y), = seen
    assert x.shape == y.shape == (COUNT, 1024)
    assert folders.values["fd"] > 0

    # EDM2's reference pickle of the fake folder: its Inception and DINOv2 statistics.
    inception = folders.fake
    ref = tmp_path / "fake-ref.pkl"
    _pickle(ref, num_images=COUNT, fid=dict(mu=inception.mean, sigma=inception.cov),
            fd_dinov2=_edm2_stats(y))
    mixed = compare_sets(str(real), str(ref), options)
    assert len(seen) == 1  # the folder's features, no second FD from features
    assert mixed.values["fd"] == pytest.approx(folders.values["fd"], rel=1e-9)
    assert mixed.fid == pytest.approx(folders.fid, rel=1e-9)
    record = mixed.record()
    block = record["definitions"]["fd"]
    assert block["extractor"] == NAME and block["preprocessing"] == "pil"
    side = block["stats_files"]
    assert list(side) == ["fake"]
    assert (side["fake"]["file"], side["fake"]["entry"], side["fake"]["n"]) == (
        str(ref), "fd_dinov2", COUNT)
    assert side["fake"]["tool"].startswith("EDM2") and side["fake"]["preprocessing"] is None
    assert "taken as this run's pil" in side["fake"]["preprocessing_basis"]
    assert any("does not record how its images were preprocessed for dinov2-vit-l-14; "
               "taken as this run's pil" in w for w in record["warnings"])

    # Both sets statistics files: no network is built, the same number.
    ref_real = tmp_path / "real-ref.pkl"
    inception = folders.real
    _pickle(ref_real, num_images=COUNT, fid=dict(mu=inception.mean, sigma=inception.cov),
            fd_dinov2=_edm2_stats(x))
    stated = FIDOptions(metrics=("fd",), features=f"{NAME}:pil", cache=False)
    files = compare_sets(str(ref_real), str(ref), stated)
    assert files.values["fd"] == pytest.approx(folders.values["fd"], rel=1e-9)
    block = files.record()["definitions"]["fd"]
    assert set(block["stats_files"]) == {"real", "fake"} and block["weights_sha256"] is None
    assert "stated with --features dinov2-vit-l-14:pil" in \
        block["stats_files"]["real"]["preprocessing_basis"]
    assert not any("preprocessed for" in w for w in files.warnings)


def _torch_fidelity_cache(root, name, compute) -> None:
    """``NAME.pt`` written by torch-fidelity's own cache function, as its runs do."""
    from torch_fidelity.utils import cache_lookup_one_recompute_on_miss

    cache_lookup_one_recompute_on_miss(name, compute, cache=True, cache_root=str(root),
                                       verbose=False)


def _as_the_folders(real, files, options, folders, tool: str) -> None:
    """Each of ``files`` (one extractor's statistics of the fake folder, the other's
    beside it) for the fake side gives the folders' FID and FD; the ``fd`` block names
    the tool, whose preprocessing is the mode of the same name."""
    from iqa.distribution.run import compare_sets

    for given in files:
        mixed = compare_sets(str(real), str(given), options)
        assert mixed.fid == pytest.approx(folders.fid, rel=1e-6)  # clean-fid: float32 mu
        assert mixed.values["fd"] == pytest.approx(folders.values["fd"], rel=1e-6)
        side = mixed.record()["definitions"]["fd"]["stats_files"]["fake"]
        assert (side["tool"], side["preprocessing"]) == (tool, tool)


def test_fd_against_torch_fidelity_cached_dinov2_statistics(dino_caches, fid_weights, tmp_path,
                                                            monkeypatch):
    """torch-fidelity keeps one file per extractor: given its DINOv2 file, FID reads the
    Inception file beside it; FD equals that of the two folders, in torch-fidelity's
    preprocessing, which the run must use."""
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics

    from iqa.distribution.run import FIDOptions, compare_sets
    from iqa.errors import InputError, UsageError

    real, fake, seen = _folders_watching_fd(dino_caches, tmp_path, monkeypatch, seed=33)
    options = FIDOptions(metrics=("fd",), features=f"{NAME}:torch-fidelity",
                         weights=str(fid_weights), cache=False, device="cpu", workers=0)
    folders = compare_sets(str(real), str(fake), options)
    (_, y), = seen
    cache = tmp_path / "torch-fidelity"
    _torch_fidelity_cache(cache, f"fakes-{NAME}-stat-fid-dinov2",
                          lambda: fid_features_to_statistics(torch.from_numpy(y)))
    dino = cache / f"fakes-{NAME}-stat-fid-dinov2.pt"
    from iqa.distribution.statsmerge import describe

    shown = describe(dino)  # `iqa stats show`: the file's own extractor, alone
    assert (shown["tool"], shown["network"], shown["preprocessing"]["resize"]) == (
        "torch-fidelity", NAME, "torch-fidelity")
    with pytest.raises(InputError, match="also needs inception's, which torch-fidelity keeps "
                       "beside it as fakes-inception-v3-compat-stat-fid-2048.pt: not found"):
        compare_sets(str(real), str(dino), options)
    inception = folders.fake
    _torch_fidelity_cache(cache, "fakes-inception-v3-compat-stat-fid-2048",
                          lambda: {"mu": inception.mean, "sigma": inception.cov})
    _as_the_folders(real, (dino, cache / "fakes-inception-v3-compat-stat-fid-2048.pt"),
                    options, folders, "torch-fidelity")
    from iqa.distribution.statsfile import read_stats

    broken = cache / f"broken-{NAME}-stat-fid-dinov2.pt"  # truncated, beside an empty file
    broken.write_bytes(dino.read_bytes()[:100])
    (cache / "broken-inception-v3-compat-stat-fid-2048.pt").write_bytes(b"")
    for extractor, damaged in (("inception", "broken-inception-v3-compat-stat-fid-2048.pt"),
                               (NAME, broken.name)):
        with pytest.raises(InputError, match=f"{damaged}: is not a torch.save zip archive"):
            read_stats(broken, extractor=extractor)
    with pytest.raises(UsageError, match="computed with the torch-fidelity preprocessing, and "
                       "this run uses pil; use --features dinov2-vit-l-14:torch-fidelity"):
        compare_sets(str(real), str(dino), FIDOptions(
            metrics=("fd",), features=NAME, weights=str(fid_weights), cache=False,
            device="cpu", workers=0))


def test_fd_against_clean_fid_clip_statistics(b32_archive, fid_weights, tmp_path,  # noqa: F811
                                             monkeypatch):
    """clean-fid's ``NAME_clean_clip_vit_b_32_SPLIT_RES.npz`` (mu in float32, as clean-fid
    stores it) with its Inception file beside it (mode clean: the run says --resize
    clean): FID and CLIP-FD equal those of the two folders; a run in torch-fidelity's
    CLIP preprocessing is refused."""
    from iqa.distribution.run import FIDOptions, compare_sets
    from iqa.errors import UsageError
    from iqa.weights import import_file

    env = {"IQA_CACHE_DIR": str(tmp_path / "iqa"), "TORCH_HOME": str(tmp_path / "torch"),
           "IQA_OFFLINE": "1"}
    real, fake, seen = _folders_watching_fd(env, tmp_path, monkeypatch, seed=34)
    assert not import_file("clip-vit-b-32", b32_archive, unverified=True).verified
    options = FIDOptions(metrics=("fd",), features="clip-vit-b-32", weights=str(fid_weights),
                         resize="clean", cache=False, device="cpu", workers=0)
    folders = compare_sets(str(real), str(fake), options)
    (_, y), = seen
    assert y.shape == (COUNT, 512)
    stats = tmp_path / "cleanfid-stats"
    stats.mkdir()
    clip = stats / "fakes_clean_clip_vit_b_32_custom_na.npz"
    np.savez_compressed(clip, mu=np.mean(y, axis=0), sigma=np.cov(y, rowvar=False))
    np.savez_compressed(stats / "fakes_clean_custom_na.npz", mu=folders.fake.mean.astype(
        np.float32), sigma=folders.fake.cov)
    _as_the_folders(real, (clip, stats / "fakes_clean_custom_na.npz"), options, folders,
                    "clean-fid")
    with pytest.raises(UsageError, match="computed with the clean-fid preprocessing, and this "
                       "run uses torch-fidelity; use --features clip-vit-b-32:clean-fid"):
        compare_sets(str(real), str(clip), FIDOptions(
            metrics=("fd",), features="clip-vit-b-32:torch-fidelity", resize="clean",
            weights=str(fid_weights), cache=False, device="cpu", workers=0))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("fdrefuse"), 2, seed=32, square=32)[0]


def _stats(dim: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return _edm2_stats(rng.normal(size=(8, dim)).astype(np.float32))


def _refused(*args) -> str:
    done = run_iqa("fid", *args)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_pickle_without_the_extractors_statistics_is_refused(folder, tmp_path):
    no_entry = tmp_path / "fid-only.pkl"
    _pickle(no_entry, num_images=8, fid=_stats(2048, 1))
    line = _refused(folder, no_entry, "-m", "fd", "--features", NAME)
    assert line == (f"iqa: {no_entry}: holds EDM2 statistics for fid only, and this run needs "
                    f"{NAME} features (fd_dinov2)")
    other_dim = tmp_path / "dino-768.pkl"
    _pickle(other_dim, num_images=8, fid=_stats(2048, 1), fd_dinov2=_stats(768, 2))
    line = _refused(folder, other_dim, "-m", "fd", "--features", NAME)
    assert line == (f"iqa: {other_dim}: mu has shape (768,) and sigma (768, 768); {NAME} "
                    "statistics have (1024,) and (1024, 1024)")


def test_metrics_that_need_features_are_refused_on_a_statistics_file(folder, tmp_path):
    ref = tmp_path / "ref.pkl"
    _pickle(ref, num_images=8, fid=_stats(2048, 1), fd_dinov2=_stats(1024, 2))
    for metric in ("kid", "precision"):
        line = _refused(folder, ref, "-m", metric, "--features", NAME)
        assert line == (f"iqa: {ref}: {metric} need the features of the {NAME} extractor, "
                        "and this set is a statistics file; give the folder of images")
    line = _refused(folder, ref, "-m", "fd", "-m", "kid", "--features", NAME)
    assert line.startswith(f"iqa: {ref}: kid need the features of the {NAME} extractor")

