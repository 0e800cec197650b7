"""Clip pairs for ``iqa compare``: metric names, one record per clip, one row per frame.

Value names (the same in ``-m``, ``--fail-if`` and baselines):

- ``psnr_y``, ``psnr_u``, ``psnr_v``: PSNR of one plane; ``psnr``: PSNR over all samples
  of the frame (ffmpeg's ``average``);
- ``ssim_y``, ``ssim_u``, ``ssim_v``: SSIM of one plane; ``ssim``: planes weighted by
  sample count (ffmpeg's ``All``);
- ``ms_ssim_y``, ``ms_ssim_u``, ``ms_ssim_v``: MS-SSIM of one plane.

A family name (``psnr``, ``ssim``, ``ms_ssim``) given to ``-m`` for clips stands for all of
its values; :data:`DEFAULT_CLIP_METRICS` is the per-plane PSNR and SSIM set.

**One value per clip** (the table, the clip records in JSON, the gates, baselines):
PSNR values are **MSE-pooled** — the PSNR of the mean of the frames' MSEs, ffmpeg's final
``PSNR y:… u:… v:… average:…`` line; SSIM and MS-SSIM values are the **mean over
frames** (libvmaf's default pooling). Every clip record also carries ``summary``: for each
value its mean, min, max, harmonic mean, 1st and 5th percentiles over frames
(:mod:`iqa.video.pooling`) and, for PSNR values, ``mse_pooled``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from iqa.errors import InputError, UsageError

FAMILIES = {
    "psnr": ("psnr_y", "psnr_u", "psnr_v", "psnr"),
    "ssim": ("ssim_y", "ssim_u", "ssim_v", "ssim"),
    "ms_ssim": ("ms_ssim_y", "ms_ssim_u", "ms_ssim_v"),
}
VALUE_NAMES = tuple(n for names in FAMILIES.values() for n in names)
DEFAULT_CLIP_METRICS = "psnr,ssim"
_FAMILY_OF = {n: fam for fam, names in FAMILIES.items() for n in names}


@dataclass(frozen=True)
class ClipSettings:
    """How clips are read and scored (``--size``, ``--pix-fmt``, ``--fps``, ``--frames``,
    ``--psnr-peak``)."""

    size: str | None = None
    pix_fmt: str | None = None
    frames: int | None = None
    peak: str = "max"
    fps: str | None = None


def resolve_clip_metrics(spec: str, extra: Sequence[str] = ()) -> list[str]:
    """``"psnr,ssim_y"`` → value names (a family stands for all its values); ``extra``
    (names from ``--fail-if``: ``psnr`` there is the one value ``psnr``) are added.
    Unknown names are a usage error."""
    names: list[str] = []
    for item in [*(s.strip().lower() for s in spec.split(",")), *extra]:
        if not item:
            continue
        if item in extra and item in _FAMILY_OF:  # a gate names one value, not a family
            expanded: tuple[str, ...] = (item,)
        elif item == "all":
            expanded = VALUE_NAMES
        elif item in FAMILIES:
            expanded = FAMILIES[item]
        elif item in _FAMILY_OF:
            expanded = (item,)
        else:
            raise UsageError(
                f"-m {item}: not a video metric; clips are scored with {', '.join(FAMILIES)} "
                f"or their values {', '.join(VALUE_NAMES)}"
            )
        names += [n for n in expanded if n not in names]
    if not names:
        raise UsageError("-m: give at least one metric")
    return names


#: The value that stands for a family named in ``-m``: what the user asked to see.
_MAIN_VALUE = {"psnr": "psnr", "ssim": "ssim", "ms_ssim": "ms_ssim_y"}


def asked_clip_values(spec: str | None, gate_names: Sequence[str] = ()) -> set[str]:
    """The values asked for by name: each value named in ``-m``, a named family's main
    value (``-m ssim``: ``ssim``; ``-m ms_ssim``: ``ms_ssim_y``) and each value a gate
    tests. As for images, such a value that is undefined for a clip (a plane smaller
    than the window, a chroma value of a monochrome clip) is an error of the pair; the
    others (the default set, ``-m all``, the rest of a named family) are null with a
    warning."""
    asked = {n for n in gate_names if n in _FAMILY_OF}
    for item in (s.strip().lower() for s in (spec or "").split(",")):
        if item in FAMILIES:
            asked.add(_MAIN_VALUE[item])
        elif item in _FAMILY_OF:
            asked.add(item)
    return asked


def definitions(names: Sequence[str], peak: str) -> dict[str, dict[str, Any]]:
    """The ``definitions`` block of a clip report: what each value is and how it pools."""
    out = {}
    for name in names:
        family = _FAMILY_OF[name]
        plane = name.rsplit("_", 1)[1] if name not in ("psnr", "ssim") else "all"
        entry: dict[str, Any] = {"higher_is_better": True, "unit": "dB" if family == "psnr"
                                 else "", "plane": plane}
        if family == "psnr":
            entry["definition"] = ("10 log10(MAX^2 / MSE) per frame, as ffmpeg's psnr filter"
                                   + ("; all planes: MSE over all samples" if plane == "all"
                                      else ""))
            entry["peak"] = ("2^bits - 1" if peak == "max"
                             else "255 * 2^(bits - 8) (libvmaf reduced_hbd_peak)")
            entry["pooling"] = "mse_pooled: PSNR of the mean MSE over frames (ffmpeg)"
        else:
            entry["definition"] = ("SSIM, 11x11 Gaussian window sigma=1.5, valid windows, "
                                   "L = 2^bits - 1 (Wang et al. 2004)" if family == "ssim"
                                   else "MS-SSIM, 5 scales (Wang et al. 2003), L = 2^bits - 1")
            if plane == "all":
                entry["definition"] += "; planes weighted by sample count (ffmpeg's All)"
            entry["pooling"] = "mean over frames"
        out[name] = entry
    return out


def clip_value(name: str, summary: dict[str, float | None]) -> float | None:
    """The one value of a clip: MSE-pooled for PSNR values, the mean for the others."""
    return summary.get("mse_pooled") if _FAMILY_OF[name] == "psnr" else summary.get("mean")


def score_clip_pair(
    ref: str, dist: str, key: str, names: Sequence[str], settings: ClipSettings,
    on_frame: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, list[float | None]]]:
    """Score one pair of clips: the clip's record (see the module docstring) and each
    value's per-frame list.

    ``on_frame`` receives each frame's row (``pair``, ``frame``, the values) as soon as
    it is scored. An unreadable or mismatched pair gives a record with ``error`` set.
    """
    from iqa.video.score import score_clips
    from iqa.video.sources import open_source

    record: dict[str, Any] = {"pair": key, "ref": ref, "dist": dist, "frames": None,
                              "bytes": None, "kbps": None, "bpp": None, "fps": None}
    record.update(dict.fromkeys(names))
    families = [f for f in FAMILIES if any(_FAMILY_OF[n] == f for n in names)]

    def frame_row(row: dict[str, Any]) -> None:
        if on_frame is not None:
            out = {"pair": key, "frame": row["frame"], **{n: row.get(n) for n in names}}
            on_frame(with_bands(out, names))

    try:
        opts = {"size": settings.size, "pix_fmt": settings.pix_fmt, "fps": settings.fps}
        with open_source(ref, **opts) as r, open_source(dist, **opts) as d:
            scores = score_clips(r, d, metrics=families, frames=settings.frames,
                                 peak=settings.peak, on_frame=frame_row)
            total = d.frame_count if settings.frames is None else d.whole_frames
            fps = d.rate
    except InputError as exc:
        message = str(exc)
        record["error"] = message if (ref in message or dist in message) else f"{dist}: {message}"
        record["undefined"] = {}
        return record, {}
    fmt = scores.format
    record["frames"] = scores.frames
    record["format"] = fmt.describe()
    record.update(clip_rate(dist, fmt.width * fmt.height, max(total, 1), fps))
    summary = {n: scores.summary[n] for n in names if n in scores.summary}
    for name in names:
        record[name] = clip_value(name, summary[name]) if name in summary else None
    undefined = {n: scores.reasons.get(n, "no such plane in a " + fmt.layout_text + " clip")
                 for n in names if record[n] is None}
    record["summary"] = summary
    record["undefined"] = undefined
    record["error"] = None
    per_frame = {n: [row.get(n) for row in scores.rows] for n in summary}
    return with_bands(record, names), per_frame


def clip_rate(path: str, pixels: int, frames: int,
              fps: Fraction | None) -> dict[str, float | int | None]:
    """The rate of a distorted clip, from the size of its file.

    ``bytes``: the size of the distorted clip's file (for a container, everything in it:
    headers and any audio too); ``bpp`` = 8·bytes / (W·H·frames), bits per pixel of one
    frame; ``fps``: the clip's frame rate (Y4M ``F``, the container's, or ``--fps``);
    ``kbps`` = 8·bytes / duration / 1000 with duration = frames / fps, ``None`` when
    the rate is not known (a raw ``.yuv`` without ``--fps``). ``frames`` is every whole
    frame of the file, also when ``--frames`` scores fewer.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return {"bytes": None, "kbps": None, "bpp": None, "fps": None}
    kbps = None if fps is None else float(Fraction(8 * size) * fps / frames / 1000)
    return {"bytes": size, "kbps": kbps, "bpp": 8.0 * size / (pixels * frames),
            "fps": None if fps is None else float(fps)}


def with_bands(record: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Add ``NAME_band: "identical"`` beside each infinite PSNR value (JSON writes the
    value ``null``; the band says it is +inf, as for images)."""
    for name in names:
        value = record.get(name)
        if _FAMILY_OF[name] == "psnr" and isinstance(value, float) and math.isinf(value):
            record[f"{name}_band"] = "identical"
    return record
