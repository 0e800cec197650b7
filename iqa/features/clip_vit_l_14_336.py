"""The ``clip-vit-l-14-336`` extractor: OpenAI CLIP ViT-L/14@336px image embeddings
(768-d), L2-normalised, as google-research's CMMD reference computes them (Jayasumana et
al. 2024, ``cmmd/io_util.py`` and ``cmmd/embedding.py``).

The reference reads each file with Pillow and, for this 336-px model:

1. center-crops it to a square (side ``min(w, h)``, box offsets ``(h - l) // 2`` and
   ``(w - l) // 2``) and resizes it to 336×336 with ``Image.resize(..., BICUBIC)``
   (Pillow's antialiased bicubic, on the 8-bit image);
2. ``np.asarray(im).astype(np.float32)``, then ÷255.0 (float32);
3. ``jax.image.resize(..., method="bicubic")`` to 336×336 — the identity here, since the
   image is already 336×336 (Keys cubic weights at integer offsets are 0, 1, 0, 0);
4. scenic's ``clip.normalize_image``: (x − mean)/std with CLIP's constants, in float32
   (JAX without x64), which XLA compiles to (x − mean) · (1/std): that product is what is
   computed here (it differs from a true division by one float32 ulp on some pixels);
5. scenic's CLIP image tower with OpenAI's ``ViT-L-14-336px.pt`` (converted by scenic's
   ``load_model_vars``), and the embedding divided by its L2 norm (``normalize=True``).

Steps 1–4 are reproduced here on the decoded 8-bit RGB image; step 5 runs the same
weights in timm's implementation of OpenAI's network (:mod:`iqa.features.clip_openai`) in
float32. The reference reads gray files as one channel and repeats it (the same numbers
as the decoded RGB image here) and refuses RGBA files; ``iqa`` decodes every format to
8-bit RGB as its FID pipeline does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing

NAME = "clip-vit-l-14-336"
SIZE = 336


def cmmd_pixels(images: Any) -> Any:
    """uint8 N×3×H×W → float32 N×3×336×336 as google-research's CMMD (module docstring)."""
    import numpy as np
    import torch
    from PIL import Image

    from iqa.features.clip_openai import MEAN, STD

    mean = np.asarray(MEAN, np.float32)
    inverse_std = np.float32(1) / np.asarray(STD, np.float32)  # as XLA computes x / std
    out = []
    for pixels in images.permute(0, 2, 3, 1).cpu().numpy():
        im = Image.fromarray(pixels, "RGB")
        w, h = im.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((SIZE, SIZE),
                                                                 resample=Image.BICUBIC)
        x = np.asarray(im).astype(np.float32) / 255.0
        x = (x - mean) * inverse_std
        out.append(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))))
    return torch.stack(out)


class ClipViTL14336Extractor(FeatureExtractor):
    """uint8 images → L2-normalised OpenAI CLIP ViT-L/14@336px embeddings (768-d)."""

    info = ExtractorInfo(
        name=NAME,
        dim=768,
        input_size=SIZE,
        layer="encode_image, L2-normalised",
        network_id="clip-vit-l-14-336-openai:encode_image_l2",
        preprocessing=(
            Preprocessing("cmmd",
                          "PIL center crop to a square and bicubic resize to 336 on the "
                          "8-bit image, /255, CLIP mean/std (float32)",
                          "google-research cmmd (main.py compute_cmmd)"),
        ),
        weights=(NAME,),
        reference="CLIP ViT-L/14@336px (Radford et al. 2021), OpenAI weights; CMMD: "
        "Jayasumana et al. 2024",
        extra="gen",
    )

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        from iqa.features.clip_openai import VIT_L_14_336, ClipImageTower

        super().__init__(states, device, preprocessing)
        self.network = ClipImageTower(VIT_L_14_336, states[NAME], device=device)

    def preprocess(self, images: Any) -> Any:
        return cmmd_pixels(images).to(self.network.device)

    def __call__(self, x: Any) -> Any:
        import torch

        embeddings = self.network(x)
        return embeddings / torch.linalg.norm(embeddings, dim=-1, keepdim=True)
