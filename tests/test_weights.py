"""The weights manager against a real HTTP server on 127.0.0.1.

The official files cannot be fetched here, so the catalog entry under test is pointed at
the digest of a file the test makes (a seeded SqueezeNet 1.1 state dict in torchvision's
layout); everything else — HTTP, streaming, hashing, atomic rename, loading — is the real
code path. Failure cases check that nothing half-written is left in the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path

import pytest

from iqa.errors import WeightsError
from iqa.weights import catalog
from tests.http_server import refused_url, serve

NAME = "squeezenet1_1"


@pytest.fixture(scope="module")
def squeeze_bytes() -> bytes:
    import torch
    import torchvision

    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), buf)
    return buf.getvalue()


@pytest.fixture
def official(monkeypatch, squeeze_bytes):
    """Make the test file the official squeezenet1_1 file (full digest and size pinned)."""
    digest = hashlib.sha256(squeeze_bytes).hexdigest()
    entry = dataclasses.replace(catalog.KNOWN[NAME], sha256=digest, size=len(squeeze_bytes))
    monkeypatch.setitem(catalog.KNOWN, NAME, entry)
    return entry


def cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_name_prefix_alone_does_not_verify():
    digest = hashlib.sha256(b"weights").hexdigest()
    forged = digest[:8] + "0" * 56
    entry = catalog.KnownFile("x", f"x-{digest[:8]}.pth", "http://h/x", 7, digest, "", "m:f")
    assert entry.sha256_prefix == digest[:8]
    assert entry.matches(digest)
    assert not entry.matches(forged)
    assert catalog.KNOWN["alexnet"].sha256_prefix == "7be5be79"
    assert catalog.KNOWN["fid-inception"].sha256_prefix == "6726825d"


def test_download_good_file_lands_verified_and_loads(caches, official, squeeze_bytes, monkeypatch):
    from iqa import weights

    seen = []
    with serve({official.filename: squeeze_bytes}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
        result = weights.resolve(NAME, progress=lambda done, total: seen.append((done, total)))
    assert result.verified and result.source == "download"
    assert result.path == caches / "torch" / "hub" / "checkpoints" / official.filename
    assert result.path.read_bytes() == squeeze_bytes
    assert seen[-1] == (len(squeeze_bytes), len(squeeze_bytes))
    state = weights.load_state_dict(result)
    assert state["features.0.weight"].shape == (64, 3, 3, 3)
    # Second use: found in the cache, nothing fetched (the server is gone).
    again = weights.resolve(NAME)
    assert again.source == "cache" and again.sha256 == result.sha256
    assert cache_files(caches / "torch") == [f"hub/checkpoints/{official.filename}"]


@pytest.mark.parametrize(
    "behaviour, message",
    [
        ("wronghash", "failed verification"),
        ("truncated", "cut off"),
        ("missing", "HTTP 404"),
        ("slow", "timed out"),
    ],
)
def test_failed_downloads_leave_nothing(caches, official, squeeze_bytes, monkeypatch,
                                        behaviour, message):
    from iqa import weights

    body = squeeze_bytes[:-1] + bytes([squeeze_bytes[-1] ^ 1]) if behaviour == "wronghash" \
        else squeeze_bytes
    path = "good" if behaviour == "wronghash" else behaviour
    with serve({official.filename: body}, delay=5) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", f"{base}/{path}")
        with pytest.raises(WeightsError, match=message) as info:
            weights.resolve(NAME)
    assert f"iqa weights import {NAME}" in str(info.value)  # says how to do it by hand
    assert cache_files(caches) == []


def test_connection_refused(caches, official, monkeypatch):
    from iqa import weights

    monkeypatch.setenv("IQA_WEIGHTS_MIRROR", refused_url())
    with pytest.raises(WeightsError, match="cannot connect"):
        weights.resolve(NAME)
    assert cache_files(caches) == []


def test_offline_missing_file_names_url_size_and_import_command(caches, monkeypatch):
    from iqa import weights

    monkeypatch.setenv("IQA_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        weights.resolve("alexnet")
    text = str(info.value)
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in text
    assert "233.1 MiB" in text
    assert "iqa weights import alexnet /path/to/alexnet-owt-7be5be79.pth" in text
    assert "\n" not in text


def test_corrupted_cached_file_is_never_used(caches, official, squeeze_bytes):
    from iqa import weights

    target = caches / "torch" / "hub" / "checkpoints" / official.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(squeeze_bytes[: len(squeeze_bytes) // 2])  # truncated by another tool
    with pytest.raises(WeightsError, match=f"fails verification.*iqa weights download {NAME}"):
        weights.resolve(NAME)


def test_import_verified_copies_into_torch_hub(caches, official, squeeze_bytes, tmp_path):
    from iqa import weights

    fetched = tmp_path / "elsewhere.pth"
    fetched.write_bytes(squeeze_bytes)
    result = weights.import_file(NAME, fetched)
    assert result.verified
    assert result.path == caches / "torch" / "hub" / "checkpoints" / official.filename
    assert weights.status(NAME).status == "verified"


def test_import_refuses_other_digest_without_unverified(caches, tmp_path, squeeze_bytes):
    from iqa import weights

    other = tmp_path / "converted.pth"
    other.write_bytes(squeeze_bytes)  # not the official file: the real catalog digest
    with pytest.raises(WeightsError, match="--unverified"):
        weights.import_file(NAME, other)
    assert weights.status(NAME).status == "missing"


def test_unverified_import_is_marked_used_and_guarded(caches, tmp_path, squeeze_bytes):
    from iqa import weights

    converted = tmp_path / "converted.pth"
    converted.write_bytes(squeeze_bytes)
    result = weights.import_file(NAME, converted, unverified=True)
    assert not result.verified
    # Never stored under the official name in torch hub's folder.
    assert not (caches / "torch").exists()
    resolved = weights.resolve(NAME)
    assert resolved.source == "unverified import" and resolved.warning
    assert weights.status(NAME).status == "unverified"
    weights.load_state_dict(resolved)
    # A change to the imported file after the import is refused.
    with open(resolved.path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    with pytest.raises(WeightsError, match="changed since it was imported"):
        weights.resolve(NAME)
    assert weights.status(NAME).status == "failed verification"


def test_unverified_import_refuses_wrong_architecture(caches, tmp_path):
    import torch
    import torchvision

    from iqa import weights

    wrong = tmp_path / "alexnet_as_squeeze.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), wrong)
    with pytest.raises(WeightsError, match="does not fit the architecture"):
        weights.import_file(NAME, wrong, unverified=True)
    reshaped = tmp_path / "reshaped.pth"
    state = torchvision.models.squeezenet1_1(weights=None).state_dict()
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    torch.save(state, reshaped)
    with pytest.raises(WeightsError, match=r"features.0.weight.*expected \(64, 3, 3, 3\)"):
        weights.import_file(NAME, reshaped, unverified=True)
    assert weights.status(NAME).status == "missing"


class _Exploit:
    """A pickle that would create a file when loaded without weights_only."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_executing_pickle_is_refused(caches, tmp_path):
    import torch

    from iqa import weights

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Exploit(str(marker))}, evil)
    with pytest.raises(WeightsError, match="refused"):
        weights.import_file(NAME, evil, unverified=True)
    assert not marker.exists()
    # Sanity: the file really would run code if loaded unsafely.
    with open(evil, "rb") as f:
        assert b"system" in f.read()


def test_cli_download_import_list(caches, official, squeeze_bytes, monkeypatch, capsys):
    from iqa.cli import main

    def run(*argv: str) -> int:
        with pytest.raises(SystemExit) as info:
            main(list(argv))
        return int(info.value.code)

    with serve({official.filename: squeeze_bytes}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
        assert run("weights", "download", NAME) == 0
    err = capsys.readouterr().err
    assert "sha256 verified" in err
    assert run("weights", "list", "--format", "json") == 0
    import json

    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["weights"]}
    assert rows[NAME]["status"] == "verified"
    assert rows["alexnet"]["status"] == "missing"
    monkeypatch.setenv("IQA_OFFLINE", "1")
    assert run("weights", "download", "alexnet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert run("weights", "import", "alexnet", str(caches / "nope.pth")) == 2
    assert "no such file" in capsys.readouterr().err
