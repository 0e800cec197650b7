"""Edge cases of the weights manager: the advice for a damaged cached file when downloads
are off, an import refused by its size before it is read, files that are not regular
files, and `iqa weights list` piped (one line per file, never wrapped)."""

from __future__ import annotations

import os

import pytest

from iqa.errors import WeightsError
from iqa.weights import catalog
from tests.cli_helpers import run_iqa

NAME = "squeezenet1_1"


def _damaged_cached_file(root) -> None:
    entry = catalog.known(NAME)
    target = root / "torch" / "hub" / "checkpoints" / entry.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated by another tool")


def test_offline_a_damaged_cached_file_says_to_import_not_to_download(caches, monkeypatch):
    from iqa import weights

    _damaged_cached_file(caches)
    monkeypatch.setenv("IQA_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        weights.resolve(NAME)
    text = str(info.value)
    entry = catalog.known(NAME)
    assert "fails verification" in text and "downloads are off (IQA_OFFLINE=1)" in text
    assert entry.url in text
    assert f"iqa weights import {NAME} /path/to/{entry.filename}" in text
    assert "iqa weights download" not in text  # refused offline
    assert "\n" not in text


def test_online_a_damaged_cached_file_says_to_download(caches):
    from iqa import weights

    _damaged_cached_file(caches)
    with pytest.raises(WeightsError, match=f"replace it with: iqa weights download {NAME}"):
        weights.resolve(NAME)


def test_an_import_of_the_wrong_size_is_refused_unread(caches, tmp_path, monkeypatch):
    from iqa import weights

    def never(*args, **kwargs):
        raise AssertionError("a file of the wrong size was read or hashed")

    monkeypatch.setattr(weights, "read_bytes", never)
    monkeypatch.setattr(weights, "sha256_file", never)
    big = tmp_path / "sparse.bin"
    with open(big, "wb") as f:
        f.truncate(64 * 2**20)
    with pytest.raises(WeightsError) as info:
        weights.import_file(NAME, big)
    text = str(info.value)
    assert f"{64 * 2**20:,} bytes is not the official {NAME} file" in text
    assert "--unverified" in text
    assert weights.status(NAME).status == "missing"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_import_of_a_device_says_it_is_not_a_regular_file(caches, tmp_path):
    from iqa import weights

    with pytest.raises(WeightsError, match="/dev/zero: not a regular file"):
        weights.import_file(NAME, "/dev/zero")
    with pytest.raises(WeightsError, match="is a folder"):
        weights.import_file(NAME, tmp_path)
    with pytest.raises(WeightsError, match="no such file"):
        weights.import_file(NAME, tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match="/dev/zero: not a regular file"):
        weights.from_file("/dev/zero", name=NAME)
    result = run_iqa("weights", "import", NAME, "/dev/zero",
                     env={"TORCH_HOME": str(caches / "torch"),
                          "IQA_CACHE_DIR": str(caches / "iqa")})
    assert result.returncode == 2
    assert result.stderr == "iqa: /dev/zero: not a regular file (a device, pipe or socket); " \
        "give the file itself\n"


def test_weights_list_piped_keeps_each_file_on_one_line(tmp_path):
    home = tmp_path / ("a-long-folder-name-" * 12) / "torch"  # a path over 230 characters
    result = run_iqa("weights", "list", env={"TORCH_HOME": str(home),
                                             "IQA_CACHE_DIR": str(tmp_path / "iqa")})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in catalog.KNOWN:
        path = str(home / "hub" / "checkpoints" / catalog.known(name).filename)
        row = [line for line in lines if line.startswith(name + " ")]
        assert len(row) == 1 and path in row[0], (name, result.stdout)
    assert len(lines) == 2 + len(catalog.KNOWN)  # the header, its rule, one line per file
