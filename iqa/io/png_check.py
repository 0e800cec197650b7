"""PNG integrity checks that Pillow's decoder does not make, run before it decodes.

* Every chunk's CRC-32 must match; Pillow does not check those of the pixel data
  (IDAT). Without this, damage inside the compressed data that zlib happens to accept
  (stored blocks, or a flipped literal) decodes to wrong pixels without any error.
* The pixel data must hold every row the header declares. Pillow's decoder stops at
  the end of the zlib stream and leaves the rows it never got at zero, without an error,
  so a complete, checksummed stream that is simply short (an encoder that stopped early)
  would be scored as a black band. libpng refuses it ("Not enough image data"), ffmpeg
  too ("IEND without all image"). A short stream leaves the last row Pillow fills at
  zero: the last row, or for an interlaced image the last odd row (its last pass, 7,
  fills every odd row). Only when that row is all zeros after decoding (rare in a
  complete image: a black bottom edge) is the stream inflated once more to count its
  bytes (output discarded, 1 MiB at a time; about a third of Pillow's decoding time), so
  a complete image pays for one row's test, not a second inflation.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from iqa.errors import InputError

#: channels of each PNG colour type (gray, RGB, palette, gray + alpha, RGBA)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Adam7 passes: first column, first row, column step, row step
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))
_BLOCK = 2**20


def check_png(data: bytes, name: str) -> None:
    """Refuse a PNG with a chunk whose checksum is wrong (see the module docstring);
    :class:`InputError` naming the file. Run before decoding."""
    _checked_chunks(data, name)


def check_png_rows(im: Any, data: bytes, name: str) -> None:
    """Refuse a PNG whose pixel data is short of its header's rows, after Pillow has
    decoded it into ``im`` (see the module docstring); :class:`InputError` naming it."""
    width, height = im.size
    interlaced = bool(im.info.get("interlace"))
    # Pass 7 of Adam7 fills every odd row, and comes last in the stream.
    last = height - 1 if not interlaced or height % 2 == 0 else height - 2
    if last >= 0 and not (interlaced and height < 2):
        row = np.asarray(im.crop((0, last, width, last + 1)))
        if row.any():
            return  # the last row the decoder fills came from the stream
    idat = _checked_chunks(data, name)
    expected = _raw_size(data)
    if expected is None or not idat:
        return  # a header or chunk layout Pillow refuses itself, with its own message
    got, ended = _inflated_size(idat, expected)
    if got is None:
        return  # not a valid zlib stream: the decoder reports it
    if got < expected:
        what = "ends" if ended else "is cut off"
        raise InputError(f"{name}: corrupt image (truncated: its pixel data {what} after "
                         f"{got:,} of the {expected:,} bytes its header declares; "
                         "nothing is padded)", name)


def check_png_crcs(data: bytes, name: str) -> None:
    """Every PNG chunk's CRC-32 must match (see the module docstring)."""
    _checked_chunks(data, name)


def _checked_chunks(data: bytes, name: str) -> list[memoryview]:
    """Verify each chunk's CRC up to IEND; return the IDAT chunks' data, in order."""
    pos, end = 8, len(data)
    view = memoryview(data)
    idat: list[memoryview] = []
    while pos + 12 <= end:
        length = struct.unpack_from(">I", data, pos)[0]
        body = pos + 4
        stop = body + 4 + length
        if stop + 4 > end:
            return idat  # a truncated file: the decoder reports it
        kind = data[body:body + 4]
        crc = struct.unpack_from(">I", data, stop)[0]
        if zlib.crc32(view[body:stop]) & 0xFFFFFFFF != crc:
            raise InputError(f"{name}: corrupt image (checksum mismatch in its "
                             f"{kind.decode('latin-1', 'replace')} chunk at byte {pos})", name)
        if kind == b"IDAT":
            idat.append(view[body + 4:stop])
        elif kind == b"IEND":
            return idat
        pos = stop + 4
    return idat


def _raw_size(data: bytes) -> int | None:
    """Bytes of filtered scanlines the IHDR declares (filter byte + packed samples per
    row, for each Adam7 pass when interlaced); None for a header Pillow would refuse."""
    if len(data) < 29 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if colour not in _CHANNELS or interlace not in (0, 1):
        return None
    bits = _CHANNELS[colour] * depth

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if not interlace:
        return rows(width, height)
    return sum(rows(-(-(width - x0) // dx), -(-(height - y0) // dy))
               for x0, y0, dx, dy in _ADAM7)


def _inflated_size(parts: list[memoryview], expected: int) -> tuple[int | None, bool]:
    """(bytes the zlib stream in ``parts`` inflates to, stopping past ``expected``;
    whether the stream ended), or (None, False) when zlib refuses it."""
    inflater = zlib.decompressobj()
    size = 0
    try:
        for part in parts:
            pending: bytes | memoryview = part
            while pending and not inflater.eof and size <= expected:
                size += len(inflater.decompress(pending, _BLOCK))
                pending = inflater.unconsumed_tail
            if inflater.eof or size > expected:
                break
        if not inflater.eof and size <= expected:
            size += len(inflater.flush())
    except zlib.error:
        return None, False
    return size, inflater.eof
