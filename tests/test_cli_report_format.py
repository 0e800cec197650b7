"""-o FILE's suffix chooses the report's format when --format is not given, in every
command that writes reports: `-o scores.csv` must not be a table in a .csv file."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from iqa.distribution.stats import FeatureStats
from iqa.distribution.statsfile import write_stats
from tests.cli_helpers import run_iqa
from tests.test_bdrate_cli import pair_of_csvs


@pytest.fixture
def pair(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "r.png")
    Image.fromarray(img // 2).save(tmp_path / "d.png")
    return tmp_path / "r.png", tmp_path / "d.png"


def _kind(text: str) -> str:
    if text.lstrip().startswith("{") and text.count("\n{") == 0:
        json.loads(text)
        return "json"
    if text.startswith("{"):
        [json.loads(line) for line in text.splitlines()]
        return "jsonl"
    rows = list(csv.reader(io.StringIO(text)))
    return "csv" if len(rows) > 1 and len(set(map(len, rows))) == 1 and "┃" not in text \
        else "table"


@pytest.mark.parametrize("name, kind", [("s.csv", "csv"), ("s.json", "json"),
                                        ("s.JSONL", "jsonl"), ("s.ndjson", "jsonl"),
                                        ("s.txt", "table"), ("s", "table")])
def test_compare_takes_the_format_from_the_suffix(pair, tmp_path, name, kind):
    proc = run_iqa("compare", *pair, "-m", "psnr", "-o", tmp_path / name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert _kind((tmp_path / name).read_text()) == kind


def test_an_explicit_format_wins_with_a_warning(pair, tmp_path):
    proc = run_iqa("compare", *pair, "-m", "psnr", "--format", "json", "-o", tmp_path / "s.csv")
    assert proc.returncode == 0
    assert proc.stderr.strip() == (f"iqa: warning: -o {tmp_path / 's.csv'}: written as json, "
                                   "as --format asks, although its suffix names csv")
    assert _kind((tmp_path / "s.csv").read_text()) == "json"
    same = run_iqa("compare", *pair, "-m", "psnr", "--format", "csv", "-o", tmp_path / "t.csv")
    assert same.stderr == "" and _kind((tmp_path / "t.csv").read_text()) == "csv"


def test_fid_and_bdrate_too(tmp_path):
    rng = np.random.default_rng(3)
    for name in ("a", "b"):
        feats = rng.integers(0, 256, (40, 2048)) / 64.0
        write_stats(tmp_path / f"{name}.npz", FeatureStats.from_features(feats), {"resize": "tf"})
    fid = run_iqa("fid", tmp_path / "a.npz", tmp_path / "b.npz", "-o", tmp_path / "f.json")
    assert fid.returncode == 0, fid.stderr
    assert json.loads((tmp_path / "f.json").read_text())["fid"] > 0
    anchor, test = pair_of_csvs(tmp_path)
    bd = run_iqa("bdrate", anchor, test, "-o", tmp_path / "bd.csv")
    assert bd.returncode == 0, bd.stderr
    assert _kind((tmp_path / "bd.csv").read_text()) == "csv"
    # bdrate has no JSON Lines: such a name gets its table
    bd = run_iqa("bdrate", anchor, test, "-o", tmp_path / "bd.jsonl")
    assert bd.returncode == 0 and _kind((tmp_path / "bd.jsonl").read_text()) == "table"
