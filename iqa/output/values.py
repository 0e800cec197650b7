"""Turning result values into strict JSON, CSV cells and table text.

File names that are not valid UTF-8 reach Python as strings with lone surrogates
(``os.fsdecode``: the byte 0xff becomes U+DCFF). :func:`dumps` writes each such
character as the JSON escape ``\\udcff``, so the document stays valid UTF-8 and
``os.fsencode(json.loads(text)["ref"])`` gives the original bytes back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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
    """Strict JSON text; lone surrogates (undecodable bytes of file names) are escaped."""
    text = json.dumps(strict(value), allow_nan=False, ensure_ascii=False, **kwargs)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(text: str) -> str:
    """``text`` with control characters (newline, tab, escape, ...) and undecodable bytes
    written as backslash escapes, so a message about any file name stays one line."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # JSON's spelling, not Python's
        return "true" if value else "false"
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
