"""`iqa compare` reports through the real command line: closed pipes, signals, targets
that must not be replaced, file names of any bytes, unreadable inputs."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.images import astronaut, camera, noisy


def _iqa(*args, **kwargs) -> list[str]:
    return [sys.executable, "-m", "iqa", *map(str, args)]


def _pair(folder, name="a.png", seed=0, size=64):
    ref = camera()[:size, :size].copy()
    (folder / "ref").mkdir(parents=True, exist_ok=True)
    (folder / "dist").mkdir(parents=True, exist_ok=True)
    Image.fromarray(ref).save(folder / "ref" / name)
    Image.fromarray(noisy(ref, 8, seed=seed)).save(folder / "dist" / name)
    return folder / "ref", folder / "dist"


@pytest.fixture
def many_pairs(tmp_path):
    """Enough large pairs that a run takes a while (several seconds)."""
    ref, dist = tmp_path / "r", tmp_path / "d"
    ref.mkdir()
    dist.mkdir()
    img = astronaut()
    for i in range(60):
        Image.fromarray(img).save(ref / f"{i:03d}.png", compress_level=0)
        Image.fromarray(noisy(img, 5, seed=i)).save(dist / f"{i:03d}.png", compress_level=0)
    return ref, dist


def test_closed_stdout_exits_141_quietly(many_pairs):
    proc = subprocess.Popen(_iqa("compare", *many_pairs, "--format", "jsonl"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert json.loads(first)["type"] == "pair"
    assert code == 141, stderr
    assert stderr == ""


def test_sigterm_removes_part_files_and_exits_143(many_pairs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(_iqa("compare", *many_pairs, "--format", "json", "-o",
                                 out / "scores.json"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be terminated"
    assert [p.name for p in out.iterdir()][0].endswith(".part")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip() == "iqa: terminated (SIGTERM)"
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("option", ["-o", "--junit"])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path, option):
    ref, dist = _pair(tmp_path)
    before = (dist / "a.png").read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(dist / "a.png")
    for target in (dist / "a.png", link):
        result = run_iqa("compare", ref / "a.png", dist / "a.png", option, target)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "is the input" in result.stderr
        assert (dist / "a.png").read_bytes() == before
    folder = run_iqa("compare", ref, dist, "-o", ref / "a.png")
    assert folder.returncode == 2 and "is the input" in folder.stderr


def test_an_output_naming_the_baseline_is_refused(tmp_path):
    ref, dist = _pair(tmp_path)
    base = tmp_path / "base.json"
    assert run_iqa("compare", ref, dist, "--format", "json", "-o", base).returncode == 0
    before = base.read_text()
    result = run_iqa("compare", ref, dist, "--baseline", base, "--format", "json", "-o", base)
    assert result.returncode == 2 and "is the input" in result.stderr
    assert base.read_text() == before


def test_output_into_a_named_pipe_and_through_links(tmp_path):
    ref, dist = _pair(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = run_iqa("compare", ref, dist, "--format", "json", "-o", fifo)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert strict_json(received[0])["counts"]["pairs"] == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

    real = tmp_path / "real.csv"
    real.write_text("old\n")
    real.chmod(0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = run_iqa("compare", ref, dist, "--format", "csv", "-o", link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and real.read_text().startswith("pair,ref,dist")
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def test_output_to_dev_stdout_and_dev_fd(tmp_path):
    ref, dist = _pair(tmp_path)
    link = tmp_path / "stdout-link"
    link.symlink_to("/dev/stdout")
    result = run_iqa("compare", ref, dist, "--format", "json", "-o", link)
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["counts"]["pairs"] == 1
    assert link.is_symlink()

    read_end, write_end = os.pipe()
    proc = subprocess.Popen(_iqa("compare", ref, dist, "--format", "csv", "-o",
                                 f"/dev/fd/{write_end}"), cwd=ROOT, pass_fds=(write_end,),
                            stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        written = stream.read()
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert written.startswith("pair,ref,dist") and "a.png" in written


def test_unwritable_outputs_are_refused_before_work(tmp_path):
    ref, dist = _pair(tmp_path)
    for option, target in (("-o", "/sys/iqa.json"), ("--junit", "/sys/iqa.xml"),
                           ("-o", tmp_path / "nope" / "x.json"), ("-o", tmp_path)):
        result = run_iqa("compare", ref, dist, option, target)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"iqa: {option} "), lines


def test_a_failing_junit_keeps_the_output_report(tmp_path):
    ref, dist = _pair(tmp_path)
    full = tmp_path / "full.xml"
    full.symlink_to("/dev/full")  # a device that accepts nothing: passes the check
    out = tmp_path / "out.json"
    result = run_iqa("compare", ref, dist, "--format", "json", "-o", out, "--junit", full)
    assert result.returncode == 2
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert strict_json(out.read_text())["counts"]["pairs"] == 1
    assert full.is_symlink()


def test_undecodable_file_names_give_valid_utf8_reports(tmp_path):
    raw = b"caf\xe9-\xff.png"  # latin-1 bytes: not UTF-8
    ref, dist = _pair(tmp_path)
    for folder in (ref, dist):
        os.rename(folder / "a.png", os.path.join(os.fsencode(folder), raw))
    for fmt in ("json", "jsonl", "csv", "table"):
        proc = subprocess.run(_iqa("compare", ref, dist, "--format", fmt), cwd=ROOT,
                              capture_output=True)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.decode("utf-8")  # strict: must not raise
        assert "\\udcff" in text
    doc = json.loads(subprocess.run(_iqa("compare", ref, dist, "--format", "json"),
                                    cwd=ROOT, capture_output=True).stdout)
    assert os.fsencode(doc["pairs"][0]["dist"]) == os.path.join(os.fsencode(dist), raw)
    out = tmp_path / "out.json"
    assert run_iqa("compare", ref, dist, "--format", "json", "-o", out).returncode == 0
    out.read_bytes().decode("utf-8")


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_a_latin1_stdout_does_not_crash_on_other_names(tmp_path, fmt):
    ref, dist = _pair(tmp_path, name="日本-ok.png")
    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}
    proc = subprocess.run(_iqa("compare", ref, dist, "--format", fmt), cwd=ROOT, env=env,
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr
    if fmt != "table":  # machine formats are UTF-8 whatever the locale
        assert "日本-ok.png" in proc.stdout.decode("utf-8")


def test_markup_in_names_is_shown_verbatim(tmp_path):
    ref, dist = _pair(tmp_path, name="photo [edit].png")
    for folder in (ref, dist):
        (folder / "a[").mkdir()
        shutil.copy(folder / "photo [edit].png", folder / "a[" / "]b[i].png")
        shutil.copy(folder / "photo [edit].png", folder / "[bold]x.png")
    result = run_iqa("compare", ref, dist, "-m", "psnr")
    assert result.returncode == 0, result.stderr
    for name in ("photo [edit].png", "a[/]b[i].png", "[bold]x.png"):
        assert name in result.stdout


def test_control_characters_in_names_keep_messages_on_one_line(tmp_path):
    ref, dist = _pair(tmp_path, name="bad\nname.png")
    (dist / "bad\nname.png").write_bytes(b"not an image")
    _pair(tmp_path, name="good.png")
    result = run_iqa("compare", ref, dist, "-m", "psnr", "--format", "json")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("iqa: ") and "bad\\nname.png" in lines[0]
    doc = strict_json(result.stdout)
    assert doc["counts"] == {"pairs": 2, "scored": 1, "failed": 1}
    missing = run_iqa("compare", tmp_path / "no\nsuch.png", dist / "good.png")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1


def _without_root_powers() -> list[str]:
    """A prefix that runs a command without the power to read any file (root only)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search"]


def test_an_unreadable_file_is_one_line_and_the_others_are_scored(tmp_path):
    ref, dist = _pair(tmp_path)
    Image.fromarray(noisy(camera()[:64, :64].copy(), 3)).save(dist / "b.png")
    locked = dist / "b.png"
    locked.chmod(0)
    try:
        proc = subprocess.run([*_without_root_powers(), *_iqa(
            "compare", ref / "a.png", dist / "a.png", locked, "-m", "psnr", "--format",
            "json")], cwd=ROOT, capture_output=True, text=True)
    finally:
        locked.chmod(0o644)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"iqa: {locked}"), lines
    doc = strict_json(proc.stdout)
    assert [p["error"] is None for p in doc["pairs"]] == [True, False]


def test_a_missing_distorted_folder_says_so(tmp_path):
    ref, _ = _pair(tmp_path)
    result = run_iqa("compare", ref, tmp_path / "jpeg_q3")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"iqa: {tmp_path / 'jpeg_q3'}: no such file or folder (the distorted folder to pair "
        f"with {ref})")


def test_piped_table_never_wraps(tmp_path):
    name = "a-rather-long-file-name-" * 6 + ".png"
    ref, dist = _pair(tmp_path, name=name)
    result = run_iqa("compare", ref, dist, "--fail-if", "psnr<99", env={"COLUMNS": "80"})
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith(name))
    assert "FAIL psnr<99" in row
    listing = run_iqa("metrics", env={"COLUMNS": "80"})
    assert any("network:fid-inception" in line and "(Heusel et al. 2017)" in line
               for line in listing.stdout.splitlines())


def _terminal_table(name: str, width: int = 80) -> list[str]:
    import io
    import re

    from iqa.output.table import TableWriter

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    os.environ["COLUMNS"] = str(width)
    try:
        stream = Terminal()
        writer = TableWriter(stream, color=False)
    finally:
        del os.environ["COLUMNS"]
    writer.begin(["pair", "psnr"], {"metrics": ["psnr"],
                                    "definitions": {"psnr": {"unit": "dB"}}})
    writer.row({"pair": name, "psnr": 31.5, "psnr_band": "hard-to-see",
                "gate_failures": ["psnr vs baseline: 31.5 dB, baseline 32.0 dB: 0.5 dB worse "
                                  "(tolerance 0.05 dB)", "psnr<40: 31.5 dB (8.5 dB below)"]})
    writer.end({"summary": {"psnr": {"n": 1, "mean": 31.5, "min": 31.5, "max": 31.5}}})
    return [re.sub("\x1b\\[[0-9;]*m", "", line) for line in stream.getvalue().splitlines()]


def test_table_on_a_terminal_keeps_names_numbers_and_notes_on_one_line():
    lines = _terminal_table("short/a.png")
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if "short/a.png" in line)
    assert "31.50 hard-to-see" in row and "FAIL psnr vs baseline: 31.5 dB" in row
    assert row.endswith("…")
    assert len(lines) == 7  # header, rule, one row, rule, mean, min, max

    long_name = "very/long/path/to/some/image-" + "x" * 30 + ".png"
    lines = _terminal_table(long_name)
    row = next(line for line in lines if long_name in line)  # whole, on one line
    assert "31.50 hard-to-see" in row and "FAIL psnr vs" in row
