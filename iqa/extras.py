"""Optional dependencies: which extra installs what, and one clear error when one is missing.

``pip install iqa`` gives the pixel metrics (PSNR, SSIM, MS-SSIM) with numpy, SciPy, OpenCV
and Pillow. The networks (LPIPS, the FID Inception) need PyTorch, torchvision and the
``lpips`` package, installed by the ``torch`` extra (``pip install "iqa[torch]"``), or
by ``all``. Whether a module is installed is looked up with
:func:`importlib.util.find_spec`, which imports nothing, so asking costs no start-up time.
"""

from __future__ import annotations

import importlib.util

from iqa.errors import UsageError

#: extra name → the modules it provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "torchvision", "lpips"),
    "gen": ("torch", "torchvision", "timm"),  # CLIP and DINOv2 extractors
    "jxl": ("pillow_jxl",),  # JPEG XL images (pillow-jxl-plugin)
    "heif": ("pillow_heif",),  # HEIC/HEIF images (pillow-heif)
    "video": ("av",),  # compressed video: mp4, mkv, webm, ivf ... (PyAV)
    "html": ("jinja2",),  # --html reports
}


class MissingExtraError(UsageError):
    """A feature needs an optional dependency that is not installed (exit 2)."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when all are there)."""
    out = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, or broken
            found = False
        if not found:
            out.append(module)
    return out


def available(extra: str) -> bool:
    return not missing(extra)


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` naming the ``pip install`` when ``extra`` is absent.

    ``feature`` says what needs it, e.g. ``"LPIPS"`` or ``"iqa fid"``.
    """
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{feature} needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} "
            f"not installed: pip install \"iqa[{extra}]\""
        )
