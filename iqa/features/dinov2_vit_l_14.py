"""The ``dinov2-vit-l-14`` extractor: DINOv2 ViT-L/14 CLS token (1024-d) for FD-DINOv2
(Stein et al. 2023), as dgm-eval and EDM2's ``calculate_metrics.py`` compute it.

Both load ``torch.hub.load("facebookresearch/dinov2", "dinov2_vitl14")`` (the file
``dinov2_vitl14_pretrain.pth``) and take its output: the final LayerNorm of the class
token. That model is trained at 518 px (37×37 patches) and interpolates its positional
embedding on every call for a 224-px input, with ``interpolate_offset=0.1`` and no
antialiasing: bicubic with ``scale_factor = (16 + 0.1) / 37`` (not ``size=16``; the
coordinates differ). :func:`hub_pos_embed` does exactly that once, and the network is
timm's ``VisionTransformer`` in its DINOv2 configuration (``vit_large_patch14_dinov2``,
LayerScale, LayerNorm ε = 1e-6) at 224 px, loaded ``strict=True`` through timm's own
converter of DINOv2's key layout.

Preprocessing modes, on the decoded 8-bit RGB image:

``pil`` (default)
    dgm-eval's ``DINOv2Encoder.transform`` and EDM2's ``resize_mode="pil"``: Pillow
    bicubic resize to 224×224 (antialiased, rounded to 8 bits), ÷255, then ImageNet
    mean/std (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225), in float32.
``torch``
    EDM2's default ``resize_mode="torch"``: ``F.interpolate(x.float(), (224, 224),
    mode="bicubic", antialias=True)`` on 0…255 values, then ÷255 and the same mean/std.
``torch-fidelity``
    torch-fidelity's ``dinov2-vit-l-14``: TF1 bilinear resize to 224 on 0…255 values,
    then mean/std ×255.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing
from iqa.features.timm_network import TimmNetwork

NAME = "dinov2-vit-l-14"
SIZE = 224
PATCH = 14
WIDTH = 1024
DEPTH = 24
TRAIN_GRID = 37  # 518 / 14
INTERPOLATE_OFFSET = 0.1
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

Shapes = dict[str, tuple[int, ...]]


def expected_shapes() -> tuple[Shapes, Shapes]:
    """(required, optional) keys and shapes of ``dinov2_vitl14_pretrain.pth``."""
    w = WIDTH
    required: Shapes = {
        "cls_token": (1, 1, w), "pos_embed": (1, TRAIN_GRID**2 + 1, w),
        "patch_embed.proj.weight": (w, 3, PATCH, PATCH), "patch_embed.proj.bias": (w,),
        "norm.weight": (w,), "norm.bias": (w,),
    }
    for i in range(DEPTH):
        p = f"blocks.{i}."
        required.update({
            p + "norm1.weight": (w,), p + "norm1.bias": (w,),
            p + "attn.qkv.weight": (3 * w, w), p + "attn.qkv.bias": (3 * w,),
            p + "attn.proj.weight": (w, w), p + "attn.proj.bias": (w,),
            p + "ls1.gamma": (w,), p + "ls2.gamma": (w,),
            p + "norm2.weight": (w,), p + "norm2.bias": (w,),
            p + "mlp.fc1.weight": (4 * w, w), p + "mlp.fc1.bias": (4 * w,),
            p + "mlp.fc2.weight": (w, 4 * w), p + "mlp.fc2.bias": (w,),
        })
    return required, {"mask_token": (1, w)}


def hub_pos_embed(pos_embed: Any, size: int = SIZE) -> Any:
    """The positional embedding (1×(37²+1)×1024) as the hub model interpolates it for a
    size×size input (``DinoVisionTransformer.interpolate_pos_encoding``, module docstring)."""
    import torch
    import torch.nn.functional as F

    pos = pos_embed.float()
    n = pos.shape[1] - 1
    m = int(round(n**0.5))
    grid = size // PATCH
    if grid == m:
        return pos
    scale = float(grid + INTERPOLATE_OFFSET) / m
    patches = pos[:, 1:].reshape(1, m, m, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, mode="bicubic", antialias=False,
                            scale_factor=(scale, scale))
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)
    return torch.cat((pos[:, :1], patches), dim=1)


class DINOv2Features(TimmNetwork):
    """Normalised images (N×3×224×224 float32) → CLS token after the final norm."""

    def __init__(self, state: Mapping[str, Any], device: str = "cpu") -> None:
        import torch

        weights = {k: v.to(torch.float32) for k, v in state.items()}
        weights["pos_embed"] = hub_pos_embed(weights["pos_embed"])
        weights.setdefault("mask_token", torch.zeros(1, WIDTH))  # dropped by the converter
        super().__init__("vit_large_patch14_dinov2", weights, device, img_size=SIZE,
                         num_classes=0)


def pil_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×224×224: dgm-eval / EDM2 ``pil`` (module docstring)."""
    import numpy as np
    import torch
    from PIL import Image

    resized = np.stack([np.asarray(Image.fromarray(p, "RGB").resize((SIZE, SIZE),
                                                                     Image.Resampling.BICUBIC))
                        for p in images.permute(0, 2, 3, 1).cpu().numpy()])
    return _normalize(torch.from_numpy(resized).permute(0, 3, 1, 2).to(torch.float32) / 255)


def torch_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×224×224: EDM2 ``resize_mode="torch"``."""
    import torch
    import torch.nn.functional as F

    x = F.interpolate(images.to(torch.float32), size=(SIZE, SIZE), mode="bicubic",
                      antialias=True)
    return _normalize(x / 255)


def torch_fidelity_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×224×224: torch-fidelity's DINOv2 extractor."""
    import torch

    from iqa.distribution.preprocess import tf_bilinear
    from iqa.features.channel_normalize import channel_normalize

    x = tf_bilinear(images.to(torch.float32), SIZE)
    return channel_normalize(x, tuple(255 * m for m in MEAN), tuple(255 * s for s in STD))


def _normalize(x: Any) -> Any:
    from iqa.features.channel_normalize import channel_normalize

    return channel_normalize(x, MEAN, STD)


_MODES = {"pil": pil_pixels, "torch": torch_pixels, "torch-fidelity": torch_fidelity_pixels}


class DINOv2Extractor(FeatureExtractor):
    """uint8 images → DINOv2 ViT-L/14 CLS token (1024-d, float32)."""

    info = ExtractorInfo(
        name=NAME,
        dim=WIDTH,
        input_size=SIZE,
        layer="CLS token after the final LayerNorm",
        network_id="dinov2-vit-l-14:cls",
        preprocessing=(
            Preprocessing("pil", "PIL bicubic resize to 224x224 on the 8-bit image, /255, "
                          "ImageNet mean/std",
                          "dgm-eval (dinov2) and EDM2 calculate_metrics resize_mode='pil'"),
            Preprocessing("torch", "torch bicubic antialiased resize to 224x224 on 0..255 "
                          "values, /255, ImageNet mean/std",
                          "EDM2 calculate_metrics resize_mode='torch'"),
            Preprocessing("torch-fidelity", "TF1 bilinear resize to 224 from uint8, ImageNet "
                          "mean/std on 0..255 values",
                          "torch-fidelity calculate_metrics(feature_extractor='dinov2-vit-l-14')"),
        ),
        weights=(NAME,),
        reference="DINOv2 ViT-L/14 (Oquab et al. 2023); FD-DINOv2: Stein et al. 2023",
        extra="gen",
    )

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        super().__init__(states, device, preprocessing)
        self.network = DINOv2Features(states[NAME], device=device)

    def preprocess(self, images: Any) -> Any:
        if self.preprocessing == "pil":
            return pil_pixels(images).to(self.network.device)
        return _MODES[self.preprocessing](images.to(self.network.device))

    def __call__(self, x: Any) -> Any:
        return self.network(x)
