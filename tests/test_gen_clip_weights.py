"""OpenAI's TorchScript CLIP archives read without running them, and catalog entries of
unknown size (downloads from a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile

import pytest
import torch

from iqa.errors import WeightsError
from iqa.weights import _download, catalog
from iqa.weights._torchscript import is_torchscript, read_torchscript
from tests.cli_helpers import run_iqa
from tests.http_server import serve


class _TinyClip(torch.nn.Module):
    """OpenAI's key layout (``visual.*`` plus text-side tensors), a tiny tower."""

    def __init__(self) -> None:
        from torch_fidelity.feature_extractor_clip import VisionTransformer

        super().__init__()
        self.visual = VisionTransformer(32, 16, 64, 1, 1, 8)
        self.text_projection = torch.nn.Parameter(torch.randn(8, 8))
        self.register_buffer("input_resolution", torch.tensor(32))

    def forward(self, x):
        return self.visual(x)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """A TorchScript archive saved as OpenAI's are: traced, then in float16."""
    torch.manual_seed(0)
    traced = torch.jit.trace(_TinyClip().eval(), torch.zeros(1, 3, 32, 32)).half()
    path = tmp_path_factory.mktemp("ts") / "tiny.pt"
    traced.save(str(path))
    return path.read_bytes()


def test_tensors_equal_jit_load_state_dict(archive):
    ours = read_torchscript(archive, "tiny.pt")
    ref = torch.jit.load(io.BytesIO(archive), map_location="cpu").state_dict()
    assert is_torchscript(archive)
    assert sorted(ours) == sorted(ref)
    for key, tensor in ref.items():
        assert ours[key].dtype == tensor.dtype and torch.equal(ours[key], tensor), key


def _archive_with(pickle_bytes: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("m/data.pkl", pickle_bytes)
        z.writestr("m/code/__torch__.py", "")
    return buffer.getvalue()


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    evil = (b"\x80\x02cos\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command
            + b"\x85R.")
    with pytest.raises(WeightsError, match=r"refused: the archive's pickle names os\.system"):
        read_torchscript(_archive_with(evil), "evil.pt")
    assert not marker.exists()


def test_import_checks_the_image_tower_against_the_architecture(archive, tmp_path, monkeypatch):
    from iqa import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    path = tmp_path / "ViT-B-32.pt"
    path.write_bytes(archive)
    with pytest.raises(WeightsError, match=r"does not fit the architecture: .*missing key.*; "
                       r"'class_embedding' has shape \(64,\), expected \(768,\)"):
        weights.import_file("clip-vit-b-32", path, unverified=True)


BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def unknown_size(monkeypatch) -> catalog.KnownFile:
    """The clip-vit-l-14-336 entry (size not published) pinned to BODY's digest."""
    entry = dataclasses.replace(catalog.KNOWN["clip-vit-l-14-336"],
                                sha256=hashlib.sha256(BODY).hexdigest())
    assert entry.size is None
    monkeypatch.setitem(catalog.KNOWN, entry.name, entry)
    return entry


def test_unknown_size_download_is_verified_by_its_digest(caches, unknown_size, monkeypatch):
    from iqa import weights

    seen = []
    with serve({unknown_size.filename: BODY}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
        result = weights.resolve(unknown_size.name, progress=lambda d, t: seen.append(t))
    assert result.verified and result.path.read_bytes() == BODY
    assert set(seen) == {None}  # no total is claimed for a file of unknown size
    assert weights.status(unknown_size.name).status == "verified"


def test_unknown_size_download_with_another_digest_is_refused(caches, unknown_size,
                                                              monkeypatch):
    from iqa import weights

    with serve({unknown_size.filename: BODY[:-1] + b"x"}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
        with pytest.raises(WeightsError, match="failed verification"):
            weights.resolve(unknown_size.name)
    assert not any(p.is_file() for p in caches.rglob("*.pt"))


def test_unknown_size_download_is_capped(caches, unknown_size, monkeypatch):
    from iqa import weights

    monkeypatch.setattr(_download, "UNKNOWN_SIZE_CAP", 50_000)
    with serve({unknown_size.filename: BODY}, repeat=1000) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/huge")
        with pytest.raises(WeightsError, match=r"at most 50,000 bytes \(its size is not "
                           r"published\)"):
            weights.resolve(unknown_size.name)
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/endless")
        with pytest.raises(WeightsError, match=r"more than the 50,000 bytes allowed"):
            weights.resolve(unknown_size.name)
    assert not any(p.is_file() for p in caches.rglob("*.pt"))


def test_catalog_says_which_sizes_are_unknown(caches):
    out = run_iqa("weights", "list", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)["weights"]}
    assert rows["clip-vit-l-14-336"]["official_size_bytes"] is None
    assert rows["clip-vit-b-32"]["official_size_bytes"] == 353_976_522
    assert rows["dinov2-vit-l-14"]["official_size_bytes"] == 1_217_586_395
    # OpenAI's URL path is the file's full SHA-256.
    for name in ("clip-vit-b-32", "clip-vit-l-14-336"):
        assert rows[name]["url"].split("/")[-2] == rows[name]["sha256"]
    table = run_iqa("weights", "list")
    assert "size unknown" in table.stdout
