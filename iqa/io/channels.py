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
    An RGB image becomes limited-range BT.601 Y, the "Y channel" of super-resolution
    papers: ``Y = 16 + (65.481 r + 128.553 g + 24.966 b)`` with ``r, g, b`` in [0, 1],
    rounded. On 8-bit images this is BasicSR's ``bgr2ycbcr(img, y_only=True)`` bit for
    bit: its steps (``r, g, b`` = the 8-bit value / 255 in float32, the weighted sum in
    float64, rounded half to even by numpy). MATLAB's ``rgb2ycbcr`` computes in double
    and rounds halves away from zero, so on the rare colours whose Y lies within float
    rounding of a half (194 of the 2^24 8-bit colours fall exactly on one) it may
    differ by one level. On 16-bit images the same formula in float64, scaled ×257.
    A gray image ``v`` is taken as ``r = g = b``, so both sides of a pair get the same
    transform.

An alpha channel kept by ``--alpha keep`` stays a separate, last channel.

:func:`bt601_luma` is the *unrounded* Y of ``--luma`` (and ``iqa.psnr(luma=True)``):
on 8-bit images BasicSR's ``to_y_channel`` bit for bit (Y held in float32, as its
``bgr2ycbcr`` returns it: the values differ from a float64 Y by up to 4e-6, which moves
a PSNR above 80 dB by up to 1e-4 dB); on deeper images the same formula in float64, on
the image's own scale.
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
    pixels = np.asarray(pixels)
    if pixels.shape[-1] not in (1, 3):
        raise ValueError(f"luma needs RGB or gray images, got {pixels.shape[-1]} channels")
    if pixels.shape[-1] == 1:
        return pixels.astype(np.float64)  # BasicSR's float32 x / 255 · 255 is x again
    if pixels.dtype == np.uint8 and peak == 255:
        # BasicSR: bgr2ycbcr returns Y / 255 as float32; to_y_channel multiplies by 255
        y = (_basicsr_y(pixels) / 255.0).astype(np.float32) * np.float32(255.0)
        return y.astype(np.float64)[..., None]
    values = pixels.astype(np.float64)
    return (values @ BT601_WEIGHTS + 16.0 * peak / 255.0)[..., None]


#: BasicSR's weights of B, G, R (its images are OpenCV's BGR).
_BASICSR_BGR_WEIGHTS = [24.966, 128.553, 65.481]


def _basicsr_y(rgb8: np.ndarray) -> np.ndarray:
    """Y (float64, unrounded, 16 … 235) of H×W×3 uint8 RGB by BasicSR's steps in
    ``bgr2ycbcr(y_only=True)``: the BGR values / 255 in float32, then ``np.dot`` with
    its weights (float64) + 16."""
    bgr = np.ascontiguousarray(rgb8[..., ::-1]).astype(np.float32) / 255.0
    return np.dot(bgr, _BASICSR_BGR_WEIGHTS) + 16.0


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
    if colour.dtype == np.uint8 and peak == 255.0:
        rgb = colour if colour.shape[-1] == 3 else np.repeat(colour, 3, axis=-1)
        return np.clip(np.round(_basicsr_y(rgb)), 0, 255)[..., None].astype(np.uint8)
    unit = colour.astype(np.float64) / peak
    if unit.shape[-1] == 1:
        r = g = b = unit[..., 0]
    else:
        r, g, b = unit[..., 0], unit[..., 1], unit[..., 2]
    y = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) * (peak / 255.0)
    return np.clip(np.round(y), 0, peak)[..., None].astype(colour.dtype)
