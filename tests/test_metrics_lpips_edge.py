"""LPIPS edge cases: images below the network's minimum size, non-finite results, and
weights looked up before torch is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from iqa.errors import ImageSizeError, InputError
from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.images import astronaut, noisy

# The smallest square each trunk accepts (found by running lpips.LPIPS on n×n inputs:
# AlexNet fails at 30, VGG-16 at 15, SqueezeNet 1.1 at 16).
MIN_SIDE = {"alex": 31, "vgg": 16, "squeeze": 17}


@pytest.mark.parametrize("net", ["alex", "squeeze", "vgg"])
def test_api_refuses_images_below_the_minimum_with_the_size(backbones, net):
    import iqa

    side = MIN_SIDE[net]
    img = astronaut()[:side, :side + 20]
    assert iqa.lpips(img, noisy(img, 8.0), net=net) > 0  # the minimum itself works
    small = img[: side - 1]
    with pytest.raises(ImageSizeError, match=f"at least {side}x{side}") as info:
        iqa.lpips(small, noisy(small, 8.0), net=net)
    assert isinstance(info.value, ValueError)


def test_cli_small_pair_gets_null_with_reason_others_scored(backbones, tmp_path):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    big = astronaut()[:64, :64]
    small = astronaut()[:20, :24]
    for name, img in (("big.png", big), ("small.png", small)):
        Image.fromarray(img).save(ref / name)
        Image.fromarray(noisy(img, 6.0)).save(dist / name)
    result = run_iqa("compare", ref, dist, "-m", "psnr,lpips", "--format", "json")
    assert result.returncode != 3, result.stderr
    assert "Traceback" not in result.stderr
    pairs = {p["pair"]: p for p in strict_json(result.stdout)["pairs"]}
    assert pairs["big.png"]["lpips"] > 0 and pairs["big.png"]["error"] is None
    assert pairs["small.png"]["lpips"] is None
    assert pairs["small.png"]["psnr"] > 20
    assert "at least 31x31" in pairs["small.png"]["error"]


def _poison(runner) -> None:
    import torch

    with torch.no_grad():
        for p in runner.net.model.net.parameters():
            p.fill_(float("nan"))


def test_non_finite_result_is_an_error_with_a_reason(backbones):
    from iqa.io.images import Image as IQAImage
    from iqa.metrics.lpips import LPIPS

    metric = LPIPS()
    _poison(metric.runner)
    img = astronaut()[:64, :64]
    pair = (IQAImage(img, "a.png"), IQAImage(noisy(img, 5.0), "b.png"))
    with pytest.raises(InputError, match="not a finite number.*alexnet"):
        metric.score([pair])


def test_api_non_finite_result_is_an_error(backbones, monkeypatch):
    import iqa
    from iqa.metrics import lpips as module

    runner = module._Runner("alex", "cpu")
    _poison(runner)
    monkeypatch.setattr(module, "_runner", lambda net, device: runner)
    img = astronaut()[:64, :64]
    with pytest.raises(InputError, match="not a finite number"):
        iqa.lpips(img, noisy(img, 5.0))


PROBE = """
import sys
from iqa.errors import IQAError
from iqa.metrics.lpips import _Runner
try:
    _Runner("alex", "cpu")
except IQAError as exc:
    print(type(exc).__name__, "torch" in sys.modules)
"""


def test_offline_missing_weights_fail_before_torch_is_imported(tmp_path):
    env = {"TORCH_HOME": str(tmp_path / "torch"), "IQA_CACHE_DIR": str(tmp_path / "iqa"),
           "IQA_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)
    assert out.stdout.split() == ["WeightsError", "False"], out.stderr


def test_missing_packages_are_a_one_line_usage_error(tmp_path):
    """Without torch (simulated) -m lpips is exit 2 with what to install."""
    img = astronaut()[:64, :64]
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(noisy(img, 5.0)).save(tmp_path / "b.png")
    code = ("import sys; sys.modules['torch'] = None; from iqa.cli import main; "
            "sys.argv = ['iqa'] + sys.argv[1:]; main()")
    out = subprocess.run([sys.executable, "-c", code, "compare", str(tmp_path / "a.png"),
                          str(tmp_path / "b.png"), "-m", "lpips"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "pip install" in out.stderr, out.stderr
