"""Crafted statistics files: members whose dtype would inflate far beyond what the key can
hold, ``meta`` fields of the wrong type, and merges that would count a part twice — each
refused with one line naming the file (exit 2), before anything large is allocated.

Synthetic statistics (random 2048-d features of 40 "images"); no network runs.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from iqa.distribution.statsfile import STATS_FORMAT, read_stats
from iqa.errors import InputError
from iqa.features.inception import NETWORK_ID
from tests.cli_helpers import run_iqa, strict_json

DIM = 2048
WEIGHTS = {"name": "fid-inception", "sha256": "ab" * 32, "verified": False}


def _meta(**changes) -> dict:
    meta = {"format": STATS_FORMAT, "network": NETWORK_ID, "resize": "pytorch-fid",
            "alpha": "drop", "exif": False, "iqa": "0.1.0", "weights": WEIGHTS,
            "skipped": 0, "limit": None}
    meta.update(changes)
    return meta


def _save(path, seed: int, n: int = 40, **meta_changes) -> None:
    x = np.random.default_rng(seed).random((n, DIM))
    np.savez(path, mu=x.mean(0), sigma=np.cov(x, rowvar=False), n=np.array(n, np.int64),
             meta=np.array(json.dumps(_meta(**meta_changes))))


def _one_line(result, *words) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iqa: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# -- members that declare a dtype they cannot be -----------------------------------------

def _bomb(path, key: str, dtype: str, shape: tuple[int, ...]) -> None:
    """An .npz whose ``key`` declares ``dtype`` × ``shape`` of deflated zeros (a few hundred
    KiB on disk); the other members are plain and valid."""
    x = np.random.default_rng(0).random((40, DIM))
    plain = {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False), "n": np.array(40, np.int64),
             "meta": np.array(json.dumps(_meta()))}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in plain.items():
            if name != key:
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, value)
                archive.writestr(f"{name}.npy", buffer.getvalue())
        with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": dtype, "fortran_order": False, "shape": shape})
            left = int(np.prod(shape)) * np.dtype(dtype).itemsize
            block = bytes(2**22)
            while left:
                member.write(block[:min(left, len(block))])
                left -= min(left, len(block))


@pytest.mark.parametrize("key, dtype, shape, inflated", [
    ("mu", "|S100000", (DIM,), 2048 * 100_000),        # 205 MB of "text"
    ("sigma", "|S8", (DIM, DIM), DIM * DIM * 8),        # bytes where numbers belong
    ("n", "|S100000000", (), 100_000_000),              # one 100 MB "count"
    ("features", "|S1000", (40, DIM), 40 * DIM * 1000),  # 82 MB of "features"
])
def test_a_member_declaring_a_non_numeric_dtype_is_refused_before_inflating(
        tmp_path, monkeypatch, key, dtype, shape, inflated):
    path = tmp_path / f"bomb_{key}.npz"
    _bomb(path, key, dtype, shape)
    assert path.stat().st_size < 36 * 2**20 and inflated > 30 * 2**20
    read = []
    original = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = original(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    with pytest.raises(InputError, match=f"{key} (is an array of|declares) "):
        read_stats(path)
    # only headers are read (features are checked after mu and sigma: their 32 MiB)
    assert sum(read) < (40 if key == "features" else 1) * 2**20 < inflated, sum(read)


def test_the_command_line_refuses_a_crafted_member_in_one_line(tmp_path):
    path = tmp_path / "bomb.npz"
    _bomb(path, "n", "|S100000000", ())
    _one_line(run_iqa("stats", "show", path), str(path), "n declares")


# -- meta fields of the wrong type -------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("weights", "a string"),
    ("weights", {"name": "x", "sha256": 5}),
    ("skipped", "x"),
    ("skipped", -1),
    ("exif", "no"),
    ("resize", ["tf"]),
    ("limit", 3),
    ("parts", [{"file": "a.npz"}]),
    ("parts", "a.npz"),
    ("foreign", {"tool": "x"}),
])
def test_meta_fields_of_the_wrong_type_are_refused_naming_the_field(tmp_path, field, value):
    path = tmp_path / "crafted.npz"
    _save(path, 1, **{field: value})
    with pytest.raises(InputError, match=f"crafted.npz: meta.*{field}"):
        read_stats(path)


def test_crafted_meta_is_exit_2_in_show_fid_and_merge(tmp_path):
    crafted, skipped, good = tmp_path / "w.npz", tmp_path / "s.npz", tmp_path / "good.npz"
    _save(crafted, 1, weights="a string")
    _save(skipped, 1, skipped="x")
    _save(good, 2)
    out = tmp_path / "m.npz"
    _one_line(run_iqa("stats", "show", crafted), f"{crafted}: meta's weights")
    _one_line(run_iqa("fid", crafted, good, "--resize", "pytorch-fid"), f"{crafted}: meta's")
    _one_line(run_iqa("stats", "merge", crafted, good, "-o", out), f"{crafted}: meta's")
    _one_line(run_iqa("stats", "merge", good, skipped, "-o", out), f"{skipped}: meta's skipped")
    assert not out.exists()


# -- a part counted twice ----------------------------------------------------------------

@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("parts")
    paths = []
    for k in range(3):
        path = root / f"part{k + 1}.npz"
        _save(path, 10 + k, n=30 + k)
        paths.append(path)
    return root, paths


def test_a_part_already_in_a_merged_file_is_refused(parts, tmp_path):
    root, (p1, p2, p3) = parts
    merged, out = tmp_path / "merged.npz", tmp_path / "out.npz"
    assert run_iqa("stats", "merge", p1, p2, p3, "-o", merged).returncode == 0
    _one_line(run_iqa("stats", "merge", merged, p1, "-o", out),
              str(p1), str(merged), "part1.npz (30 images)", "counted twice")
    m12, m13 = tmp_path / "m12.npz", tmp_path / "m13.npz"
    assert run_iqa("stats", "merge", p1, p2, "-o", m12).returncode == 0
    assert run_iqa("stats", "merge", p1, p3, "-o", m13).returncode == 0
    _one_line(run_iqa("stats", "merge", m12, m13, "-o", out),
              str(m13), str(m12), "part1.npz", "counted twice")
    assert not out.exists()


def test_merged_files_record_their_original_parts_however_deep(parts, tmp_path):
    root, (p1, p2, p3) = parts
    m12, m123, out = tmp_path / "m12.npz", tmp_path / "m123.npz", tmp_path / "out.npz"
    assert run_iqa("stats", "merge", p1, p2, "-o", m12).returncode == 0
    result = run_iqa("stats", "merge", m12, p3, "-o", m123, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["n"] == 93
    assert [(p["file"], p["n"]) for p in doc["parts"]] == [
        ("part1.npz", 30), ("part2.npz", 31), ("part3.npz", 32)]
    assert all(len(p["stats_sha256"]) == 64 for p in doc["parts"])
    _one_line(run_iqa("stats", "merge", m123, p2, "-o", out), str(p2), str(m123),
              "part2.npz (31 images)")


def test_parts_recorded_without_a_digest_are_named_in_a_warning(parts, tmp_path):
    """A merged file of an older version records file and n only: a name and a count do
    not identify a part (array jobs write part.npz in folders of their own), so a part
    that may be counted twice is a warning, not a refusal."""
    root, (p1, p2, _) = parts
    old = tmp_path / "old.npz"
    _save(old, 99, n=61, parts=[{"file": "part1.npz", "n": 30}, {"file": "part2.npz", "n": 31}])
    same_name = run_iqa("stats", "merge", old, p1, "-o", tmp_path / "o.npz")
    assert same_name.returncode == 0, same_name.stderr
    warning = [line for line in same_name.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "part1.npz of 30 images" in warning[0]
    assert "counted twice" in warning[0]
    other = tmp_path / "elsewhere" / "part1.npz"  # the same name, another count
    other.parent.mkdir()
    _save(other, 50, n=25)
    quiet = run_iqa("stats", "merge", old, other, "-o", tmp_path / "o2.npz")
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
