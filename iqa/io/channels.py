"""Explicit channel conversions for comparing images whose channel counts differ.

Decoders often return RGB for a gray source (``dwebp`` always does), so a gray
reference and its decoded output differ in channels although they hold the same
picture. ``iqa compare --channels`` makes the conversion explicit; nothing is converted
silently. Every conversion is applied to both images of a pair, after decoding and the
alpha policy, before any metric:

``as-is`` (default)
    No conversion; a pair whose channel counts differ is refused.
``rgb``
    A gray image is repeated into three equal channels (gray + alpha becomes RGB +
    alpha). RGB images are unchanged. Metrics that average over channels give the
    same value on a gray pair as before.
``gray``
    An RGB image becomes full-range ITU-R BT.601 luma, computed exactly as Pillow's
    ``Image.convert("L")``: ``L = (19595 R + 38470 G + 7471 B + 32768) >> 16``
    (weights 0.299, 0.587, 0.114 in 16-bit fixed point, rounded), in the image's own
    bit depth (the same integer formula for 16-bit). Gray images are unchanged.
``y``
    An RGB image becomes limited-range BT.601 Y as MATLAB's ``rgb2ycbcr`` and
    BasicSR's ``rgb2ycbcr(y_only=True)`` compute it (the "Y channel" of
    super-resolution papers): ``Y = 16 + (65.481 r + 128.553 g + 24.966 b)`` with
    ``r, g, b`` in [0, 1], scaled to the bit depth (×1 for 8-bit, ×257 for 16-bit) and
    rounded half to even, as numpy does. A gray image ``v`` is taken as ``r = g = b``,
    so both sides of a pair get the same transform.

An alpha channel kept by ``--alpha keep`` stays a separate, last channel.

:func:`bt601_luma` is the *unrounded* Y of ``--luma`` (and ``iqa.psnr(luma=True)``):
BasicSR's ``to_y_channel``, in float64, on the image's own scale.
"""

from __future__ import annotations

import numpy as np

CHANNEL_MODES = ("as-is", "rgb", "gray", "y")
#: BT.601 luma weights of R, G, B for values on a [0, MAX] scale (65.481/255, ...).
BT601_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0


def bt601_luma(pixels: np.ndarray, peak: float) -> np.ndarray:
    """Unrounded BT.601 Y (H×W×1, float64) of H×W×3 RGB values on [0, ``peak``]:
    Y = 16·peak/255 + (65.481 R + 128.553 G + 24.966 B)/255.

    With ``peak`` = 255 this is BasicSR's ``to_y_channel`` (``bgr2ycbcr(y_only=True)``,
    then ×255) and MATLAB's ``rgb2ycbcr`` before rounding. A 1-channel (gray) image is
    returned as float64 unchanged.
    """
    values = np.asarray(pixels, dtype=np.float64)
    if values.shape[-1] == 1:
        return values
    if values.shape[-1] != 3:
        raise ValueError(f"luma needs RGB or gray images, got {values.shape[-1]} channels")
    return (values @ BT601_WEIGHTS + 16.0 * peak / 255.0)[..., None]


def convert_channels(pixels: np.ndarray, mode: str, *, peak: float | None = None) -> np.ndarray:
    """Apply the conversion ``mode`` (one of :data:`CHANNEL_MODES`) to H×W×C pixels.

    ``peak`` is the image's MAX (2^bits − 1: 1023 for a 10-bit image held in ``uint16``);
    by default the dtype's (255 or 65535). Returns an array of the same dtype (``uint8`` or
    ``uint16``); ``as-is`` returns ``pixels`` itself. Raises ``ValueError`` for an unknown
    mode or channel count.
    """
    if mode not in CHANNEL_MODES:
        raise ValueError(f"channels must be one of {', '.join(CHANNEL_MODES)}, not {mode!r}")
    if mode == "as-is":
        return pixels
    channels = pixels.shape[-1]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"expected 1 to 4 channels, got {channels}")
    has_alpha = channels in (2, 4)
    colour = pixels[..., : channels - 1] if has_alpha else pixels
    alpha = pixels[..., channels - 1 :] if has_alpha else None
    if mode == "rgb":
        converted = colour if colour.shape[-1] == 3 else np.repeat(colour, 3, axis=-1)
    elif mode == "gray":
        converted = colour if colour.shape[-1] == 1 else _pillow_luma(colour)
    else:
        converted = _limited_range_y(colour, peak)
    if alpha is not None:
        converted = np.concatenate([converted, alpha], axis=-1)
    return np.ascontiguousarray(converted, dtype=pixels.dtype)


def _pillow_luma(rgb: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` (libImaging/Convert.c, ``L24``): 16-bit fixed point."""
    wide = rgb.astype(np.int64)
    luma = (wide[..., 0] * 19595 + wide[..., 1] * 38470 + wide[..., 2] * 7471 + 0x8000) >> 16
    return luma[..., None].astype(rgb.dtype)


def _limited_range_y(colour: np.ndarray, peak: float | None = None) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` Y (BT.601, studio range 16-235 in 8-bit), scaled to ``peak``."""
    if peak is None:
        peak = 65535.0 if colour.dtype == np.uint16 else 255.0
    peak = float(peak)
    unit = colour.astype(np.float64) / peak
    if unit.shape[-1] == 1:
        r = g = b = unit[..., 0]
    else:
        r, g, b = unit[..., 0], unit[..., 1], unit[..., 2]
    y = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) * (peak / 255.0)
    return np.clip(np.round(y), 0, peak)[..., None].astype(colour.dtype)
