"""The bit depth stored in a JPEG XL file, read from its image header.

pillow-jxl-plugin does not report it, so it is read here from the codestream's
``SizeHeader`` and ``ImageMetadata`` (ISO/IEC 18181-1, sections A.2 and A.6; bits are
read least-significant first, and ``U32`` fields are a 2-bit selector followed by the
selected distribution). A container file (ISO BMFF) carries the codestream in a
``jxlc`` box or in ``jxlp`` boxes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_SIGNATURE = b"\xff\x0a"
_SIZE_DIST = ((9, 1), (13, 1), (18, 1), (30, 1))  # BitsOffset(n, 1)


class JxlHeaderError(ValueError):
    """The header ends early or is not a JPEG XL header."""


@dataclass(frozen=True)
class JxlDepth:
    """``bits`` per sample, whether samples are floating point, and the bit offset from
    the start of the file of the field's 2-bit selector (-1 when all defaults imply 8)."""

    bits: int
    floating: bool
    selector_offset: int = -1


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for i in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise JxlHeaderError("JPEG XL header ends early")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return value

    def u32(self, *dists: tuple[int, int]) -> int:
        """``dists``: (bits, offset) per selector; bits 0 means the constant offset."""
        n, offset = dists[self.u(2)]
        return offset + (self.u(n) if n else 0)


def _size_header(r: _Bits) -> None:
    small = r.u(1)
    r.u(5) if small else r.u32(*_SIZE_DIST)
    if r.u(3) == 0:
        r.u(5) if small else r.u32(*_SIZE_DIST)


def _preview_header(r: _Bits) -> None:
    div8 = r.u(1)
    dist = ((0, 16), (0, 32), (5, 1), (9, 33)) if div8 else (
        (6, 1), (8, 65), (10, 321), (12, 1345))
    r.u32(*dist)
    if r.u(3) == 0:
        r.u32(*dist)


def _animation_header(r: _Bits) -> None:
    r.u32((0, 100), (0, 1000), (10, 1), (30, 1))
    r.u32((0, 1), (0, 1001), (8, 1), (10, 1))
    r.u32((0, 0), (3, 0), (16, 0), (32, 0))
    r.u(1)


def codestream(data: bytes) -> tuple[bytes, int]:
    """The codestream of a bare or boxed JPEG XL file, and the file offset of its start."""
    if data[:2] == _SIGNATURE:
        return data, 0
    parts, first, pos = [], -1, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            if pos + 16 > len(data):
                break
            size, head = struct.unpack_from(">Q", data, pos + 8)[0], 16
        end = len(data) if size == 0 else pos + size
        if end < pos + head:
            break
        if kind == b"jxlc":
            return data[pos + head:end], pos + head
        if kind == b"jxlp":
            parts.append(data[pos + head + 4:end])  # after its 4-byte index
            first = pos + head + 4 if first < 0 else first
        pos = end
    if parts:
        return b"".join(parts), first
    raise JxlHeaderError("no JPEG XL codestream in the container")


def read_depth(data: bytes) -> JxlDepth:
    """The bit depth of the image in ``data`` (a JPEG XL file)."""
    stream, start = codestream(data)
    if stream[:2] != _SIGNATURE:
        raise JxlHeaderError("no JPEG XL codestream signature")
    r = _Bits(stream[2:])
    _size_header(r)
    if r.u(1):  # all_default: 8-bit integer samples
        return JxlDepth(8, False)
    if r.u(1):  # extra_fields
        r.u(3)  # orientation
        if r.u(1):
            _size_header(r)  # intrinsic size
        if r.u(1):
            _preview_header(r)
        if r.u(1):
            _animation_header(r)
    floating = bool(r.u(1))
    selector_at = r.pos
    if floating:
        bits = r.u32((0, 32), (0, 16), (0, 24), (6, 1))
        r.u(4)  # exponent bits
    else:
        bits = r.u32((0, 8), (0, 10), (0, 12), (6, 1))
    return JxlDepth(bits, floating, 8 * start + 16 + selector_at)
