"""From file bytes to a pixel array: identification, header checks, decoding.

The policies are described in :mod:`iqa.io.images`; this module implements them:

* :func:`open_header` identifies PNG, JPEG (and camera MPO), WebP, TIFF, BMP, AVIF and
  JPEG 2000 with Pillow's own format plugins, JPEG XL and HEIC/HEIF with the optional
  ones (:mod:`iqa.io.codecs`), reading only the header, and names anything else
  (GIF, floating-point TIFF, ...) in the error.
* :func:`check_header` refuses, before any pixel is decoded, files with several
  pages or frames and images whose decoded size exceeds the caller's budget.
* :func:`decode_pixels` decodes (Pillow for 8-bit, OpenCV for 16-bit colour), turns a
  PNG ``tRNS`` colour key into an alpha channel, and turns every decoder failure into
  :class:`~iqa.errors.InputError`.
"""

from __future__ import annotations

import importlib
import io
import struct
from typing import Any

import numpy as np

from iqa.errors import InputError
from iqa.io.codecs import (
    avif_unsupported,
    decode_codec,
    is_avif,
    native_bits,
    needs_codec_decoder,
    register_for,
    sniff_optional,
)
from iqa.io.tiff import (
    INTEGER_TEXT,
    TIFF_MAGIC,
    check_tiff_samples,
    pillow_applied_orientation,
    tiff_damage,
    tiff_layout,
    tiff_orientation,
    without_orientation,
)

SUPPORTED_TEXT = "PNG, JPEG, WebP, TIFF, BMP, AVIF, JPEG 2000, JPEG XL or HEIC/HEIF"
_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "AVIF", "JPEG2000")  # JPEG's also opens MPO
_PLUGINS = ("PngImagePlugin", "JpegImagePlugin", "WebPImagePlugin", "TiffImagePlugin",
            "BmpImagePlugin", "AvifImagePlugin", "Jpeg2KImagePlugin")


def open_header(data: bytes, name: str) -> Any:
    """A lazily-decoding Pillow image for ``data`` (header read, pixels not decoded).

    Pillow's own decompression-bomb check is not applied here: :func:`check_header`
    applies the caller's budget, which is stated in bytes and can be raised.
    """
    from PIL import Image as PILImage

    for plugin in _PLUGINS:  # importing a plugin registers its format (cached after once)
        try:
            importlib.import_module(f"PIL.{plugin}")
        except ImportError:  # AVIF came with Pillow 11.3
            continue
    prefix = data[:16]
    formats = _FORMATS
    family = sniff_optional(data)
    if family is not None:  # JPEG XL or HEIF: the optional plugin, imported only now
        register_for(family, name)
        formats = (family,)
    for fmt in formats:
        if fmt not in PILImage.OPEN:
            continue
        factory, accept = PILImage.OPEN[fmt]
        matched = accept(prefix) if accept is not None else True
        if not matched or isinstance(matched, str):
            continue
        if fmt == "TIFF" and tiff_damage(data):  # before Pillow warns about it on stderr
            raise InputError(f"{name}: {tiff_layout(data)}", name)
        try:
            return factory(io.BytesIO(data), name)
        except (SyntaxError, IndexError, TypeError, struct.error, KeyError) as exc:
            # the format's magic matched but the header is damaged or not supported
            if fmt == "TIFF":
                raise InputError(f"{name}: {tiff_layout(data)}", name) from None
            raise InputError(f"{name}: corrupt or unsupported {fmt} header ({exc})",
                             name) from None
        except PILImage.DecompressionBombError:
            raise InputError(f"{name}: larger than the decoder's own limit of "
                             f"{2 * PILImage.MAX_IMAGE_PIXELS:,} pixels (refused as a "
                             "possible decompression bomb)", name) from None
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{name}: corrupt image ({exc})", name) from None
        except Exception as exc:  # the JPEG XL plugin decodes while opening
            if family is None:
                raise
            text = str(exc).split(".")[0] or type(exc).__name__
            what = "JPEG XL" if fmt == "JXL" else fmt
            raise InputError(f"{name}: corrupt {what} image ({text})", name) from None
    raise _unidentified(data, name)


def _unidentified(data: bytes, name: str) -> InputError:
    """The most useful error for bytes that none of the supported formats could open."""
    if data[:4] in TIFF_MAGIC:
        return InputError(f"{name}: {tiff_layout(data)}", name)
    if is_avif(data):  # a supported AVIF would have matched: this Pillow has no AVIF
        return avif_unsupported(name)
    from PIL import Image as PILImage

    try:
        fmt = PILImage.open(io.BytesIO(data)).format
    except Exception:  # not an image Pillow knows either
        fmt = None
    if fmt and fmt not in _FORMATS and fmt not in ("MPO", "JXL", "HEIF"):
        return InputError(f"{name}: {fmt} images are not supported ({SUPPORTED_TEXT} "
                          "expected)", name)
    if fmt:
        return InputError(f"{name}: corrupt {fmt} header", name)
    return InputError(f"{name}: not a supported image ({SUPPORTED_TEXT} expected)", name)


def _frames(im: Any) -> int:
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # counting walks the file; a damaged chain is a damaged file
        raise InputError(f"{im.filename}: corrupt image (cannot count its pages)",
                         str(im.filename)) from None


def _bytes_per_sample(im: Any, data: bytes) -> int:
    bits = native_bits(im, data)
    if bits is not None:
        return 1 if bits <= 8 else 2
    if im.mode.startswith("I;16"):
        return 2
    if im.mode in ("I", "F"):
        return 4
    return 2 if is_16bit_colour(im, data) else 1


def _channels(im: Any) -> int:
    if im.mode == "P":
        return 4 if "transparency" in im.info else 3
    bands = len(im.getbands())
    return bands + (1 if "transparency" in im.info and bands in (1, 3) else 0)


def check_header(im: Any, data: bytes, name: str, max_bytes: int) -> None:
    """Refuse multi-page files and images over the decoded-size budget, before decoding."""
    check_tiff_samples(im, name)  # floating-point and 32-bit TIFFs
    frames = _frames(im)
    if frames > 1 and im.format != "MPO":  # MPO: the primary image, as viewers show
        what = "pages" if im.format == "TIFF" else "frames (an animation)"
        raise InputError(f"{name}: {im.format} with {frames} {what}; iqa compares single "
                         "images: save the page to compare as its own file", name)
    w, h = im.size
    channels, depth = _channels(im), _bytes_per_sample(im, data)
    need = w * h * channels * depth
    if need > max_bytes:
        raise InputError(
            f"{name}: {w}x{h} with {channels} channel(s) of {8 * depth} bits needs "
            f"{need / 2**20:,.0f} MiB decoded, over the budget of {max_bytes / 2**20:,.0f} "
            "MiB per image; raise it with --max-image-mb (max_image_mb= in Python) if "
            "this machine has the memory",
            name,
        )


def is_16bit_colour(im: Any, data: bytes) -> bool:
    """16-bit RGB(A) PNG or TIFF: Pillow would reduce these to 8 bits."""
    if im.mode not in ("RGB", "RGBA"):
        return False
    if im.format == "PNG":
        return len(data) > 25 and data[24] == 16
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) == 16
    return False


def decode_pixels(im: Any, data: bytes, name: str) -> tuple[np.ndarray, int, int]:
    """Decode the pixels of an opened image: H×W×C ``uint8`` or ``uint16`` in the stored
    grid, its bits, and the EXIF orientation still to apply (1 when there is none, or
    when the decoder applied it as viewers do: HEIF, JPEG XL).

    The bits per sample are the file's own (8 to 16, see :mod:`iqa.io.codecs`); every
    sample is checked to fit in them, so MAX = 2^bits − 1 is the true peak.

    ``im.load()`` runs first and alone, so a decoder error cannot be swallowed by
    anything that would load the image implicitly (``getexif()`` did, leaving a black
    or half-decoded image behind). A TIFF's orientation is read before (from its
    directory, which needs no pixel): Pillow's and OpenCV's TIFF decoders apply it
    themselves, so Pillow's rotation is undone and OpenCV reads a copy whose tag says 1
    (:mod:`iqa.io.tiff`); :func:`iqa.io.images.load_image` applies it once, by policy.
    """
    bits = native_bits(im, data)
    held = tiff_orientation(im) if im.format == "TIFF" else None  # see iqa.io.tiff
    if needs_codec_decoder(im, bits):  # the deeper decoder reports its own failures
        pixels, bits = _checked_pixels(decode_codec(im, data, name), bits, im.format, name)
        return pixels, bits, _orientation(im)
    try:
        _load_from_bytes(im)
    except Exception as exc:  # any failure inside a decoder means a damaged file
        text = str(exc) or type(exc).__name__
        if "truncated" in text or isinstance(exc, EOFError):
            text = "file is truncated"
        raise InputError(f"{name}: corrupt image ({text})", name) from None
    if is_16bit_colour(im, data):
        stored = without_orientation(data) if held in ORIENT else data
        pixels = _decode_16bit_colour(stored, name, gray_alpha=_is_gray_alpha_png(im, data))
    else:
        pixels = _with_colour_key(_pil_to_array(im, name), im)
        if held in ORIENT and pillow_applied_orientation(im):  # back to the stored grid
            pixels = np.ascontiguousarray(ORIENT[_INVERSE.get(held, held)](pixels))
    pixels, bits = _checked_pixels(pixels, bits, im.format, name)
    return pixels, bits, _orientation(im) if held is None else held


def _load_from_bytes(im: Any) -> None:
    """``im.load()`` from the bytes that were read and checked, never from the file.

    Given a file name, Pillow memory-maps that file for the uncompressed images it can
    map (gray, 16-bit gray and RGBA TIFFs, among others) instead of reading the stream
    it was opened with: the pixels came from the disk a second time (a file rewritten since
    would be scored with another file's header checks), and a TIFF whose orientation
    turns it by 90° was mapped with its displayed width and height, scrambling its rows.
    The name is hidden from the loader while it runs (it is what enables the mapping).
    """
    name, im.filename = im.filename, ""
    try:
        im.load()
    finally:
        im.filename = name


def _orientation(im: Any) -> int:
    if im.format in ("HEIF", "JXL"):  # libheif / libjxl applied the file's orientation
        return 1
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not hide the pixels (already decoded)
        return 1


_EXIF_ORIENTATION = 0x0112
#: EXIF orientation tag -> transform from the stored grid to the displayed image.
ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}
#: The transform that undoes each one: the rotations by 90° undo each other, the
#: mirrors and the 180° rotation undo themselves.
_INVERSE = {6: 8, 8: 6}


def _checked_pixels(pixels: np.ndarray, bits: int | None, fmt: str, name: str
                    ) -> tuple[np.ndarray, int]:
    if bits is None:
        bits = 16 if pixels.dtype == np.uint16 else 8
    return pixels, _checked_bits(pixels, bits, fmt, name)


def _checked_bits(pixels: np.ndarray, bits: int, fmt: str, name: str) -> int:
    """``bits`` when every sample fits in it and in the array's type, else an error."""
    capacity = 8 * pixels.dtype.itemsize
    if not 8 <= bits <= capacity:
        raise InputError(f"{name}: {fmt} says {bits}-bit samples but decodes to "
                         f"{capacity}-bit ones; re-export the file", name)
    top = int(pixels.max()) if pixels.size and bits < capacity else 0
    if top > 2**bits - 1:
        raise InputError(f"{name}: {fmt} says {bits}-bit samples but holds the value "
                         f"{top} (above {2**bits - 1}); re-export the file", name)
    return bits


def _is_gray_alpha_png(im: Any, data: bytes) -> bool:
    """PNG colour type 4 (gray + alpha): Pillow opens a 16-bit one as RGBA."""
    return im.format == "PNG" and len(data) > 25 and data[25] == 4


def _decode_16bit_colour(data: bytes, name: str, *, gray_alpha: bool = False) -> np.ndarray:
    """16-bit pixels through OpenCV (libpng, libtiff), RGB(A) order.

    With ``gray_alpha`` (a 16-bit gray + alpha PNG) the result is gray + alpha, H×W×2:
    libpng expands gray to three equal channels, which would make the image RGB and
    refuse its comparison with the same picture saved as 16-bit gray.
    """
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        raise InputError(f"{name}: corrupt 16-bit image", name)
    if gray_alpha:
        if arr.shape[2] != 4:
            raise InputError(f"{name}: corrupt 16-bit image", name)
        return np.ascontiguousarray(arr[:, :, [0, 3]])  # B = G = R: the gray, then alpha
    order = [2, 1, 0, 3][: arr.shape[2]]  # BGR(A) -> RGB(A); a tRNS key becomes alpha
    return np.ascontiguousarray(arr[:, :, order])


def _with_colour_key(pixels: np.ndarray, im: Any) -> np.ndarray:
    """A PNG ``tRNS`` colour key (gray or RGB) as an alpha channel: 0 where it matches."""
    key = im.info.get("transparency")
    if im.format != "PNG" or key is None or pixels.shape[2] not in (1, 3):
        return pixels
    if isinstance(key, bytes):  # palette transparency: handled by the RGBA conversion
        return pixels
    if im.mode == "1":
        key = 255 if key else 0
    key_arr = np.asarray(key if isinstance(key, tuple) else (key,), dtype=np.int64)
    if key_arr.size != pixels.shape[2]:
        return pixels
    top = np.iinfo(pixels.dtype).max
    alpha = np.where((pixels == key_arr.astype(pixels.dtype)).all(axis=2), 0, top)
    return np.concatenate([pixels, alpha.astype(pixels.dtype)[:, :, None]], axis=2)


def _pil_to_array(im: Any, name: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.uint16)[:, :, None]
    if mode == "I":
        arr = np.asarray(im)
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)[:, :, None]
        raise InputError(f"{name}: integer samples outside 0 .. 65535 (negative: signed "
                         f"samples) are not supported; {INTEGER_TEXT}", name)
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr"):
        im = im.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise InputError(f"{name}: pixel mode {mode} is not supported; {INTEGER_TEXT}",
                         name)
    arr = np.asarray(im)
    return arr[:, :, None] if arr.ndim == 2 else arr
