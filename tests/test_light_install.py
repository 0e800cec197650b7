"""Without the ``torch`` extra: pixel metrics work, network features end in one line + exit 2.

The light install is simulated by making ``torch``, ``torchvision`` and ``lpips``
unimportable in a fresh interpreter (``sys.modules[name] = None`` makes ``import name``
raise ImportError, exactly as when the package is absent).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli_helpers import ROOT

SAMPLES = ROOT / "sample_images"
REF = SAMPLES / "reference.png"
DIST = SAMPLES / "codec" / "jpeg_q50.jpg"

_PRELUDE = (
    "import sys\n"
    "for name in ('torch', 'torchvision', 'lpips'):\n"
    "    sys.modules[name] = None\n"
    "from iqa.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_light(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE, *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )


def test_pixel_metrics_run_without_torch():
    done = run_light("compare", REF, DIST, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["pairs"]
    assert rows[0]["psnr"] > 30 and 0 < rows[0]["ssim"] < 1 and 0 < rows[0]["ms_ssim"] < 1


def test_lpips_without_torch_names_the_extra():
    done = run_light("compare", REF, DIST, "-m", "lpips")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert 'pip install "iqa[torch]"' in lines[0] and "LPIPS" in lines[0]
    assert "Traceback" not in done.stderr


def test_fid_without_torch_names_the_extra(tmp_path):
    import shutil

    for side in ("real", "fake"):
        (tmp_path / side).mkdir()
        for name in ("a.png", "b.png"):
            shutil.copy(REF, tmp_path / side / name)
    done = run_light("fid", tmp_path / "real", tmp_path / "fake")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and 'pip install "iqa[torch]"' in done.stderr


def test_all_means_what_can_run_here():
    done = run_light("compare", REF, DIST, "-m", "all", "--format", "json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)["pairs"][0]
    assert {"psnr", "ssim", "ms_ssim"} <= set(row) and "lpips" not in row
    assert "lpips" in done.stderr and "iqa[torch]" in done.stderr


def test_metrics_lists_every_metric_and_the_extra_it_needs():
    done = run_light("metrics", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)["metrics"]}
    assert {"psnr", "ssim", "ms_ssim", "lpips", "fid", "kid"} <= set(rows)
    assert rows["lpips"]["extra"] == "torch" and not rows["lpips"]["available"]
    assert rows["psnr"]["extra"] is None and rows["psnr"]["available"]
