"""YUV4MPEG2 (.y4m) clips, read natively and streamed frame by frame.

Format (as written by ffmpeg, x264, aomenc, libvmaf's tools): one header line
``YUV4MPEG2 W<width> H<height> [F<n:d>] [I<p|t|b|m|?>] [A<n:d>] [C<chroma>] [X<ext>]``,
then for each frame a line starting with ``FRAME`` (its parameters are ignored) and the
frame's planes, Y then U then V, row by row; samples over 8 bits are 16-bit
little-endian. Chroma names read (ffmpeg's ``yuv4mpegdec``): ``420jpeg``, ``420paldv``,
``420mpeg2`` and ``420`` (4:2:0 with different chroma sitings: same sample layout),
``422``, ``444``, ``mono``; with a bit depth ``420p10``, ``422p12``, ``444p16``,
``mono10``, ``mono16`` (9 to 16 bits). No ``C`` means ``420jpeg``. Interlaced clips
(``It``, ``Ib``, ``Im``) are refused: their fields would be scored as one frame.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from iqa.errors import InputError
from iqa.video.frames import Frame, FrameFormat, FrameSource, open_clip, read_full

MAGIC = b"YUV4MPEG2"
_MAX_LINE = 4096  # longest header or FRAME line accepted
_CHROMA = re.compile(r"(420jpeg|420paldv|420mpeg2|420|422|444)(?:p(\d+))?|mono(\d+)?")
_INTERLACED = {"t": "top field first", "b": "bottom field first", "m": "mixed fields"}
CHROMA_NAMES = "420jpeg, 420paldv, 420mpeg2, 420, 422, 444, mono, 420p10, 422p12, 444p16, mono10"


class Y4MSource(FrameSource):
    """A .y4m clip; see the module docstring for what is read."""

    def __init__(self, path: str | os.PathLike) -> None:
        name = str(path)
        self._file = open_clip(path, ".y4m")
        try:
            header = self._file.readline(_MAX_LINE)
            params = parse_header(header, name)
            super().__init__(name, params.pop("format"), parse_rate(params["rate"]))
            self.params = params
            self.color_range = params["color_range"]
            self._data_start = self._file.tell()
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def _marker(self, line: bytes, index: int) -> None:
        if line.endswith(b"\n") and line[:5] == b"FRAME" and line[5:6] in (b" ", b"\n"):
            return
        if len(line) >= _MAX_LINE and not line.endswith(b"\n"):
            raise InputError(
                f"{self.name}: frame {index} has a FRAME line longer than {_MAX_LINE} bytes; "
                "the file is damaged", self.name)
        if not line.endswith(b"\n") and (line.startswith(b"FRAME") or b"FRAME".startswith(line)):
            raise InputError(
                f"{self.name}: frame {index} is truncated (the file ends in its FRAME line); "
                + _advice(index),
                self.name,
            )
        raise InputError(
            f"{self.name}: frame {index} does not start with a FRAME line "
            f"(found {line[:16]!r}); the file is damaged or its header gives the wrong "
            "size or chroma",
            self.name,
        )

    def _truncated(self, index: int, got: int) -> InputError:
        return InputError(
            f"{self.name}: frame {index} is truncated ({got:,} of "
            f"{self.format.frame_bytes:,} bytes); " + _advice(index),
            self.name,
        )

    def _scan(self) -> tuple[int, InputError | None]:
        """Walk the FRAME lines (seeking over the pixels) to count and check every frame."""
        size = os.fstat(self._file.fileno()).st_size
        frame_bytes = self.format.frame_bytes
        with open(self.name, "rb") as f:
            pos, index = self._data_start, 0
            while pos < size:
                f.seek(pos)
                line = f.readline(_MAX_LINE)
                try:
                    self._marker(line, index)
                except InputError as problem:
                    return index, problem
                pos += len(line) + frame_bytes
                if pos > size:
                    return index, self._truncated(index, size - (pos - frame_bytes))
                index += 1
        return index, None

    def _rewind(self) -> None:
        self._file.seek(self._data_start)

    def _read(self, index: int, view: memoryview) -> None:
        self._marker(self._file.readline(_MAX_LINE), index)  # if the file changed since
        got = read_full(self._file, view)
        if got < len(view):
            raise self._truncated(index, got)


def _advice(whole: int) -> str:
    if whole == 0:
        return "the clip has no whole frame (is the header's size or chroma right?)"
    return f"score the {whole} whole frames before it with --frames {whole}"


#: The header's parameters that a header gives once (a second one is a damaged header).
_SINGLE = {"W": "the width", "H": "the height", "F": "the frame rate", "I": "the interlacing",
           "A": "the aspect ratio", "C": "the chroma layout"}
#: ``XCOLORRANGE`` values (ffmpeg's Y4M muxer writes them) → the sample range.
_RANGES = {"FULL": "full", "LIMITED": "limited"}


def parse_header(line: bytes, name: str) -> dict:
    """The parameters of a Y4M header line: ``format`` (a FrameFormat), ``rate``, ``aspect``,
    ``chroma`` (the name as written), ``interlace`` and ``color_range`` ("full" or
    "limited" from ``XCOLORRANGE``, else None)."""

    def bad(problem: str) -> InputError:
        return InputError(f"{name}: {problem}", name)

    if not line.startswith(MAGIC) or line[len(MAGIC) : len(MAGIC) + 1] not in (b" ", b"\n"):
        raise bad("not a Y4M clip (the file does not start with 'YUV4MPEG2 ')")
    if not line.endswith(b"\n"):
        raise bad(f"Y4M header is not a line of at most {_MAX_LINE} bytes; the file is damaged")
    try:
        text = line[len(MAGIC) :].decode("ascii").strip()
    except UnicodeDecodeError:
        raise bad("Y4M header is garbage (non-ASCII bytes)") from None
    tags: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for token in text.split():
        if token[0] == "X":  # XKEY=VALUE extensions; only XCOLORRANGE is read
            key, _, value = token[1:].partition("=")
            extensions.setdefault(key.upper(), value.upper())
            continue
        if token[0] in tags and token[0] in _SINGLE:
            raise bad(f"Y4M header gives {_SINGLE[token[0]]} twice ({token[0]}{tags[token[0]]} "
                      f"and {token}); the file is damaged")
        tags.setdefault(token[0], token[1:])  # unknown letters are ignored
    size = []
    for tag, what in (("W", "width"), ("H", "height")):
        if tag not in tags:
            raise bad(f"Y4M header has no {tag} ({what}) parameter; the file is damaged")
        value = tags[tag]
        if not value.isdigit() or int(value) < 1:
            raise bad(f"Y4M header has {what} {tag}{value}, not a positive whole number")
        size.append(int(value))
    interlace = tags.get("I", "p")
    if interlace in _INTERLACED:
        raise bad(
            f"interlaced Y4M (I{interlace}, {_INTERLACED[interlace]}) is not supported; "
            "deinterlace it first (e.g. ffmpeg -vf bwdif)"
        )
    if interlace not in ("p", "?"):
        raise bad(f"Y4M header has an unknown interlacing I{interlace}")
    chroma = tags.get("C", "420jpeg")
    layout, bits = _chroma(chroma, bad)
    return {
        "format": FrameFormat(size[0], size[1], layout, bits),
        "chroma": chroma,
        "rate": tags.get("F"),
        "aspect": tags.get("A"),
        "interlace": interlace,
        "color_range": _RANGES.get(extensions.get("COLORRANGE", "")),
    }


def parse_rate(text: str | None) -> Fraction | None:
    """Frames per second of a ``F<n:d>`` value; ``None`` when absent, ``0:0`` (unknown) or
    not two positive whole numbers."""
    match = re.fullmatch(r"(\d+):(\d+)", text or "")
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        return None
    return Fraction(int(match.group(1)), int(match.group(2)))


def _chroma(chroma: str, bad) -> tuple[str, int]:
    match = _CHROMA.fullmatch(chroma)
    depth = match and (match.group(2) or match.group(3))
    bits = int(depth) if depth else 8
    if not match or not 8 <= bits <= 16 or (depth and depth.startswith("0")):
        raise bad(f"Y4M chroma C{chroma} is not supported (supported: {CHROMA_NAMES}, ...)")
    return ("mono" if chroma.startswith("mono") else chroma[:3]), bits


def header_for(fmt: FrameFormat, rate: str = "25:1") -> bytes:
    """The header line ffmpeg writes for ``fmt`` (4:2:0 as ``420jpeg`` when 8-bit)."""
    if fmt.layout == "mono":
        chroma = "mono" if fmt.bits == 8 else f"mono{fmt.bits}"
    elif fmt.bits == 8:
        chroma = "420jpeg" if fmt.layout == "420" else fmt.layout
    else:
        chroma = f"{fmt.layout}p{fmt.bits}"
    return f"YUV4MPEG2 W{fmt.width} H{fmt.height} F{rate} Ip A1:1 C{chroma}\n".encode()


def write_y4m(path: str | os.PathLike, frames: Iterable[Frame], rate: str = "25:1") -> int:
    """Write frames (all of one format) as a Y4M clip; returns the number written."""
    count = 0
    with open(Path(path), "wb") as f:
        fmt = None
        for frame in frames:
            if fmt is None:
                fmt = frame.format
                f.write(header_for(fmt, rate))
            elif frame.format != fmt:
                raise ValueError(
                    f"frame {count} is {frame.format.describe()}, not {fmt.describe()}"
                )
            f.write(b"FRAME\n")
            for plane in frame.planes:
                f.write(np.ascontiguousarray(plane, dtype=fmt.dtype).tobytes())
            count += 1
    return count
