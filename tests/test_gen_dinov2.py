"""The ``dinov2-vit-l-14`` extractor with seeded random weights in DINOv2's own key layout.

* The network (timm) equals transformers' ``Dinov2Model`` (an independent implementation)
  loading the same weights, positional embedding given at 224 px.
* The positional embedding is resampled as the torch.hub model does for a 224-px input
  (``interpolate_offset=0.1``, scale factor not size — transformers' ``size=`` gives other
  numbers, which the test shows).
* Each preprocessing mode is bit-exact against its tool's own transform: dgm-eval's
  torchvision ``Compose`` on a PIL image and EDM2's ``pil`` mode, EDM2's ``torch`` mode,
  torch-fidelity's TF1 bilinear path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iqa.features import dinov2_vit_l_14 as dino


def _images(seed: int, n: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), generator=g, dtype=torch.uint8)


@pytest.fixture(scope="module")
def state():
    g = torch.Generator().manual_seed(0)
    required, optional = dino.expected_shapes()
    out = {}
    for key, shape in {**required, **optional}.items():
        t = torch.randn(shape, generator=g) * 0.02
        if key.endswith("gamma"):
            t = t * 10
        elif ("norm" in key) and key.endswith("weight"):
            t = t + 1
        out[key] = t
    return out


def _transformers_model(state):
    from transformers import Dinov2Config, Dinov2Model

    cfg = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                       mlp_ratio=4, image_size=224, patch_size=14, layer_norm_eps=1e-6,
                       layerscale_value=1.0, hidden_act="gelu")
    with torch.device("meta"):
        model = Dinov2Model(cfg)
    keys = set(model.state_dict())
    v5 = "encoder.layer.0.attention.q_proj.weight" in keys  # transformers >= 5 names
    qkv = (("q_proj", "k_proj", "v_proj") if v5 else
           ("attention.query", "attention.key", "attention.value"))
    out_proj = "o_proj" if v5 else "output.dense"
    w = dino.WIDTH
    sd = {"embeddings.cls_token": state["cls_token"],
          "embeddings.position_embeddings": dino.hub_pos_embed(state["pos_embed"]),
          "embeddings.mask_token": state["mask_token"],
          "embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
          "embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
          "layernorm.weight": state["norm.weight"], "layernorm.bias": state["norm.bias"]}
    for i in range(dino.DEPTH):
        p, q = f"blocks.{i}.", f"encoder.layer.{i}."
        for j, name in enumerate(qkv):
            sd[q + f"attention.{name}.weight"] = state[p + "attn.qkv.weight"][j * w:(j + 1) * w]
            sd[q + f"attention.{name}.bias"] = state[p + "attn.qkv.bias"][j * w:(j + 1) * w]
        sd[q + f"attention.{out_proj}.weight"] = state[p + "attn.proj.weight"]
        sd[q + f"attention.{out_proj}.bias"] = state[p + "attn.proj.bias"]
        sd[q + "layer_scale1.lambda1"] = state[p + "ls1.gamma"]
        sd[q + "layer_scale2.lambda1"] = state[p + "ls2.gamma"]
        for name in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
            sd[q + name + ".weight"] = state[p + name + ".weight"]
            sd[q + name + ".bias"] = state[p + name + ".bias"]
    model.load_state_dict(sd, strict=True, assign=True)
    return model.eval()


def test_cls_features_equal_transformers_dinov2(state):
    ours = dino.DINOv2Extractor({dino.NAME: state})
    ref = _transformers_model(state)
    x = dino.pil_pixels(_images(0, 2, 64, 48))
    with torch.no_grad():
        expected = ref(pixel_values=x).pooler_output
    got = ours(x)
    assert got.shape == (2, 1024) and got.dtype == torch.float32
    scale = float(expected.abs().max())
    assert scale > 0.5
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * scale)


def test_positional_embedding_resampled_as_the_hub_model():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(1)
    pos = torch.randn(1, 37 * 37 + 1, 8, generator=g)
    # dinov2/models/vision_transformer.py interpolate_pos_encoding, w = h = 224,
    # patch_size 14, interpolate_offset 0.1, interpolate_antialias False
    m, w0 = 37, 224 // 14
    sx = sy = float(w0 + 0.1) / m
    patch = F.interpolate(pos[:, 1:].reshape(1, m, m, 8).permute(0, 3, 1, 2),
                          mode="bicubic", antialias=False, scale_factor=(sx, sy))
    expected = torch.cat((pos[:, :1], patch.permute(0, 2, 3, 1).view(1, -1, 8)), dim=1)
    got = dino.hub_pos_embed(pos)
    assert got.shape == (1, 257, 8)
    assert torch.equal(got, expected)
    by_size = F.interpolate(pos[:, 1:].reshape(1, m, m, 8).permute(0, 3, 1, 2),
                            size=(16, 16), mode="bicubic", align_corners=False)
    assert not torch.allclose(got[:, 1:], by_size.permute(0, 2, 3, 1).reshape(1, -1, 8))


@pytest.mark.parametrize("shape", [(2, 37, 50), (1, 300, 260), (1, 224, 224)])
def test_pil_mode_is_bit_exact_against_dgm_eval_and_edm2(shape):
    import PIL.Image
    import torchvision.transforms as TF

    images = _images(2, shape[0], *shape[1:])
    got = dino.pil_pixels(images)
    # dgm-eval DINOv2Encoder.transform (clean_resize=False) on the PIL image
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    dgm = torch.stack([
        TF.Normalize(mean, std)(TF.Compose([
            TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor(),
        ])(PIL.Image.fromarray(p))) for p in images.permute(0, 2, 3, 1).numpy()])
    assert torch.equal(got, dgm)
    # EDM2 calculate_metrics DINOv2Detector, resize_mode='pil'
    x = images.permute(0, 2, 3, 1).numpy()
    x = np.stack([np.uint8(PIL.Image.fromarray(xx, "RGB").resize(
        (224, 224), PIL.Image.Resampling.BICUBIC)) for xx in x])
    x = torch.from_numpy(x).permute(0, 3, 1, 2).to(torch.float32) / 255
    x = x - torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32).reshape(1, -1, 1, 1)
    x = x / torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32).reshape(1, -1, 1, 1)
    assert torch.equal(got, x)


def test_torch_mode_is_bit_exact_against_edm2():
    images = _images(3, 2, 300, 260)
    x = torch.nn.functional.interpolate(images.to(torch.float32), size=(224, 224),
                                        mode="bicubic", antialias=True)
    x = x.to(torch.float32) / 255
    x = x - torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32).reshape(1, -1, 1, 1)
    x = x / torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32).reshape(1, -1, 1, 1)
    assert torch.equal(dino.torch_pixels(images), x)


def test_torch_fidelity_mode_is_bit_exact():
    import torchvision
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    images = _images(4, 2, 97, 131)
    x = interpolate_bilinear_2d_like_tensorflow1x(images.to(torch.float32), size=(224, 224),
                                                  align_corners=False)
    x = torchvision.transforms.functional.normalize(
        x, (255 * 0.485, 255 * 0.456, 255 * 0.406), (255 * 0.229, 255 * 0.224, 255 * 0.225),
        inplace=False)
    assert torch.equal(dino.torch_fidelity_pixels(images), x)
