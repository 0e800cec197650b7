"""Compressed video (mp4, mkv, webm, mov, ivf, ...) decoded through PyAV, plane by plane.

The extensions opened here are :data:`iqa.video.sources.CONTAINER_SUFFIXES`.

PyAV (``pip install "iqa[video]"``) is imported only when such a file is opened; a
missing PyAV is a :class:`~iqa.extras.MissingExtraError` (exit 2) naming the extra.

* **Which stream**: the first video stream of the file (audio and others are ignored).
  A file with none is refused.
* **Pixels**: each frame comes out as the decoder made it, in the stream's own planar
  YUV format (no RGB round trip, no rescaling): ``yuv420p``, ``yuv422p``, ``yuv444p``,
  ``gray`` and their 9- to 16-bit little-endian variants (``yuv420p10le`` ...), and the
  JPEG-range ``yuvj420p``/``yuvj422p``/``yuvj444p`` (the same samples). The bit depth is
  the pixel format's (a 10-bit HEVC or AV1 stream has MAX = 1023). Other formats (``nv12``,
  ``gbrp``, ``rgb24``, ``yuva420p`` ...) are refused with the ffmpeg command that converts
  them. So a clip decoded here gives exactly the planes that ``ffmpeg -i clip.mp4
  clip.y4m`` writes, and the same scores.
* **Frame count**: counted before any frame is decoded by reading the stream's packets
  (no decoding), so two clips of different lengths are refused up front; a decoder that
  then gives fewer frames than packets is an error naming the frame.
* **Frame rate**: the stream's average frame rate (``avg_frame_rate``), else its
  guessed rate. Frames are paired by index, so a **variable frame rate** stream (frame
  durations that differ by more than one tick of the stream's time base, which is how
  a constant rate like 30000/1001 is stored at 1/1000) is refused: convert it to a
  constant rate first. A frame size or pixel format that changes mid-stream is refused.
* **Memory**: frames are decoded one at a time into the reused buffers of
  :class:`~iqa.video.frames.FrameSource`; nothing grows with the clip's length.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any

import numpy as np

from iqa.errors import InputError, UsageError
from iqa.video.frames import FrameFormat, FrameSource


def _av(name: str) -> Any:
    from iqa.extras import require

    require("video", f"{name}: compressed video (mp4, mkv, webm, ivf ...)")
    import av

    return av


class ContainerSource(FrameSource):
    """The first video stream of a container file; see the module docstring."""

    def __init__(self, path: str | os.PathLike) -> None:
        name = str(path)
        self._av = _av(name)
        _check_file(name)
        self._path = name
        self._container: Any = None
        self._decoded: Any = None
        with self._open() as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            pix_fmt = ctx.pix_fmt
            if pix_fmt is None:
                raise InputError(f"{name}: the video stream's pixel format is unknown "
                                 f"({ctx.name}); the file is damaged or the codec is not "
                                 "supported", name)
            layout, bits = _layout(pix_fmt, name)
            try:
                fmt = FrameFormat(ctx.width, ctx.height, layout, bits)
            except UsageError:
                raise InputError(f"{name}: the video stream has no frame size "
                                 f"({ctx.width}x{ctx.height}); the file is damaged",
                                 name) from None
            self.codec = ctx.name
            self.pix_fmt = pix_fmt
            self._stream_rate = _stream_rate(stream)
        super().__init__(name, fmt, self._stream_rate)

    # --- opening ---------------------------------------------------------------------
    def _open(self) -> Any:
        av = self._av
        try:
            container = av.open(self._path, "r")
        except av.FFmpegError as exc:
            raise InputError(f"{self._path}: not a video file PyAV can read "
                             f"({_reason(exc)})", self._path) from None
        except OSError as exc:
            raise InputError(f"{self._path}: cannot be read ({exc.strerror or exc})",
                             self._path) from None
        if not container.streams.video:
            container.close()
            raise InputError(f"{self._path}: has no video stream", self._path)
        return container

    # --- FrameSource -----------------------------------------------------------------
    def _scan(self) -> tuple[int, InputError | None]:
        """Count the stream's packets (no decoding) and check the frame rate is constant."""
        av = self._av
        times: list[int] = []
        count = 0
        with self._open() as container:
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:  # the demuxer's flush packet
                        continue
                    count += 1
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    if stamp is not None:
                        times.append(stamp)
            except av.FFmpegError as exc:
                return count, InputError(f"{self.name}: damaged after {count} frames "
                                         f"({_reason(exc)}); score the frames before it "
                                         f"with --frames {count}", self.name)
            rate = _constant_rate(self.name, times, stream.time_base, self._stream_rate)
            if self.rate is None:
                self.rate = rate
        return count, None

    def _rewind(self) -> None:
        self.close()
        self._container = self._open()
        stream = self._container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"  # frame and slice threads, as ffmpeg uses
        self._decoded = self._container.decode(stream)

    def _read(self, index: int, view: memoryview) -> None:
        av = self._av
        try:
            frame = next(self._decoded, None)
        except av.FFmpegError as exc:
            raise self._stopped(index, f"frame {index} cannot be decoded ({_reason(exc)})"
                                ) from None
        if frame is None:
            raise self._stopped(index, f"the decoder gave {index} frames, not the "
                                f"{self.whole_frames} the stream holds")
        fmt = self.format
        if (frame.width, frame.height, frame.format.name) != (fmt.width, fmt.height,
                                                               self.pix_fmt):
            raise InputError(
                f"{self.name}: frame {index} is {frame.width}x{frame.height} "
                f"{frame.format.name}, not the stream's {fmt.width}x{fmt.height} "
                f"{self.pix_fmt}; clips whose frame size or pixel format changes "
                "mid-stream are not supported", self.name)
        out = fmt.planes_of(np.frombuffer(view, np.uint8))
        item = fmt.dtype.itemsize
        for plane, target in zip(frame.planes, out):
            h, w = target.shape
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            target[...] = rows[:h, : w * item].view(fmt.dtype)

    def _stopped(self, index: int, problem: str) -> InputError:
        advice = f"; score the {index} frames before it with --frames {index}" if index else ""
        return InputError(f"{self.name}: {problem}{advice}", self.name)

    def close(self) -> None:
        if self._decoded is not None:
            self._decoded.close()
            self._decoded = None
        if self._container is not None:
            self._container.close()
            self._container = None


def _check_file(name: str) -> None:
    from iqa.video.frames import open_clip

    open_clip(name, "video").close()  # the one-line errors for a missing file, a folder, a pipe


def _layout(pix_fmt: str, name: str) -> tuple[str, int]:
    from iqa.video.yuv import parse_pix_fmt

    try:
        return parse_pix_fmt(pix_fmt)
    except UsageError:
        target = "gray" if pix_fmt.startswith(("gray", "ya")) else "yuv420p"
        if any(d in pix_fmt for d in ("10", "12", "16")) and target != "gray":
            target += "10le"
        raise InputError(
            f"{name}: the video stream decodes to {pix_fmt}, which is not scored (planar "
            f"YUV or gray, 8 to 16 bits); convert it, e.g. ffmpeg -i {os.path.basename(name)} "
            f"-pix_fmt {target} -c:v ffv1 out.mkv", name) from None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip() if ":" in text and "Errno" in text else text.strip()


def _stream_rate(stream: Any) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate.numerator, rate.denominator)
    return None


def _constant_rate(name: str, times: list[int], time_base: Any,
                   stream_rate: Fraction | None) -> Fraction | None:
    """The frame rate, after refusing a variable one (see the module docstring)."""
    stamps = sorted(times)
    steps = np.diff(np.asarray(stamps, np.int64)) if len(stamps) > 1 else np.zeros(0, np.int64)
    if steps.size and (steps.min() <= 0 or steps.max() - steps.min() > 1):
        tb = float(time_base) if time_base else 0.0
        if steps.min() <= 0:
            what = "two frames with the same timestamp"
        else:
            what = (f"frame durations from {steps.min() * tb * 1000:.4g} to "
                    f"{steps.max() * tb * 1000:.4g} ms")
        raise InputError(
            f"{name}: variable frame rate ({what}); frames are paired by index, so convert "
            f"it to a constant rate first, e.g. ffmpeg -i {os.path.basename(name)} "
            "-fps_mode cfr -r RATE -c:v ffv1 out.mkv", name)
    if stream_rate is not None:
        return stream_rate
    if steps.size and time_base:
        return 1 / (Fraction(int(steps.mean() * 1_000_000), 1_000_000) * time_base)
    return None
