"""The extractors' per-channel normalisation: torchvision's values, its constants made
once per device (a per-batch host-to-device copy and ``.any()`` would each wait for the
GPU's queue)."""

import pytest
import torch
import torchvision.transforms.functional as TF

from iqa.features import channel_normalize as cn
from iqa.features.clip_openai import MEAN as CLIP_MEAN
from iqa.features.clip_openai import STD as CLIP_STD
from iqa.features.dinov2_vit_l_14 import MEAN as DINO_MEAN
from iqa.features.dinov2_vit_l_14 import STD as DINO_STD
from iqa.features.vgg16_pr import MEAN as VGG_MEAN
from iqa.features.vgg16_pr import STD as VGG_STD


@pytest.mark.parametrize("mean, std", [
    (VGG_MEAN, VGG_STD),
    (DINO_MEAN, DINO_STD),
    (tuple(255 * m for m in CLIP_MEAN), tuple(255 * s for s in CLIP_STD)),
    (tuple(255 * m for m in DINO_MEAN), tuple(255 * s for s in DINO_STD)),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_torchvision_bit_for_bit(mean, std, dtype):
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 3, 17, 23, generator=g, dtype=torch.float64) * 300 - 20).to(dtype)
    before = x.clone()
    got = cn.channel_normalize(x, mean, std)
    assert got.dtype == dtype and torch.equal(got, TF.normalize(x, mean, std))
    assert torch.equal(x, before)  # the input is left alone
    single = cn.channel_normalize(x[0], mean, std)  # C×H×W too
    assert torch.equal(single, TF.normalize(x[0], mean, std))


def test_the_constants_are_made_once_per_dtype_and_device(monkeypatch):
    cn._constants.cache_clear()
    made = []
    real = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or real(*a, **k))
    x = torch.rand(2, 3, 8, 8)
    with torch.inference_mode():
        first = cn.channel_normalize(x, VGG_MEAN, VGG_STD)
    for _ in range(3):
        assert torch.equal(cn.channel_normalize(x, VGG_MEAN, VGG_STD), first)
    assert len(made) == 2  # mean and std, once
    cn.channel_normalize(x.double(), VGG_MEAN, VGG_STD)
    assert len(made) == 4
    # Made inside inference mode, still usable where gradients are recorded.
    y = x.clone().requires_grad_(True)
    cn.channel_normalize(y, VGG_MEAN, VGG_STD).sum().backward()
    assert y.grad is not None and len(made) == 4


def test_a_zero_std_is_refused():
    with pytest.raises(ValueError, match="zero"):
        cn.channel_normalize(torch.rand(1, 3, 2, 2), (0.5, 0.5, 0.5), (1.0, 0.0, 1.0))
