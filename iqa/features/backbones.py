"""The torchvision ImageNet backbones LPIPS is built on: their state-dict layout.

A weights file for a backbone is a torchvision state dict (``features.0.weight``, ...,
``classifier.6.bias``). LPIPS uses only the ``features`` part, so those keys are
required and the classifier keys are optional: converted files that carry only the
convolutional trunk are accepted. The layouts are written out here (checking a file
must not need torchvision's 1-second import); the tests compare them with
torchvision's own model definitions.
"""

from __future__ import annotations

Shapes = dict[str, tuple[int, ...]]

#: lpips ``net=`` name → (weights catalog name, torchvision constructor name).
LPIPS_BACKBONES = {
    "alex": ("alexnet", "alexnet"),
    "vgg": ("vgg16", "vgg16"),
    "squeeze": ("squeezenet1_1", "squeezenet1_1"),
}


def _conv(shapes: Shapes, key: str, cout: int, cin: int, k: int) -> None:
    shapes[f"{key}.weight"] = (cout, cin, k, k)
    shapes[f"{key}.bias"] = (cout,)


def _linear(shapes: Shapes, key: str, cout: int, cin: int) -> None:
    shapes[f"{key}.weight"] = (cout, cin)
    shapes[f"{key}.bias"] = (cout,)


def alexnet_shapes() -> tuple[Shapes, Shapes]:
    """torchvision ``alexnet``: five convolutions, three linear layers."""
    required: Shapes = {}
    for index, cout, cin, k in ((0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3),
                                (8, 256, 384, 3), (10, 256, 256, 3)):
        _conv(required, f"features.{index}", cout, cin, k)
    optional: Shapes = {}
    for index, cout, cin in ((1, 4096, 9216), (4, 4096, 4096), (6, 1000, 4096)):
        _linear(optional, f"classifier.{index}", cout, cin)
    return required, optional


def vgg16_shapes() -> tuple[Shapes, Shapes]:
    """torchvision ``vgg16`` (configuration D, no batch norm)."""
    required: Shapes = {}
    index, cin = 0, 3
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M"):
        if item == "M":
            index += 1
            continue
        _conv(required, f"features.{index}", int(item), cin, 3)
        index, cin = index + 2, int(item)  # convolution + ReLU
    optional: Shapes = {}
    for i, cout, cin in ((0, 4096, 25088), (3, 4096, 4096), (6, 1000, 4096)):
        _linear(optional, f"classifier.{i}", cout, cin)
    return required, optional


def squeezenet1_1_shapes() -> tuple[Shapes, Shapes]:
    """torchvision ``squeezenet1_1``: a convolution, eight Fire modules, a 1×1 classifier."""
    required: Shapes = {}
    _conv(required, "features.0", 64, 3, 3)
    fires = ((3, 64, 16, 64), (4, 128, 16, 64), (6, 128, 32, 128), (7, 256, 32, 128),
             (9, 256, 48, 192), (10, 384, 48, 192), (11, 384, 64, 256), (12, 512, 64, 256))
    for index, cin, squeeze, expand in fires:
        _conv(required, f"features.{index}.squeeze", squeeze, cin, 1)
        _conv(required, f"features.{index}.expand1x1", expand, squeeze, 1)
        _conv(required, f"features.{index}.expand3x3", expand, squeeze, 3)
    optional: Shapes = {}
    _conv(optional, "classifier.1", 1000, 512, 1)
    return required, optional
