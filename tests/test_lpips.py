"""LPIPS against the lpips package, with seeded random backbones.

No ImageNet weights can be downloaded here, so each backbone is a seeded random
torchvision state dict, imported with ``iqa weights import NAME FILE --unverified`` as a
user with converted weights would. The reference is ``lpips.LPIPS(net=...,
version="0.1")`` whose trunk lpips builds itself from torchvision's constructor (patched
to return the same random weights), called on tensors scaled as its documentation says:
x / 127.5 − 1 for 8-bit images.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.cli_helpers import run_iqa, strict_json
from tests.images import astronaut, camera, jpeg, noisy

NETS = {"alex": "alexnet", "squeeze": "squeezenet1_1", "vgg": "vgg16"}


def reference_model(net: str, state: dict):
    """lpips.LPIPS(net, version="0.1") with the trunk built by lpips from these weights."""
    import lpips
    import torchvision

    tv_name = NETS[net]
    real = getattr(torchvision.models, tv_name)

    def constructor(*args, **kwargs):
        model = real(weights=None)
        model.load_state_dict(state)
        return model

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lpips.pretrained_networks.tv, tv_name, constructor)
        return lpips.LPIPS(net=net, version="0.1", pretrained=True, verbose=False).eval()


def reference_value(model, a: np.ndarray, b: np.ndarray, top: float) -> float:
    import torch

    def tensor(x):
        x = x if x.ndim == 3 else np.repeat(x[:, :, None], 3, axis=2)
        if x.shape[2] == 1:
            x = np.repeat(x, 3, axis=2)
        t = torch.from_numpy(x.astype(np.float64) / (top / 2) - 1).float()
        return t.permute(2, 0, 1)[None]

    with torch.no_grad():
        return float(model(tensor(a), tensor(b)))


def cases():
    ref = astronaut()[100:260, 120:311]  # 160x191, odd width
    gray = camera()[:97, :128]
    return {
        "rgb-jpeg": (ref, jpeg(ref, 20), 255),
        "rgb-noise": (ref, noisy(ref, 12.0), 255),
        "gray": (gray, noisy(gray, 20.0, seed=3), 255),
        "rgb-16bit": (ref.astype(np.uint16) * 257, noisy(ref.astype(np.uint16) * 257, 3000.0),
                      65535),
    }


@pytest.mark.parametrize("net", ["alex", "squeeze", "vgg"])
def test_equals_reference_package(backbones, net):
    import iqa

    model = reference_model(net, backbones[net])
    for label, (a, b, top) in cases().items():
        if net == "vgg" and label != "rgb-jpeg":
            continue  # VGG on CPU is slow; one case proves its layer mapping
        expected = reference_value(model, a, b, top)
        got = iqa.lpips(a, b, net=net)
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-9), label
        assert expected > 0


def test_scaling_is_minus_one_to_one_not_zero_to_one(backbones):
    """Feeding [0, 1] (the common bug) gives a clearly different number."""
    import iqa

    model = reference_model("alex", backbones["alex"])
    a, b, _ = cases()["rgb-jpeg"]
    wrong = reference_value(model, a.astype(np.float64) / 255 * 127.5 + 127.5,
                            b.astype(np.float64) / 255 * 127.5 + 127.5, 255)
    right = iqa.lpips(a, b)
    assert abs(right - wrong) > 1e-3 * right


def test_symmetric_and_zero_for_identical(backbones):
    import iqa

    a, b, _ = cases()["rgb-noise"]
    assert iqa.lpips(a, b) == iqa.lpips(b, a)
    assert iqa.lpips(a, a) == 0.0


def test_float_input_needs_data_range(backbones):
    import iqa
    from iqa.errors import UsageError

    a, b, _ = cases()["rgb-jpeg"]
    with pytest.raises(UsageError, match="data_range"):
        iqa.lpips(a / 255.0, b / 255.0)
    assert iqa.lpips(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(
        iqa.lpips(a, b), rel=1e-5)


def write_pairs(tmp_path, pairs):
    from PIL import Image

    for sub, images in (("ref", [p[0] for p in pairs]), ("dist", [p[1] for p in pairs])):
        (tmp_path / sub).mkdir()
        for i, img in enumerate(images):
            Image.fromarray(img).save(tmp_path / sub / f"{i:02d}.png")


def test_cli_folders_of_mixed_sizes_batched(backbones, tmp_path):
    """Different sizes in one folder, batch sizes 1 and 3 agree, values equal the API."""
    import iqa

    ref = astronaut()
    pairs = [
        (ref[:64, :80], jpeg(ref[:64, :80], 15)),
        (ref[100:164, 50:130], jpeg(ref[100:164, 50:130], 30)),
        (ref[:96, :96], noisy(ref[:96, :96], 10.0)),
        (ref[200:264, 0:80], noisy(ref[200:264, 0:80], 25.0)),
    ]
    write_pairs(tmp_path, pairs)
    outputs = []
    for batch in ("1", "3"):
        result = run_iqa("compare", tmp_path / "ref", tmp_path / "dist", "-m", "psnr,lpips",
                         "--format", "json", "--batch-size", batch)
        assert result.returncode == 0, result.stderr
        assert "unverified" in result.stderr  # every run says so
        outputs.append(strict_json(result.stdout))
    for doc in outputs:
        weights = doc["definitions"]["lpips"]["weights"]
        assert weights["verified"] is False and weights["name"] == "alexnet"
        values = [p["lpips"] for p in doc["pairs"]]
        expected = [iqa.lpips(a, b) for a, b in pairs]
        assert values == pytest.approx(expected, rel=1e-5)
    first = [p["lpips"] for p in outputs[0]["pairs"]]
    second = [p["lpips"] for p in outputs[1]["pairs"]]
    assert all(math.isclose(x, y, rel_tol=1e-5) for x, y in zip(first, second))


def test_cli_one_reference_many_outputs(backbones, tmp_path):
    """The reference's features are reused across outputs; values are unchanged."""
    from PIL import Image

    import iqa

    ref = astronaut()[:128, :128]
    Image.fromarray(ref).save(tmp_path / "ref.png")
    outs = {q: jpeg(ref, q) for q in (10, 40, 90)}
    for q, img in outs.items():
        Image.fromarray(img).save(tmp_path / f"q{q}.png")
    result = run_iqa("compare", tmp_path / "ref.png", *[tmp_path / f"q{q}.png" for q in outs],
                     "-m", "lpips", "--format", "jsonl", "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    lines = [strict_json(line) for line in result.stdout.splitlines()]
    values = [line["lpips"] for line in lines if line["type"] == "pair"]
    assert values == pytest.approx([iqa.lpips(ref, img) for img in outs.values()], rel=1e-5)
    assert values[0] > values[1] > values[2]  # stronger compression, larger distance


def test_cli_offline_without_weights_is_one_line_exit_2(tmp_path):
    from PIL import Image

    img = astronaut()[:64, :64]
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(noisy(img, 5.0)).save(tmp_path / "b.png")
    env = {"TORCH_HOME": str(tmp_path / "torch"), "IQA_CACHE_DIR": str(tmp_path / "iqa"),
           "IQA_OFFLINE": "1"}
    result = run_iqa("compare", tmp_path / "a.png", tmp_path / "b.png", "-m", "lpips", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "iqa weights import alexnet" in result.stderr


@pytest.mark.parametrize("tv_name", ["alexnet", "vgg16", "squeezenet1_1"])
def test_backbone_layouts_equal_torchvision(tv_name):
    """The written-out layouts used to check weights files are torchvision's."""
    import torch
    import torchvision

    from iqa.weights.catalog import KNOWN

    with torch.device("meta"):
        state = getattr(torchvision.models, tv_name)(weights=None).state_dict()
    required, optional = KNOWN[tv_name].expected_shapes()
    assert {**required, **optional} == {k: tuple(v.shape) for k, v in state.items()}
    assert all(k.startswith("features.") for k in required)


def test_cli_lpips_net_option_selects_the_trunk(backbones, tmp_path):
    from PIL import Image

    import iqa

    a, b, _ = cases()["rgb-jpeg"]
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    result = run_iqa("compare", tmp_path / "a.png", tmp_path / "b.png", "-m", "lpips",
                     "--lpips-net", "squeeze", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["definitions"]["lpips"]["net"] == "squeeze"
    assert doc["definitions"]["lpips"]["weights"]["name"] == "squeezenet1_1"
    assert doc["pairs"][0]["lpips"] == pytest.approx(iqa.lpips(a, b, net="squeeze"), rel=1e-5)
    assert doc["pairs"][0]["lpips"] != pytest.approx(iqa.lpips(a, b, net="alex"), rel=1e-3)
