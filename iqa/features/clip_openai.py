"""OpenAI CLIP image towers (ViT-B/32, ViT-L/14@336px) built with timm from OpenAI's weights.

The weights are OpenAI's own archives (``ViT-B-32.pt``, ``ViT-L-14-336px.pt``), read by
the weights manager without running them (:mod:`iqa.weights._torchscript`); only the image
tower (``visual.*``, keys given here without that prefix) is kept. The network is timm's
``VisionTransformer`` in its OpenAI-CLIP configuration (``pre_norm``, LayerNorm ε = 1e-5,
QuickGELU: ``vit_base_patch32_clip_quickgelu_224``, ``vit_large_patch14_clip_quickgelu_336``)
loaded ``strict=True`` through timm's own converter of OpenAI's key layout
(``checkpoint_filter_fn``). Its output is OpenAI's ``encode_image``: ``ln_post`` of the
class token times ``proj`` (512-d for ViT-B/32, 768-d for ViT-L/14), computed in float32.
Each extractor module (:mod:`iqa.features.clip_vit_b_32`,
:mod:`iqa.features.clip_vit_l_14_336`) adds its preprocessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iqa.features.timm_network import TimmNetwork

Shapes = dict[str, tuple[int, ...]]

#: OpenAI CLIP's normalisation (clip.py ``_transform``; clean-fid, torch-fidelity, scenic).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipTower:
    timm_name: str
    width: int
    layers: int
    patch: int
    resolution: int
    dim: int

    @property
    def grid(self) -> int:
        return self.resolution // self.patch


VIT_B_32 = ClipTower("vit_base_patch32_clip_quickgelu_224", 768, 12, 32, 224, 512)
VIT_L_14_336 = ClipTower("vit_large_patch14_clip_quickgelu_336", 1024, 24, 14, 336, 768)


def tower_shapes(t: ClipTower) -> tuple[Shapes, Shapes]:
    """(required, optional) keys and shapes of the image tower, OpenAI's names without
    ``visual.``."""
    w = t.width
    required: Shapes = {
        "class_embedding": (w,),
        "positional_embedding": (t.grid**2 + 1, w),
        "proj": (w, t.dim),
        "conv1.weight": (w, 3, t.patch, t.patch),
        "ln_pre.weight": (w,), "ln_pre.bias": (w,),
        "ln_post.weight": (w,), "ln_post.bias": (w,),
    }
    for i in range(t.layers):
        p = f"transformer.resblocks.{i}."
        required.update({
            p + "attn.in_proj_weight": (3 * w, w), p + "attn.in_proj_bias": (3 * w,),
            p + "attn.out_proj.weight": (w, w), p + "attn.out_proj.bias": (w,),
            p + "ln_1.weight": (w,), p + "ln_1.bias": (w,),
            p + "ln_2.weight": (w,), p + "ln_2.bias": (w,),
            p + "mlp.c_fc.weight": (4 * w, w), p + "mlp.c_fc.bias": (4 * w,),
            p + "mlp.c_proj.weight": (w, 4 * w), p + "mlp.c_proj.bias": (w,),
        })
    return required, {}


def vit_b_32_shapes() -> tuple[Shapes, Shapes]:
    return tower_shapes(VIT_B_32)


def vit_l_14_336_shapes() -> tuple[Shapes, Shapes]:
    return tower_shapes(VIT_L_14_336)


class ClipImageTower(TimmNetwork):
    """Normalised images (N×3×R×R float32) → OpenAI ``encode_image`` (N×dim float32)."""

    def __init__(self, tower: ClipTower, state: Mapping[str, Any], device: str = "cpu") -> None:
        import torch

        openai = {"visual." + k: v.to(torch.float32) for k, v in state.items()}
        super().__init__(tower.timm_name, openai, device, num_classes=tower.dim)
