"""A baseline is compared only with a run made the same way, and a run passes against
its own report.

Reports leave the settings at their defaults out (so older baselines still match); a
baseline made with ``--crop-border 8`` or ``--channels gray`` must still be refused
against a run made without them (and the other way round). A metric left null in every
result of the baseline (MS-SSIM below 161 pixels, in the default set) has nothing to be
compared with and must not fail the run.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import run_iqa


def _pairs(tmp_path, size: int = 64):
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir()
    out.mkdir()
    rng = np.random.default_rng(4)
    for i in range(2):
        img = rng.integers(30, 220, (size, size, 3)).astype(np.uint8)
        noisy = np.clip(img + rng.normal(0, 6, img.shape).round(), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(ref / f"{i}.png")
        Image.fromarray(noisy).save(out / f"{i}.png")
    return ref, out


@pytest.mark.parametrize("made, run", [
    (["--crop-border", "8"], []),
    ([], ["--crop-border", "8"]),
    (["--channels", "gray"], []),
    ([], ["--channels", "gray"]),
])
def test_a_setting_left_at_its_default_on_one_side_is_a_change(tmp_path, made, run):
    ref, out = _pairs(tmp_path)
    base = tmp_path / "base.json"
    first = run_iqa("compare", ref, out, "-m", "psnr,ssim", *made, "--format", "json",
                    "-o", base)
    assert first.returncode == 0, first.stderr
    args = ("compare", ref, out, "-m", "psnr,ssim", *run, "--baseline", base,
            "--tolerance", "psnr=100,ssim=100%")
    refused = run_iqa(*args)
    assert refused.returncode == 2, refused.stderr
    assert "changed" in refused.stderr and refused.stderr.count("\n") == 1
    assert ("crop_border" in refused.stderr) != ("channels" in refused.stderr)
    allowed = run_iqa(*args, "--allow-definition-change")
    assert allowed.returncode == 0, allowed.stderr
    same = run_iqa("compare", ref, out, "-m", "psnr,ssim", *made, "--baseline", base)
    assert same.returncode == 0, same.stderr


def test_a_run_passes_against_its_own_report_when_ms_ssim_is_undefined(tmp_path):
    ref, out = _pairs(tmp_path, size=48)  # below MS-SSIM's 161 pixels
    base = tmp_path / "self.json"
    made = run_iqa("compare", ref, out, "--format", "json", "-o", base)
    assert made.returncode == 0, made.stderr
    again = run_iqa("compare", ref, out, "--baseline", base, "--format", "json")
    assert again.returncode == 0, again.stderr
    assert '"ms_ssim"' in again.stdout  # still reported, as null
    # A tolerance for it says that it was not compared; the others still are.
    noted = run_iqa("compare", ref, out, "--baseline", base, "--tolerance", "ms_ssim=0.1")
    assert noted.returncode == 0 and "--tolerance ms_ssim: not compared" in noted.stderr
