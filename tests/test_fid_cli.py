"""``iqa fid`` as users run it: output formats, stats files, cache, bad input, exit codes."""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import run_iqa, strict_json
from tests.fid_helpers import make_pair, natural_crops, write_set
from tests.images import random_image


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """6 + 6 images of mixed sizes; the real side also holds gray, RGBA, palette, 16-bit."""
    root = tmp_path_factory.mktemp("fidcli")
    real, fake = make_pair(root, 6, seed=5)
    extra = natural_crops(4, seed=9)
    Image.fromarray(extra[0]).convert("L").save(real / "gray.png")
    rgba = np.concatenate([extra[1], random_image(extra[1].shape[:2] + (1,), seed=1)], axis=2)
    Image.fromarray(rgba).save(real / "sub_rgba.png")
    Image.fromarray(extra[2]).convert("P").save(real / "palette.png")
    import cv2

    cv2.imwrite(str(real / "deep16.png"), (extra[3].astype(np.uint16) * 257)[:, :, ::-1].copy())
    (real / "nested").mkdir()
    Image.fromarray(extra[0]).save(real / "nested" / "photo.jpg", quality=90)
    return real, fake


def test_json_result_and_stderr_lines(mixed, fid_weights):
    real, fake = mixed
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--kid", "--kid-subsets", "5",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["command"] == "fid" and doc["resize"] == "tf"
    assert doc["fid"] > 0 and np.isfinite(doc["kid_mean"]) and doc["kid_std"] >= 0
    assert doc["counts"] == {"real": 11, "fake": 6, "skipped_real": 0, "skipped_fake": 0}
    assert doc["weights"]["verified"] is False
    assert doc["weights"]["sha256"] == _sha256(fid_weights)
    assert doc["kid"]["subset_size"] == 6 and doc["kid"]["subsets"] == 5
    assert doc["preprocessing"]["reproduces"].startswith("torch-fidelity")
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("iqa: ") for line in lines)
    assert sum("warning: using unverified fid-inception weights" in x for x in lines) == 1
    assert any("rank-deficient" in x for x in lines)
    assert any("--kid-subset-size 1000 is larger than the smaller set (6 images)" in x
               for x in lines)


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_run_uses_the_cache_and_other_formats(mixed, fid_weights):
    real, fake = mixed
    first = strict_json(run_iqa("fid", real, fake, "--weights", fid_weights,
                                "--format", "json").stdout)
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert "from the cache" in result.stderr
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert float(row["fid"]) == first["fid"]
    assert row["n_real"] == "11" and row["weights_verified"] == "false"
    assert row["kid_mean"] == ""
    table = run_iqa("fid", real, fake, "--weights", fid_weights, env={"NO_COLOR": "1"})
    assert table.returncode == 0
    assert f"{first['fid']:.4f}" in table.stdout and "UNVERIFIED" in table.stdout
    assert "(11 images, from the cache)" in table.stdout


def test_save_stats_is_read_by_pytorch_fid_and_stands_in_for_the_folder(mixed, fid_weights,
                                                                       tmp_path):
    real, fake = mixed
    target = tmp_path / "real.npz"
    result = run_iqa("fid", real, "--save-stats", target, "--weights", fid_weights, "--kid",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["n"] == 11
    from pytorch_fid.fid_score import compute_statistics_of_path

    mu, sigma = compute_statistics_of_path(str(target), None, 50, 2048, "cpu")
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048)
    with np.load(target) as data:
        assert int(data["n"]) == 11 and data["features"].shape == (11, 2048)
        assert json.loads(str(data["meta"]))["resize"] == "tf"
    folder = strict_json(run_iqa("fid", real, fake, "--weights", fid_weights, "--kid",
                                 "--format", "json").stdout)
    stats = run_iqa("fid", target, fake, "--weights", fid_weights, "--kid", "--format", "json")
    assert stats.returncode == 0, stats.stderr
    doc = strict_json(stats.stdout)
    assert doc["sources"]["real"] == "stats file"
    assert doc["fid"] == pytest.approx(folder["fid"], rel=1e-9)
    assert doc["kid_mean"] == pytest.approx(folder["kid_mean"], rel=1e-9)


def test_corrupt_files_stop_the_run_or_are_skipped_and_counted(fid_weights, tmp_path):
    real, fake = make_pair(tmp_path, 4, seed=6)
    (fake / "broken.png").write_bytes((fake / "img_000.png").read_bytes()[:300])
    stop = run_iqa("fid", real, fake, "--weights", fid_weights)
    assert stop.returncode == 2
    assert stop.stdout == ""
    last = stop.stderr.strip().splitlines()[-1]
    assert "broken.png" in last and "--skip-bad" in last and "Traceback" not in stop.stderr
    skip = run_iqa("fid", real, fake, "--weights", fid_weights, "--skip-bad", "--format", "json")
    assert skip.returncode == 0, skip.stderr
    doc = strict_json(skip.stdout)
    assert doc["counts"]["fake"] == 4 and doc["counts"]["skipped_fake"] == 1
    assert doc["skipped"]["fake"][0]["file"].endswith("broken.png")
    assert "iqa: warning: skipped: " in skip.stderr
    # The cached statistics remember the skipped file: without --skip-bad it still stops.
    again = run_iqa("fid", real, fake, "--weights", fid_weights)
    assert again.returncode == 2 and "broken.png" in again.stderr


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "folder holds no images"),
        ("texts", "folder holds no images"),
        ("one", "holds 1 image"),
        ("missing", "no such file or folder"),
        ("notstats", "expected a folder of images or a statistics file"),
        ("badnpz", "not a statistics file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, fid_weights, setup, message):
    good = tmp_path / "good"
    write_set(good, natural_crops(2, seed=1, sizes=(40, 60)))
    bad = tmp_path / setup
    if setup in ("empty", "texts", "one"):
        bad.mkdir()
    if setup == "texts":
        (bad / "notes.txt").write_text("no images here")
    if setup == "one":
        write_set(bad, natural_crops(1, sizes=(40, 60)))
    if setup == "notstats":
        bad = tmp_path / "x.csv"
        bad.write_text("1,2")
    if setup == "badnpz":
        bad = tmp_path / "x.npz"
        np.savez(bad, something=np.zeros(3))
    result = run_iqa("fid", good, bad, "--weights", fid_weights, "--no-cache")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and str(bad) in lines[-1]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_usage_errors(tmp_path, fid_weights):
    one = run_iqa("fid", tmp_path)
    assert one.returncode == 2 and "give two sets" in one.stderr
    both = run_iqa("fid", tmp_path, tmp_path, "--save-stats", tmp_path / "x.npz")
    assert both.returncode == 2 and "--save-stats takes one folder" in both.stderr
    mode = run_iqa("fid", tmp_path, tmp_path, "--resize", "bicubic")
    assert mode.returncode == 2 and "bicubic" in mode.stderr
    bad_weights = tmp_path / "w.pth"
    bad_weights.write_bytes(b"not a weights file")
    real, fake = make_pair(tmp_path / "sets", 2, seed=2)
    result = run_iqa("fid", real, fake, "--weights", bad_weights, "--no-cache")
    assert result.returncode == 2 and "w.pth" in result.stderr
    assert "Traceback" not in result.stderr


def test_gates_on_fid_threshold_baseline_and_junit(mixed, fid_weights, tmp_path):
    """`iqa fid` takes the same gates as `iqa compare`: one value per run."""
    import xml.etree.ElementTree as ET

    real, fake = mixed
    common = ("fid", real, fake, "--weights", fid_weights)
    base = run_iqa(*common, "--format", "json", "-o", tmp_path / "base.json")
    assert base.returncode == 0, base.stderr
    value = strict_json((tmp_path / "base.json").read_text())["fid"]

    failing = run_iqa(*common, "--fail-if", f"fid>{value / 2}", "--format", "json",
                      "--junit", tmp_path / "gates.xml")
    assert failing.returncode == 1, failing.stderr
    doc = strict_json(failing.stdout)
    assert doc["gates"]["passed"] is False and doc["gate_failures"]
    suites = ET.parse(tmp_path / "gates.xml").getroot()
    assert suites.get("failures") == "1"

    passing = run_iqa(*common, "--fail-if", f"fid>{value * 2}", "--baseline",
                      tmp_path / "base.json")
    assert passing.returncode == 0, passing.stderr
    assert "PASS fid vs baseline" in passing.stdout and "PASS fid>" in passing.stdout

    malformed = run_iqa(*common, "--fail-if", "fid>>5")
    assert malformed.returncode == 2 and malformed.stderr.count("\n") == 1
