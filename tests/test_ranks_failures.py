"""Failures under ``torchrun`` (gloo, CPU) and with torch.distributed's variables: every
rank ends with one line and exit code 2 for what is not a bug — a refused output target
that only rank 0 checks, an error every rank meets before any work (told once), a
process group that cannot be joined, a rank that is gone or stops answering — and no C++
stack frames reach stderr.

Small on purpose: 2 ranks, tiny images, PSNR (no network, no weights).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import ROOT, run_iqa

TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args, env=None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               *map(str, args)]
    return subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, timeout=TIMEOUT,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def _iqa_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("iqa: ")]


def _exit_codes(stderr: str) -> list[int]:
    """Each rank's exit code from torchrun's summary."""
    return sorted(int(line.split(":")[1].split()[0]) for line in stderr.splitlines()
                  if line.strip().startswith("exitcode"))


def _clean(stderr: str) -> None:
    assert "frame #" not in stderr and "internal error" not in stderr, stderr
    assert "Exception raised from" not in stderr, stderr


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for side in ("ref", "dist"):
        (root / side).mkdir()
    for i in range(70):  # three rounds of 32 pairs dealt to 2 ranks
        image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "ref" / f"{i:03d}.png")
        Image.fromarray(255 - image).save(root / "dist" / f"{i:03d}.png")
    return root / "ref", root / "dist"


@pytest.mark.parametrize("flag", ["-o", "--junit"])
def test_a_bad_output_target_ends_every_rank_with_exit_2_and_one_line(pairs, flag, tmp_path):
    """Only rank 0 writes reports, so only it checks the target: its refusal reaches
    rank 1 at its first collective, instead of rank 1 losing its peer (exit 3)."""
    ref, dist = pairs
    target = tmp_path / "missing" / ("o.csv" if flag == "-o" else "j.xml")
    result = _torchrun("-m", "iqa", "compare", ref, dist, "-m", "psnr", flag, target)
    assert _exit_codes(result.stderr) == [2, 2], result.stderr
    lines = _iqa_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("iqa: rank 0 of 2: "), result.stderr
    assert f"{flag} {target}" in lines[0]
    _clean(result.stderr)
    assert result.stdout == ""


def test_an_error_every_rank_meets_before_any_work_is_told_once(pairs, tmp_path):
    ref, dist = pairs
    result = _torchrun("-m", "iqa", "compare", ref, dist, "-m", "ssim", "--maps",
                       tmp_path / "maps")
    assert _exit_codes(result.stderr) == [2, 2], result.stderr
    lines = _iqa_lines(result.stderr)
    assert len(lines) == 1 and "--maps: not under torchrun" in lines[0], result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _torchrun("-m", "iqa", "compare", empty, dist, "-m", "psnr")
    assert _exit_codes(result.stderr) == [2, 2], result.stderr
    assert len(_iqa_lines(result.stderr)) == 1, result.stderr
    _clean(result.stderr)


def test_rank_1_says_it_lost_rank_0_when_the_reader_of_stdout_left(pairs):
    """`torchrun ... | head`: rank 0 exits 141 (stdout closed); rank 1 cannot reach it
    and says so in one line, exit 2 (not an internal error, exit 3)."""
    ref, dist = pairs
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               "-m", "iqa", "compare", ref, dist, "-m", "psnr", "--format", "jsonl"]
    process = subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    process.stdout.close()  # the reader is gone before anything is written
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert _exit_codes(stderr) == [2, 141], stderr
    lines = _iqa_lines(stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("iqa: rank 1 of 2: lost contact with the other ranks (")
    _clean(stderr)


_SILENT_RANK = textwrap.dedent("""
    import time
    from iqa.distribution import ranks
    from iqa.distribution.rank_run import distributed

    @distributed
    def command(device="cpu"):
        group = ranks.current()
        if group.rank == 1:
            time.sleep(60)  # stops answering
        group.collect(lambda: None)
        return 0

    command(device="cpu")
""")


def test_a_rank_that_stops_answering_ends_the_run_after_the_timeout(tmp_path):
    script = tmp_path / "silent.py"
    script.write_text(_SILENT_RANK)
    result = _torchrun(script, env={"IQA_DIST_TIMEOUT": "3", "PYTHONPATH": str(ROOT)})
    lines = _iqa_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("iqa: rank 0 of 2: lost contact with the other ranks ("), lines
    assert "IQA_DIST_TIMEOUT is 3 s" in lines[0]
    assert "exitcode  : 2" in result.stderr, result.stderr  # rank 0; torchrun stops rank 1
    _clean(result.stderr)


def _alone(pairs, **variables) -> subprocess.CompletedProcess:
    """`iqa compare` in one process with torch.distributed's variables set by hand."""
    ref, _ = pairs
    first = sorted(ref.iterdir())[0]
    env = {"IQA_DIST_TIMEOUT": "2", "MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "2",
           **variables}
    result = run_iqa("compare", first, first, "-m", "psnr", env=env, timeout=TIMEOUT)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == "", result.stderr
    _clean(result.stderr)
    return result


def test_variables_that_cannot_form_a_group_are_one_line_exit_2(pairs):
    result = _alone(pairs, RANK="5", MASTER_PORT=str(_free_port()))
    assert "RANK=5 with WORLD_SIZE=2" in result.stderr
    result = _alone(pairs, RANK="0", MASTER_ADDR="", MASTER_PORT="")
    assert "MASTER_ADDR and MASTER_PORT are not" in result.stderr


def test_a_group_that_cannot_be_joined_is_one_line_exit_2(pairs):
    with socket.socket() as taken:  # rank 0 must listen there: the port is in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _alone(pairs, RANK="0", MASTER_PORT=str(port))
    assert f"iqa: rank 0 of 2: cannot join the process group at 127.0.0.1:{port} (" in (
        result.stderr)
    assert "EADDRINUSE" in result.stderr
    port = _free_port()  # rank 1 alone: rank 0 never starts
    result = _alone(pairs, RANK="1", MASTER_PORT=str(port))
    assert f"iqa: rank 1 of 2: cannot join the process group at 127.0.0.1:{port} (" in (
        result.stderr)
    assert "IQA_DIST_TIMEOUT is 2 s" in result.stderr


def test_an_html_page_on_stdout_beside_an_output_file_still_runs(tmp_path):
    """Rank 0 alone writes reports: the other ranks must not see `--html -` beside a
    report they were told to leave out as two reports on standard output."""
    from iqa.distribution.stats import FeatureStats
    from iqa.distribution.statsfile import write_stats

    rng = np.random.default_rng(8)
    for name in ("a", "b"):
        feats = rng.integers(0, 256, (30, 2048)) / 64.0
        write_stats(tmp_path / f"{name}.npz", FeatureStats.from_features(feats),
                    {"resize": "tf"})
    proc = _torchrun("-m", "iqa", "fid", tmp_path / "a.npz", tmp_path / "b.npz",
                     "--device", "cpu", "-o", tmp_path / "r.json", "--html", "-")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.lstrip().lower().startswith("<!doctype html")
    assert proc.stdout.lower().count("<!doctype html") == 1
    assert (tmp_path / "r.json").read_text().lstrip().startswith("{")
