"""A timm vision transformer given checked weights, run in inference mode on one device.

The model is created on PyTorch's meta device (no tensor is randomly initialised: every
one is loaded), the state dict goes through timm's own converter for its layout
(``checkpoint_filter_fn``: OpenAI CLIP and DINOv2 hub key names) and is loaded
``strict=True``, so a missing or extra tensor is an error, never a silent default.
Importing this module imports neither torch nor timm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TimmNetwork:
    """float32 N×3×R×R (already normalised) → float32 N×dim, through timm model ``name``."""

    def __init__(self, name: str, weights: Mapping[str, Any], device: str = "cpu",
                 **options: Any) -> None:
        import timm
        import torch
        from timm.models.vision_transformer import checkpoint_filter_fn

        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False, **options)
        model.load_state_dict(checkpoint_filter_fn(dict(weights), model), strict=True,
                              assign=True)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)

    def __call__(self, x: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(x.to(self.device, torch.float32)).float()
