"""One device rule, one decode policy, and errors that name the parameter (library) or
the flag (command line)."""

from __future__ import annotations

import numpy as np
import pytest

import iqa
from iqa.errors import InvalidArgument
from tests.cli_helpers import run_iqa


def _sets(tmp_path, side_px: int = 32):
    from PIL import Image

    rng = np.random.default_rng(0)
    for side in ("real", "fake"):
        (tmp_path / side).mkdir()
        for i in range(3):
            pixels = rng.integers(0, 256, (side_px, side_px, 3), np.uint8)
            Image.fromarray(pixels).save(tmp_path / side / f"{i}.png")
    return tmp_path / "real", tmp_path / "fake"


def test_resolve_device_names_the_parameter():
    from iqa.device import resolve_device

    with pytest.raises(InvalidArgument) as info:
        resolve_device("gpu")
    assert str(info.value).startswith("device=") and info.value.param == "device"


def test_lpips_and_fid_share_the_device_rule():
    import iqa.distribution.network as network
    import iqa.metrics.lpips as lpips

    assert not hasattr(network, "resolve_device") and not hasattr(lpips, "DEVICES")
    with pytest.raises(InvalidArgument, match="^device="):
        iqa.lpips(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8),
                  device="gpu")


def test_default_batch_and_workers_per_device():
    from iqa.device import default_batch_size, default_workers

    assert default_batch_size("cuda", {"cpu": 2, "cuda": 16}) == 16
    assert default_batch_size("mps", {"cpu": 2}, 4) == 4
    # CPU: decoded on threads between the network's batches; CUDA: processes beside it
    assert default_workers("cpu") is None and default_workers("cuda") >= 1


@pytest.mark.parametrize("kwargs, param", [({"resize": "bilinear"}, "resize"),
                                           ({"alpha": "keep"}, "alpha"),
                                           ({"device": "gpu"}, "device"),
                                           ({"batch_size": 0}, "batch_size")])
def test_fid_errors_name_the_parameter_not_the_flag(tmp_path, kwargs, param):
    real, fake = _sets(tmp_path)
    with pytest.raises(InvalidArgument) as info:
        iqa.fid(real, fake, **kwargs)
    assert str(info.value).startswith(f"{param}=") and "--" not in str(info.value)


def test_kid_errors_name_its_own_parameters(tmp_path):
    real, fake = _sets(tmp_path)
    with pytest.raises(InvalidArgument, match="^subsets=0"):
        iqa.kid(real, fake, subsets=0)


def test_the_same_error_class_for_a_bad_alpha_policy(tmp_path):
    from iqa.io.policy import DecodePolicy

    real, fake = _sets(tmp_path)
    with pytest.raises(InvalidArgument) as from_fid:
        iqa.fid(real, fake, alpha="x")
    with pytest.raises(InvalidArgument) as from_policy:
        DecodePolicy(alpha="x").check()
    assert type(from_fid.value) is type(from_policy.value)
    assert "drop, black, white, error" in str(from_fid.value)
    assert "keep" in str(from_policy.value)


def test_one_policy_type_with_fid_defaults():
    from iqa.distribution.data import DecodeSettings
    from iqa.distribution.options import FIDOptions
    from iqa.io.policy import DecodePolicy

    decode = FIDOptions().decode
    assert isinstance(decode, DecodePolicy)
    assert (decode.alpha, decode.exif) == ("drop", False)
    assert DecodeSettings().describe() == {"resize": "tf", "alpha": "drop", "exif": False}
    assert DecodePolicy().alpha == "error" and DecodePolicy().exif is True


def test_compare_reads_pairs_with_the_same_policy_type(tmp_path):
    from iqa.compare import LoadSettings
    from iqa.io.policy import DecodePolicy

    assert issubclass(LoadSettings, DecodePolicy)
    assert (LoadSettings().alpha, LoadSettings().exif) == ("error", True)
    real, fake = _sets(tmp_path)
    ref = sorted(p for p in real.iterdir())[0]
    dist = sorted(p for p in fake.iterdir())[0]
    with pytest.raises(InvalidArgument) as from_compare:
        iqa.compare_files(str(ref), str(dist), alpha="x")
    assert str(from_compare.value).startswith("alpha='x'")
    assert "keep" in str(from_compare.value)
    with pytest.raises(InvalidArgument, match="^channels="):
        iqa.compare_files(str(ref), str(dist), channels="cmyk")


def test_max_image_mb_reaches_the_decoder(tmp_path, fid_weights):
    real, fake = _sets(tmp_path, side_px=700)  # 1.4 MiB of pixels each
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--max-image-mb", "1",
                     "--no-cache")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("iqa: warning")]
    assert len(errors) == 1 and "--max-image-mb" in errors[0]


@pytest.mark.parametrize("args, flag", [(("--limit", "1"), "--limit"),
                                        (("--limit-seed", "3"), "--limit-seed"),
                                        (("--device", "cuda"), "--device")])
def test_cli_names_the_flag(tmp_path, args, flag, fid_weights):
    real, fake = _sets(tmp_path)
    result = run_iqa("fid", real, fake, "--weights", fid_weights, *args,
                     env={"CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"iqa: {flag} "), line


def test_the_decoder_and_the_policy_agree_on_policies_and_budget():
    from iqa.io import images, policy

    assert set(images.ALPHA_POLICIES) == set(policy.ALPHA_POLICIES)
    assert images.DEFAULT_MAX_IMAGE_MB == policy.DEFAULT_MAX_IMAGE_MB
    assert set(policy.FID_ALPHA_POLICIES) < set(policy.ALPHA_POLICIES)
