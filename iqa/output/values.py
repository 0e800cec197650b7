"""Turning result values into strict JSON, CSV cells and table text."""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """A copy of ``value`` that RFC 8259 JSON can carry: non-finite floats become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(strict(value), allow_nan=False, ensure_ascii=False, **kwargs)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf dB" if unit == "dB" else ("inf" if value > 0 else "-inf")
    if unit == "dB":
        return f"{value:.2f} dB"
    return f"{value:.6f}"
