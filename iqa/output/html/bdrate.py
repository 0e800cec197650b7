"""The page of an ``iqa bdrate`` run: the RD plots and the BD-rate table.

The plot is :mod:`iqa.rd.plot`'s figure (the one ``--plot`` writes) as inline SVG, its
text drawn as paths so no font is needed; without matplotlib (the ``plot`` extra) the
page says so and shows the tables. The tables are ``--format json``'s document.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from iqa.output.html import data_uri, render


def bdrate_page(doc: dict[str, Any], analysis: Any, rate_unit: str,
                labels: tuple[str, str]) -> str:
    """The HTML page of a BD-rate ``doc`` (:func:`iqa.rd.write.document`) and its plot."""
    import importlib.util

    plot_uri = None
    if importlib.util.find_spec("matplotlib") is not None:
        from iqa.rd.plot import svg_bytes

        plot_uri = data_uri(svg_bytes(analysis, rate_unit, labels), "image/svg+xml")
    metrics = list(doc.get("metrics", {}))
    return render(
        "bdrate.html", tool=doc.get("tool", "iqa"), version=doc.get("version", ""),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        doc=doc, metrics=metrics, plot=plot_uri, gates=doc.get("gates"),
    )


def write_bdrate_page(path: str, doc: dict[str, Any], analysis: Any, rate_unit: str,
                      labels: tuple[str, str]) -> None:
    from iqa.output.html import write_page

    write_page(path, bdrate_page(doc, analysis, rate_unit, labels))
