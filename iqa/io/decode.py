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
import zlib
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

SUPPORTED_TEXT = "PNG, JPEG, WebP, TIFF, BMP, AVIF, JPEG 2000, JPEG XL or HEIC/HEIF"
_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "AVIF", "JPEG2000")  # JPEG's also opens MPO
_PLUGINS = ("PngImagePlugin", "JpegImagePlugin", "WebPImagePlugin", "TiffImagePlugin",
            "BmpImagePlugin", "AvifImagePlugin", "Jpeg2KImagePlugin")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_SAMPLE_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point"}
_INTEGER_TEXT = "8- or 16-bit integer gray or RGB images are supported"


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
        try:
            return factory(io.BytesIO(data), name)
        except (SyntaxError, IndexError, TypeError, struct.error, KeyError) as exc:
            # the format's magic matched but the header is damaged or not supported
            if fmt == "TIFF":
                raise InputError(f"{name}: {_tiff_layout(data)}", name) from None
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
    if data[:4] in _TIFF_MAGIC:
        return InputError(f"{name}: {_tiff_layout(data)}", name)
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


def _tiff_layout(data: bytes) -> str:
    """Why Pillow cannot read this TIFF, from its first directory (IFD)."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    try:
        ifd = ImageFileDirectory_v2(data[:8])
        fp = io.BytesIO(data)
        fp.seek(ifd.next)
        ifd.load(fp)
        bits = ifd.get(258, (1,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        sample = ifd.get(339, (1,))
        sample = sample if isinstance(sample, tuple) else (sample,)
        samples = int(ifd.get(277, 1))
    except Exception:  # a directory that cannot be parsed: a damaged file
        return f"corrupt TIFF header ({SUPPORTED_TEXT} expected)"
    kind = _SAMPLE_FORMATS.get(int(sample[0]), f"sample format {sample[0]}")
    if int(sample[0]) == 3:
        return (f"TIFF with {bits[0]}-bit floating-point samples is not supported; "
                f"{_INTEGER_TEXT} (convert it, e.g. to a 16-bit PNG or TIFF)")
    return (f"TIFF layout not supported ({samples} samples of {bits[0]}-bit {kind}); "
            f"{_INTEGER_TEXT}")


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
    if im.format == "TIFF" and im.mode == "F":
        raise InputError(f"{name}: TIFF with 32-bit floating-point samples is not "
                         f"supported; {_INTEGER_TEXT} (convert it, e.g. to a 16-bit PNG "
                         "or TIFF)", name)
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


def check_png_crcs(data: bytes, name: str) -> None:
    """Every PNG chunk's CRC-32 must match; Pillow does not check those of IDAT.

    Without this, damage inside the compressed pixel data that zlib happens to accept
    (stored blocks, or a flipped literal) decodes to wrong pixels without any error.
    """
    pos, end = 8, len(data)
    while pos + 12 <= end:
        length = struct.unpack_from(">I", data, pos)[0]
        body = pos + 4
        stop = body + 4 + length
        if stop + 4 > end:
            return  # a truncated file: the decoder reports it
        kind = data[body:body + 4]
        crc = struct.unpack_from(">I", data, stop)[0]
        if zlib.crc32(data[body:stop]) & 0xFFFFFFFF != crc:
            raise InputError(f"{name}: corrupt image (checksum mismatch in its "
                             f"{kind.decode('latin-1', 'replace')} chunk at byte {pos})", name)
        if kind == b"IEND":
            return
        pos = stop + 4


def decode_pixels(im: Any, data: bytes, name: str) -> tuple[np.ndarray, int]:
    """Decode the pixels of an opened image: H×W×C ``uint8`` or ``uint16``, and its bits.

    The bits per sample are the file's own (8 to 16, see :mod:`iqa.io.codecs`); every
    sample is checked to fit in them, so MAX = 2^bits − 1 is the true peak.

    ``im.load()`` runs first and alone, so a decoder error cannot be swallowed by
    anything that would load the image implicitly (``getexif()`` did, leaving a black
    or half-decoded image behind).
    """
    bits = native_bits(im, data)
    if needs_codec_decoder(im, bits):  # the deeper decoder reports its own failures
        return _checked_pixels(decode_codec(im, data, name), bits, im.format, name)
    try:
        im.load()
    except Exception as exc:  # any failure inside a decoder means a damaged file
        text = str(exc) or type(exc).__name__
        if "truncated" in text or isinstance(exc, EOFError):
            text = "file is truncated"
        raise InputError(f"{name}: corrupt image ({text})", name) from None
    if is_16bit_colour(im, data):
        pixels = _decode_16bit_colour(data, name)
    else:
        pixels = _with_colour_key(_pil_to_array(im, name), im)
    return _checked_pixels(pixels, bits, im.format, name)


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


def _decode_16bit_colour(data: bytes, name: str) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        raise InputError(f"{name}: corrupt 16-bit image", name)
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
        raise InputError(f"{name}: 32-bit integer images are not supported; "
                         f"{_INTEGER_TEXT}", name)
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr"):
        im = im.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise InputError(f"{name}: pixel mode {mode} is not supported; {_INTEGER_TEXT}",
                         name)
    arr = np.asarray(im)
    return arr[:, :, None] if arr.ndim == 2 else arr
