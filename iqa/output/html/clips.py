"""The page of an ``iqa compare`` run over clips: the compare page with one row per clip
(its pooled values, frames, bytes, kbps, bpp) and, for the worst clips, the Y plane of
each one's worst frame with its maps (:mod:`iqa.output.clip_visuals`)."""

from __future__ import annotations

from typing import Any

from iqa.output.clip_visuals import ClipVisuals
from iqa.output.html.compare import page

_LEAD = (("pair", "clip pair", False), ("frames", "frames", True), ("bytes", "bytes", True),
         ("kbps", "kbps", True), ("bpp", "bpp", True))


def clip_page(report: dict[str, Any], visuals: ClipVisuals | None) -> str:
    """The HTML page of a clip ``report`` (the records ``--format json`` writes)."""
    worst = visuals.worst() if visuals is not None else []
    rank = visuals.rank or "" if visuals is not None else ""
    pooling = report.get("pooling_note", "")
    note = (f"Each clip is shown by its worst frame (lowest {rank}): the Y planes of both "
            "clips and that frame's maps." + (f" {pooling[:1].upper()}{pooling[1:]}."
                                             if pooling else ""))
    return page(report, worst, rank, lead=_LEAD, worst_note=note, title="clip pairs")


def write_clip_page(path: str, report: dict[str, Any], visuals: ClipVisuals | None) -> None:
    """Render the page of ``report`` and write it to ``path`` (temporary file, renamed)."""
    from iqa.output.html import write_page

    write_page(path, clip_page(report, visuals))
