"""Digests of weights files remembered by the file's identity (size, mtime, ctime,
inode, device): the same bytes are not hashed twice, any rewrite is hashed again (even
one that puts size and mtime back), a file changed moments ago is not remembered, and a
damaged memo costs only the hashing."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from iqa.weights import _digests


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """The memo in a fresh cache; the list of files hashed."""
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "cache"))
    hashed = []
    original = _digests.sha256_file
    monkeypatch.setattr(_digests, "sha256_file", lambda p: hashed.append(p) or original(p))
    return hashed


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_an_unchanged_file_is_hashed_once(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(_digests, "SETTLE_NS", -1)  # remember even a file written just now
    path = tmp_path / "w.pth"
    first = _write(path, b"a" * 4096)
    assert _digests.remembered_sha256(path) == first
    assert _digests.remembered_sha256(path) == first
    assert len(counted) == 1

    # Same size, same mtime, other bytes: the change time moved, so it is hashed again.
    stat = path.stat()
    time.sleep(0.05)  # past the coarse tick of the change time
    second = _write(path, b"b" * 4096)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert _digests.remembered_sha256(path) == second != first
    assert len(counted) == 2


def test_a_file_changed_moments_ago_is_not_remembered(tmp_path, counted):
    path = tmp_path / "w.pth"
    digest = _write(path, b"c" * 100)
    assert _digests.remembered_sha256(path) == digest
    assert _digests.remembered_sha256(path) == digest
    assert len(counted) == 2
    assert not (tmp_path / "cache" / "weights-digests.json").exists()


def test_a_damaged_memo_is_ignored_and_replaced(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(_digests, "SETTLE_NS", -1)
    memo = tmp_path / "cache" / "weights-digests.json"
    memo.parent.mkdir(parents=True)
    memo.write_text("{not json")
    path = tmp_path / "w.pth"
    digest = _write(path, b"d" * 10)
    assert _digests.remembered_sha256(path) == digest
    assert _digests.remembered_sha256(path) == digest
    assert len(counted) == 1
    # A forged entry with another identity is not believed.
    memo.write_text(json.dumps({str(path.resolve()): [1, 2, 3, 4, 5, "0" * 64]}))
    assert _digests.remembered_sha256(path) == digest
    assert len(counted) == 2


def test_weights_status_always_hashes(tmp_path, counted, monkeypatch):
    """`iqa weights list` checks the bytes; only runs use the memo."""
    import torch

    import iqa.weights as weights
    from iqa.weights import _verify

    monkeypatch.setattr(_digests, "SETTLE_NS", -1)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls = []
    monkeypatch.setattr(weights, "sha256_file", lambda p: calls.append(p) or
                        _verify.sha256_file(p))
    torch.manual_seed(0)
    from torchvision.models import alexnet

    file = tmp_path / "alex.pth"
    torch.save(alexnet(weights=None).state_dict(), file)
    weights.import_file("alexnet", file, unverified=True)
    calls.clear()
    counted.clear()
    for _ in range(2):
        assert weights.resolve("alexnet").sha256 == _verify.sha256_file(file)
    assert len(counted) == 1 and calls == []  # resolved: hashed once, then remembered
    for _ in range(2):
        assert weights.status("alexnet").status == "unverified"
    assert len(calls) == 2
