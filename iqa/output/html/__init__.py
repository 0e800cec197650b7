"""Self-contained HTML reports of ``iqa compare``, ``iqa fid`` and ``iqa bdrate``.

One file per run: the pictures are inlined as ``data:`` URIs (reduced JPEG thumbnails,
PNG crops), the style sheet and the script (table sorting, A/B flicker) are inlined,
nothing is fetched (no CDN, no web font), so the page works from ``file://`` and as a CI
artifact.

The pages are rendered from Jinja2 templates in ``templates/`` (package data), with
autoescaping on: file names and metric definitions are untrusted text, and loops over
metrics, pairs and gates belong in the template, not in Python string concatenation.
(``string.Template`` has neither loops nor escaping: the markup would move back into
Python, one ``html.escape`` call at a time.) Jinja2 is the ``html`` extra.

The numbers on a page are the records the JSON report holds, from the same run.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context`` (autoescaped, strict undefined)."""
    from iqa.extras import require

    require("html", "--html")
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = num
    env.filters["data_uri"] = data_uri
    env.globals["inline"] = lambda name: (TEMPLATES / name).read_text(encoding="utf-8")
    return env.get_template(template).render(**context)


def data_uri(data: bytes, mime: str = "") -> str:
    """``data:`` URI of an encoded image; the type is read from its first bytes."""
    if not mime:
        mime = ("image/png" if data[:4] == b"\x89PNG" else "image/webp"
                if data[8:12] == b"WEBP" else "image/svg+xml" if data[:4] == b"<svg"
                else "image/jpeg")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def num(value: Any, digits: int = 6) -> str:
    """A value as the page shows it: ``digits`` significant digits, inf, or a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return f"{value:.{digits}g}"


def sort_key(value: Any) -> str:
    """The ``data-v`` attribute the table sorts on: a number, or empty."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "1e308" if value > 0 else "-1e308"
    return repr(value)


def histogram(values: list[float], bins: int = 20) -> dict[str, Any]:
    """Counts of the finite ``values`` in ``bins`` equal bins (numpy's edges)."""
    import numpy as np

    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return {"counts": [], "lo": None, "hi": None, "peak": 0, "inf": len(values)}
    counts, edges = np.histogram(finite, bins=bins)
    return {"counts": counts.tolist(), "lo": float(edges[0]), "hi": float(edges[-1]),
            "peak": int(counts.max()), "inf": len(values) - len(finite)}


def write_page(path: str, text: str) -> None:
    """Write the page through :func:`iqa.output.open_output` (temporary file, renamed)."""
    from iqa.output.files import open_output

    with open_output(path) as stream:
        stream.write(text)
