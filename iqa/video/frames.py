"""Frames of YUV video: planes with their own sizes, and the bit depth that goes with them.

A frame is one luma plane (Y) and, unless it is monochrome, two chroma planes (U, V)
subsampled by its chroma layout:

========  ==================  ===========================
layout    chroma plane size   ffmpeg pixel formats
========  ==================  ===========================
``420``   ⌈W/2⌉ × ⌈H/2⌉       yuv420p, yuv420p10le, ...
``422``   ⌈W/2⌉ × H           yuv422p, yuv422p10le, ...
``444``   W × H               yuv444p, yuv444p10le, ...
``mono``  (no chroma)         gray, gray10le, ...
========  ==================  ===========================

(⌈·⌉ rounds up, as ffmpeg's ``AV_CEIL_RSHIFT``.) Samples of 8 bits are ``uint8``; 9 to
16 bits are little-endian ``uint16`` holding values 0 … 2^bits − 1. The bit depth is a
property of the frame, not of its dtype: a 10-bit frame has MAX = 1023, not 65535.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import BinaryIO

import numpy as np

from iqa.errors import InputError, UsageError

LAYOUTS = ("420", "422", "444", "mono")
#: Chroma subsampling (log2 of the horizontal, vertical factor) of each layout.
_SUBSAMPLING = {"420": (1, 1), "422": (1, 0), "444": (0, 0)}
_LAYOUT_TEXT = {"420": "4:2:0", "422": "4:2:2", "444": "4:4:4", "mono": "monochrome"}


@dataclass(frozen=True)
class FrameFormat:
    """Size, chroma layout and bit depth shared by every frame of a clip."""

    width: int
    height: int
    layout: str
    bits: int = 8

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise UsageError(
                f"chroma layout must be one of {', '.join(LAYOUTS)}, not {self.layout}"
            )
        if not 8 <= self.bits <= 16:
            raise UsageError(f"bit depth must be 8 to 16, not {self.bits}")
        if self.width < 1 or self.height < 1:
            raise UsageError(f"frame size must be positive, not {self.width}x{self.height}")

    @property
    def plane_names(self) -> tuple[str, ...]:
        return ("y",) if self.layout == "mono" else ("y", "u", "v")

    @property
    def plane_sizes(self) -> tuple[tuple[int, int], ...]:
        """(width, height) of each plane, chroma sizes rounded up."""
        if self.layout == "mono":
            return ((self.width, self.height),)
        sx, sy = _SUBSAMPLING[self.layout]
        chroma = (-(-self.width >> sx), -(-self.height >> sy))
        return ((self.width, self.height), chroma, chroma)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bits == 8 else np.dtype("<u2")

    @property
    def max_value(self) -> int:
        """MAX = 2^bits − 1, the peak of PSNR and the data range of SSIM."""
        return (1 << self.bits) - 1

    @property
    def frame_bytes(self) -> int:
        return sum(w * h for w, h in self.plane_sizes) * self.dtype.itemsize

    @property
    def layout_text(self) -> str:
        return _LAYOUT_TEXT[self.layout]

    @property
    def pix_fmt(self) -> str:
        """The ffmpeg pixel format name of this format (``yuv420p10le``, ``gray``...)."""
        base = "gray" if self.layout == "mono" else f"yuv{self.layout}p"
        return base if self.bits == 8 else f"{base}{self.bits}le"

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.layout_text} {self.bits}-bit"

    def planes_of(self, buffer: np.ndarray) -> tuple[np.ndarray, ...]:
        """Views of the planes stored one after the other in a ``uint8`` ``buffer``."""
        planes = []
        offset = 0
        item = self.dtype.itemsize
        for w, h in self.plane_sizes:
            n = w * h * item
            planes.append(buffer[offset : offset + n].view(self.dtype).reshape(h, w))
            offset += n
        return tuple(planes)


@dataclass
class Frame:
    """One frame: its planes (2-D arrays, Y first) and its format.

    Frames yielded by a :class:`FrameSource` live in reused buffers that later frames
    overwrite; call :meth:`copy` to keep one.
    """

    format: FrameFormat
    planes: tuple[np.ndarray, ...]
    index: int = 0

    @classmethod
    def from_planes(
        cls, y: np.ndarray, u: np.ndarray | None = None, v: np.ndarray | None = None,
        *, bits: int | None = None, index: int = 0,
    ) -> Frame:
        """A frame from 2-D arrays; the layout follows from the plane sizes.

        ``bits`` defaults to 8 for ``uint8`` planes and is required for ``uint16``.
        """
        y = np.asarray(y)
        if y.dtype not in (np.uint8, np.uint16):
            raise UsageError(f"planes must be uint8 or uint16 arrays, not {y.dtype}")
        if bits is None:
            if y.dtype == np.uint16:
                raise UsageError("uint16 planes need bits= (9 to 16): the dtype does not say it")
            bits = 8
        h, w = y.shape
        if u is None and v is None:
            layout = "mono"
            planes: tuple[np.ndarray, ...] = (y,)
        else:
            if u is None or v is None:
                raise UsageError("give both chroma planes (u and v), or neither for monochrome")
            u, v = np.asarray(u), np.asarray(v)
            layout = _layout_of(w, h, u.shape)
            planes = (y, u, v)
        fmt = FrameFormat(w, h, layout, int(bits))
        for plane, (pw, ph) in zip(planes, fmt.plane_sizes):
            if plane.shape != (ph, pw) or plane.dtype != planes[0].dtype:
                raise UsageError(f"planes do not form a {fmt.describe()} frame")
            if plane.dtype.itemsize != fmt.dtype.itemsize:
                raise UsageError(f"{bits}-bit planes must be {fmt.dtype.name}, not {plane.dtype}")
        return cls(fmt, planes, index)

    @property
    def bits(self) -> int:
        return self.format.bits

    @property
    def max_value(self) -> int:
        return self.format.max_value

    @property
    def layout(self) -> str:
        return self.format.layout

    def plane(self, name: str) -> np.ndarray:
        return self.planes[self.format.plane_names.index(name)]

    def copy(self) -> Frame:
        return Frame(self.format, tuple(p.copy() for p in self.planes), self.index)


def _layout_of(w: int, h: int, chroma_shape: tuple[int, ...]) -> str:
    for layout in ("420", "422", "444"):
        if FrameFormat(w, h, layout).plane_sizes[1][::-1] == tuple(chroma_shape):
            return layout
    raise UsageError(
        f"a {chroma_shape[1]}x{chroma_shape[0]} chroma plane fits no layout of {w}x{h}"
    )


class FrameSource:
    """A clip read one frame at a time, into reused buffers.

    Subclasses set ``name``, ``format`` and ``rate`` and implement :meth:`_scan`, :meth:`_rewind`
    and :meth:`_read`. Iterating starts from the first frame each time and yields
    :class:`Frame` objects whose planes are overwritten by later frames (two buffers
    used in turn, see :meth:`frames`), so memory does not grow with the clip's length.
    The whole file is checked (cheaply: without reading the pixels) before the first
    frame is read, so a damaged end is found before any frame is scored.
    """

    def __init__(self, name: str, format: FrameFormat, rate: Fraction | None = None) -> None:
        self.name = name
        self.format = format
        #: frames per second, when the clip says (Y4M ``F``, a container) or it was given
        self.rate = rate
        #: "full" or "limited" when the clip says which range its samples use (Y4M
        #: ``XCOLORRANGE``, a container's colour range or a ``yuvj`` format); None unsaid
        self.color_range: str | None = None
        self._scanned: tuple[int, InputError | None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.format.describe()})"

    def _scan(self) -> tuple[int, InputError | None]:  # pragma: no cover - overridden
        """(number of whole frames, the damage found after them or ``None``)."""
        raise NotImplementedError

    def scan(self) -> tuple[int, InputError | None]:
        if self._scanned is None:
            self._scanned = self._scan()
        return self._scanned

    @property
    def whole_frames(self) -> int:
        """Number of whole frames before any damage (a truncated last frame)."""
        return self.scan()[0]

    @property
    def frame_count(self) -> int:
        """Number of frames; raises :class:`InputError` if the clip is damaged."""
        count, problem = self.scan()
        if problem is not None:
            raise problem
        return count

    def _rewind(self) -> None:  # pragma: no cover - overridden
        """Go back to the first frame."""
        raise NotImplementedError

    def _read(self, index: int, view: memoryview) -> None:  # pragma: no cover - overridden
        """Read frame ``index`` (the next one in the file) into ``view``."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, limit: int | None = None, *, read_ahead: bool = True) -> Iterator[Frame]:
        """The first ``limit`` frames (all when ``None``); refused up front if any of them
        is damaged.

        With ``read_ahead`` the next frame is read on a thread (into a second buffer)
        while the caller works on the current one; a yielded frame stays valid until the
        caller asks for the next.
        """
        count, problem = self.scan()
        if problem is not None and (limit is None or limit > count):
            raise problem
        limit = count if limit is None else min(limit, count)
        if limit == 0:
            return
        buffers = [np.empty(self.format.frame_bytes, np.uint8)
                   for _ in range(2 if read_ahead and limit > 1 else 1)]
        frames = [Frame(self.format, self.format.planes_of(b)) for b in buffers]
        views = [memoryview(b) for b in buffers]
        self._rewind()
        if len(frames) == 1:
            for index in range(limit):
                self._read(index, views[0])
                yield self._ready(frames[0], index)
            return
        pending = _reader().submit(self._read, 0, views[0])
        try:
            for index in range(limit):
                pending.result()
                if index + 1 < limit:
                    pending = _reader().submit(self._read, index + 1, views[(index + 1) % 2])
                yield self._ready(frames[index % 2], index)
        finally:
            pending.cancel() or pending.exception()  # never leave a read running on the file

    def _ready(self, frame: Frame, index: int) -> Frame:
        frame.index = index
        if 8 < self.format.bits < 16:
            self._check_range(frame)
        return frame

    def _check_range(self, frame: Frame) -> None:
        """Refuse samples over 2^bits − 1: a wrong pixel format or a damaged file."""
        top = self.format.max_value
        for name, plane in zip(self.format.plane_names, frame.planes):
            peak = int(plane.max())
            if peak > top:
                raise InputError(
                    f"{self.name}: frame {frame.index} has a {name.upper()} sample of {peak}, "
                    f"over the {self.format.bits}-bit maximum {top}; check the pixel format "
                    "(bit depth and endianness)",
                    self.name,
                )

    def close(self) -> None:
        """Release the file; iterating again reopens it."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=1)
def _reader() -> ThreadPoolExecutor:
    """Threads that read the next frame of each clip ahead (file reads release the GIL)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="iqa-read")


def open_clip(path: str | os.PathLike, kind: str) -> BinaryIO:
    """Open a clip file for reading, or raise the one-line error that says why not."""
    name = str(path)
    try:
        mode = os.stat(path).st_mode  # before opening: opening a pipe would wait for a writer
        if stat.S_ISDIR(mode):
            raise InputError(f"{name}: is a folder, expected a {kind} clip", name)
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{name}: is not a regular file; {kind} clips are read from files (save the "
                "stream to a file first)",
                name,
            )
        return open(path, "rb")  # noqa: SIM115 - the source closes it
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", name) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})", name) from None


def read_full(file, view: memoryview) -> int:
    """Read into ``view`` until it is full or the file ends; the number of bytes read."""
    got = 0
    total = len(view)
    while got < total:
        n = file.readinto(view[got:])
        if not n:
            break
        got += n
    return got
