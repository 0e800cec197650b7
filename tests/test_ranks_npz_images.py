"""An ``.npz`` of images (ADM's ``arr_0`` batches) under ``torchrun``: each rank decodes
and embeds its share (whole batches), as for a folder, and the result equals one
process's to 1e-9 relative."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from iqa.distribution.ranks import Ranks, Solo
from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.fid_helpers import natural_crops, reconstruct, write_set

TIMEOUT = 300


class _Share(Solo):
    """Rank ``rank`` of ``world``'s span, with one process's collectives (identity)."""

    span = Ranks.span

    def __init__(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world


def _fake_network(batch):
    """2048 features that identify each image: its mean pixel, repeated."""
    import torch

    return batch.float().mean(dim=(1, 2, 3))[:, None].repeat(1, 2048) + torch.arange(2048)


def _summary(path, group, monkeypatch):
    from iqa.distribution import sets
    from iqa.distribution.options import FIDOptions, Hooks

    monkeypatch.setattr(sets, "current", lambda: group)
    engine = sets.Engine(FIDOptions(batch_size=3, resize="pytorch-fid"), Hooks())
    engine._network, engine._device = _fake_network, "cpu"
    plan = sets.plan_set(path, need_features=True)
    return sets.summarize_set(plan, engine, label="real", need_features=True)


def test_each_rank_embeds_only_its_share_of_an_npz(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    path = tmp_path / "samples.npz"
    images = np.random.default_rng(0).integers(0, 256, (10, 24, 24, 3), dtype=np.uint8)
    np.savez(path, arr_0=images)
    whole = _summary(path, Solo(), monkeypatch)
    assert whole.n == 10 and whole.source == "images"
    # batches of 3: 4 batches, rank 0 of 2 gets images 0-5, rank 1 images 6-9
    for rank, (start, stop) in enumerate([(0, 6), (6, 10)]):
        share = _summary(path, _Share(rank, 2), monkeypatch)
        assert share.n == stop - start
        np.testing.assert_array_equal(share.features, whole.features[start:stop])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_on_an_npz_of_images_equal_one_process(tmp_path, fid_weights):
    images = natural_crops(11, seed=6, square=64)
    np.savez(tmp_path / "samples.npz", arr_0=np.stack(images))
    write_set(tmp_path / "ref", [reconstruct(x) for x in images[:8]])
    args = ("fid", tmp_path / "samples.npz", tmp_path / "ref", "--weights", fid_weights,
            "--kid", "--kid-subset-size", "5", "--no-cache", "--batch-size", "3",
            "--format", "json")
    one = run_iqa(*args, env={"OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               "-m", "iqa", *map(str, args)]
    two = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert two.returncode == 0, two.stderr
    doc, ref = strict_json(two.stdout), strict_json(one.stdout)
    for key in ("fid", "kid_mean", "kid_std"):
        assert doc[key] == pytest.approx(ref[key], rel=1e-9, abs=0), key
    assert doc["counts"] == ref["counts"] and doc["counts"]["real"] == 11
