"""Scoring two clips: one row per frame, one pooled summary per clip.

Metric families and the per-frame values they give (y/u/v only for clips with chroma):

- ``psnr``:    ``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr`` (:mod:`iqa.video.psnr`)
- ``ssim``:    ``ssim_y``, ``ssim_u``, ``ssim_v``, ``ssim`` (:mod:`iqa.video.ssim`)
- ``ms_ssim``: ``ms_ssim_y``, ``ms_ssim_u``, ``ms_ssim_v``

The summary gives, for every value, the poolings of :mod:`iqa.video.pooling` (mean,
min, max, harmonic mean, 1st and 5th percentiles) and, for the PSNR values,
``mse_pooled``: the PSNR of the mean MSE over frames, ffmpeg's final ``PSNR`` line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from iqa.errors import UsageError
from iqa.video.frames import FrameFormat, FrameSource
from iqa.video.pooling import pool
from iqa.video.psnr import ClipPSNR, frame_psnr
from iqa.video.sources import iter_frame_pairs

FAMILIES = ("psnr", "ssim", "ms_ssim")


@dataclass
class ClipScores:
    """Per-frame rows (``{"frame": i, name: value, ...}``) and the pooled summary."""

    format: FrameFormat
    peak: str
    rows: list[dict[str, float | int | None]] = field(default_factory=list)
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: why a value is ``None`` (a plane too small for the metric's window)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return len(self.rows)


def score_clips(
    ref: FrameSource,
    dist: FrameSource,
    *,
    metrics: Sequence[str] = ("psnr",),
    frames: int | None = None,
    peak: str = "max",
    on_frame: Callable[[dict[str, float | int | None]], None] | None = None,
) -> ClipScores:
    """Score the frames of two clips (checked first, see :func:`check_pair`).

    ``on_frame`` is called with each frame's row as soon as it is scored (to stream
    JSON Lines or CSV rows); the rows are kept in the result too.
    """
    unknown = [m for m in metrics if m not in FAMILIES]
    if unknown or not metrics:
        raise UsageError(
            f"video metrics must be among {', '.join(FAMILIES)}, not {', '.join(unknown) or '-'}"
        )
    scorers = _scorers(metrics)
    result = ClipScores(ref.format, peak)
    clip = ClipPSNR(ref.format, peak) if "psnr" in metrics else None
    for index, r, d in iter_frame_pairs(ref, dist, frames=frames):
        row: dict[str, float | int | None] = {"frame": index}
        if clip is not None:
            psnr = frame_psnr(r, d, peak=peak)
            clip.add(psnr)
            row.update({k: v for k, v in psnr.as_dict().items() if k.startswith("psnr")})
        for scorer in scorers:
            scored = scorer(r, d)
            row.update(scored.as_dict())
            result.reasons.update(scored.reasons)
        result.rows.append(row)
        if on_frame is not None:
            on_frame(row)
    result.summary = summarize(result.rows, clip)
    return result


def _scorers(metrics: Sequence[str]) -> list[Callable]:
    from iqa.video.ssim import frame_ms_ssim, frame_ssim

    table = {"ssim": frame_ssim, "ms_ssim": frame_ms_ssim}
    return [table[m] for m in metrics if m in table]


def summarize(
    rows: Sequence[dict[str, float | int | None]], clip: ClipPSNR | None = None
) -> dict[str, dict[str, float | None]]:
    """Every pooling of every value in ``rows`` (``frame`` aside), plus ``mse_pooled``
    for the PSNR values when ``clip`` holds their MSE sums."""
    if not rows:
        raise UsageError("no frames were scored")
    names = [k for k in rows[0] if k != "frame"]
    summary = {name: pool([row[name] for row in rows]) for name in names}  # type: ignore[misc]
    if clip is not None:
        for name, value in clip.summary().items():
            if name in summary:
                summary[name]["mse_pooled"] = value
    return summary
