"""Raw planar YUV (.yuv) clips: frames one after the other, no header.

The size and sample format are not in the file, so they are given, using ffmpeg's
``-s WxH`` and ``-pix_fmt`` names: ``gray``, ``yuv420p``, ``yuv422p``, ``yuv444p``
(8-bit), the same with ``9le``/``10le``/``12le``/``14le``/``16le`` (``gray10le``,
``yuv420p10le``, ...: 16-bit little-endian samples), and the JPEG-range aliases
``yuvj420p``, ``yuvj422p``, ``yuvj444p`` (same layout). A file whose size is not a
whole number of frames is refused, naming the bytes left over.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

from iqa.errors import InputError, UsageError
from iqa.video.frames import FrameFormat, FrameSource, open_clip, read_full
from iqa.video.y4m import MAGIC

_PIX_FMT = re.compile(r"(gray|yuvj?(420|422|444)p)(?:(9|10|12|14|16)le)?")
PIX_FMT_NAMES = "gray, yuv420p, yuv422p, yuv444p, and 10le/12le/16le variants (yuv420p10le)"


def parse_pix_fmt(name: str) -> tuple[str, int]:
    """(layout, bits) of an ffmpeg pixel format name, e.g. ``yuv420p10le`` -> (420, 10)."""
    match = _PIX_FMT.fullmatch(name.strip().lower())
    if not match or (match.group(1).startswith("yuvj") and match.group(3)):
        raise UsageError(
            f"pixel format {name!r} is not supported for raw .yuv (supported: {PIX_FMT_NAMES})"
        )
    layout = "mono" if match.group(1) == "gray" else match.group(2)
    return layout, int(match.group(3) or 8)


def parse_size(size: str | tuple[int, int]) -> tuple[int, int]:
    """(width, height) of ``"WxH"`` or a pair."""
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", size)
        if not match:
            raise UsageError(f"size {size!r} is not WxH (e.g. 1920x1080)")
        size = (int(match.group(1)), int(match.group(2)))
    w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise UsageError(f"size {w}x{h} must be positive")
    return w, h


def parse_fps(rate: Fraction | float | str) -> Fraction:
    """Frames per second from ``25``, ``29.97``, ``30000/1001`` or ``30000:1001``."""
    text = str(rate).strip().replace(":", "/")
    try:
        fps = Fraction(text) if isinstance(rate, str) else Fraction(rate).limit_denominator()
    except (ValueError, ZeroDivisionError):
        fps = Fraction(0)
    if fps <= 0 or fps > 10_000:
        raise UsageError(f"--fps {rate}: give a frame rate in frames per second, e.g. 25, "
                         "29.97 or 30000/1001")
    return fps


class RawYUVSource(FrameSource):
    """A raw planar .yuv clip of a given size and ffmpeg pixel format."""

    def __init__(
        self, path: str | os.PathLike, size: str | tuple[int, int], pix_fmt: str,
        rate: Fraction | float | str | None = None,
    ) -> None:
        name = str(path)
        width, height = parse_size(size)
        layout, bits = parse_pix_fmt(pix_fmt)
        super().__init__(name, FrameFormat(width, height, layout, bits),
                         None if rate is None else parse_fps(rate))
        self.pix_fmt = pix_fmt
        self._file = open_clip(path, ".yuv")
        try:
            self._scanned = (self._count_frames(), None)
        except BaseException:
            self._file.close()
            raise

    def _count_frames(self) -> int:
        size = os.fstat(self._file.fileno()).st_size
        frame_bytes = self.format.frame_bytes
        what = f"{self.format.width}x{self.format.height} {self.pix_fmt}"
        if self._file.read(len(MAGIC)) == MAGIC:
            raise InputError(
                f"{self.name}: is a Y4M clip, not raw YUV; name it .y4m (its header gives "
                "the size and pixel format)",
                self.name,
            )
        if size == 0:
            raise InputError(f"{self.name}: file is empty", self.name)
        count, rest = divmod(size, frame_bytes)
        if rest:
            raise InputError(
                f"{self.name}: {size:,} bytes is not a whole number of {what} frames "
                f"({frame_bytes:,} bytes each): {count} frames and {rest:,} bytes left over; "
                "check --size and --pix-fmt",
                self.name,
            )
        return count

    def close(self) -> None:
        self._file.close()

    def _rewind(self) -> None:
        self._file.seek(0)

    def _read(self, index: int, view: memoryview) -> None:
        got = read_full(self._file, view)
        if got < len(view):  # the file shrank since it was opened
            raise InputError(
                f"{self.name}: frame {index} is truncated ({got:,} of {len(view):,} bytes)",
                self.name,
            )
