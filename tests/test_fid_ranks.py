"""``iqa fid`` under ``torchrun`` on the CPU (gloo): the numbers of one process, one output.

12 + 12 images of 64×64 with the real FID weights. torchrun sets ``OMP_NUM_THREADS=1`` in
each rank, and the float32 network's results depend on the number of threads (not on the
batch), so the single-process reference runs with one thread too; with that, FID and KID
of 2 and 3 ranks equal it to 1e-9 relative (only the order of float64 additions differs).
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.fid_helpers import natural_crops, reconstruct, write_set

TIMEOUT = 300


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranks")
    images = natural_crops(12, seed=4, square=64)
    write_set(root / "real", images)
    write_set(root / "fake", [reconstruct(x) for x in images])
    return root / "real", root / "fake"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(ranks: int, *args, cwd=ROOT) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks),
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               "-m", "iqa", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def single(sets, fid_weights):
    real, fake = sets
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--kid", "--no-cache",
                     "--format", "json", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return strict_json(result.stdout)


def _same(doc, single):
    for key in ("fid", "kid_mean", "kid_std"):
        assert doc[key] == pytest.approx(single[key], rel=1e-9, abs=0), key
    assert doc["counts"] == single["counts"]


def _iqa_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("iqa: ")]


def test_two_ranks_equal_one_process_and_print_once(sets, single, fid_weights):
    real, fake = sets
    result = torchrun(2, "fid", real, fake, "--weights", fid_weights, "--kid", "--no-cache",
                      "--batch-size", "4", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # the result and the summary, once: rank 1 prints nothing
    _same(strict_json(lines[0]), single)
    notes = _iqa_lines(result.stderr)
    assert sum("12 images in" in line for line in notes) == 2  # real and fake, by rank 0
    assert sum("unverified" in line for line in notes) == 1


def test_three_ranks_uneven_split_write_one_file(sets, single, fid_weights, tmp_path):
    real, fake = sets
    out = tmp_path / "fid.json"
    # batches of 5: 5 + 5 + 2 images, one batch per rank
    result = torchrun(3, "fid", real, fake, "--weights", fid_weights, "--kid", "--no-cache",
                      "--batch-size", "5", "--format", "json", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    _same(strict_json(out.read_text()), single)
    assert [p.name for p in tmp_path.iterdir()] == ["fid.json"]


def test_save_stats_under_two_ranks_equals_one_process(sets, fid_weights, tmp_path):
    real, _ = sets
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    first = run_iqa("fid", real, "--save-stats", one, "--weights", fid_weights, "--kid",
                    "--no-cache", env={"OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr
    result = torchrun(2, "fid", real, "--save-stats", two, "--weights", fid_weights, "--kid",
                      "--no-cache", "--batch-size", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["n"] == 12
    with np.load(one) as a, np.load(two) as b:
        assert int(b["n"]) == 12
        for key in ("mu", "sigma"):
            assert np.abs(a[key] - b[key]).max() <= 1e-12 * np.abs(a[key]).max()
        np.testing.assert_array_equal(a["features"], b["features"])


def test_a_corrupt_file_on_rank_1_ends_every_rank_with_one_line(sets, fid_weights, tmp_path):
    real, fake = sets
    bad = tmp_path / "bad"
    write_set(bad, natural_crops(6, seed=8, square=64))
    (bad / "zz_broken.png").write_bytes((bad / "img_000.png").read_bytes()[:300])
    # 7 files in batches of 2: rank 0 gets 4, rank 1 the last 3 with the broken file
    result = torchrun(2, "fid", real, bad, "--weights", fid_weights, "--no-cache",
                      "--batch-size", "2", "--format", "json")
    assert result.returncode != 0
    assert result.stdout == ""
    errors = [line for line in _iqa_lines(result.stderr) if "warning" not in line
              and "images in" not in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("iqa: rank 1 of 2: ")
    assert "zz_broken.png" in errors[0] and "--skip-bad" in errors[0]
    # torchrun's summary: both ranks ended with exit code 2, none was killed
    assert result.stderr.count("exitcode  : 2") == 2, result.stderr
    assert "terminated" not in result.stderr and "Traceback" not in "".join(errors)


def test_a_failed_gate_on_rank_0_ends_every_rank_with_exit_1(sets, fid_weights):
    """Rank 0 alone scores the gate, after rank 1 has left: rank 1 waits for the verdict
    and exits with rank 0's code, instead of 0."""
    real, fake = sets
    result = torchrun(2, "fid", real, fake, "--weights", fid_weights, "--no-cache",
                      "--batch-size", "4", "--format", "json", "--fail-if", "fid>0")
    assert result.returncode != 0, result.stderr
    assert strict_json(result.stdout)["fid"] > 0  # the result is still reported, once
    assert result.stderr.count("exitcode  : 1") == 2, result.stderr  # both ranks
    assert "terminated" not in result.stderr


def test_compare_under_two_ranks_gives_the_rows_of_one_process(tmp_path):
    """75 pairs: chunks of 32 dealt to 2 ranks (32 + 32 + 11), rows back in input order."""
    from PIL import Image

    from tests.images import random_image

    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    for i in range(75):
        image = random_image((16 + i % 5, 20, 3), seed=i)
        Image.fromarray(image).save(ref / f"{i:03d}.png")
        noisy = np.clip(image.astype(int) + (i % 7) - 3, 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(dist / f"{i:03d}.png")
    (dist / "070.png").write_bytes(b"not a png")  # a bad pair on rank 0's third chunk
    args = ("compare", ref, dist, "-m", "psnr,ssim", "--format", "csv", "--skip-bad")
    one = run_iqa(*args)
    assert one.returncode == 0, one.stderr
    two = torchrun(2, *args)
    assert two.returncode == 0, two.stderr
    assert two.stdout == one.stdout
    assert len(two.stdout.splitlines()) == 76
    errors = [line for line in _iqa_lines(two.stderr) if "070.png" in line]
    assert len(errors) == 1  # told once, by rank 0


def test_skip_bad_under_two_ranks_counts_the_file_rank_1_left_out(sets, fid_weights, tmp_path):
    real, _ = sets
    bad = tmp_path / "bad"
    write_set(bad, natural_crops(6, seed=8, square=64))
    (bad / "zz_broken.png").write_bytes((bad / "img_000.png").read_bytes()[:300])
    args = ("fid", real, bad, "--weights", fid_weights, "--no-cache", "--skip-bad",
            "--format", "json")
    one = run_iqa(*args, env={"OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr
    two = torchrun(2, *args, "--batch-size", "2")
    assert two.returncode == 0, two.stderr
    doc, ref = strict_json(two.stdout), strict_json(one.stdout)
    assert doc["fid"] == pytest.approx(ref["fid"], rel=1e-9, abs=0)
    assert doc["counts"] == ref["counts"] == {"real": 12, "fake": 6, "skipped_real": 0,
                                               "skipped_fake": 1}
    assert doc["skipped"] == ref["skipped"]
    assert sum("skipped: " in line for line in _iqa_lines(two.stderr)) == 1


def test_an_unknown_backend_is_refused_on_every_rank(sets, tmp_path):
    real, fake = sets
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               "-m", "iqa", "fid", str(real), str(fake), "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT,
                            env={**os.environ, "IQA_DIST_BACKEND": "nccl"})
    assert result.returncode != 0 and result.stdout == ""
    lines = _iqa_lines(result.stderr)
    assert lines and all("IQA_DIST_BACKEND=nccl: use gloo, or nccl with CUDA" in x for x in lines)
