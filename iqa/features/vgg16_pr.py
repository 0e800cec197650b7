"""VGG-16 fc2 features (4096-d) for improved precision and recall, as torch-fidelity's ``vgg16``.

Kynkäänniemi et al. 2019 embed images with VGG-16 and take the second fully connected
layer; torch-fidelity 0.4 (``feature_extractor_vgg16.FeatureExtractorVGG16``, the extractor
its ``prc`` metric uses by default) does so with torchvision's ImageNet VGG-16
(``vgg16-397923af.pth``, the same file LPIPS's ``net=vgg`` reads) and, for ``prc``, the
feature ``fc2_relu``: the fc2 output *after* its ReLU. Its input pipeline, reproduced here:

1. uint8 RGB, N×3×H×W, cast to float32 (values 0…255);
2. TF1 bilinear resize to 224×224 (``align_corners=False``; torch-fidelity's
   ``interpolate_bilinear_2d_like_tensorflow1x``) — done by the caller with the same
   resize the FID Inception's ``tf`` mode uses, only to 224 and *without* its final
   (x − 128)/128;
3. ``normalize(mean = 255·(0.485, 0.456, 0.406), std = 255·(0.229, 0.224, 0.225))``
   (:func:`normalize`);
4. torchvision ``vgg16`` up to ``classifier.3`` (fc2), then ReLU (dropout is inactive in
   eval mode).

The network is torchvision's own ``vgg16`` (the well-kept implementation the weights were
published for), loaded with ``strict=True`` from a state dict the caller read with
``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing

NAME = "vgg16"
DIM = 4096
INPUT_SIZE = 224
MEAN = (255 * 0.485, 255 * 0.456, 255 * 0.406)
STD = (255 * 0.229, 255 * 0.224, 255 * 0.225)
REQUIRED_KEYS = (
    "classifier.0.weight",
    "classifier.0.bias",
    "classifier.3.weight",
    "classifier.3.bias",
)


def normalize(x: Any) -> Any:
    """ImageNet mean/std on 0…255 values (N×3×224×224 float32), as torch-fidelity."""
    from iqa.features.channel_normalize import channel_normalize

    return channel_normalize(x, MEAN, STD)


class VGG16Features:
    """Resized images (N×3×224×224 float32, 0…255) → fc2 after ReLU (N×4096 float32)."""

    def __init__(self, state: Mapping[str, Any], device: str = "cpu") -> None:
        import torch
        import torchvision

        missing = [k for k in REQUIRED_KEYS if k not in state]
        if missing:
            from iqa.errors import WeightsError

            raise WeightsError(
                f"the VGG-16 weights lack {', '.join(missing)} (precision/recall needs the "
                "fully connected layers); use torchvision's full vgg16-397923af.pth"
            )
        model = torchvision.models.vgg16(weights=None)
        model.load_state_dict(dict(state), strict=True)
        model.classifier = model.classifier[:4]  # fc1, ReLU, dropout, fc2
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)

    def __call__(self, x: Any) -> Any:
        import torch

        with torch.inference_mode():
            x = normalize(x.to(self.device, torch.float32))
            return torch.relu(self.model(x)).float()


class VGG16Extractor(FeatureExtractor):
    """The ``vgg16`` extractor: uint8 images → fc2 after ReLU (4096-d), as torch-fidelity's
    ``vgg16`` extractor computes the ``fc2_relu`` feature its ``prc`` metric uses."""

    info = ExtractorInfo(
        name=NAME,
        dim=DIM,
        input_size=INPUT_SIZE,
        layer="fc2 after ReLU",
        network_id="vgg16-imagenet-torchvision:fc2_relu",
        preprocessing=(Preprocessing(
            "tf",
            "TF1 bilinear resize to 224 from uint8 (align_corners=False), then ImageNet "
            "mean/std on 0..255 values",
            "torch-fidelity calculate_metrics(prc=True) (feature_extractor vgg16, fc2_relu)"),),
        weights=(NAME,),
        reference="VGG-16 (Simonyan & Zisserman 2015), torchvision ImageNet weights; "
        "Kynkäänniemi et al. 2019",
    )

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        super().__init__(states, device, preprocessing)
        self.network = VGG16Features(states[NAME], device=device)

    def preprocess(self, images: Any) -> Any:
        import torch

        from iqa.distribution.preprocess import tf_bilinear

        return tf_bilinear(images.to(self.network.device).to(torch.float32), INPUT_SIZE)

    def __call__(self, x: Any) -> Any:
        return self.network(x)
