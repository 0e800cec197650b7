"""iqa: image quality metrics that equal the reference implementations.

The public functions are imported on first use, so ``import iqa`` is cheap and the
weight-free metrics never import torch::

    import iqa
    iqa.psnr(ref, dist)      # dB; inf for identical images
    iqa.ssim(ref, dist)      # Wang et al. 2004, Gaussian window
    iqa.ms_ssim(ref, dist)   # Wang et al. 2003, five scales
    iqa.psnr("ref.png", "q50.jpg")                           # paths are decoded
    iqa.psnr(iqa.load_image("a.png"), iqa.load_image("b.png"))  # so are Image objects

Images are arrays (H×W or H×W×C), ``Image`` objects or paths. ``uint8`` implies a data
range of 255 and ``uint16`` 65535; every other type (floats, other integers, Python
lists) needs ``data_range=``. Errors are ``IQAError`` subclasses that are also
``ValueError`` or ``TypeError`` as fits.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "psnr": "iqa.metrics.psnr",
    "ssim": "iqa.metrics.ssim",
    "ms_ssim": "iqa.metrics.ms_ssim",
    "lpips": "iqa.metrics.lpips",
    "fid": "iqa.distribution.api",
    "kid": "iqa.distribution.api",
    "compare_files": "iqa.compare",
    "load_image": "iqa.io.images",
    "Image": "iqa.io.images",
    "IQAError": "iqa.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iqa' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
