"""Per-plane PSNR of video frames, computed exactly as ffmpeg's ``psnr`` filter.

Definitions (FFmpeg ``libavfilter/vf_psnr.c``), for a frame with planes c = Y, U, V:

- ``sse_c`` = Σ (ref − dist)² over the plane, an exact integer;
  ``mse_c`` = sse_c / (w_c · h_c) in double precision.
- ``psnr_c`` = 10 · log10(MAX_c² / mse_c), MAX_c = 2^bits − 1 (``inf`` when mse_c = 0).
- the frame's ``mse`` = Σ mse_c · weight_c, weight_c = (w_c · h_c) / Σ (w · h): the mean
  squared error over all samples of the frame; its ``psnr`` = 10 · log10(MAX² / mse) with
  MAX = round(Σ MAX_c · weight_c) (= 2^bits − 1: every plane has the same depth).
- over a clip of n frames (ffmpeg's final ``PSNR y:… u:… v:… average:… min:… max:…``
  line): y/u/v/average are the PSNR of the *mean of the per-frame MSEs*
  (10 · log10(MAX² / (Σ mse / n))), ``min`` the PSNR of the largest frame mse and ``max``
  that of the smallest. Identical frames give ``inf``, which ffmpeg prints as ``inf``
  too (it does not cap; libvmaf's psnr caps at 6·bits + 12 dB, this module does not).

The floating-point operations are done in ffmpeg's order, so the values are equal to
ffmpeg's to the last bit, not merely to its printed digits.

``peak="reduced"`` uses MAX = 255 · 2^(bits − 8) instead, as libvmaf does with
``reduced_hbd_peak=true`` and the AOM common test conditions for high bit depths
(1020 rather than 1023 for 10-bit); for 8-bit both peaks are 255.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from iqa.errors import UsageError
from iqa.video.frames import Frame, FrameFormat
from iqa.video.sse import frame_sse

PEAKS = ("max", "reduced")


def peak_value(bits: int, peak: str = "max") -> int:
    """MAX for ``bits``-bit samples: 2^bits − 1, or 255·2^(bits−8) when ``peak='reduced'``."""
    if peak == "max":
        return (1 << bits) - 1
    if peak == "reduced":
        return 255 << (bits - 8)
    raise UsageError(f"PSNR peak must be one of {', '.join(PEAKS)}, not {peak!r}")


def psnr_of_mse(mse: float, peak: int, frames: int = 1) -> float:
    """ffmpeg's ``get_psnr``: 10·log10(peak² / (mse / frames)); ``inf`` for mse = 0."""
    mean = mse / frames
    if mean == 0.0:
        return math.inf
    return 10.0 * math.log10((peak * peak) / mean)


@lru_cache(maxsize=64)
def plane_weights(fmt: FrameFormat) -> tuple[float, ...]:
    """Each plane's share of the frame's samples (ffmpeg's ``planeweight``)."""
    counts = [w * h for w, h in fmt.plane_sizes]
    total = sum(counts)
    return tuple(float(c) / total for c in counts)


@lru_cache(maxsize=64)
def average_peak(fmt: FrameFormat, peak: str = "max") -> int:
    """ffmpeg's ``average_max``: Σ MAX_c · weight_c, rounded (``lrint``) to an integer."""
    value = 0.0
    for weight in plane_weights(fmt):
        value += peak_value(fmt.bits, peak) * weight
    return round(value)


@dataclass(frozen=True)
class FramePSNR:
    """PSNR of one frame: per plane (Y, U, V order) and over all its samples."""

    index: int
    names: tuple[str, ...]
    sse: tuple[int, ...]
    mse_planes: tuple[float, ...]
    psnr_planes: tuple[float, ...]
    mse: float
    psnr: float

    def as_dict(self) -> dict[str, float]:
        """``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr``, ``mse_y``, ..., ``mse``."""
        out = {f"psnr_{n}": v for n, v in zip(self.names, self.psnr_planes)}
        out["psnr"] = self.psnr
        out.update({f"mse_{n}": v for n, v in zip(self.names, self.mse_planes)})
        out["mse"] = self.mse
        return out


def frame_psnr(ref: Frame, dist: Frame, *, peak: str = "max") -> FramePSNR:
    """Per-plane and whole-frame PSNR of two frames of the same format (ffmpeg ``psnr``)."""
    fmt = ref.format
    if dist.format != fmt:
        raise UsageError(f"frames differ: {fmt.describe()} vs {dist.format.describe()}")
    plane_peak = peak_value(fmt.bits, peak)
    sse = frame_sse(ref.planes, dist.planes, fmt.bits)
    mse_planes = tuple(s / (float(w) * h) for s, (w, h) in zip(sse, fmt.plane_sizes))
    mse = 0.0
    for m, weight in zip(mse_planes, plane_weights(fmt)):
        mse += m * weight
    return FramePSNR(
        index=ref.index,
        names=fmt.plane_names,
        sse=sse,
        mse_planes=mse_planes,
        psnr_planes=tuple(psnr_of_mse(m, plane_peak) for m in mse_planes),
        mse=mse,
        psnr=psnr_of_mse(mse, average_peak(fmt, peak)),
    )


@dataclass
class ClipPSNR:
    """Running MSE sums of a clip, pooled as ffmpeg's final ``PSNR`` line.

    Add each :class:`FramePSNR` with :meth:`add`; the sums are kept in ffmpeg's order.
    """

    format: FrameFormat
    peak: str = "max"
    frames: int = 0
    _mse_planes: list[float] = field(default_factory=list)
    _mse: float = 0.0
    _min_mse: float = math.inf
    _max_mse: float = -math.inf

    def add(self, frame: FramePSNR) -> None:
        if not self._mse_planes:
            self._mse_planes = [0.0] * len(frame.mse_planes)
        self._min_mse = min(self._min_mse, frame.mse)
        self._max_mse = max(self._max_mse, frame.mse)
        self._mse += frame.mse
        for c, m in enumerate(frame.mse_planes):
            self._mse_planes[c] += m
        self.frames += 1

    def summary(self) -> dict[str, float]:
        """``psnr_y``/``u``/``v`` and ``psnr`` (ffmpeg's ``average``) of the mean MSE,
        ``psnr_min`` (worst frame) and ``psnr_max`` (best frame)."""
        if not self.frames:
            raise UsageError("no frames were scored")
        n = self.frames
        plane_peak = peak_value(self.format.bits, self.peak)
        avg_peak = average_peak(self.format, self.peak)
        out = {
            f"psnr_{name}": psnr_of_mse(total, plane_peak, n)
            for name, total in zip(self.format.plane_names, self._mse_planes)
        }
        out["psnr"] = psnr_of_mse(self._mse, avg_peak, n)
        out["psnr_min"] = psnr_of_mse(self._max_mse, avg_peak)
        out["psnr_max"] = psnr_of_mse(self._min_mse, avg_peak)
        return out

    def ffmpeg_line(self) -> str:
        """The summary as ffmpeg prints it: ``PSNR y:… u:… v:… average:… min:… max:…``
        (``%f``: 6 decimals, ``inf`` for identical clips)."""
        s = self.summary()
        planes = " ".join(f"{n}:{s[f'psnr_{n}']:f}" for n in self.format.plane_names)
        return (
            f"PSNR {planes} average:{s['psnr']:f} min:{s['psnr_min']:f} max:{s['psnr_max']:f}"
        )


def clip_psnr(
    pairs: Iterable[tuple[Frame, Frame]], *, peak: str = "max"
) -> tuple[list[FramePSNR], ClipPSNR]:
    """Every frame's PSNR and the pooled clip PSNR of ``(ref, dist)`` frame pairs."""
    per_frame: list[FramePSNR] = []
    clip: ClipPSNR | None = None
    for ref, dist in pairs:
        result = frame_psnr(ref, dist, peak=peak)
        if clip is None:
            clip = ClipPSNR(ref.format, peak)
        clip.add(result)
        per_frame.append(result)
    if clip is None:
        raise UsageError("no frames were scored")
    return per_frame, clip
