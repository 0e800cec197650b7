"""Codec formats: AVIF, JPEG 2000, JPEG XL and HEIC/HEIF.

* **Identification** is by content. AVIF and JPEG 2000 are read by Pillow's own
  plugins. JPEG XL and HEIC/HEIF need the optional plugins ``pillow-jxl-plugin``
  (``pip install "iqa[jxl]"``) and ``pillow-heif`` (``pip install "iqa[heif]"``); they
  are imported and registered with Pillow only when such a file is met
  (:func:`register_for`), and a missing one is an :class:`~iqa.errors.InputError`
  naming the file and the extra to install.
* **Bit depth** is read from the file, not from the decoded type (:func:`native_bits`):
  AVIF's ``pixi`` property (else its ``av1C`` flags), JPEG 2000's ``SIZ`` marker
  (the largest component precision), HEIF's luma bit depth as libheif reports it,
  JPEG XL's ``bits_per_sample`` (:mod:`iqa.io.jxl_header`; the plugin does not report
  it).
* **Decoding above 8 bits** keeps the stored values (0 .. 2^bits − 1), never rescaled:
  AVIF and colour JPEG 2000 through OpenCV (libavif, OpenJPEG), because Pillow reduces
  them to 8 bits; HEIF through ``pillow-heif`` with ``hdr_to_16bit=False``. A gray
  JPEG XL above 8 bits comes from libjxl scaled to 0 .. 65535 and is scaled back to
  its stored values (round(v · (2^bits − 1) / 65535), exact since libjxl rounds
  v · 65535 / (2^bits − 1)). A colour JPEG XL above 8 bits is refused: the plugin
  truncates it to 8 bits. Floating-point JPEG XL is refused.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np

from iqa.errors import InputError

_JXL_BOX = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1",
                          b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
#: format family → (extra, what it reads, module to import for the Pillow plugin)
_OPTIONAL = {
    "JXL": ("jxl", "JPEG XL", "pillow_jxl.JpegXLImagePlugin"),
    "HEIF": ("heif", "HEIC/HEIF", "pillow_heif"),
}
_registered: set[str] = set()


def sniff_optional(data: bytes) -> str | None:
    """``"JXL"`` or ``"HEIF"`` when ``data`` starts like one (AVIF stays with Pillow)."""
    if data[:2] == b"\xff\x0a" or data[:12] == _JXL_BOX:
        return "JXL"
    if data[4:8] == b"ftyp" and len(data) >= 16:
        size = struct.unpack_from(">I", data, 0)[0]
        brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(size, 64), 4)}
        if brands & _AVIF_BRANDS:
            return None
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def is_avif(data: bytes) -> bool:
    """Whether ``data`` starts like an AVIF file (an ``ftyp`` box with an AVIF brand)."""
    if data[4:8] != b"ftyp" or len(data) < 16:
        return False
    size = struct.unpack_from(">I", data, 0)[0]
    brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(size, 64), 4)}
    return bool(brands & _AVIF_BRANDS)


def avif_unsupported(name: str) -> InputError:
    """The error for an AVIF file when the installed Pillow cannot decode AVIF: before
    11.3, or built without libavif (Pillow's wheels have it)."""
    import PIL

    return InputError(
        f"{name}: the installed Pillow {PIL.__version__} cannot decode AVIF; iqa needs "
        'Pillow 11.3 or later with AVIF support: pip install --upgrade "pillow>=11.3"', name)


def register_for(family: str, name: str) -> None:
    """Import and register the optional Pillow plugin for ``family`` (once per process)."""
    if family in _registered:
        return
    from iqa.extras import missing

    extra, what, module = _OPTIONAL[family]
    if missing(extra):
        raise InputError(
            f"{name}: reading {what} needs the optional plugin, which is not installed: "
            f'pip install "iqa[{extra}]"',
            name,
        )
    import importlib

    importlib.import_module(module)  # pillow-jxl-plugin registers on import
    if family == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener(thumbnails=False)
    _registered.add(family)


def native_bits(im: Any, data: bytes) -> int | None:
    """Bits per sample stored in a codec file, or None when Pillow's mode says it all."""
    if im.format == "AVIF":
        return _avif_bits(data)
    if im.format == "JPEG2000":
        return _j2k_bits(data, str(im.filename))
    if im.format == "HEIF":
        return int(im.info.get("bit_depth", 8))
    if im.format == "JXL":
        return _jxl_bits(im, data)
    return None


def _jxl_bits(im: Any, data: bytes) -> int:
    from iqa.io.jxl_header import JxlHeaderError, read_depth

    name = str(im.filename)
    if getattr(im, "jpeg", False):  # a recompressed JPEG, rebuilt as that JPEG
        return 8
    try:
        depth = read_depth(data)
    except JxlHeaderError as exc:
        raise InputError(f"{name}: corrupt JPEG XL header ({exc})", name) from None
    if depth.floating or depth.bits > 16:
        kind = "floating-point" if depth.floating else "integer"
        raise InputError(f"{name}: JPEG XL with {depth.bits}-bit {kind} samples is not "
                         "supported; 8- to 16-bit integer images are (convert it, e.g. "
                         "to a 16-bit PNG)", name)
    if depth.bits > 8 and im.mode != "I;16":
        raise InputError(
            f"{name}: {depth.bits}-bit JPEG XL in {im.mode}: pillow-jxl-plugin decodes it "
            "only to 8 bits; decode it to a 16-bit PNG (djxl FILE.jxl FILE.png) and "
            "compare that", name)
    return max(depth.bits, 8)


def _avif_bits(data: bytes) -> int:
    head = data[:65536]
    at = head.find(b"pixi")
    if at >= 4 and at + 9 <= len(head):
        count = head[at + 8]
        depths = head[at + 9:at + 9 + count]
        if depths:
            return max(depths)
    at = head.find(b"av1C")
    if at >= 4 and at + 7 <= len(head):
        flags = head[at + 6]
        if flags & 0x40:  # high_bitdepth
            return 12 if flags & 0x20 else 10  # twelve_bit
    return 8


def _j2k_bits(data: bytes, name: str) -> int:
    at = data.find(b"\xff\x51")  # SIZ: Lsiz Rsiz 8×uint32 Csiz, then Ssiz XRsiz YRsiz
    if at < 0 or at + 43 > len(data):
        raise InputError(f"{name}: corrupt JPEG 2000 header (no SIZ marker)", name)
    count = struct.unpack_from(">H", data, at + 38)[0]
    ssiz = data[at + 40:at + 40 + 3 * count:3]
    if any(s & 0x80 for s in ssiz):
        raise InputError(f"{name}: JPEG 2000 with signed samples is not supported; "
                         "unsigned 8- to 16-bit images are", name)
    bits = max((s & 0x7F) + 1 for s in ssiz)
    if bits > 16:
        raise InputError(f"{name}: JPEG 2000 with {bits}-bit samples is not supported; "
                         "unsigned 8- to 16-bit images are", name)
    return max(bits, 8)


def needs_codec_decoder(im: Any, bits: int | None) -> bool:
    """True when Pillow would reduce this file's samples (or mis-map them)."""
    if im.format == "HEIF" or (im.format == "JXL" and bits is not None and 8 < bits < 16):
        return True
    if bits is None or bits <= 8:
        return False
    if im.format == "AVIF":
        return True
    return im.format == "JPEG2000" and im.mode not in ("I;16", "I;16L", "I;16B", "I")


def decode_codec(im: Any, data: bytes, name: str) -> np.ndarray:
    """H×W×C pixels with their stored values (see the module docstring)."""
    if im.format == "HEIF":
        return _decode_heif(data, name)
    if im.format == "JXL":  # gray, scaled to 16 bits by libjxl: back to the stored values
        try:
            wide = np.asarray(im, dtype=np.float64)
        except Exception as exc:  # any failure inside the decoder means a damaged file
            raise InputError(f"{name}: corrupt JPEG XL image ({exc})", name) from None
        return np.rint(wide * ((2 ** native_bits(im, data) - 1) / 65535)).astype(
            np.uint16)[:, :, None]
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is not None and arr.dtype == np.uint8:
        raise InputError(f"{name}: its {im.format} header says "
                         f"{native_bits(im, data)}-bit samples but it decodes to 8-bit "
                         "ones; re-export the file", name)
    if arr is None or arr.dtype != np.uint16:
        raise InputError(f"{name}: cannot decode this {im.format} image above 8 bits "
                         f"(OpenCV's decoder failed: a damaged file, or an OpenCV built "
                         f"without {im.format} support)", name)
    if arr.ndim == 2:
        return arr[:, :, None]
    order = [2, 1, 0, 3][: arr.shape[2]]  # BGR(A) -> RGB(A)
    return np.ascontiguousarray(arr[:, :, order])


def _decode_heif(data: bytes, name: str) -> np.ndarray:
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False,
                                     hdr_to_16bit=False)
        arr = np.asarray(heif)
    except Exception as exc:  # any libheif failure means a damaged file
        raise InputError(f"{name}: corrupt HEIF image ({exc})", name) from None
    return arr[:, :, None] if arr.ndim == 2 else np.ascontiguousarray(arr)
