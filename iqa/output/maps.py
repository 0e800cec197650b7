"""Error maps as pictures: fixed colour scales, heat maps at image resolution, legends.

A map comes from the metric's own pass (``score_maps``; ``iqa.ssim(..., full=True)``):
the SSIM map, the squared-error map behind PSNR, LPIPS's spatial map. Each is drawn on
a **fixed** scale, the same for every pair and every run, so two heat maps can be
compared by eye; values past either end are drawn in the end colour. The colours are
matplotlib's *inferno* (perceptually uniform, readable in grey), black = no error,
yellow = worst:

=========  ==========================================  =============  ===============
metric     value drawn                                 black (good)   yellow (bad)
=========  ==========================================  =============  ===============
ssim       local SSIM (11×11 Gaussian window)          1.0            0.5 and below
psnr       squared error in dB, 10·log10(MAX² / e²)    60 dB and up   20 dB and below
lpips      LPIPS spatial map                           0.0            0.5 and above
=========  ==========================================  =============  ===============

SSIM's map covers the valid windows only: the 5-pixel border where no 11×11 window
fits is drawn mid-grey, so the PNG has the image's size and pixel (x, y) of the map is
pixel (x, y) of the image. A colour image's SSIM map is the mean of its channels' maps;
its squared error is averaged over channels (with ``--luma``, both are of Y).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

#: Metrics that have a spatial form, in the order their maps are shown.
MAP_METRICS = ("ssim", "psnr", "lpips")
BORDER_GREY = 128


@dataclass(frozen=True)
class Scale:
    metric: str
    label: str
    good: float  # drawn black
    bad: float  # drawn yellow
    unit: str = ""

    def badness(self, values: np.ndarray) -> np.ndarray:
        """0 (good end) to 1 (bad end), clipped; NaN stays NaN."""
        t = (values - self.good) / (self.bad - self.good)
        return np.clip(t, 0.0, 1.0, out=t)


SCALES = {
    "ssim": Scale("ssim", "local SSIM", 1.0, 0.5),
    "psnr": Scale("psnr", "squared error in dB (10 log10 MAX^2/e^2)", 60.0, 20.0, "dB"),
    "lpips": Scale("lpips", "LPIPS spatial map", 0.0, 0.5),
}

#: inferno at 0, 1/8, ..., 1 (matplotlib's table), interpolated linearly (PALETTE).
_INFERNO = np.array([
    (0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
    (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164)], dtype=np.float64)




#: Palette of the PNG maps: 255 steps of the scale (index 0 = good ... 254 = bad), and
#: index 255 = mid-grey for pixels the map does not cover (SSIM's border).
STEPS = 255
GREY_INDEX = 255


def _palette() -> np.ndarray:
    x = np.linspace(0, 1, len(_INFERNO))
    t = np.linspace(0, 1, STEPS)
    scale = np.stack([np.interp(t, x, _INFERNO[:, c]) for c in range(3)], axis=1)
    return np.vstack([scale.round(), [[BORDER_GREY] * 3]]).astype(np.uint8)


PALETTE = _palette()


def displayed(metric: str, values: np.ndarray, data_range: float) -> np.ndarray:
    """The map in the unit of its scale: squared error becomes dB (0 error: +inf)."""
    if metric != "psnr":
        return values
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range * data_range / values)


def indices(metric: str, values: np.ndarray, shape: tuple[int, int],
            data_range: float) -> np.ndarray:
    """The map as palette indices (uint8, ``shape``): 0..254 along the scale, rounded to
    the nearest step; 255 (grey) where the map does not reach (a centred smaller map).

    A per-channel map (H×W×C, as ``iqa.ssim(..., full=True)`` returns for colour images)
    is drawn as the mean of its channels. Computed in float32 (a step is 1/254 of the
    scale, far above float32's rounding)."""
    import cv2

    scale = SCALES[metric]
    if values.ndim == 3:
        values = values.mean(axis=2)
    t = np.asarray(values, dtype=np.float32)
    if metric == "psnr":  # dB = 10 log10(MAX^2 / e): work on ln(e), cv2.log is fast
        t = np.maximum(t, np.float32(1e-30))  # e = 0: +inf dB, the good end
        cv2.log(t, t)
        t *= np.float32(-10.0 / np.log(10.0))
        t += np.float32(20.0 * np.log10(data_range))
    else:
        t = t.copy()
    t -= np.float32(scale.good)
    t *= np.float32((STEPS - 1) / (scale.bad - scale.good))
    np.nan_to_num(t, copy=False, nan=0.0)
    np.clip(t, 0, STEPS - 1, out=t)
    t += np.float32(0.5)
    index = t.astype(np.uint8)
    h, w = shape
    if index.shape == (h, w):
        return index
    out = np.full((h, w), GREY_INDEX, np.uint8)
    top, left = (h - index.shape[0]) // 2, (w - index.shape[1]) // 2
    out[top:top + index.shape[0], left:left + index.shape[1]] = index
    return out


def colorize(metric: str, values: np.ndarray, shape: tuple[int, int],
             data_range: float) -> np.ndarray:
    """The heat map as RGB uint8 of ``shape`` (see :func:`indices`)."""
    return PALETTE[indices(metric, values, shape, data_range)]


def palette_png(index: np.ndarray) -> bytes:
    """An 8-bit palette PNG of ``index`` with :data:`PALETTE`: a third of an RGB PNG's
    data; zlib level 1 with the run-length strategy (``Z_RLE``), which encodes a 1080p
    map about 1.4x faster than level 1's default strategy for a file about 5 % larger
    (maps are large and written for every pair)."""
    import io

    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(index))  # mode "L"
    image.putpalette(PALETTE.tobytes())  # now mode "P"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, compress_type=3)  # 3: zlib Z_RLE
    return buffer.getvalue()


def worst_region(metric: str, values: np.ndarray, shape: tuple[int, int], size: int,
                 data_range: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the ``size``×``size`` image region whose mean map value is worst.

    The map is averaged over ``size``×``size`` boxes (OpenCV's box filter) and the box
    with the lowest mean SSIM (highest squared error, highest LPIPS) is taken.
    """
    import cv2

    h, w = shape
    size = min(size, h, w)
    offset = ((h - values.shape[0]) // 2, (w - values.shape[1]) // 2)
    k = min(size, values.shape[0], values.shape[1])
    smooth = cv2.blur(values.astype(np.float64), (k, k), borderType=cv2.BORDER_REPLICATE)
    worst = np.argmin(smooth) if metric == "ssim" else np.argmax(smooth)
    cy, cx = np.unravel_index(worst, smooth.shape)
    cy, cx = cy + offset[0], cx + offset[1]
    x = int(min(max(cx - size // 2, 0), w - size))
    y = int(min(max(cy - size // 2, 0), h - size))
    return x, y, size, size


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG of an RGB uint8 array (zlib level 1: maps are large and written per pair)."""
    import cv2

    ok, data = cv2.imencode(".png", rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB array
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def legend(metric: str, width: int = 512, height: int = 64) -> np.ndarray:
    """The colour bar of ``metric``'s scale with its end values and label (RGB uint8)."""
    from PIL import Image, ImageDraw, ImageFont

    scale = SCALES[metric]
    steps = np.linspace(0, STEPS - 1, width).round().astype(int)
    bar = np.repeat(PALETTE[None, steps], height // 2, 0)
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(Image.fromarray(bar), (0, 0))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=12)  # Pillow's own TrueType font, with FreeType
    except TypeError:  # Pillow < 10.1: the bitmap font
        font = ImageFont.load_default()
    unit = f" {scale.unit}" if scale.unit else ""
    good = f"{_num(scale.good)}{unit}" + (" and up" if metric == "psnr" else "")
    bad = f"{_num(scale.bad)}{unit} " + ("and below" if metric != "lpips" else "and above")
    draw.text((2, height // 2 + 2), good, fill="black", font=font)
    right = draw.textlength(bad, font=font)
    draw.text((width - right - 2, height // 2 + 2), bad, fill="black", font=font)
    middle = draw.textlength(scale.label, font=font)
    draw.text(((width - middle) / 2, height // 2 + 16), scale.label, fill="black", font=font)
    return np.asarray(canvas)


def _num(v: float) -> str:
    return f"{v:g}" if math.isfinite(v) else str(v)


def map_name(pair_key: str, metric: str) -> str:
    """``KEY.METRIC.png``: beside the pair's own name in a sorted listing."""
    return f"{pair_key}.{metric}.png"


def legend_name(metric: str) -> str:
    return f"legend.{metric}.png"


def input_identities(paths: list[str]) -> set[tuple[int, int]]:
    out = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return out
