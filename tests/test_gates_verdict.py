"""What a CI log shows: a verdict on stderr when results go to a file, definition changes
against a baseline, and per-command help for the gate options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import run_iqa, strict_json
from tests.test_cli_gates import CLEAN, NOISY, compare, make_pairs, one_line_error


@pytest.fixture
def pairs(tmp_path):
    return make_pairs(tmp_path, {"clean.png": CLEAN, "noisy.png": NOISY, "same.png": 0})


def test_a_failed_gate_with_o_says_what_failed_on_stderr(pairs, tmp_path):
    """The README's CI line: results and JUnit go to files, so stderr carries the verdict."""
    result = compare(*pairs, "--fail-if", "psnr<32", "--fail-if", "mean(ssim)<0.5",
                     "--format", "json", "-o", tmp_path / "q.json", "--junit", tmp_path / "q.xml")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "iqa: FAIL 1 of 2 gates on 3 pairs (exit code 1)"
    assert lines[1].startswith("iqa:   FAIL psnr<32: 1 of 3 pairs: noisy.png 26.58")
    assert len(lines) == 2
    assert strict_json((tmp_path / "q.json").read_text())["gates"]["passed"] is False


def test_a_passing_run_with_o_says_so_in_one_line(pairs, tmp_path):
    result = compare(*pairs, "--fail-if", "psnr<20", "--fail-if", "min(ssim)<0.5",
                     "--format", "csv", "-o", tmp_path / "q.csv")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "iqa: PASS 2 gates on 3 pairs\n"


def test_the_worst_pairs_come_first_and_the_list_is_short(tmp_path):
    sigmas = {f"p{i}.png": 10.0 + i for i in range(6)}
    ref, out = make_pairs(tmp_path, sigmas)
    result = compare(ref, out, "--fail-if", "psnr<40", "--format", "json",
                     "-o", tmp_path / "q.json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "iqa: FAIL 1 of 1 gate on 6 pairs (exit code 1)"
    detail = lines[1]
    assert detail.startswith("iqa:   FAIL psnr<40: 6 of 6 pairs: p5.png ")
    assert detail.index("p5.png") < detail.index("p4.png") < detail.index("p3.png")
    assert "p2.png" not in detail and detail.endswith("(and 3 more)")


def test_baseline_regressions_and_missing_pairs_are_in_the_verdict(pairs, tmp_path):
    base = tmp_path / "base.json"
    assert compare(*pairs, "--format", "json", "-o", base).returncode == 0
    ref, out = pairs
    (out / "same.png").unlink()
    (ref / "same.png").unlink()
    img = np.asarray(Image.open(out / "clean.png")).copy()
    img[:8] = 0
    Image.fromarray(img).save(out / "clean.png")
    result = compare(ref, out, "--baseline", base, "--format", "json", "-o", tmp_path / "q.json")
    assert result.returncode == 1
    text = result.stderr
    assert "iqa: FAIL 3 of 3 gates on 2 pairs (exit code 1)" in text
    assert "iqa:   FAIL psnr vs baseline: 1 of 2 pairs: clean.png" in text
    assert "iqa:   FAIL pairs in baseline: 1 of 3 pairs: same.png missing from this run" in text


def test_a_table_on_stdout_needs_no_verdict_on_stderr(pairs):
    result = compare(*pairs, "--fail-if", "psnr<32")
    assert result.returncode == 1
    assert "FAIL psnr<32" in result.stdout and result.stderr == ""


def test_input_errors_are_counted_in_the_verdict(pairs, tmp_path):
    ref, out = pairs
    (out / "noisy.png").write_bytes(b"not a png")
    result = compare(ref, out, "--fail-if", "psnr<20", "--format", "json",
                     "-o", tmp_path / "q.json")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "iqa: ERROR 1 input problem (exit code 2); gates: PASS 1 gate on 3 pairs")


@pytest.fixture
def baseline(pairs, tmp_path):
    path = tmp_path / "baseline.json"
    assert compare(*pairs, "--format", "json", "-o", path).returncode == 0
    return path


def test_a_changed_definition_against_the_baseline_is_exit_2(pairs, baseline):
    result = compare(*pairs, "--luma", "--baseline", baseline, "--tolerance", "psnr=100",
                     "--format", "json")
    line = one_line_error(result)
    assert line.startswith(f"iqa: --baseline {baseline}: psnr definition changed (channels: "
                           "'all channels' -> 'BT.601 luma")
    assert line.endswith("; use a baseline made with the same options, or pass "
                         "--allow-definition-change to compare anyway")
    assert result.stdout == ""


def test_a_changed_setting_that_changes_values_is_exit_2(pairs, baseline):
    line = one_line_error(compare(*pairs, "--ignore-exif", "--baseline", baseline))
    assert "setting exif changed (True -> False)" in line


def test_allow_definition_change_warns_and_compares(pairs, baseline):
    result = compare(*pairs, "--luma", "--baseline", baseline, "--tolerance", "psnr=100",
                     "--allow-definition-change", "--format", "json")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"iqa: warning: --baseline {baseline}: ")
    assert "psnr definition changed" in lines[0] and "ssim definition changed" in lines[1]
    assert lines[2:] == ["iqa: PASS 3 gates on 3 pairs"]
    assert strict_json(result.stdout)["gates"]["baseline"]["definition_changes"]


def test_pairing_is_not_a_definition(pairs, baseline):
    """--pair-by changes the pair keys, not the values: a warning (which explains why the
    pairs are then missing from the baseline), not a definition change."""
    result = compare(*pairs, "--pair-by", "stem", "--baseline", baseline, "--format", "json")
    assert result.returncode == 1
    assert result.stderr.startswith(f"iqa: warning: --baseline {baseline}: setting pair_by "
                                    "changed ('path' -> 'stem')\n")


def _stats(path, shift: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(shift, 1, (40, 2048))
    np.savez(path, mu=x.mean(0), sigma=np.cov(x, rowvar=False), n=40)


def test_fid_baseline_with_another_resize_is_exit_2_before_any_work(tmp_path):
    _stats(tmp_path / "a.npz", 0.0)
    _stats(tmp_path / "b.npz", 0.1)
    base = tmp_path / "fid.json"
    base.write_text(json.dumps({"tool": "iqa", "command": "fid", "fid": 3.0,
                                "settings": {"resize": "tf", "alpha": "drop", "exif": False}}))
    result = run_iqa("fid", tmp_path / "a.npz", tmp_path / "b.npz", "--resize", "clean",
                     "--baseline", base)
    assert "setting resize changed ('tf' -> 'clean')" in one_line_error(result)


def test_fid_verdict_on_stderr_with_o(tmp_path):
    _stats(tmp_path / "a.npz", 0.0)
    _stats(tmp_path / "b.npz", 0.1)
    result = run_iqa("fid", tmp_path / "a.npz", tmp_path / "b.npz", "--fail-if", "fid>1",
                     "--format", "json", "-o", tmp_path / "f.json")
    assert result.returncode == 1
    assert "iqa: FAIL 1 of 1 gate on 1 result (exit code 1)" in result.stderr
    detail = result.stderr.strip().splitlines()[-1]
    assert detail.startswith("iqa:   FAIL fid>1: ") and detail.endswith("above the limit)")
    assert "result" not in detail


def test_fid_help_has_its_own_gate_examples():
    text = " ".join(run_iqa("fid", "--help").stdout.split())
    assert "fid>12" in text and "kid_mean>0.01" in text
    assert "psnr" not in text and "same pair" not in text
    assert "--allow-definition-change" in text
    compare_text = " ".join(run_iqa("compare", "--help").stdout.split())
    assert "psnr<30" in compare_text and "fid>12" not in compare_text


def test_a_gate_on_kid_mean_turns_kid_on(tmp_path):
    rng = np.random.default_rng(1)
    for name, shift in (("a", 0.0), ("b", 0.1)):
        x = rng.normal(shift, 1, (40, 2048))
        np.savez(tmp_path / f"{name}.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False), n=40,
                 features=x.astype(np.float32))
    result = run_iqa("fid", tmp_path / "a.npz", tmp_path / "b.npz", "--fail-if",
                     "kid_mean>1e9", "--kid-subset-size", "20", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert isinstance(doc["kid_mean"], float) and doc["gates"]["passed"] is True


def test_fid_baseline_of_another_network_is_exit_2_unless_allowed(tmp_path):
    _stats(tmp_path / "a.npz", 0.0)
    _stats(tmp_path / "b.npz", 0.1)
    base = tmp_path / "fid.json"
    base.write_text(json.dumps({"tool": "iqa", "command": "fid", "fid": 3.0,
                                "network": "other-inception:pool3"}))
    args = ("fid", tmp_path / "a.npz", tmp_path / "b.npz", "--baseline", base,
            "--tolerance", "fid=1e9", "--format", "json")
    refused = run_iqa(*args, "--junit", tmp_path / "j.xml")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = refused.stderr.strip().splitlines()[-1]  # after the small-sample FID warning
    assert line.startswith(f"iqa: --baseline {base}: ")
    assert "network changed ('other-inception:pool3' -> 'inception-v3" in line
    assert "--allow-definition-change" in line
    assert "network changed" in (tmp_path / "j.xml").read_text()
    allowed = run_iqa(*args, "--allow-definition-change")
    assert allowed.returncode == 0, allowed.stderr
    assert "iqa: warning: --baseline" in allowed.stderr and "network changed" in allowed.stderr
