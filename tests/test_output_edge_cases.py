"""Edge cases of where results go, through the real command line: a stdout whose reader
left (141) or that is full (one line, exit 2), output names that are loops of symbolic
links, a pair whose maps would take a colour legend's name, JUnit error reports for
refusals before scoring, and click's usage errors as one line."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from iqa.errors import OutputError, UsageError
from iqa.output import check_output_targets, open_output
from tests.cli_helpers import ROOT, run_iqa
from tests.images import camera, noisy


def _pair(root: Path, name: str = "a.png", size: int = 48) -> tuple[Path, Path]:
    ref_dir, dist_dir = root / "ref", root / "dist"
    ref_dir.mkdir(parents=True, exist_ok=True)
    dist_dir.mkdir(parents=True, exist_ok=True)
    img = camera()[:size, :size].copy()
    Image.fromarray(img).save(ref_dir / name)
    Image.fromarray(noisy(img, 6)).save(dist_dir / name)
    return ref_dir, dist_dir


@pytest.fixture
def pair(tmp_path):
    return _pair(tmp_path)


@pytest.fixture
def caches(tmp_path):
    return {"TORCH_HOME": str(tmp_path / "torch"), "IQA_CACHE_DIR": str(tmp_path / "iqa"),
            "OMP_NUM_THREADS": "1"}


def _one_line(result, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("iqa: "), result.stderr
    return lines[0]


def _run_with_stdout(stdout, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iqa", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=600)


def _closed_pipe(*args, env=None) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader is already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return _run_with_stdout(write, *args, env=env)
    finally:
        os.close(write)


# A closed stdout: 141 for every command and format (rich's own handler exits 1).
@pytest.mark.parametrize("args", [
    ["compare", "{ref}", "{dist}", "-m", "psnr", "--format", "table"],
    ["compare", "{ref}", "{dist}", "-m", "psnr,ssim", "--fail-if", "psnr<1"],  # passing gate
    ["metrics"],
    ["weights", "list"],
    ["weights", "list", "--format", "json"],
])
def test_a_closed_stdout_exits_141_quietly(pair, caches, args):
    ref, dist = pair
    result = _closed_pipe(*(a.format(ref=ref, dist=dist) for a in args), env=caches)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


# A full stdout: the same one-line write error as `-o /dev/full`, exit 2.
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ["compare", "{ref}", "{dist}", "-m", "psnr", "--format", "table"],
    ["compare", "{ref}", "{dist}", "-m", "psnr", "--format", "json"],
    ["compare", "{ref}", "{dist}", "-m", "psnr", "--format", "jsonl"],
    ["weights", "list"],
    ["weights", "list", "--format", "json"],
    ["metrics", "--format", "json"],  # click.echo
    ["cache", "list"],
])
def test_a_full_stdout_is_a_one_line_write_error(pair, caches, args):
    ref, dist = pair
    with open("/dev/full", "w") as full:
        result = _run_with_stdout(full, *(a.format(ref=ref, dist=dist) for a in args),
                                  env=caches)
    line = _one_line(result)
    assert line.startswith("iqa: stdout: cannot be written (No space left on device)"), line


# Output names that are loops of symbolic links: refused before any work.
@pytest.fixture
def loop(tmp_path):
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    return tmp_path / "loop1"


@pytest.mark.parametrize("option", ["-o", "--junit", "--html", "--maps"])
def test_a_symlink_loop_as_output_is_refused_up_front(pair, loop, option):
    result = run_iqa("compare", *pair, "-m", "psnr", "--fail-if", "psnr<1", "--format", "json",
                     option, loop)
    line = _one_line(result)
    assert f"{option} {loop}: is a loop of symbolic links" in line
    assert result.stdout == ""  # refused before any work: no report at all
    assert loop.is_symlink()


def test_a_symlink_loop_is_refused_by_the_check_and_a_write_error_after_it(loop):
    with pytest.raises(UsageError, match="loop of symbolic links"):
        check_output_targets([("-o", str(loop))])
    with pytest.raises(OutputError, match="cannot be written"):  # made after the check
        with open_output(str(loop)) as stream:
            stream.write("report\n")
    assert loop.is_symlink() and sorted(p.name for p in loop.parent.iterdir()) == [
        "loop1", "loop2"]


# --maps: a pair whose maps would replace the colour legends.
def test_a_pair_named_legend_cannot_overwrite_the_colour_legends(tmp_path):
    ref, dist = _pair(tmp_path, "legend.png")
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "legend.psnr.png").write_bytes(b"an earlier run's legend")
    result = run_iqa("compare", ref, dist, "--pair-by", "stem", "-m", "psnr,ssim",
                     "--maps", maps, "--format", "csv")
    line = _one_line(result)
    assert "the maps of the pair legend would replace the colour legends" in line
    assert "legend.psnr.png" in line and "legend.ssim.png" in line
    assert (maps / "legend.psnr.png").read_bytes() == b"an earlier run's legend"
    assert sorted(p.name for p in maps.iterdir()) == ["legend.psnr.png"]


def test_a_pair_named_legend_paired_by_path_keeps_both(tmp_path):
    ref, dist = _pair(tmp_path, "legend.png")
    maps = tmp_path / "maps"
    result = run_iqa("compare", ref, dist, "-m", "psnr", "--maps", maps, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in maps.iterdir()) == ["legend.png.psnr.png", "legend.psnr.png"]
    assert Image.open(maps / "legend.psnr.png").size == (512, 64)  # the colour bar


# JUnit: a refusal before scoring replaces a stale report with that one error.
@pytest.fixture
def stale_junit(pair, tmp_path):
    junit = tmp_path / "quality.xml"
    result = run_iqa("compare", *pair, "-m", "psnr", "--fail-if", "psnr<1", "--junit", junit)
    assert result.returncode == 0, result.stderr
    assert ET.parse(junit).getroot().get("errors") == "0"
    return junit


def _baseline(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    if kind == "nan":
        path.write_text('{"tool": "iqa", "command": "compare", "pairs": [{"psnr": NaN}]}')
    elif kind == "foreign":
        path.write_text('{"hello": "world"}')
    return path  # "missing": never written


@pytest.mark.parametrize("kind", ["missing", "nan", "foreign"])
def test_a_bad_baseline_replaces_a_stale_junit_report_with_its_error(
        pair, tmp_path, stale_junit, kind):
    result = run_iqa("compare", *pair, "-m", "psnr", "--fail-if", "psnr<1",
                     "--baseline", _baseline(tmp_path, kind), "--junit", stale_junit)
    line = _one_line(result)
    root = ET.parse(stale_junit).getroot()
    assert root.get("tests") == "1" and root.get("errors") == "1"
    assert root.find("testsuite/testcase/error").get("message") in line
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("args", [
    ["-m", "nosuch"],  # refused by the command, outside its gates' guard
    ["--fail-if", "psnr<<1"],  # refused while the gates are planned
])
def test_other_refusals_before_scoring_write_the_error_report(pair, stale_junit, args):
    result = run_iqa("compare", *pair, "--fail-if", "psnr<1", *args, "--junit", stale_junit)
    line = _one_line(result)
    error = ET.parse(stale_junit).getroot().find("testsuite/testcase/error")
    assert error is not None and error.get("message") in line


def test_an_error_report_never_replaces_an_input(pair, tmp_path):
    ref, dist = pair
    bad = _baseline(tmp_path, "foreign")
    before = bad.read_bytes()
    result = run_iqa("compare", ref, dist, "--baseline", bad, "--junit", bad)
    _one_line(result)
    assert bad.read_bytes() == before
    image = dist / "a.png"
    before = image.read_bytes()
    result = run_iqa("compare", ref, image, "-m", "nosuch", "--junit", image)
    _one_line(result)
    assert image.read_bytes() == before


# click's usage errors: one line, exit 2, with the command whose --help tells more.
@pytest.mark.parametrize("args, command, message", [
    (["compare", "a.png", "b.png", "--frames", "0"], "iqa compare",
     "Invalid value for '--frames'"),
    (["compare", "a.png", "b.png", "--bogus"], "iqa compare", "No such option"),
    (["compare", "a.png"], "iqa compare", "Missing argument 'DIST...'"),
    (["nosuch"], "iqa", "No such command 'nosuch'"),
    (["weights", "import", "alexnet"], "iqa weights import", "Missing argument 'FILE'"),
    (["fid", "--resize", "nope", "a", "b"], "iqa fid", "Invalid value for '--resize'"),
])
def test_click_usage_errors_are_one_line(args, command, message):
    line = _one_line(run_iqa(*args))
    assert message in line and f"(run `{command} --help` for usage)" in line, line


def test_help_is_unchanged_by_the_one_line_errors():
    result = run_iqa("compare", "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: iqa compare [OPTIONS] REF DIST...")
    assert "Exit codes:" in result.stdout
    group = run_iqa("weights")  # a group without a command still shows its help
    assert "Usage: iqa weights" in group.stdout + group.stderr

