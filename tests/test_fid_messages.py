"""Messages of ``iqa fid``: only advice that ``iqa fid`` accepts, no leaked library warnings."""

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import run_iqa, strict_json


def test_alpha_error_suggests_only_values_fid_accepts(tmp_path, fid_weights):
    real, fake = tmp_path / "real", tmp_path / "fake"
    for folder in (real, fake):
        folder.mkdir()
        for i in range(2):
            Image.fromarray(np.full((16, 16, 3), 40 * i + 10, np.uint8)).save(folder / f"{i}.png")
    rgba = np.full((16, 16, 4), 200, np.uint8)
    rgba[:8, :, 3] = 0
    Image.fromarray(rgba).save(real / "clear.png")
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--alpha", "error",
                     "--no-cache")
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "clear.png" in last and "--alpha drop|black|white" in last
    assert "keep" not in last


@pytest.mark.parametrize("resize", ["tf", "pytorch-fid", "clean"])
def test_tiny_images_leak_no_library_warning(tmp_path, fid_weights, resize):
    real, fake = tmp_path / "real", tmp_path / "fake"
    for folder, size in ((real, 1), (fake, 2)):
        folder.mkdir()
        for i in range(2):
            Image.fromarray(np.full((size, size, 3), 60 * i + 20, np.uint8)).save(
                folder / f"{i}.png")
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--resize", resize,
                     "--no-cache", "--format", "json", env={"PYTHONWARNINGS": "default"})
    assert result.returncode == 0, result.stderr
    assert np.isfinite(strict_json(result.stdout)["fid"])
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("iqa: ") for line in lines), result.stderr
