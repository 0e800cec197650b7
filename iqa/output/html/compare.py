"""The page of an ``iqa compare`` run: header, summary, worst pairs, the sortable table.

The page is built from the report ``iqa compare --format json`` writes (the same
records) and from what :class:`iqa.output.visuals.PairVisuals` kept of the worst pairs.
The worst pairs' images are decoded again here (as the run decoded them: the same
decode settings) for their reduced thumbnails and full-resolution crops.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from iqa.output.html import data_uri, histogram, num, render, sort_key
from iqa.output.maps import MAP_METRICS, SCALES, legend, png_bytes
from iqa.output.visuals import Kept, PairVisuals, display_rgb, jpeg_bytes, reduce

#: Record fields shown as table columns before the metrics.
_LEAD = (("pair", "pair", False), ("bytes", "bytes", True), ("bpp", "bpp", True))
_WHY = {"ssim": "lowest local SSIM", "psnr": "highest squared error",
        "lpips": "highest LPIPS"}


def compare_page(report: dict[str, Any], visuals: PairVisuals | None,
                 load: Callable[[str], Any] | None) -> str:
    """The HTML page of ``report``; ``load(path)`` decodes an image as the run did
    (``None``: no pictures)."""
    worst = (_worst(visuals, load, list(report["metrics"]))
             if visuals is not None and load is not None else [])
    return page(report, worst, visuals.rank if visuals is not None else "")


def page(report: dict[str, Any], worst: list[dict[str, Any]], rank: str, *,
         lead: Sequence[tuple[str, str, bool]] = _LEAD, worst_note: str = "",
         title: str = "pairs") -> str:
    """The compare page of ``report`` with the ``worst`` items (:func:`pair_item`), ranked
    by ``rank``; ``lead``: the record fields shown as table columns before the metrics."""
    names = list(report["metrics"])
    defs = report.get("definitions", {})
    records = report["pairs"]
    summary = []
    for name in names:
        s = report.get("summary", {}).get(name) or {}
        d = defs.get(name, {})
        summary.append({"name": name, "unit": d.get("unit", ""),
                        "higher": d.get("higher_is_better", True), "n": s.get("n", 0),
                        "mean": s.get("mean"), "min": s.get("min"), "max": s.get("max"),
                        "hist": histogram([r.get(name) for r in records
                                           if r.get(name) is not None])})
    shown = {w["key"]: i + 1 for i, w in enumerate(worst)}
    legends = [(m, data_uri(png_bytes(legend(m, 384, 64))))
               for m in SCALES if any(m == n for w in worst for n, _ in w["maps"])]
    psnr_bands = []
    if "psnr" in names:
        from iqa.metrics.psnr import BANDS

        psnr_bands = [(key, text) for _, key, text in BANDS]
    unmatched = report.get("unmatched", {})
    return render(
        "compare.html", tool=report.get("tool", "iqa"), version=report.get("version", ""),
        generated=_now(), counts=report.get("counts", {"pairs": len(records), "scored": 0,
                                                         "failed": 0}),
        gates=report.get("gates"), definitions=defs, settings=report.get("settings", {}),
        summary=summary, worst=worst, legends=legends,
        rank=rank, psnr_bands=psnr_bands, worst_note=worst_note, what=title,
        columns=_columns(names, defs, lead),
        rows=[_row(r, names, shown.get(r.get("pair")), lead) for r in records],
        unmatched=[*unmatched.get("ref_only", []), *unmatched.get("dist_only", [])],
    )


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _columns(names: Sequence[str], defs: dict[str, Any],
             lead: Sequence[tuple[str, str, bool]] = _LEAD) -> list[dict[str, Any]]:
    cols = [{"label": label, "numeric": numeric} for _, label, numeric in lead]
    for name in names:
        unit = defs.get(name, {}).get("unit", "")
        cols.append({"label": f"{name} ({unit})" if unit else name, "numeric": True})
    return cols


def _row(record: dict[str, Any], names: Sequence[str], worst: int | None,
         lead: Sequence[tuple[str, str, bool]] = _LEAD) -> dict[str, Any]:
    cells = [{"text": record.get("pair", ""), "v": "", "band": "", "link": worst}]
    for key, _, _ in lead[1:]:
        value = record.get(key)
        cells.append({"text": num(value), "v": sort_key(value), "band": ""})
    for name in names:
        value = record.get(name)
        band = record.get("psnr_band") or "" if name == "psnr" else ""
        cells.append({"text": num(value), "v": sort_key(value) or "", "band": band})
    reasons = list(record.get("gate_failures") or [])
    if record.get("error"):
        reasons.append(record["error"])
    return {"cells": cells, "reasons": reasons, "fail": bool(reasons)}


def _worst(visuals: PairVisuals, load: Callable[[str], Any],
           names: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for record, kept in visuals.worst():
        ref, dist = load(record["ref"]), load(record["dist"])
        out.append(pair_item(record, kept, (ref.pixels, ref.data_range),
                             (dist.pixels, dist.data_range), names))
    return out


def pair_item(record: dict[str, Any], kept: Kept, ref: tuple[np.ndarray, float],
              dist: tuple[np.ndarray, float], names: Sequence[str]) -> dict[str, Any]:
    """One of the worst pairs on the page: ``ref``/``dist`` are (pixels, data range) at
    full resolution; reduced thumbnails, the kept maps and the worst region's crops."""
    a = display_rgb(*ref)
    b = display_rgb(*dist)
    ta, tb = reduce(a), reduce(b)
    item: dict[str, Any] = {
        "key": record["pair"], "title": record["pair"], "ref_name": record["ref"],
        "dist_name": record["dist"],
        "scores": [(n, record.get(n)) for n in names],
        "failures": list(record.get("gate_failures") or []),
        "ref": data_uri(jpeg_bytes(ta)), "dist": data_uri(jpeg_bytes(tb)),
        "tw": ta.shape[1], "th": ta.shape[0],
        "maps": [(m, data_uri(kept.maps[m])) for m in MAP_METRICS if m in kept.maps],
        "region": kept.region, "region_why": _WHY.get(kept.region_metric, ""),
    }
    if kept.region is not None:
        x, y, w, h = kept.region
        item["crop_ref"] = data_uri(png_bytes(np.ascontiguousarray(a[y:y + h, x:x + w])))
        item["crop_dist"] = data_uri(png_bytes(np.ascontiguousarray(b[y:y + h, x:x + w])))
        item["crop_maps"] = [(m, data_uri(kept.region_maps[m])) for m in MAP_METRICS
                             if m in kept.region_maps]
    return item


def write_compare_page(path: str, report: dict[str, Any], visuals: PairVisuals | None,
                       load: Callable[[str], Any]) -> None:
    """Render the page of ``report`` and write it to ``path`` (temporary file, renamed)."""
    from iqa.output.html import write_page

    write_page(path, compare_page(report, visuals, load))
