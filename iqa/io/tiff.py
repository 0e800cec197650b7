"""TIFF specifics of decoding: sample formats refused, damaged directories named, and the
Orientation tag kept away from the decoders, which apply it themselves.

* **Sample formats**: 8- and 16-bit integer samples are read. Floating-point and 32-bit
  integer TIFFs are refused whatever their values (:func:`check_tiff_samples`).
* **Damage**: a first directory (IFD) that does not fit in the file, or has no width or
  height, is named as a damaged file (:func:`tiff_layout`), not as a layout.
* **Orientation**: Pillow's TIFF loader rotates the pixels by the Orientation tag while
  loading (``ImageOps.exif_transpose`` in ``load_end``, after sizing the image as
  displayed), and OpenCV's TIFF decoder does too in some versions, even with
  ``IMREAD_UNCHANGED``. So ``exif=False`` got the displayed image, not the stored grid.
  The tag is read before decoding (:func:`tiff_orientation`); Pillow's rotation is undone
  after it (the loader removes the tag from the EXIF it applied); OpenCV decodes a copy
  of the bytes whose tag says 1 (:func:`without_orientation`), so no version rotates.
  :func:`iqa.io.images.load_image` then applies the orientation once, by its policy.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from iqa.errors import InputError

TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
INTEGER_TEXT = "8- or 16-bit integer gray or RGB images are supported"
_SAMPLE_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point"}
_ORIENTATION = 0x0112
_SHORT = 3
#: bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ...)
_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               13: 4, 16: 8, 17: 8, 18: 8}


def check_tiff_samples(im: Any, name: str) -> None:
    """Refuse floating-point and 32-bit integer TIFFs (Pillow's modes ``F`` and ``I``).

    A 32-bit integer TIFF is refused whatever its values: its MAX would be 2^32 − 1, and
    taking it as 16-bit when its values happen to fit in 0 .. 65535 scored it against a
    peak the file does not declare. Pillow gives ``I`` to 16-bit signed TIFFs too; those
    go on to the decoder's check that no sample is negative.
    """
    if im.format != "TIFF" or im.mode not in ("F", "I"):
        return
    bits = im.tag_v2.get(258, (32,))
    bits = max(bits) if isinstance(bits, tuple) else int(bits)
    if im.mode == "I" and bits <= 16:
        return
    sample = im.tag_v2.get(339, (1,))
    sample = int(sample[0] if isinstance(sample, tuple) else sample)
    kind = "floating-point" if im.mode == "F" else _SAMPLE_FORMATS.get(
        sample, f"sample format {sample}")
    raise InputError(f"{name}: TIFF with {bits}-bit {kind} samples is not supported; "
                     f"{INTEGER_TEXT} (convert it, e.g. to a 16-bit PNG or TIFF)", name)


def tiff_layout(data: bytes) -> str:
    """Why Pillow cannot read this TIFF, from its first directory (IFD).

    A directory that does not fit in the file (libtiff writes it after the pixel data,
    so a truncated LZW or deflate TIFF loses it), or that lacks the image's width and
    height, is a damaged file: reading it anyway found no tags and reported the default
    layout ("1 samples of 1-bit"), as if the file were well-formed.
    """
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    damage = tiff_damage(data)
    if damage:
        return f"corrupt or truncated TIFF ({damage}); re-export or re-copy the file"
    big = data[2:4] in (b"+\x00", b"\x00+")  # BigTIFF: a 16-byte header
    try:
        ifd = ImageFileDirectory_v2(data[:16] if big else data[:8])
        fp = io.BytesIO(data)
        fp.seek(ifd.next)
        ifd.load(fp)
        bits = ifd.get(258, (1,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        sample = ifd.get(339, (1,))
        sample = sample if isinstance(sample, tuple) else (sample,)
        samples = int(ifd.get(277, 1))
    except Exception:  # a directory that cannot be parsed
        return ("TIFF whose first directory cannot be read (a damaged file, or a BigTIFF "
                "variant Pillow does not read); convert it, e.g. to a PNG")
    if 256 not in ifd or 257 not in ifd:  # ImageWidth, ImageLength
        return ("corrupt or truncated TIFF (its first directory has no image width or "
                "height); re-export or re-copy the file")
    kind = _SAMPLE_FORMATS.get(int(sample[0]), f"sample format {sample[0]}")
    if int(sample[0]) == 3:
        return (f"TIFF with {bits[0]}-bit floating-point samples is not supported; "
                f"{INTEGER_TEXT} (convert it, e.g. to a 16-bit PNG or TIFF)")
    return (f"TIFF layout not supported ({samples} samples of {bits[0]}-bit {kind}); "
            f"{INTEGER_TEXT}")


def tiff_damage(data: bytes) -> str | None:
    """What is cut off in a classic TIFF's header or first directory (its entries, the
    next-directory offset, the values stored outside the entries), or None when all of
    it fits (and for BigTIFF, which Pillow's own parsing judges).

    Checked from the bytes, before Pillow parses the directory: Pillow warns on stderr
    and goes on with the tags it could read, so a lost BitsPerSample became "1-bit".
    """
    if data[:4] not in TIFF_MAGIC:
        return None
    size = len(data)
    if size < 8:
        return "its 8-byte header is cut off"
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack_from(order + "I", data, 4)[0]
    if offset + 2 > size:
        return f"its first directory at byte {offset:,} is past the end of the {size:,}-byte file"
    count = struct.unpack_from(order + "H", data, offset)[0]
    if offset + 2 + 12 * count + 4 > size:
        return (f"its first directory at byte {offset:,} ({count} entries) runs past the "
                f"end of the {size:,}-byte file")
    for entry in range(offset + 2, offset + 2 + 12 * count, 12):
        tag, kind, n, at = struct.unpack_from(order + "HHII", data, entry)
        length = n * _TYPE_BYTES.get(kind, 0)
        if length > 4 and at + length > size:
            return (f"the values of its tag {tag} at byte {at:,} run past the end of the "
                    f"{size:,}-byte file")
    return None


def tiff_orientation(im: Any) -> int:
    """The orientation Pillow's TIFF loader will apply (its EXIF view of the directory,
    read without decoding any pixel); 1 when there is none or it cannot be read."""
    try:
        return int(im.getexif().get(_ORIENTATION, 1))
    except Exception:  # a broken directory: the decoder reports the file as damaged
        return 1


def pillow_applied_orientation(im: Any) -> bool:
    """Whether Pillow's loader rotated the loaded image (it removes the tag it applied)."""
    try:
        return _ORIENTATION not in im.getexif()
    except Exception:  # unreadable now, readable before loading: it was consumed
        return True


def without_orientation(data: bytes) -> bytes:
    """``data`` with the first directory's Orientation tag set to 1 (top-left), so a
    decoder that applies it returns the stored grid; ``data`` itself when there is no
    such tag (classic and BigTIFF)."""
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    try:
        if big:
            offset = struct.unpack_from(order + "Q", data, 8)[0]
            count = struct.unpack_from(order + "Q", data, offset)[0]
            first, size, value_at = offset + 8, 20, 12
        else:
            offset = struct.unpack_from(order + "I", data, 4)[0]
            count = struct.unpack_from(order + "H", data, offset)[0]
            first, size, value_at = offset + 2, 12, 8
        for entry in range(first, first + size * count, size):
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag == _ORIENTATION and kind == _SHORT:
                patched = bytearray(data)
                struct.pack_into(order + "H", patched, entry + value_at, 1)
                return bytes(patched)
    except struct.error:  # a directory cut off: the decoder reports the file
        return data
    return data
