"""The ``clip-vit-b-32`` extractor: OpenAI CLIP ViT-B/32 image embeddings (512-d) for
CLIP-FID (Kynkäänniemi et al. 2023), as clean-fid ``model_name="clip_vit_b_32"`` and
torch-fidelity ``feature_extractor="clip-vit-b-32"`` compute them.

The network is :mod:`iqa.features.clip_openai` (OpenAI's ``ViT-B-32.pt``); the embedding
is ``encode_image``, not normalised. Two preprocessing modes, each its tool's pipeline on
the decoded 8-bit RGB image:

``clean-fid`` (default)
    ``cleanfid.clip_features.img_preprocess_clip``: a PIL image, torchvision
    ``Resize(224, BICUBIC)`` (shorter side to 224, Pillow's antialiased bicubic) and
    ``CenterCrop(224)``, back to uint8; then clean-fid's data loader and ``CLIP_fx``:
    ``ToTensor()`` (÷255) ×255, ÷255.0, ``Normalize`` with CLIP's mean/std — all in
    float32, in that order.
``torch-fidelity``
    ``FeatureExtractorCLIP.forward``: float32 0…255, TF1 bilinear resize to 224
    (``align_corners=False``), ``normalize`` with 255·mean, 255·std.

clean-fid runs OpenAI's model on CUDA in float16 (``clip.load`` keeps OpenAI's half
weights there); this extractor always computes in float32, as torch-fidelity and clean-fid
on CPU do, so CUDA clean-fid values differ from it in their low digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing

NAME = "clip-vit-b-32"
SIZE = 224


def clean_fid_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×224×224 as clean-fid's CLIP path (module docstring)."""
    import numpy as np
    import torch
    import torchvision.transforms as T
    from PIL import Image

    from iqa.features.clip_openai import MEAN, STD

    crop = T.Compose([T.Resize(SIZE, interpolation=T.InterpolationMode.BICUBIC),
                      T.CenterCrop(SIZE)])
    out = []
    for pixels in images.permute(0, 2, 3, 1).cpu().numpy():
        resized = np.asarray(crop(Image.fromarray(pixels, "RGB"))).clip(0, 255).astype(np.uint8)
        t = T.ToTensor()(np.array(resized)) * 255
        out.append(T.Normalize(MEAN, STD)(t / 255.0))
    return torch.stack(out)


def torch_fidelity_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×224×224 as torch-fidelity's CLIP extractor."""
    import torch

    from iqa.distribution.preprocess import tf_bilinear
    from iqa.features.channel_normalize import channel_normalize
    from iqa.features.clip_openai import MEAN, STD

    x = tf_bilinear(images.to(torch.float32), SIZE)
    return channel_normalize(x, tuple(255 * m for m in MEAN), tuple(255 * s for s in STD))


_MODES = {"clean-fid": clean_fid_pixels, "torch-fidelity": torch_fidelity_pixels}


class ClipViTB32Extractor(FeatureExtractor):
    """uint8 images → OpenAI CLIP ViT-B/32 ``encode_image`` (512-d, float32)."""

    info = ExtractorInfo(
        name=NAME,
        dim=512,
        input_size=SIZE,
        layer="encode_image (ln_post(class token) @ proj)",
        network_id="clip-vit-b-32-openai:encode_image",
        preprocessing=(
            Preprocessing("clean-fid",
                          "PIL bicubic resize of the shorter side to 224 and center crop "
                          "(torchvision Resize/CenterCrop on the 8-bit image), /255, CLIP "
                          "mean/std",
                          "clean-fid compute_fid(model_name='clip_vit_b_32')"),
            Preprocessing("torch-fidelity",
                          "TF1 bilinear resize to 224 from uint8 (align_corners=False), "
                          "CLIP mean/std on 0..255 values",
                          "torch-fidelity calculate_metrics(feature_extractor='clip-vit-b-32')"),
        ),
        weights=(NAME,),
        reference="CLIP ViT-B/32 (Radford et al. 2021), OpenAI weights; CLIP-FID: "
        "Kynkaanniemi et al. 2023",
        extra="gen",
    )

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        from iqa.features.clip_openai import VIT_B_32, ClipImageTower

        super().__init__(states, device, preprocessing)
        self.network = ClipImageTower(VIT_B_32, states[NAME], device=device)

    def preprocess(self, images: Any) -> Any:
        return _MODES[self.preprocessing](images).to(self.network.device)

    def __call__(self, x: Any) -> Any:
        return self.network(x)
