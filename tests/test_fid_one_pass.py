"""One decode pass for every extractor of a run: ``iqa fid -m fid,fd --features X``
decodes each file once, the Inception and X both embedding the same pixels; only a
folder whose Inception statistics come from the cache is decoded again, once, for X.

X is a tiny extractor whose features (channel moments) are worked out here by numpy
from Pillow's pixels, so the test also proves that the features reach the metric in
file order, with skipped files left out of both extractors alike.
"""

from __future__ import annotations

import collections
import json
import os

import numpy as np
import pytest
import scipy.linalg
from PIL import Image

from iqa.distribution import data
from iqa.distribution.run import FIDOptions, compare_sets
from iqa.features import registry
from tests.cli_helpers import ROOT
from tests.fid_helpers import make_pair
from tests.test_fid_gen_kid_cmmd import _cmmd_float64, clip_l  # noqa: F401
from tests.test_fid_generative import random_fc  # noqa: F401
from tests.test_gen_dinov2 import state  # noqa: F401
from tests.tiny_extractor import moments

TINY = registry.Registered("tiny", "tests.tiny_extractor:TinyExtractor", "iqa-tests")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("onepass"), 8, seed=21)


@pytest.fixture
def tiny(monkeypatch):
    builtins = registry.registered()
    monkeypatch.setattr(registry, "registered", lambda: {**builtins, "tiny": TINY})


@pytest.fixture
def decodes(monkeypatch):
    """Every file decoded in this process, counted (workers=0 decodes here)."""
    seen: collections.Counter = collections.Counter()
    original = data._decode

    def counting(path, settings):
        seen[str(path)] += 1
        return original(path, settings)

    monkeypatch.setattr(data, "_decode", counting)
    return seen


def _fd_by_hand(real, fake):
    """Fréchet distance of two folders' tiny features (float64, ddof = 1)."""
    x, y = ([moments(np.asarray(Image.open(p).convert("RGB"))) for p in sorted(f.iterdir())
             if p.suffix != ".txt"] for f in (real, fake))
    x, y = np.array(x), np.array(y)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def _options(fid_weights, **kwargs):
    return FIDOptions(weights=str(fid_weights), device="cpu", workers=0, batch_size=3,
                      metrics=("fd",), features="tiny", **kwargs)


def test_each_file_is_decoded_once_for_both_extractors(folders, fid_weights, tiny, decodes,
                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "cache"))
    real, fake = folders
    first = compare_sets(real, fake, _options(fid_weights))
    files = {str(p) for p in real.iterdir()} | {str(p) for p in fake.iterdir()}
    assert set(decodes) == files and set(decodes.values()) == {1}
    assert first.values["fd"] == pytest.approx(_fd_by_hand(real, fake), rel=1e-5)
    assert first.generative["fd"]["extractor"] == "tiny"

    # The Inception statistics now come from the cache: one more decode, for tiny alone.
    decodes.clear()
    second = compare_sets(real, fake, _options(fid_weights))
    assert (second.real.source, second.fake.source) == ("cache", "cache")
    assert set(decodes) == files and set(decodes.values()) == {1}
    assert second.fid == first.fid
    assert second.values["fd"] == pytest.approx(first.values["fd"], rel=1e-12)


def test_a_skipped_file_is_left_out_of_every_extractor(folders, fid_weights, tiny, decodes,
                                                       tmp_path):
    real, fake = folders
    bad = tmp_path / "fake"
    bad.mkdir()
    for p in fake.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    (bad / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    result = compare_sets(real, bad, _options(fid_weights, cache=False, skip_bad=True))
    assert [os.path.basename(f) for f, _ in result.fake.skipped] == ["zz-broken.png"]
    assert decodes[str(bad / "zz-broken.png")] == 1
    assert result.fake.n == len(result.fake.companions["tiny"]) == 8
    assert result.values["fd"] == pytest.approx(_fd_by_hand(real, fake), rel=1e-5)


def test_under_two_ranks_the_features_are_those_of_one_process(folders, fid_weights, tmp_path,
                                                               monkeypatch):
    """Each rank embeds its shard with both extractors; rank 0 gathers them in file order."""
    from tests.test_fid_ranks import torchrun

    info = tmp_path / "iqa_tests_tiny-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iqa-tests-tiny\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[iqa.extractors]\ntiny = {TINY.target}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    real, fake = folders
    result = torchrun(2, "fid", real, fake, "--weights", fid_weights, "--no-cache",
                      "-m", "fid,fd", "--features", "tiny", "--batch-size", "3",
                      "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["fd"] == pytest.approx(_fd_by_hand(real, fake), rel=1e-5)
    assert doc["counts"]["real"] == doc["counts"]["fake"] == 8


@pytest.fixture(scope="module")
def dino_and_clip(clip_l, state, tmp_path_factory):  # noqa: F811
    """One cache holding seeded random DINOv2 ViT-L/14 and CLIP ViT-L/14@336px weights
    (imported --unverified, as converted weights are)."""
    import torch

    from iqa.weights import import_file

    env, _ = clip_l
    path = tmp_path_factory.mktemp("dino") / "dinov2-converted.pth"
    torch.save(state, path)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert not import_file("dinov2-vit-l-14", path, unverified=True).verified
    return env


def test_the_papers_line_decodes_once_for_three_networks(dino_and_clip, random_fc, decodes,  # noqa: F811
                                                         tmp_path, monkeypatch):
    """FID, IS, FD-DINOv2, precision/recall (DINOv2) and CMMD in one run: each file is
    decoded once for the Inception, DINOv2 and CLIP, and each value is the one its
    extractor gives alone."""
    import importlib

    cmmd_module = importlib.import_module("iqa.genmetrics.cmmd")
    for key, value in dino_and_clip.items():
        monkeypatch.setenv(key, value)
    real, fake = make_pair(tmp_path, 4, seed=23, square=48)
    seen = []
    original = cmmd_module.cmmd
    monkeypatch.setattr(cmmd_module, "cmmd", lambda x, y: seen.append((x, y)) or original(x, y))
    common = dict(weights=str(random_fc), device="cpu", workers=0, cache=False,
                  features="dinov2-vit-l-14")
    result = compare_sets(real, fake, FIDOptions(
        metrics=("is", "fd", "precision", "recall", "cmmd"), params={"is.splits": 2}, **common))
    files = {str(p) for p in real.iterdir()} | {str(p) for p in fake.iterdir()}
    assert set(decodes) == files and set(decodes.values()) == {1}
    record = result.record()
    extractors = {m: record["definitions"][m]["extractor"] for m in
                  ("fid", "is", "fd", "precision", "recall", "cmmd") if m != "fid"}
    assert extractors == {"is": "inception", "fd": "dinov2-vit-l-14",
                          "precision": "dinov2-vit-l-14", "recall": "dinov2-vit-l-14",
                          "cmmd": "clip-vit-l-14-336"}
    (x, y), = seen
    assert record["cmmd"] == pytest.approx(_cmmd_float64(x, y), rel=1e-9)
    alone = compare_sets(real, fake, FIDOptions(metrics=("fd", "precision", "recall"),
                                                **common))
    for key in ("fd", "precision", "recall"):
        assert record[key] == pytest.approx(alone.values[key], rel=1e-9), key
    assert record["fid"] == alone.fid and record["is"] > 1
