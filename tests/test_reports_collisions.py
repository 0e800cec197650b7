"""Reports never mix or replace one another, and a stale JUnit report never stays.

* Two reports on standard output (``--junit -`` beside the table or JSON) are refused.
* A report named like a map of ``--maps DIR`` (every ``.png`` there) is refused.
* The gates' footer of the table escapes control characters of pair names.
* A clip run saved as JSON Lines serves as a baseline (its summary's clip records).
* An error met before the command body (an unknown option, a bad environment variable,
  a value refused by the option's parser) replaces an earlier run's JUnit report.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import run_iqa


def _pair(tmp_path, name: str = "a.png"):
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(len(name))
    img = rng.integers(30, 220, (40, 40, 3)).astype(np.uint8)
    Image.fromarray(img).save(ref / name)
    Image.fromarray(np.clip(img.astype(int) + 5, 0, 255).astype(np.uint8)).save(out / name)
    return ref / name, out / name


@pytest.mark.parametrize("extra", [(), ("--format", "json"), ("-o", "-", "--format", "csv")])
@pytest.mark.parametrize("option", ["--junit", "--html"])
def test_two_reports_on_standard_output_are_refused(tmp_path, extra, option):
    ref, out = _pair(tmp_path)
    proc = run_iqa("compare", ref, out, "-m", "psnr", "--fail-if", "psnr<10", *extra,
                   option, "-")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "standard output too" in proc.stderr
    alone = run_iqa("compare", ref, out, "-m", "psnr", "--fail-if", "psnr<10",
                    "-o", tmp_path / "r.json", "--junit", "-")
    assert alone.returncode == 0
    ET.fromstring(alone.stdout)  # the JUnit report alone


@pytest.mark.parametrize("option, name", [("-o", "a.png.psnr.png"), ("--junit", "legend.ssim.png"),
                                          ("--html", "any.PNG")])
def test_a_report_named_like_a_map_is_refused(tmp_path, option, name):
    ref, out = _pair(tmp_path)
    maps = tmp_path / "maps"
    maps.mkdir()
    proc = run_iqa("compare", ref, out, "-m", "psnr,ssim", "--maps", maps,
                   "--fail-if", "psnr<10", option, maps / name)
    assert proc.returncode == 2 and "is in the --maps folder" in proc.stderr
    assert not (maps / name).exists()
    fine = run_iqa("compare", ref, out, "-m", "psnr,ssim", "--maps", maps,
                   "-o", maps / "scores.json", "--format", "json")
    assert fine.returncode == 0, fine.stderr
    assert (maps / "a.png.psnr.png").exists() and json.loads((maps / "scores.json").read_text())


def test_the_gates_footer_escapes_control_characters(tmp_path):
    odd = "x\x1b[2Jy\nz.png"
    _pair(tmp_path, "a.png")
    base = tmp_path / "base.json"
    made = run_iqa("compare", tmp_path / "ref", tmp_path / "out", "-m", "psnr",
                   "--format", "json", "-o", base)
    assert made.returncode == 0, made.stderr
    _pair(tmp_path, odd)
    proc = run_iqa("compare", tmp_path / "ref", tmp_path / "out", "-m", "psnr",
                   "--baseline", base, "--tolerance", "psnr=1")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    line = next(line for line in proc.stdout.splitlines() if "new pairs" in line)
    assert line.endswith("x\\x1b[2Jy\\nz.png")


def test_a_clip_run_saved_as_json_lines_is_a_baseline(tmp_path):
    from iqa.video import Frame, FrameFormat, write_y4m

    fmt = FrameFormat(16, 8, "420")
    rng = np.random.default_rng(2)
    clips = [[Frame(fmt, tuple(rng.integers(0, 256, (h, w), np.uint8)
                               for w, h in fmt.plane_sizes), i) for i in range(3)]
             for _ in range(2)]
    ref, dist = tmp_path / "ref.y4m", tmp_path / "dist.y4m"
    write_y4m(ref, clips[0])
    write_y4m(dist, clips[1])
    base = tmp_path / "base.jsonl"
    made = run_iqa("compare", ref, dist, "-m", "psnr", "--format", "jsonl", "-o", base)
    assert made.returncode == 0, made.stderr
    again = run_iqa("compare", ref, dist, "-m", "psnr", "--baseline", base, "--format", "json")
    assert again.returncode == 0, again.stderr
    gates = json.loads(again.stdout)["gates"]
    assert gates["passed"] and gates["checks_failed"] == 0
    assert any(c["type"] == "baseline" and c["checked"] == 1 for c in gates["checks"])


@pytest.mark.parametrize("args, env", [
    (("--worst", "-1"), {}),
    (("--baselin", "x.json"), {}),
    ((), {"IQA_THREADS": "abc"}),
])
def test_an_early_error_replaces_an_earlier_junit_report(tmp_path, args, env):
    ref, out = _pair(tmp_path)
    report = tmp_path / "report.xml"
    report.write_text("<testsuites tests='1' failures='0' errors='0'/>\n")
    proc = run_iqa("compare", ref, out, "-m", "psnr", *args, "--junit", report,
                   env=env or None)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    root = ET.parse(report).getroot()
    assert root.get("errors") == "1" and root.get("name") == "iqa compare"
    error = root.find(".//error")
    assert proc.stderr.strip().removeprefix("iqa: ") in (error.text + error.get("message"))


def test_an_early_error_never_writes_over_an_input(tmp_path):
    ref, out = _pair(tmp_path)
    before = out.read_bytes()
    proc = run_iqa("compare", ref, out, "--worst", "-1", "--junit", out)
    assert proc.returncode == 2 and out.read_bytes() == before


@pytest.mark.parametrize("form", ["equals", "after-dashes", "short"])
def test_an_early_error_never_writes_over_a_file_named_in_another_form(tmp_path, form):
    ref, out = _pair(tmp_path)
    victim = tmp_path / "-v.png" if form == "after-dashes" else tmp_path / "v.json"
    victim.write_bytes(b"keep me")
    if form == "equals":  # --option=FILE
        args = ["compare", ref, out, "-m", "psnr", f"--output={victim}", "--junit", victim]
    elif form == "after-dashes":  # an input after --, named like an option
        args = ["compare", ref, "-m", "psnr", "--worst", "-1", f"--junit={victim.name}",
                "--", victim.name]
    else:  # -oFILE
        args = ["compare", ref, out, "-m", "psnr", "--worst", "-1", f"-o{victim}",
                "--junit", victim]
    proc = run_iqa(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert victim.read_bytes() == b"keep me"


def test_fid_never_writes_a_report_over_its_weights(tmp_path):
    ref, out = _pair(tmp_path)
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"weights")
    for option in ("--junit", "-o", "--html"):
        proc = run_iqa("fid", ref.parent, out.parent, "--weights", weights, option, weights)
        assert proc.returncode == 2 and "is the input" in proc.stderr
        assert weights.read_bytes() == b"weights"
