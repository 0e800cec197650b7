"""Decode image files into arrays, with explicit policies for alpha, EXIF and bit depth.

Policies (documented in the README):

* **Formats**: PNG, JPEG, WebP, TIFF and BMP, recognised by content. 8-bit files are
  decoded by Pillow (the decoder scikit-image, pytorch-fid and clean-fid use), 16-bit
  colour files by OpenCV, because Pillow reduces them to 8 bits.
* **Bit depth**: 8-bit images give ``uint8`` (data range 255), 16-bit images give
  ``uint16`` (data range 65535). 1-bit images become 8-bit 0/255.
* **EXIF orientation** is applied by default, so images are compared as a viewer shows
  them; ``exif=False`` compares the stored pixel grid.
* **Alpha**: an alpha channel that is fully opaque is dropped (it carries nothing).
  A transparent one is handled by ``alpha``: ``"error"`` (default) refuses the file,
  ``"drop"`` ignores alpha, ``"black"``/``"white"`` composite over that background
  (rounded to the image's integer type) and ``"keep"`` scores alpha as a fourth channel.
* **Decompression bombs**: files of more than :data:`MAX_PIXELS` pixels are refused
  before their pixels are decoded.
* **Truncated or corrupt** files are refused; nothing is padded or guessed.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iqa.errors import InputError

#: Largest image accepted, in pixels (Pillow's own decompression-bomb limit).
MAX_PIXELS = 178_956_970
ALPHA_POLICIES = ("error", "drop", "black", "white", "keep")
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".tif", ".tiff", ".bmp"}
)
_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "TIFF", "BMP"})  # MPO: JPEG from cameras
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Image:
    """A decoded image: ``pixels`` is H×W×C (C = 1, 3 or 4), ``uint8`` or ``uint16``."""

    pixels: np.ndarray
    path: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def data_range(self) -> int:
        return 65535 if self.pixels.dtype == np.uint16 else 255

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def shape_text(self) -> str:
        h, w, c = self.pixels.shape
        kind = {1: "gray", 3: "RGB", 4: "RGBA"}.get(c, f"{c}-channel")
        return f"{w}x{h} {kind} {self.bit_depth}-bit"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def load_image(
    path: str | os.PathLike[str],
    *,
    alpha: str = "error",
    exif: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> Image:
    """Decode one file into an :class:`Image`, or raise :class:`InputError` naming it."""
    if alpha not in ALPHA_POLICIES:
        raise ValueError(f"alpha must be one of {ALPHA_POLICIES}, not {alpha!r}")
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", name) from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, expected an image file", name) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})", name) from None
    if not data:
        raise InputError(f"{name}: file is empty", name)
    pixels, orientation = _decode(data, name, max_pixels)
    if exif and orientation in _ORIENT:
        pixels = np.ascontiguousarray(_ORIENT[orientation](pixels))
    pixels, notes = _apply_alpha_policy(pixels, alpha, name)
    return Image(pixels=pixels, path=name, notes=notes)


def _decode(data: bytes, name: str, max_pixels: int) -> tuple[np.ndarray, int]:
    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(data))
            if im.format not in _FORMATS:
                raise InputError(
                    f"{name}: {im.format} images are not supported "
                    "(PNG, JPEG, WebP, TIFF or BMP expected)",
                    name,
                )
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(
                    f"{name}: {w}x{h} is {w * h:,} pixels, over the limit of {max_pixels:,} "
                    "(refused as a possible decompression bomb)",
                    name,
                )
            orientation = _orientation(im)
            if _is_16bit_colour(im, data):
                im.load()  # validates the whole stream (Pillow detects truncation)
                return _decode_16bit_colour(data, name), orientation
            im.load()
            return _pil_to_array(im, name), orientation
    except InputError:
        raise
    except PILImage.DecompressionBombError:
        raise InputError(
            f"{name}: over the limit of {max_pixels:,} pixels "
            "(refused as a possible decompression bomb)",
            name,
        ) from None
    except PILImage.UnidentifiedImageError:
        raise InputError(
            f"{name}: not a supported image (PNG, JPEG, WebP, TIFF or BMP expected)", name
        ) from None
    except Exception as exc:  # any failure inside a decoder means a damaged file
        text = str(exc) or type(exc).__name__
        if "truncated" in text or isinstance(exc, EOFError):
            text = "file is truncated"
        raise InputError(f"{name}: corrupt image ({text})", name) from None


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not hide the pixels
        return 1


def _is_16bit_colour(im, data: bytes) -> bool:
    if im.mode not in ("RGB", "RGBA"):
        return False
    if im.format == "PNG":
        return len(data) > 25 and data[24] == 16
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) == 16
    return False


def _decode_16bit_colour(data: bytes, name: str) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        raise InputError(f"{name}: corrupt 16-bit image", name)
    order = [2, 1, 0, 3][: arr.shape[2]]  # BGR(A) -> RGB(A)
    return np.ascontiguousarray(arr[:, :, order])


def _pil_to_array(im, name: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.uint16)[:, :, None]
    if mode == "I":
        arr = np.asarray(im)
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)[:, :, None]
        raise InputError(f"{name}: 32-bit integer images are not supported", name)
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr"):
        im = im.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise InputError(
            f"{name}: pixel mode {mode} is not supported (8/16-bit gray or RGB expected)", name
        )
    arr = np.asarray(im)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _apply_alpha_policy(
    pixels: np.ndarray, alpha: str, name: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    channels = pixels.shape[2]
    if channels not in (2, 4):
        return pixels, ()
    colour, a = pixels[:, :, :-1], pixels[:, :, -1]
    top = np.iinfo(pixels.dtype).max
    if alpha == "keep":
        return pixels, ("alpha kept as a channel",)
    if alpha == "drop" or bool((a == top).all()):
        return np.ascontiguousarray(colour), () if alpha != "drop" else ("alpha dropped",)
    if alpha == "error":
        raise InputError(
            f"{name}: has transparent pixels; choose how to score them with "
            "--alpha drop|black|white|keep",
            name,
        )
    background = 0.0 if alpha == "black" else float(top)
    weight = a.astype(np.float64)[:, :, None] / top
    mixed = colour * weight + background * (1.0 - weight)
    return np.rint(mixed).astype(pixels.dtype), (f"alpha composited over {alpha}",)


# EXIF orientation tag -> transform from the stored grid to the displayed image.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}
