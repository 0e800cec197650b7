"""The parts of an ``iqa compare`` report around its rows: the self-describing header
and the summary, counts, unmatched files and errors that follow the rows.

The CLI and :func:`iqa.compare.compare_files` build reports with these functions, so
the document a caller gets from the library is the one ``--format json`` writes:
``{**context, "pairs": records, **report}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

#: Settings written only when they differ from these defaults (older baselines match);
#: a report without one of them used its default.
QUIET_DEFAULTS = {"channels": "as-is", "accept_jpeg_warnings": False, "crop_border": 0}


def compare_settings(
    *, pair_by: str, alpha: str, exif: bool, channels: str = "as-is",
    accept_jpeg_warnings: bool = False, max_image_mb: float | None = None,
    crop_border: int = 0,
) -> dict[str, Any]:
    """The report's ``settings``: how pairs were made and images read. ``channels``,
    ``accept_jpeg_warnings``, ``max_image_mb`` and ``crop_border`` appear only when not
    the default (``max_image_mb`` ``None`` means the default)."""
    settings: dict[str, Any] = {"pair_by": pair_by, "alpha": alpha, "exif": exif}
    optional = {"channels": channels, "accept_jpeg_warnings": accept_jpeg_warnings,
                "crop_border": crop_border}
    for key, value in optional.items():
        if value != QUIET_DEFAULTS[key]:
            settings[key] = value
    if max_image_mb is not None:
        settings["max_image_mb"] = max_image_mb
    return settings


def compare_context(names: Sequence[str], metrics: Sequence[Any], settings: dict[str, Any],
                    version: str, *, luma_metrics: frozenset[str] = frozenset()
                    ) -> dict[str, Any]:
    """What every report starts with: tool, version, and the exact definitions used.

    ``luma_metrics``: metrics scored on BT.601 Y (``--luma``); their definition says so.
    """
    definitions = {
        m.info.name: {**m.describe(), "higher_is_better": m.info.higher_is_better,
                      "unit": m.info.unit}
        for m in metrics
    }
    for name in luma_metrics & definitions.keys():
        definitions[name]["channels"] = "BT.601 luma (Y), unrounded"
    return {
        "tool": "iqa",
        "version": version,
        "command": "compare",
        "metrics": list(names),
        "definitions": definitions,
        "settings": settings,
    }


def compare_report(records: Sequence[dict[str, Any]], names: Sequence[str], pairing: Any,
                   gates_section: dict[str, Any] | None = None) -> dict[str, Any]:
    """What follows the rows: ``summary``, ``counts``, ``unmatched``, ``errors`` and,
    with gates, ``gates``."""
    failed = sum(1 for r in records if r["error"])
    report: dict[str, Any] = {
        "summary": summarize(records, names),
        "counts": {"pairs": len(records), "scored": len(records) - failed, "failed": failed},
        "unmatched": {"ref_only": pairing.ref_only, "dist_only": pairing.dist_only},
        "errors": [{"pair": r["pair"], "message": r["error"]} for r in records if r["error"]],
    }
    if gates_section is not None:
        report["gates"] = gates_section
    return report


def summarize(records: Iterable[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Per metric: ``n`` (pairs with a value), mean / min / max over them, and
    ``n_infinite`` / ``n_undefined`` (pairs too small for the metric) when not zero."""
    columns: dict[str, list[float]] = {n: [] for n in names}
    too_small = dict.fromkeys(names, 0)
    for record in records:
        for n in names:
            value = record.get(n)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                columns[n].append(float(value))
            if n in (record.get("undefined") or {}):
                too_small[n] += 1
    summary: dict[str, dict[str, Any]] = {}
    for n, vals in columns.items():
        if not vals:
            summary[n] = {"n": 0, "mean": None, "min": None, "max": None}
        else:
            finite = [v for v in vals if math.isfinite(v)]
            summary[n] = {
                "n": len(vals),
                "mean": math.fsum(vals) / len(vals),  # inf if any value is inf
                "min": min(vals),
                "max": max(vals),
            }
            if len(finite) != len(vals):
                summary[n]["n_infinite"] = len(vals) - len(finite)
        if too_small[n]:
            summary[n]["n_undefined"] = too_small[n]
    return summary
