"""Verification of weights files: full digests and sizes, safe and valid state dicts.

A file is the official one only if its size and its full SHA-256 are the published ones;
the 8 hex digits in the official file name are not enough (a file with a matching prefix
can be made in minutes). State dicts are refused unless every tensor is finite and
floating point where the architecture has floats, with one line that says what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iqa.errors import WeightsError
from iqa.weights import catalog
from tests.cli_helpers import ROOT, run_iqa

NAME = "squeezenet1_1"

# Published SHA-256 and sizes of the official files (torchvision's model store and the
# pytorch-fid release; the same values appear in several independent public manifests).
OFFICIAL = {
    "alexnet": ("7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02", 244_408_911),
    "vgg16": ("397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", 553_433_881),
    "squeezenet1_1": ("b8a52dc049b60e4b6ab68ad0df457362afab8b6304b2febdc1650a5dab4d7e7b",
                      4_958_839),
    "fid-inception": ("6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
                      95_628_359),
}


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Fresh, empty caches for one test; downloads off."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    monkeypatch.setenv("IQA_OFFLINE", "1")
    return tmp_path


@pytest.fixture(scope="module")
def squeeze_state():
    import torch
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.squeezenet1_1(weights=None).state_dict()


def saved(state, path: Path) -> Path:
    import torch

    torch.save(state, path)
    return path


def forged_entry(body: bytes) -> catalog.KnownFile:
    """The real squeezenet entry, renamed so that its name carries ``body``'s digest prefix
    (what a forger achieves by searching 2**32 random files)."""
    prefix = hashlib.sha256(body).hexdigest()[:8]
    filename = f"squeezenet1_1-{prefix}.pth"
    return dataclasses.replace(catalog.KNOWN[NAME], filename=filename,
                               url=f"https://download.pytorch.org/models/{filename}")


@pytest.fixture
def forged(monkeypatch) -> bytes:
    """A file of the official size whose digest prefix is in the catalog's file name."""
    body = (b"forged weights " * (OFFICIAL[NAME][1] // 15 + 1))[: OFFICIAL[NAME][1]]
    monkeypatch.setitem(catalog.KNOWN, NAME, forged_entry(body))
    return body


def test_catalog_pins_full_official_digests_and_sizes():
    for name, (digest, size) in OFFICIAL.items():
        entry = catalog.KNOWN[name]
        assert entry.sha256 == digest
        assert entry.size == size
        assert entry.sha256_prefix == digest[:8]  # the official name agrees with it


def test_forged_file_in_torch_hub_cache_fails_verification(caches, forged):
    from iqa import weights

    entry = catalog.KNOWN[NAME]
    target = caches / "torch" / "hub" / "checkpoints" / entry.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(forged)
    with pytest.raises(WeightsError, match="fails verification"):
        weights.resolve(NAME)
    assert weights.status(NAME).status == "failed verification"


def test_forged_file_is_not_imported_as_official(caches, forged, tmp_path):
    from iqa import weights

    file = tmp_path / catalog.KNOWN[NAME].filename
    file.write_bytes(forged)
    with pytest.raises(WeightsError, match="not the official"):
        weights.import_file(NAME, file)
    assert weights.status(NAME).status == "missing"
    assert not weights.from_file(file, name=NAME).verified


def test_file_of_wrong_size_fails_without_being_hashed(caches, monkeypatch):
    from iqa import weights
    from iqa.weights import _verify

    entry = catalog.KNOWN[NAME]
    target = caches / "torch" / "hub" / "checkpoints" / entry.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * 1000)

    def no_hashing(*args, **kwargs):
        raise AssertionError("a file of the wrong size was hashed")

    monkeypatch.setattr(_verify, "sha256_file", no_hashing)
    monkeypatch.setattr(weights, "sha256_file", no_hashing)
    with pytest.raises(WeightsError, match=r"1,000 bytes.*4,958,839"):
        weights.resolve(NAME)
    assert weights.status(NAME).status == "failed verification"


# --- state dict contents ---------------------------------------------------------------


def test_integer_state_dict_is_refused_on_import(caches, tmp_path, squeeze_state):
    import torch

    from iqa import weights

    state = {k: (v * 100).to(torch.int64) for k, v in squeeze_state.items()}
    file = saved(state, tmp_path / "int.pth")
    with pytest.raises(WeightsError, match=r"int64.*floating point") as info:
        weights.import_file(NAME, file, unverified=True)
    assert "\n" not in str(info.value)
    assert weights.status(NAME).status == "missing"


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_weights_are_refused_on_import(caches, tmp_path, squeeze_state, bad):
    from iqa import weights

    state = dict(squeeze_state)
    tensor = state["features.3.squeeze.weight"].clone()
    tensor[0, 0, 0, 0] = float(bad)
    state["features.3.squeeze.weight"] = tensor
    file = saved(state, tmp_path / f"{bad}.pth")
    with pytest.raises(WeightsError, match=r"features\.3\.squeeze\.weight.*not finite"):
        weights.import_file(NAME, file, unverified=True)
    assert weights.status(NAME).status == "missing"


def test_non_finite_weights_are_refused_on_load(caches, tmp_path, squeeze_state):
    """A file given with --weights (or imported by an older version) is checked on load."""
    from iqa import weights

    state = dict(squeeze_state)
    state["features.0.bias"] = state["features.0.bias"].clone().fill_(float("nan"))
    resolved = weights.from_file(saved(state, tmp_path / "nan.pth"), name=NAME)
    with pytest.raises(WeightsError, match=r"features\.0\.bias.*not finite"):
        weights.load_state_dict(resolved)


def test_half_precision_weights_load_as_float32(caches, tmp_path, squeeze_state):
    import torch

    from iqa import weights

    state = {k: v.half() for k, v in squeeze_state.items()}
    resolved = weights.import_file(NAME, saved(state, tmp_path / "half.pth"), unverified=True)
    loaded = weights.load_state_dict(resolved)
    assert {t.dtype for t in loaded.values()} == {torch.float32}


# --- messages --------------------------------------------------------------------------


def safetensors_bytes() -> bytes:
    header = json.dumps({"features.0.bias": {"dtype": "F32", "shape": [1],
                                             "data_offsets": [0, 4]}}).encode()
    return len(header).to_bytes(8, "little") + header + b"\0\0\0\0"


@pytest.mark.parametrize(
    "content, reason",
    [
        (os.urandom(4096), "not a zip archive or pickle written by torch.save"),
        (safetensors_bytes(), "it is a safetensors file"),
        (b"", "empty"),
    ],
)
def test_not_a_state_dict_is_one_line_without_unsafe_advice(caches, tmp_path, content, reason):
    file = tmp_path / "weights.bin"
    file.write_bytes(content)
    result = run_iqa("weights", "import", NAME, file, "--unverified",
                     env={"TORCH_HOME": str(caches / "torch"),
                          "IQA_CACHE_DIR": str(caches / "iqa")})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{file} is not a PyTorch state dict" in result.stderr
    assert reason in result.stderr
    assert "weights_only" not in result.stderr and "Warning" not in result.stderr


def test_status_lookup_does_not_import_torch(caches, squeeze_state, tmp_path):
    """What metrics call before deciding to build a network must stay torch-free."""
    code = (
        "import sys\n"
        "from iqa.weights import status, KNOWN\n"
        "print(sorted({status(n).status for n in KNOWN}))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    from iqa import weights

    weights.import_file(NAME, saved(squeeze_state, tmp_path / "s.pth"), unverified=True)
    env = {**os.environ, "TORCH_HOME": str(caches / "torch"), "IQA_CACHE_DIR": str(caches / "iqa")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['missing', 'unverified']"


def test_cache_files_respect_the_umask(caches, tmp_path, squeeze_state):
    from iqa import weights
    from iqa.weights import _store

    old = os.umask(0o022)
    try:
        resolved = weights.import_file(NAME, saved(squeeze_state, tmp_path / "s.pth"),
                                       unverified=True)
    finally:
        os.umask(old)
    assert resolved.path.stat().st_mode & 0o777 == 0o644
    assert (_store.cache_dir() / "weights.json").stat().st_mode & 0o777 == 0o644


def test_lpips_run_with_nan_weights_is_one_line_error(caches, tmp_path, squeeze_state):
    """Weights recorded before this check existed are refused at load, never scored NaN."""
    import numpy as np
    from PIL import Image

    from iqa.weights import _store

    state = dict(squeeze_state)
    state["features.0.weight"] = state["features.0.weight"].clone().fill_(float("nan"))
    file = saved(state, tmp_path / "nan.pth")
    _store.record_unverified(_store.UnverifiedImport(
        name=NAME, file=str(file), sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        imported_from=str(file), imported_at="2020-01-01T00:00:00+00:00"))
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / name)
    result = run_iqa("compare", tmp_path / "a.png", tmp_path / "b.png", "-m", "lpips",
                     "--lpips-net", "squeeze", "--format", "json",
                     env={"TORCH_HOME": str(caches / "torch"),
                          "IQA_CACHE_DIR": str(caches / "iqa")})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if "warning" not in line]
    assert len(errors) == 1 and "features.0.weight' is not finite" in errors[0]
    assert "Traceback" not in result.stderr
