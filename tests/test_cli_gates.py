"""Quality gates end to end: the real `iqa compare` in a subprocess, as CI runs it.

Pairs are small PNG files made here: a smooth random image and a copy with Gaussian
noise. Noise of sigma 3 gives about 38.6 dB PSNR, sigma 12 about 26.6 dB, so the gate
``psnr<32`` passes the first and fails the second with a wide margin.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import ROOT, run_iqa, strict_json

CLEAN, NOISY = 3.0, 12.0


def _base(name: str) -> np.ndarray:
    rng = np.random.default_rng(sum(name.encode()))
    small = rng.integers(40, 216, (8, 8, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((48, 48), Image.BICUBIC))


def _noisy(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    if sigma == 0:
        return img.copy()
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


def make_pairs(root: Path, sigmas: dict[str, float], seed: int = 0) -> tuple[Path, Path]:
    """refs/NAME and outs/NAME for each name; sigma 0 makes an identical copy."""
    ref, out = root / "refs", root / "outs"
    ref.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, sigma) in enumerate(sigmas.items()):
        img = _base(name)
        Image.fromarray(img).save(ref / name)
        Image.fromarray(_noisy(img, sigma, seed * 100 + i)).save(out / name)
    return ref, out


def compare(ref: Path, out: Path, *args: str, env: dict[str, str] | None = None):
    return run_iqa("compare", ref, out, "-m", "psnr,ssim", *args, env=env)


def one_line_error(result, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iqa: "), result.stderr
    return lines[0]


def gates_of(result) -> dict:
    return strict_json(result.stdout)["gates"]


def check(gates: dict, gate: str) -> dict:
    return next(c for c in gates["checks"] if c["gate"] == gate)


@pytest.fixture
def pairs(tmp_path):
    return make_pairs(tmp_path, {"clean.png": CLEAN, "noisy.png": NOISY, "same.png": 0})


def test_passing_gates_exit_0_and_json_is_self_describing(pairs):
    result = compare(*pairs, "--fail-if", "ssim<0.1", "--fail-if", "min(psnr)<20",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "iqa: PASS 2 gates on 3 pairs\n"  # stdout carries no table
    doc = strict_json(result.stdout)
    gates = doc["gates"]
    assert gates["passed"] is True and gates["exit_code"] == 0 and gates["checks_failed"] == 0
    assert gates["fail_if"] == ["ssim<0.1", "min(psnr)<20"]
    assert [c["passed"] for c in gates["checks"]] == [True, True]
    assert check(gates, "ssim<0.1")["checked"] == 3
    assert doc["tool"] == "iqa" and doc["version"] and doc["command"] == "compare"
    assert doc["definitions"]["psnr"]["higher_is_better"] is True
    assert doc["settings"] == {"pair_by": "path", "alpha": "error", "exif": True}
    assert "infinite" in gates["rules"]
    assert all(p["gate_failures"] == [] for p in doc["pairs"])


def test_failing_pair_gate_exits_1_and_the_table_says_which_and_by_how_much(pairs):
    result = compare(*pairs, "--fail-if", "psnr<32", env={"NO_COLOR": "1"})
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if ".png" in line}
    assert "FAIL psnr<32:" in rows["noisy.png"] and "dB below the limit" in rows["noisy.png"]
    assert "FAIL" not in rows["clean.png"] and "FAIL" not in rows["same.png"]
    assert "FAIL psnr<32: 1 of 3 result(s) failed" in result.stdout
    assert "result: FAILED: 1 gate(s) (exit code 1)" in result.stdout

    doc = strict_json(compare(*pairs, "--fail-if", "psnr<32", "--format", "json").stdout)
    failures = check(doc["gates"], "psnr<32")["failures"]
    assert [f["pair"] for f in failures] == ["noisy.png"]
    noisy = next(p for p in doc["pairs"] if p["pair"] == "noisy.png")
    assert failures[0]["value"] == noisy["psnr"] < 32
    assert failures[0]["excess"] == pytest.approx(32 - noisy["psnr"])
    assert noisy["gate_failures"] == [failures[0]["message"]]


def test_aggregate_gates_apply_to_the_whole_run(tmp_path):
    ref, out = make_pairs(tmp_path, {"a.png": CLEAN, "b.png": NOISY})
    result = compare(ref, out, "--fail-if", "mean(psnr)<40,min(psnr)<20",
                     "--fail-if", "max(psnr)<35", "--fail-if", "median(ssim)<0.01",
                     "--format", "json")
    assert result.returncode == 1
    gates = gates_of(result)
    psnr = [p["psnr"] for p in strict_json(result.stdout)["pairs"]]
    mean = check(gates, "mean(psnr)<40")
    assert not mean["passed"] and mean["value"] == pytest.approx(sum(psnr) / 2)
    assert mean["failures"][0]["pair"] is None and "over 2 result(s)" in \
        mean["failures"][0]["message"]
    assert check(gates, "min(psnr)<20")["passed"]
    assert check(gates, "max(psnr)<35")["passed"]
    assert check(gates, "median(ssim)<0.01")["passed"]
    assert gates["checks_failed"] == 1


def test_identical_images_have_infinite_psnr_in_gates_and_baselines(tmp_path):
    ref, out = make_pairs(tmp_path, {"same.png": 0})
    saved = tmp_path / "base.json"
    first = compare(ref, out, "--fail-if", "psnr<30", "--fail-if", "mean(psnr)<30",
                    "--format", "json", "-o", saved)
    assert first.returncode == 0, first.stderr
    doc = strict_json(saved.read_text())
    assert doc["pairs"][0]["psnr"] is None and doc["pairs"][0]["psnr_band"] == "identical"
    assert check(doc["gates"], "mean(psnr)<30")["value"] is None  # inf, as in "summary"

    again = compare(ref, out, "--baseline", saved, "--format", "json")
    assert again.returncode == 0, again.stderr
    assert check(gates_of(again), "psnr vs baseline")["checked"] == 1

    arr = np.asarray(Image.open(out / "same.png")).copy()
    arr[0, 0, 0] ^= 1  # one value off: about 89 dB, finite
    Image.fromarray(arr).save(out / "same.png")
    worse = compare(ref, out, "--baseline", saved, "--tolerance", "psnr=100",
                    "--format", "json")
    assert worse.returncode == 1
    failure = check(gates_of(worse), "psnr vs baseline")["failures"][0]
    assert failure["baseline"] is None and failure["excess"] is None
    assert failure["direction"] == "regression" and "baseline inf dB: inf dB worse" in \
        failure["message"]


@pytest.fixture
def baseline(pairs, tmp_path):
    path = tmp_path / "baseline.json"
    result = compare(*pairs, "--format", "json", "-o", path)
    assert result.returncode == 0, result.stderr
    return path


def _renoise(out: Path, name: str, sigma: float, seed: int = 7) -> None:
    Image.fromarray(_noisy(_base(name), sigma, seed)).save(out / name)


def test_unchanged_run_matches_its_baseline_exactly(pairs, baseline):
    result = compare(*pairs, "--baseline", baseline, "--two-sided", env={"NO_COLOR": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS psnr vs baseline (tolerance exact, two-sided): 3 result(s)" in result.stdout
    assert "PASS pairs in baseline: all 3 present" in result.stdout
    assert "result: all gates passed" in result.stdout


def test_regression_beyond_tolerance_fails_within_passes(pairs, baseline):
    ref, out = pairs
    _renoise(out, "clean.png", 3.3)  # about 0.8 dB worse
    exact = compare(ref, out, "--baseline", baseline, "--format", "json")
    assert exact.returncode == 1
    gates = gates_of(exact)
    psnr = check(gates, "psnr vs baseline")
    assert [f["pair"] for f in psnr["failures"]] == ["clean.png"]
    failure = psnr["failures"][0]
    assert failure["direction"] == "regression" and failure["delta"] < -0.3
    assert failure["value"] - failure["baseline"] == pytest.approx(failure["delta"])
    assert "(exact comparison)" in failure["message"]
    assert gates["baseline"]["file"] == str(baseline)

    loose = compare(ref, out, "--baseline", baseline, "--tolerance", "psnr=2,ssim=5%")
    assert loose.returncode == 0, loose.stdout
    tight_rel = compare(ref, out, "--baseline", baseline, "--tolerance", "psnr=0.1%",
                        "--tolerance", "ssim=50%", "--format", "json")
    assert tight_rel.returncode == 1
    rel = check(gates_of(tight_rel), "psnr vs baseline")
    assert rel["tolerance"] == "0.1%" and rel["tolerance_percent"] == 0.1
    assert rel["tolerance_absolute"] is None
    assert rel["failures"][0]["allowed"] == pytest.approx(rel["failures"][0]["baseline"] / 1000)


def test_improvement_fails_only_when_two_sided(pairs, baseline):
    ref, out = pairs
    _renoise(out, "noisy.png", 6.0)  # about 6 dB better
    assert compare(ref, out, "--baseline", baseline, "--tolerance", "psnr=0.05,ssim=0.1%"
                   ).returncode == 0
    result = compare(ref, out, "--baseline", baseline, "--tolerance", "psnr=0.05,ssim=0.1%",
                     "--two-sided", "--format", "json")
    assert result.returncode == 1
    failure = check(gates_of(result), "psnr vs baseline")["failures"][0]
    assert failure["pair"] == "noisy.png" and failure["direction"] == "improvement"
    assert failure["message"].endswith("refresh the baseline")


def test_missing_pairs_fail_and_new_pairs_are_listed(pairs, baseline, tmp_path):
    ref, out = pairs
    (ref / "same.png").unlink()
    (out / "same.png").unlink()
    Image.fromarray(_base("extra.png")).save(ref / "extra.png")
    Image.fromarray(_noisy(_base("extra.png"), CLEAN, 3)).save(out / "extra.png")
    result = compare(ref, out, "--baseline", baseline, "--format", "json")
    assert result.returncode == 1
    gates = gates_of(result)
    assert gates["baseline"]["missing"] == ["same.png"]
    assert gates["baseline"]["new"] == ["extra.png"]
    present = check(gates, "pairs in baseline")
    assert not present["passed"] and [f["pair"] for f in present["failures"]] == ["same.png"]
    assert check(gates, "psnr vs baseline")["passed"]
    assert {"pair": "extra.png", "reason": "new: not in the baseline"} in \
        check(gates, "psnr vs baseline")["skipped"]
    table = compare(ref, out, "--baseline", baseline, env={"NO_COLOR": "1"})
    assert "FAIL pairs in baseline: missing same.png" in table.stdout
    assert "new pairs (not in the baseline): extra.png" in table.stdout


@pytest.mark.parametrize(
    "expr, message",
    [
        ("psnr", "missing comparison"),
        ("psnr=30", "unsupported comparison '='"),
        ("psnr<thirty", "expected a number after '<'"),
        ("avg(psnr)<30", "unknown aggregate 'avg'"),
        ("mean(psnr<30", "expected METRIC OP NUMBER"),
        ("pnsr<30", "unknown metric 'pnsr'; did you mean 'psnr'?"),
    ],
)
def test_malformed_expressions_are_usage_errors(pairs, expr, message):
    result = compare(*pairs, "--fail-if", expr)
    line = one_line_error(result)
    assert message in line and result.stdout == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tolerance", "psnr=0.1"], "--tolerance and --two-sided need --baseline FILE"),
        (["--two-sided"], "--tolerance and --two-sided need --baseline FILE"),
        (["--baseline", "{tmp}/nope.json"], "nope.json: no such file"),
        (["--baseline", "{tmp}/bad.json"], "not valid JSON"),
        (["--baseline", "{tmp}/fid.json"], "holds results of `iqa fid`, not `iqa compare`"),
        (["--baseline", "{tmp}/fid.json", "--tolerance", "psnrr=1"], "did you mean 'psnr'"),
        (["--junit", "{tmp}/no/dir/report.xml"], "does not exist"),
    ],
)
def test_option_and_baseline_errors_exit_2_in_one_line(pairs, tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "fid.json").write_text(json.dumps({"tool": "iqa", "command": "fid", "fid": 3.0}))
    args = [a.format(tmp=tmp_path) for a in args]
    result = compare(*pairs, *args)
    assert message in one_line_error(result) and result.stdout == ""


def test_metric_named_in_a_gate_is_computed(pairs):
    result = run_iqa("compare", *pairs, "-m", "psnr", "--fail-if", "ssim<0.1", "--format",
                     "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["metrics"] == ["psnr", "ssim"] and doc["pairs"][0]["ssim"] > 0


def test_input_error_wins_over_a_failed_gate_unless_skip_bad(pairs, tmp_path):
    ref, out = pairs
    data = (out / "clean.png").read_bytes()
    (out / "clean.png").write_bytes(data[: len(data) // 2])
    junit = tmp_path / "report.xml"
    result = compare(ref, out, "--fail-if", "psnr<32", "--format", "json", "--junit", junit)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "clean.png" in result.stderr
    gates = gates_of(result)
    assert gates["exit_code"] == 2 and gates["input_problems_fatal"] is True
    assert not check(gates, "psnr<32")["passed"]
    root = ET.parse(junit).getroot()
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in errors] == ["clean.png [input]"]

    skipped = compare(ref, out, "--fail-if", "psnr<32", "--skip-bad", "--format", "json",
                      "--junit", junit)
    assert skipped.returncode == 1
    gate = check(gates_of(skipped), "psnr<32")
    assert gate["skipped"][0]["pair"] == "clean.png"
    assert gate["skipped"][0]["reason"].startswith("not scored: ")
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "0" and int(root.get("skipped")) == 2
    assert root.get("failures") == "1"

    clean = compare(ref, out, "--fail-if", "psnr<20", "--skip-bad")
    assert clean.returncode == 0


def test_junit_has_one_test_case_per_pair_and_gate(pairs, baseline, tmp_path):
    ref, out = pairs
    _renoise(out, "clean.png", 3.3)
    (ref / "same.png").unlink()
    (out / "same.png").unlink()
    junit = tmp_path / "gates.xml"
    result = compare(ref, out, "--fail-if", "psnr<32", "--fail-if", "mean(ssim)<0.1",
                     "--baseline", baseline, "--tolerance", "ssim=100%", "--junit", junit)
    assert result.returncode == 1
    assert junit.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("name") == "iqa compare"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["psnr<32", "mean(ssim)<0.1", "psnr vs baseline",
                            "ssim vs baseline", "pairs in baseline", "inputs"]

    def cases(suite: str) -> dict[str, str]:
        out = {}
        for case in suites[suite].findall("testcase"):
            kids = [k.tag for k in case if k.tag in ("failure", "error", "skipped")]
            out[case.get("name")] = kids[0] if kids else "pass"
        return out

    assert cases("psnr<32") == {"clean.png [psnr<32]": "pass", "noisy.png [psnr<32]": "failure"}
    assert cases("mean(ssim)<0.1") == {"all results [mean(ssim)<0.1]": "pass"}
    assert cases("psnr vs baseline") == {"clean.png [psnr vs baseline]": "failure",
                                         "noisy.png [psnr vs baseline]": "pass"}
    assert cases("ssim vs baseline") == {"clean.png [ssim vs baseline]": "pass",
                                         "noisy.png [ssim vs baseline]": "pass"}
    assert cases("pairs in baseline")["same.png [pairs in baseline]"] == "failure"
    assert cases("inputs") == {"clean.png [input]": "pass", "noisy.png [input]": "pass"}
    failure = suites["psnr<32"].find("testcase/failure")
    assert failure.get("message").startswith("psnr<32: ") and "below the limit" in \
        failure.get("message")
    assert "value: " in failure.text
    case = suites["psnr<32"].find("testcase")
    assert case.get("classname") == "iqa.compare.psnr"
    props = {p.get("name"): p.get("value") for p in suites["inputs"].iter("property")}
    assert props["iqa.command"] == "compare" and props["iqa.baseline"] == str(baseline)
    for suite in [root, *suites.values()]:
        all_cases = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(all_cases)
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr)) == sum(1 for c in all_cases if c.find(tag) is not None)
    assert root.get("failures") == "3"


def test_junit_is_written_when_the_run_stops_on_an_input_error(tmp_path):
    junit = tmp_path / "report.xml"
    result = run_iqa("compare", tmp_path / "missing", tmp_path / "also", "--fail-if",
                     "psnr<30", "--junit", junit)
    line = one_line_error(result)
    root = ET.parse(junit).getroot()
    error = root.find("testsuite/testcase/error")
    assert error is not None and error.get("message") in line
    assert root.get("errors") == "1"


def test_unmatched_files_are_input_errors_in_junit_unless_allowed(pairs, tmp_path):
    ref, out = pairs
    Image.fromarray(_base("lonely.png")).save(ref / "lonely.png")
    junit = tmp_path / "r.xml"
    assert compare(ref, out, "--junit", junit).returncode == 2
    names = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")
             if c.find("error") is not None]
    assert names == [f"{ref / 'lonely.png'} [input]"]
    assert compare(ref, out, "--junit", junit, "--allow-unmatched").returncode == 0
    assert ET.parse(junit).getroot().get("skipped") == "1"


def test_csv_and_jsonl_carry_the_gate_results(pairs):
    result = compare(*pairs, "--fail-if", "psnr<32", "--format", "csv")
    assert result.returncode == 1
    rows = {r["pair"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["noisy.png"]["gate_failures"].startswith("psnr<32: ")
    assert rows["clean.png"]["gate_failures"] == ""

    lines = compare(*pairs, "--fail-if", "psnr<32", "--format", "jsonl")
    assert lines.returncode == 1
    objects = [strict_json(line) for line in lines.stdout.splitlines()]
    assert [o["type"] for o in objects] == ["pair", "pair", "pair", "summary"]
    assert objects[-1]["gates"]["checks"][0]["failures"][0]["pair"] == "noisy.png"
    assert objects[-1]["gates"]["exit_code"] == 1


def test_baseline_saved_as_json_lines_works(pairs, tmp_path):
    saved = tmp_path / "base.jsonl"
    assert compare(*pairs, "--format", "jsonl", "-o", saved).returncode == 0
    result = compare(*pairs, "--baseline", saved, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert gates_of(result)["baseline"]["pairs"] == 3


def test_changed_definition_against_the_baseline_is_warned_when_allowed(pairs, baseline):
    result = compare(*pairs, "--luma", "--baseline", baseline, "--tolerance", "psnr=100",
                     "--allow-definition-change", "--format", "json")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    # --luma changes PSNR's and SSIM's definitions (SSIM too is computed on Y): one line each
    assert len(lines) == 3 and lines[-1] == "iqa: PASS 3 gates on 3 pairs"
    assert all(x.startswith(f"iqa: warning: --baseline {baseline}: ") for x in lines[:2])
    assert "psnr definition changed (channels: 'all channels' -> 'BT.601 luma" in lines[0]
    assert "ssim definition changed" in lines[1]
    assert gates_of(result)["baseline"]["definition_changes"]


def test_help_documents_the_gates_and_exit_codes():
    result = run_iqa("compare", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for option in ("--fail-if EXPR", "--baseline FILE", "--tolerance NAME=AMOUNT[%]",
                   "--two-sided", "--junit FILE"):
        assert option in text
    assert "Default: exact" in text
    assert ("Exit codes: 0 all gates pass, 1 a quality gate failed, 2 usage or input error "
            "(2 wins over 1)") in text
    assert "unless --skip-bad" in text


_SHIMS = {
    # Stand-ins for libwebp's tools with the same command lines, so the example runs anywhere.
    "cwebp": """
a = sys.argv[1:]
q = a.index("-q")
Image.open(a[q + 2]).save(a[a.index("-o") + 1], "WEBP", quality=int(a[q + 1]))
""",
    "dwebp": """
a = sys.argv[1:]
Image.open(a[a.index("-quiet") + 1]).save(a[a.index("-o") + 1], "PNG")
""",
    "iqa": """
from iqa.cli import main
main()
""",
}


def test_example_script_gates_a_codec_against_its_baseline(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in _SHIMS.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\nimport sys\nfrom PIL import Image\n{body}")
        path.chmod(0o755)
    refs = tmp_path / "refs"
    (refs / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        small = Image.fromarray(_base(name)).resize((8, 8), Image.BICUBIC)
        small.resize((64, 64), Image.BICUBIC).save(refs / name)
    script = ROOT / "examples" / "codec-quality-gate.sh"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script), str(refs), "out"], cwd=tmp_path,
                              env={**env, **extra}, capture_output=True, text=True,
                              timeout=300)

    accept = run(UPDATE_BASELINE="1", QUALITY="90")
    assert accept.returncode == 0, accept.stdout + accept.stderr
    assert "baseline updated: quality/baseline.json" in accept.stdout
    assert (tmp_path / "quality" / "baseline.json").is_file()

    same = run(QUALITY="90")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "iqa: PASS 6 gates on 3 pairs" in same.stderr and "FAIL" not in same.stderr

    worse = run(QUALITY="70")
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "FAIL psnr vs baseline" in worse.stderr  # iqa's verdict, with -o, on stderr
    report = strict_json((tmp_path / "out" / "quality.json").read_text())
    assert report["gates"]["exit_code"] == 1
    assert {f["pair"] for f in check(report["gates"], "psnr vs baseline")["failures"]} == {
        "a.png", "b.png", "sub/c.png"}
    root = ET.parse(tmp_path / "out" / "quality.xml").getroot()
    assert int(root.get("failures")) >= 3
