"""The LPIPS network (Zhang et al. 2018), built from the ``lpips`` package's modules.

The trunk is a torchvision ImageNet backbone (AlexNet, VGG-16 or SqueezeNet 1.1) whose
weights come from iqa's weights manager, never from a download the manager does not
control; the v0.1 linear layers are the ones shipped inside the ``lpips`` wheel, loaded
with ``weights_only=True``. The module is ``lpips.LPIPS(net=..., version="0.1")``
itself, so the arithmetic is the reference's. :class:`LPIPSNet` adds what a metric
runner needs: features of one image can be computed once and compared with many
(one reference against several outputs), and pairs are batched.

R. Zhang, P. Isola, A. A. Efros, E. Shechtman and O. Wang, "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from iqa.errors import WeightsError

NETS = ("alex", "vgg", "squeeze")


def linear_layers_path(net: str) -> Path:
    """The v0.1 linear-layer weights shipped inside the lpips package."""
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"


def build_lpips(net: str, backbone: dict[str, Any], device: str = "cpu") -> Any:
    """``lpips.LPIPS(net=net, version="0.1")`` with the given torchvision backbone weights.

    ``backbone`` is a torchvision state dict (``features.N.weight``...), already checked
    against the architecture by the weights manager. The trunk is first built on the
    ``meta`` device and then takes the given tensors, so no time is spent on a random
    initialisation that would be overwritten.
    """
    import lpips
    import torch

    if net not in NETS:
        raise ValueError(f"net must be one of {NETS}, not {net!r}")
    with warnings.catch_warnings(), _trunk_on_meta_device():
        warnings.simplefilter("ignore")  # torchvision's deprecation notes about `pretrained`
        model = lpips.LPIPS(net=net, version="0.1", pretrained=False, pnet_rand=True,
                            verbose=False)
    linear = torch.load(linear_layers_path(net), map_location="cpu", weights_only=True)
    missing = [k for k in model.state_dict() if re.match(r"lin\d", k) and k not in linear]
    if missing:
        raise WeightsError(f"{linear_layers_path(net)}: lpips linear layers lack {missing[0]}")
    model.load_state_dict(linear, strict=False)
    model.net.load_state_dict(_trunk_state(model.net, backbone), strict=True, assign=True)
    model.eval().requires_grad_(False)
    return model.to(device)


@contextmanager
def _trunk_on_meta_device() -> Iterator[None]:
    """Let lpips build its torchvision trunk on the ``meta`` device (no memory, no init)."""
    import lpips.pretrained_networks as pn
    import torch

    torchvision_models = pn.tv

    class _MetaModels:
        def __getattr__(self, name: str) -> Any:
            build = getattr(torchvision_models, name)

            def on_meta(*args: Any, **kwargs: Any) -> Any:
                with torch.device("meta"):
                    return build(weights=None)

            return on_meta

    pn.tv = _MetaModels()
    try:
        yield
    finally:
        pn.tv = torchvision_models


def _trunk_state(trunk: Any, backbone: dict[str, Any]) -> dict[str, Any]:
    """torchvision keys ``features.N.x`` → the lpips trunk's ``sliceK.N.x``."""
    state = {}
    for key in trunk.state_dict():
        match = re.fullmatch(r"slice\d+\.(\d+\..+)", key)
        source = f"features.{match.group(1)}" if match else key
        state[key] = backbone[source]
    return state


class LPIPSNet:
    """LPIPS distances with the reference's arithmetic, on batches of same-size pairs.

    Inputs are float32 tensors N×3×H×W in [-1, 1] (the scaling lpips expects).
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def features(self, x: Any) -> list[Any]:
        """Unit-normalised trunk activations of each layer, for a batch of images."""
        import lpips

        outs = self.model.net(self.model.scaling_layer(x.to(self.device)))
        return [lpips.normalize_tensor(o) for o in outs]

    def distance(self, f0: list[Any], f1: list[Any]) -> Any:
        """LPIPS per image (1-D tensor) from two lists of features."""
        total = 0
        for lin, a, b in zip(self.model.lins, f0, f1):
            total = total + lin((a - b) ** 2).mean([2, 3], keepdim=True)
        return total.flatten()

    def distance_and_map(self, f0: list[Any], f1: list[Any], size: tuple[int, int]) -> Any:
        """LPIPS per image and its N×H×W spatial map, from the same per-layer maps.

        Each layer's weighted map gives its mean to the distance (as :meth:`distance`)
        and, upsampled bilinearly to ``size`` (``align_corners=False``), its share of the
        map: ``lpips.LPIPS(spatial=True)``'s arithmetic.
        """
        import torch.nn.functional as F

        total = 0
        spatial = 0
        for lin, a, b in zip(self.model.lins, f0, f1):
            layer = lin((a - b) ** 2)
            total = total + layer.mean([2, 3], keepdim=True)
            spatial = spatial + F.interpolate(layer, size=size, mode="bilinear",
                                              align_corners=False)
        return total.flatten(), spatial[:, 0]
