"""Each clip's worst frame, read again, and the error maps of its Y plane.

``--maps`` and ``--html`` for clips draw one frame per clip pair: its **worst frame**,
the one with the lowest ``ssim_y`` when SSIM was computed, else the lowest ``psnr_y``,
else the lowest value of the first selected metric (ties: the first such frame). The
frame is read again from both clips (a clip is read from its start again; nothing is
kept while scoring) and its Y planes give the maps, through the same functions that
gave the numbers:

- SSIM: :func:`iqa.metrics.ssim.ssim` with ``full=True`` on the two Y planes, data range
  2^bits − 1 (as :func:`iqa.video.ssim.frame_ssim`); the map's mean is the frame's
  ``ssim_y``;
- squared error: :func:`iqa.metrics.psnr.psnr` with ``full=True``; the map's mean is
  the MSE behind the frame's ``psnr_y`` (exact integers summed, as ffmpeg's ``psnr``).
  It is drawn in dB with the clip's PSNR peak (``--psnr-peak``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Values the worst frame is chosen by, first one present wins.
FRAME_RANK = ("ssim_y", "psnr_y")


def rank_value(names: Sequence[str]) -> str | None:
    """The per-frame value that picks a clip's worst frame (and ranks the clips)."""
    for name in FRAME_RANK:
        if name in names:
            return name
    return names[0] if names else None


def worst_frame(values: Sequence[float | None]) -> int | None:
    """Index of the lowest value (``None`` and NaN left out; the first of equal ones)."""
    best: tuple[float, int] | None = None
    for index, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if best is None or value < best[0]:
            best = (float(value), index)
    return None if best is None else best[1]


@dataclass
class FrameY:
    """The Y planes of one frame of both clips (copies) and their sample range."""

    index: int
    ref: np.ndarray
    dist: np.ndarray
    max_value: int
    bits: int


def read_frame_y(ref: str, dist: str, index: int, settings: Any) -> FrameY:
    """Frame ``index`` of both clips (read from the start), Y planes copied.

    ``settings`` is the run's :class:`iqa.video.compare.ClipSettings`."""
    from iqa.video.sources import open_source

    opts = {"size": settings.size, "pix_fmt": settings.pix_fmt, "fps": settings.fps}
    planes = []
    with open_source(ref, **opts) as r, open_source(dist, **opts) as d:
        fmt = r.format
        for source in (r, d):
            last = None
            for frame in source.frames(index + 1, read_ahead=False):
                last = frame
            if last is None or last.index != index:  # pragma: no cover - scored before
                raise ValueError(f"{source.name}: has no frame {index}")
            planes.append(last.planes[0].copy())
    return FrameY(index, planes[0], planes[1], fmt.max_value, fmt.bits)


def frame_maps(frame: FrameY) -> dict[str, tuple[float, np.ndarray]]:
    """``{"ssim": (ssim_y, map), "psnr": (mse_y, squared-error map)}`` of the Y planes
    (no ``ssim`` for a plane under 11×11)."""
    from iqa.metrics.psnr import psnr
    from iqa.metrics.ssim import ssim
    from iqa.video.ssim import WINDOW

    out: dict[str, tuple[float, np.ndarray]] = {}
    data_range = float(frame.max_value)
    h, w = frame.ref.shape
    if h >= WINDOW and w >= WINDOW:
        out["ssim"] = ssim(frame.ref, frame.dist, data_range=data_range, full=True)
    _, error = psnr(frame.ref, frame.dist, data_range=data_range, full=True)
    out["psnr"] = (float(error.mean()), error)
    return out


def clip_map_name(pair_key: str, index: int, metric: str) -> str:
    """``KEY.frameN.ssim_y.png`` / ``KEY.frameN.psnr_y.png``: beside the pair's name."""
    return f"{pair_key}.frame{index}.{metric}_y.png"
