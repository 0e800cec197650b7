"""How a file becomes pixels: one policy type and one list of alpha policies.

Both pipelines decode with a :class:`DecodePolicy`; only the defaults differ. ``iqa
compare`` refuses transparent images and applies EXIF orientation (as a viewer shows an
image); ``iqa fid`` drops alpha and ignores EXIF, as pytorch-fid, torch-fidelity and
clean-fid do (:data:`FID_DEFAULTS`), and does not take ``keep`` (the network needs three
channels). Validation lives here, once: a bad value raises
:class:`~iqa.errors.InvalidArgument` naming the parameter (``alpha=``), which the
command line shows as its flag (``--alpha``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from iqa.io.channels import CHANNEL_MODES
from iqa.params import invalid

#: What to do with transparent pixels (see :func:`iqa.io.images.load_image`).
ALPHA_POLICIES = ("error", "drop", "black", "white", "keep")
#: Default budget for the decoded pixels of one image, in MiB (``max_image_mb``).
DEFAULT_MAX_IMAGE_MB = 1024


def check_alpha(alpha: str, allowed: tuple[str, ...] = ALPHA_POLICIES) -> str:
    """``alpha`` if it is one of ``allowed``; :class:`InvalidArgument` naming ``alpha=``."""
    if alpha not in allowed:
        raise invalid("alpha", f"{alpha!r}: must be one of {', '.join(allowed)}")
    return alpha


def check_max_image_mb(value: float) -> float:
    """``value`` if it is a positive number of MiB whose bytes are finite; else
    :class:`InvalidArgument` naming ``max_image_mb=``.

    Infinity is refused, not read as "no limit": the budget is the memory an image may
    take on this machine (README, "Memory budget"), so a run states the number it allows
    (a large one, such as 1e9, where no limit is wanted). ``int(inf · 2^20)`` used to be a
    bare ``OverflowError``.
    """
    if (isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
            or not math.isfinite(value * 2**20)):
        raise invalid("max_image_mb", f"{value!r}: must be a finite positive number of MiB "
                      "(e.g. 4096)")
    return value


@dataclass(frozen=True)
class DecodePolicy:
    """Every decoding choice of one run (validated by :meth:`check`)."""

    alpha: str = "error"
    exif: bool = True
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB
    accept_jpeg_warnings: bool = False
    channels: str = "as-is"

    #: The alpha policies this command takes (``fid`` has no ``keep``).
    alpha_choices: tuple[str, ...] = ALPHA_POLICIES

    def check(self) -> DecodePolicy:
        check_alpha(self.alpha, self.alpha_choices)
        check_max_image_mb(self.max_image_mb)
        if self.channels not in CHANNEL_MODES:
            raise invalid("channels", f"{self.channels!r}: must be one of "
                          f"{', '.join(CHANNEL_MODES)}")
        return self

    def load_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`iqa.io.images.load_image` for this policy."""
        return {"alpha": self.alpha, "exif": self.exif, "max_image_mb": self.max_image_mb,
                "accept_jpeg_warnings": self.accept_jpeg_warnings}

    def describe(self) -> dict[str, Any]:
        """The report's settings: alpha and exif always, the rest only when not default
        (so reports and cache keys made before they existed still match)."""
        out: dict[str, Any] = {"alpha": self.alpha, "exif": self.exif}
        if self.channels != "as-is":
            out["channels"] = self.channels
        if self.accept_jpeg_warnings:
            out["accept_jpeg_warnings"] = True
        if self.max_image_mb != DEFAULT_MAX_IMAGE_MB:
            out["max_image_mb"] = self.max_image_mb
        return out


#: ``iqa fid``'s defaults: the reference tools' choices.
FID_ALPHA_POLICIES = ("drop", "black", "white", "error")
FID_DEFAULTS = DecodePolicy(alpha="drop", exif=False, alpha_choices=FID_ALPHA_POLICIES)
