"""Opening clips by extension and walking two clips frame by frame.

Two clips are compared only when they have the same frame size, chroma layout, bit
depth and frame count (or at least ``frames`` frames each, when only the first
``frames`` are scored). Unlike ffmpeg's ``framesync`` (which repeats the last frame of
the shorter clip by default), a mismatch is refused, naming both files and both values,
before any frame is scored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from iqa.errors import ImageSizeError, InputError, UsageError
from iqa.video.frames import Frame, FrameSource

Y4M_SUFFIXES = (".y4m",)
YUV_SUFFIXES = (".yuv",)
#: Compressed video read through PyAV (kept here so that listing clips imports no PyAV).
CONTAINER_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".ivf", ".avi", ".ts",
                      ".m2ts", ".mts", ".mpg", ".mpeg", ".flv", ".ogv", ".nut", ".obu")


def open_source(
    path: str | os.PathLike,
    *,
    size: str | tuple[int, int] | None = None,
    pix_fmt: str | None = None,
    fps: Fraction | float | str | None = None,
) -> FrameSource:
    """Open a clip: ``.y4m`` natively, ``.yuv`` with ``size`` ("WxH") and ``pix_fmt``,
    compressed video (:data:`~iqa.video.container.CONTAINER_SUFFIXES`) through PyAV.

    ``fps`` (frames per second: ``25``, ``"30000/1001"``) sets the clip's ``rate``, which
    gives its kbps: needed for raw ``.yuv``, and it overrides the rate of a Y4M header or
    a container. Raises :class:`~iqa.errors.UsageError` for a raw clip without
    ``size``/``pix_fmt``, :class:`~iqa.extras.MissingExtraError` for compressed video
    without PyAV, and :class:`~iqa.errors.InputError` for a file that cannot be read as
    a clip.
    """
    source = _open(path, size, pix_fmt, fps)
    if fps is not None:
        from iqa.video.yuv import parse_fps

        source.rate = parse_fps(fps)
    return source


def _open(path: str | os.PathLike, size: str | tuple[int, int] | None, pix_fmt: str | None,
          fps: Fraction | float | str | None) -> FrameSource:
    name = str(path)
    suffix = Path(name).suffix.lower()
    if suffix in Y4M_SUFFIXES:
        from iqa.video.y4m import Y4MSource

        return Y4MSource(path)
    if suffix in CONTAINER_SUFFIXES:
        from iqa.video.container import ContainerSource

        return ContainerSource(path)
    if suffix in YUV_SUFFIXES:
        if size is None or pix_fmt is None:
            missing = " and ".join(
                opt for opt, v in (("--size WxH", size), ("--pix-fmt NAME", pix_fmt)) if v is None
            )
            raise UsageError(
                f"{name}: a raw .yuv clip has no header; give {missing} (e.g. --size 1920x1080 "
                "--pix-fmt yuv420p)"
            )
        from iqa.video.yuv import RawYUVSource

        return RawYUVSource(path, size, pix_fmt, fps)
    raise InputError(f"{name}: not a video clip this reader knows (.y4m, .yuv or "
                     f"{', '.join(CONTAINER_SUFFIXES)} expected)", name)


def is_clip(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a clip :func:`open_source` reads (by its extension)."""
    return Path(str(path)).suffix.lower() in Y4M_SUFFIXES + YUV_SUFFIXES + CONTAINER_SUFFIXES


def check_pair(ref: FrameSource, dist: FrameSource, frames: int | None = None) -> int:
    """Check that two clips can be compared; returns the number of frames to score."""
    a, b = ref.format, dist.format
    both = f"{ref.name} is {{}} but {dist.name} is {{}}"
    if (a.width, a.height) != (b.width, b.height):
        raise ImageSizeError(
            both.format(f"{a.width}x{a.height}", f"{b.width}x{b.height}")
            + "; both clips must have the same frame size",
            dist.name,
        )
    if a.layout != b.layout:
        raise InputError(
            both.format(a.layout_text, b.layout_text)
            + f"; both clips must have the same chroma layout (convert one, e.g. ffmpeg "
            f"-pix_fmt {a.pix_fmt})",
            dist.name,
        )
    if a.bits != b.bits:
        raise InputError(
            both.format(f"{a.bits}-bit", f"{b.bits}-bit")
            + "; both clips must have the same bit depth",
            dist.name,
        )
    ranges = [src.color_range or "limited" for src in (ref, dist)]
    if ranges[0] != ranges[1]:
        full = ref if ranges[0] == "full" else dist
        said = [f"{r}-range" + ("" if src.color_range else " (the range ffmpeg assumes when "
                                 "a clip gives none)") for r, src in zip(ranges, (ref, dist))]
        raise InputError(
            both.format(*said)
            + "; samples of the two ranges differ for the same picture (ffmpeg's psnr "
            "filter converts one first), so convert the full-range clip, e.g. ffmpeg -i "
            f"{os.path.basename(full.name)} -vf scale=out_range=limited -pix_fmt "
            f"{full.format.pix_fmt} -c:v ffv1 out.mkv",
            dist.name,
        )
    if frames is not None and (isinstance(frames, bool) or frames < 1):
        raise UsageError(f"--frames must be a positive number of frames, not {frames}")
    scans = [(src, *src.scan()) for src in (ref, dist)]
    for src, count, problem in scans:
        if problem is not None and (frames is None or frames > count):
            raise problem
        if count == 0:
            raise InputError(f"{src.name}: has no frames", src.name)
    (_, n_ref, _), (_, n_dist, _) = scans
    if frames is None:
        if n_ref != n_dist:
            raise InputError(
                f"{ref.name} has {n_ref} frames but {dist.name} has {n_dist}; both clips must "
                f"have the same frame count (score the first {min(n_ref, n_dist)} with "
                f"--frames {min(n_ref, n_dist)})",
                dist.name,
            )
        return n_ref
    for src, count, _ in scans:
        if count < frames:
            raise InputError(
                f"{src.name}: has {count} frames, fewer than the {frames} asked for (--frames)",
                src.name,
            )
    return frames


def iter_frame_pairs(
    ref: FrameSource, dist: FrameSource, *, frames: int | None = None
) -> Iterator[tuple[int, Frame, Frame]]:
    """``(index, ref_frame, dist_frame)`` for each frame to score, after :func:`check_pair`.

    The two frames are overwritten by the next pair; copy them to keep them.
    """
    count = check_pair(ref, dist, frames)
    yield from zip(range(count), ref.frames(count), dist.frames(count))
