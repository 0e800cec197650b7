"""The bdrate report as JSON, CSV or a rich table (one computation, three renderings)."""

from __future__ import annotations

from typing import IO, Any

from iqa.rd.report import Analysis

DEFINITIONS = {
    "bd_rate": "percent rate change of TEST vs ANCHOR at equal quality: log10(rate) "
               "interpolated over quality, mean difference d over the shared quality range, "
               "(10**d - 1) * 100 (Bjontegaard, VCEG-M33); negative: TEST needs fewer bits",
    "bd_quality": "mean quality difference TEST - ANCHOR at equal rate, quality interpolated "
                  "over log10(rate) on the shared range (BD-PSNR in dB for psnr)",
    "mean": "arithmetic mean of the per-sequence values",
    "overlap": "shared range / union of the two curves' ranges (warning under 75 %)",
    "reference": "equal to the bjontegaard package (bd_rate, bd_psnr) for the same method",
}


def document(analysis: Analysis, context: dict[str, Any]) -> dict[str, Any]:
    return {
        **context,
        "method": analysis.method,
        "definitions": DEFINITIONS,
        "metrics": analysis.means,
        "sequences": [{"sequence": s.sequence, "metrics": s.metrics}
                      for s in analysis.sequences],
    }


def write_csv(stream: IO[str], analysis: Analysis) -> None:
    """One row per sequence and metric, then one ``mean`` row per metric."""
    from iqa.output.csv_writer import csv_line

    def row(cells: list[Any]) -> None:  # quoted as iqa's other CSV: a name may hold a CR
        stream.write(csv_line(str(c) for c in cells))

    row(["scope", "sequence", "metric", "bd_rate", "bd_quality", "anchor_points",
                  "test_points", "quality_overlap", "rate_overlap"])
    for s in analysis.sequences:
        for m, r in s.metrics.items():
            row(["sequence", s.sequence, m, repr(r["bd_rate"]), repr(r["bd_quality"]),
                          r["anchor_points"], r["test_points"], repr(r["quality_overlap"]),
                          repr(r["rate_overlap"])])
    for m, r in analysis.means.items():
        row(["mean", "", m, repr(r["bd_rate"]), repr(r["bd_quality"]), "", "", "", ""])


def write_table(stream: IO[str], analysis: Analysis, context: dict[str, Any]) -> None:
    """The report as a rich table. Sequence and metric names are shown as they are (never
    read as rich markup: ``photo [edit].png`` stays whole), control characters escaped."""
    from rich.console import Console
    from rich.table import Table

    terminal = stream.isatty() if hasattr(stream, "isatty") else False
    console = Console(file=stream, width=None if terminal else 200, highlight=False,
                      force_terminal=None if terminal else False, soft_wrap=False)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("sequence", overflow="fold")
    for m in analysis.metrics:
        table.add_column(_text(f"{m} BD-rate"), justify="right")
        u = analysis.means[m]["unit"]
        table.add_column(_text(f"BD-{m}" + (f" ({u})" if u else "")), justify="right")
    for s in analysis.sequences:
        cells = [_text(s.sequence)]
        for m in analysis.metrics:
            cells += [_text(f"{s.metrics[m]['bd_rate']:+.2f} %"),
                      _text(f"{s.metrics[m]['bd_quality']:+.4f}")]
        table.add_row(*cells)
    table.add_section()
    cells = [_text(f"mean of {len(analysis.sequences)}", "bold")]
    for m in analysis.metrics:
        r = analysis.means[m]
        cells += [_text(f"{r['bd_rate']:+.2f} %", "bold"), _text(f"{r['bd_quality']:+.4f}", "bold")]
    table.add_row(*cells)
    console.print(table)
    console.print(_text(
        f"ANCHOR {context['anchor']}  TEST {context['test']}  method {analysis.method}, rate "
        f"{context['rate']}; negative BD-rate: TEST needs fewer bits"))


def _text(value: str, style: str = ""):
    """A cell that rich shows verbatim (no markup), on one line."""
    from rich.text import Text

    from iqa.output.values import one_line

    return Text(one_line(value), style=style)
