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
  (no decoding), so two clips of different lengths are refused up front. Packets that
  the decoder does not turn into frames are not counted, as ffmpeg does not output them:
  those an edit list cuts (``ffmpeg -ss … -c copy`` into mp4 keeps the packets before
  the cut and marks them discarded) and those before the first key frame (a transport
  stream cut mid-GOP). A decoder that then gives fewer frames than counted is an error
  naming the frame.
* **Frame rate**: the stream's average frame rate (``avg_frame_rate``), else its
  guessed rate. Frames are paired by index, so a **variable frame rate** stream (frame
  durations that differ by more than one tick of the stream's time base, which is how
  a constant rate like 30000/1001 is stored at 1/1000) is refused: convert it to a
  constant rate first. A frame size or pixel format that changes mid-stream is refused.
  A raw AV1 stream (``.obu``: low-overhead or Annex B) carries **no frame rate**: the
  demuxer stamps its frames at a default 25 fps, which is not the clip's. Its rate is
  unknown (``kbps`` null) unless ``--fps`` gives it; the optional timing information of
  an AV1 sequence header is not read.
* **Memory**: frames are decoded one at a time into the reused buffers of
  :class:`~iqa.video.frames.FrameSource`; nothing grows with the clip's length.
"""

from __future__ import annotations

import math
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
                coded = FrameFormat(ctx.width, ctx.height, layout, bits)
            except UsageError:
                raise InputError(f"{name}: the video stream has no frame size "
                                 f"({ctx.width}x{ctx.height}); the file is damaged",
                                 name) from None
            self.codec = ctx.name
            self.pix_fmt = pix_fmt
            self._timed = container.format.name not in _UNTIMED
            self._stream_rate = _stream_rate(stream) if self._timed else None
            self._coded = coded
            matrix, frame_range = _first_frame_facts(self._av, container, stream)
            self.orientation = orientation(matrix, coded, name)
        fmt = coded
        if self.orientation in _TRANSPOSING:
            fmt = FrameFormat(coded.height, coded.width, layout, bits)
        super().__init__(name, fmt, self._stream_rate)
        self.color_range = "full" if pix_fmt.startswith("yuvj") else frame_range

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
        keyed = False
        with self._open() as container:
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:  # the demuxer's flush packet
                        continue
                    # A discarded packet is decoded (later frames refer to it), not output.
                    keyed = keyed or packet.is_keyframe
                    if packet.is_discard or not keyed:
                        continue
                    count += 1
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    if stamp is not None:
                        times.append(stamp)
            except av.FFmpegError as exc:
                return count, InputError(f"{self.name}: damaged after {count} frames "
                                         f"({_reason(exc)}); score the frames before it "
                                         f"with --frames {count}", self.name)
            rate = (_constant_rate(self.name, times, stream.time_base, self._stream_rate)
                    if self._timed else None)
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
        coded = self._coded
        if (frame.width, frame.height, frame.format.name) != (coded.width, coded.height,
                                                               self.pix_fmt):
            raise InputError(
                f"{self.name}: frame {index} is {frame.width}x{frame.height} "
                f"{frame.format.name}, not the stream's {coded.width}x{coded.height} "
                f"{self.pix_fmt}; clips whose frame size or pixel format changes "
                "mid-stream are not supported", self.name)
        fmt = self.format
        out = fmt.planes_of(np.frombuffer(view, np.uint8))
        item = fmt.dtype.itemsize
        turn = _TURNS[self.orientation]
        for plane, target, (w, h) in zip(frame.planes, out, coded.plane_sizes):
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            target[...] = turn(rows[:h, : w * item].view(fmt.dtype))

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


#: How ffmpeg shows decoded frames, from their display matrix (``-autorotate``, on by
#: default in ``ffmpeg -i clip.mp4 clip.y4m``, ffplay and libvmaf runs through ffmpeg):
#: its filter and the same operation on one plane (each plane is turned on its own, as
#: those filters do, so odd sizes stay exact).
_TURNS: dict[str, Any] = {
    "none": lambda a: a,
    "hflip": lambda a: a[:, ::-1],
    "vflip": lambda a: a[::-1],
    "hflip,vflip": lambda a: a[::-1, ::-1],
    "transpose=clock": lambda a: np.rot90(a, -1),
    "transpose=cclock": lambda a: np.rot90(a, 1),
    "transpose=cclock_flip": lambda a: a.T,
    "transpose=clock_flip": lambda a: a[::-1, ::-1].T,
}
_TRANSPOSING = tuple(k for k in _TURNS if k.startswith("transpose"))


def _display_matrix(frame: Any) -> tuple[int, ...] | None:
    """The frame's display matrix (9 int32, FFmpeg's layout), or None.

    Read from the first frame only, as ffmpeg's ``-autorotate`` configures its filters
    once: reading a frame's side data through PyAV keeps the frame alive in a reference
    cycle, so doing it for every frame made memory grow with the clip's length."""
    side = frame.side_data
    for item in side:
        if str(getattr(item, "type", "")).endswith("DISPLAYMATRIX"):
            return tuple(int(v) for v in np.frombuffer(bytes(item), np.int32)[:9])
    return None


#: AVColorRange values: 1 MPEG (limited), 2 JPEG (full); 0 is unspecified.
_FRAME_RANGES = {1: "limited", 2: "full"}


def _first_frame_facts(av: Any, container: Any,
                       stream: Any) -> tuple[tuple[int, ...] | None, str | None]:
    """The display matrix and sample range of the stream's first frame: what ffmpeg's
    ``-autorotate`` reads (the decoder attaches the container's matrix to each frame),
    and what its filters convert by."""
    try:
        for frame in container.decode(stream):
            return _display_matrix(frame), _FRAME_RANGES.get(int(frame.color_range or 0))
    except av.FFmpegError:  # a damaged stream: reading its frames later says why
        pass
    return None, None


def _c_round(x: float) -> float:
    """C's ``round``: halves away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def orientation(matrix: tuple[int, ...] | None, coded: FrameFormat, name: str) -> str:
    """The key of :data:`_TURNS` that ffmpeg's ``-autorotate`` applies for ``matrix``.

    The same decisions as ffmpeg's ``get_rotation`` and its filter choice: θ =
    −round(rotation of the matrix), brought to [0, 360); 90 and 270 transpose (flipped
    when the matrix mirrors), 180 flips each mirrored axis, about 0 flips vertically
    when the matrix says so. Another angle (ffmpeg would resample the frame with its
    ``rotate`` filter) and a transposed 4:2:2 clip (ffmpeg's ``transpose`` converts its
    chroma first) are refused rather than approximated.
    """
    if matrix is None:
        return "none"
    a, b, _, c, d = (v / 65536.0 for v in matrix[:5])
    scale_x, scale_y = math.hypot(a, c), math.hypot(b, d)
    if scale_x == 0.0 or scale_y == 0.0:
        return "none"  # not a usable matrix; ffmpeg's angle is NaN and it turns nothing
    theta = -_c_round(-math.degrees(math.atan2(b / scale_y, a / scale_x)))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1.0:
        turn = "transpose=cclock_flip" if matrix[3] > 0 else "transpose=clock"
    elif abs(theta - 180) < 1.0:
        turn = ",".join(f for f, flip in (("hflip", matrix[0] < 0), ("vflip", matrix[4] < 0))
                        if flip) or "none"
    elif abs(theta - 270) < 1.0:
        turn = "transpose=clock_flip" if matrix[3] < 0 else "transpose=cclock"
    elif abs(theta) > 1.0:
        raise InputError(
            f"{name}: its display matrix turns the picture by {theta:g} degrees clockwise, "
            "which ffmpeg shows resampled (its rotate filter); decode it yourself, e.g. ffmpeg -i "
            f"{os.path.basename(name)} -c:v ffv1 out.mkv, or drop the matrix with "
            "-display_rotation 0", name)
    else:
        turn = "vflip" if matrix[4] < 0 else "none"
    if turn in _TRANSPOSING and coded.layout == "422":
        raise InputError(
            f"{name}: its display matrix turns the picture by {theta:g} degrees clockwise, "
            "and ffmpeg resamples 4:2:2 chroma to turn it; decode it yourself, e.g. ffmpeg -i "
            f"{os.path.basename(name)} -pix_fmt yuv444p -c:v ffv1 out.mkv", name)
    return turn


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


#: Demuxers of raw streams that carry no timing: their frame stamps and rate are the
#: demuxer's default (25 fps), not the clip's.
_UNTIMED = frozenset({"obu", "av1"})


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
