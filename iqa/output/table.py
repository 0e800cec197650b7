"""A rich table on stdout: one row per pair, then mean / min / max of each metric.

Colour follows rich's rules: none when stdout is not a terminal or ``NO_COLOR`` is set.
PSNR cells carry their interpretation band; rows that failed say why.

Layout: on a terminal the table fits its width; when stdout is not a terminal (a pipe,
a file) nothing is wrapped at all. File names are never split: they are shown as text
(never read as rich markup, so ``photo [edit].png`` stays whole) with control characters
escaped. The note of a pair is one line (its error, or the gates it fails and by how
much), cut with "…" on a narrow terminal; the summary of the gates follows the table.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import IO, Any

from iqa.output.values import fmt_number, one_line

#: Width used when stdout is not a terminal: wide enough that nothing wraps.
UNWRAPPED_WIDTH = 100_000
#: Columns kept for the note on a terminal too narrow for the whole table.
_MIN_NOTE = 24

_BAND_STYLE = {
    "identical": "green",
    "near-lossless": "green",
    "hard-to-see": "green",
    "visible": "yellow",
    "degraded": "red",
    "unrecognisable": "bold red",
}


def make_console(stream: IO[str], *, color: bool | None = None):
    """A rich console on ``stream``: the terminal's width, or unlimited when not a tty.

    Every table of the tool is printed through it. A reader that went away raises
    ``BrokenPipeError`` (the command line's exit code 141): rich's own
    ``Console.on_broken_pipe`` would exit with 1, the code of a failed gate, and point
    stdout at ``/dev/null`` even when the console writes to an ``-o`` pipe. A ``stream``
    that is ``sys.stdout`` gets one-line write errors (:func:`stdout_stream`)."""
    import sys

    from iqa.output.files import stdout_stream

    if stream is sys.stdout:
        stream = stdout_stream(stream)
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError):
        terminal = False
    return _console_class()(
        file=stream,
        width=None if terminal else UNWRAPPED_WIDTH,
        no_color=None if color is None else not color,
        force_terminal=None if terminal else False,
        highlight=False,
        soft_wrap=False,
    )


@functools.cache
def _console_class() -> type:
    """rich's ``Console`` with a broken pipe left to the caller (made on first use, so
    importing this module does not import rich)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more is written to the dead pipe
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")

    return _Console


def text(value: str, *, cut: bool = False):
    """A cell that rich shows verbatim (no markup), on one line; with ``cut``, a line
    too long for its column ends in "…" instead of wrapping."""
    from rich.text import Text

    if cut:
        return Text(one_line(value), no_wrap=True, overflow="ellipsis")
    return Text(one_line(value))


class TableWriter:
    def __init__(self, stream: IO[str], *, color: bool | None = None) -> None:
        self.console = make_console(stream, color=color)
        self.records: list[dict[str, Any]] = []
        self.metrics: list[str] = []
        self.units: dict[str, str] = {}

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        self.metrics = list(context.get("metrics", []))
        definitions = context.get("definitions", {})
        self.units = {m: definitions.get(m, {}).get("unit", "") for m in self.metrics}

    def row(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def end(self, report: dict[str, Any]) -> None:
        from rich.table import Table
        from rich.text import Text

        notes = any(self._note(r) for r in self.records)
        rows: list[tuple[list[Any], str | None]] = []
        for r in self.records:
            cells = [text(r.get("pair") or r.get("ref", ""))]
            cells += [Text.from_markup(self._cell(m, r)) for m in self.metrics]
            if notes:
                cells.append(text(self._note(r), cut=True))
            failed = bool(r.get("error") or r.get("gate_failures"))
            rows.append((cells, "red" if failed else None))
        summary = report.get("summary", {})
        if summary and any(s.get("n") for s in summary.values()):
            for stat in ("mean", "min", "max"):
                cells = [Text(stat, style="bold")]
                for m in self.metrics:
                    value = summary.get(m, {}).get(stat)
                    cells.append(Text(fmt_number(value, "dB" if self.units[m] == "dB" else "")))
                rows.append((cells + ([Text("")] if notes else []), "summary"))
        headers = ["pair"] + [m + (f" ({self.units[m]})" if self.units[m] else "")
                              for m in self.metrics]
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        needed = 0
        for i, header in enumerate(headers):  # names and numbers are never cut or split
            widest = max([len(header), *(cells[i].cell_len for cells, _ in rows)])
            table.add_column(header, justify="right" if i else "left", no_wrap=True,
                             min_width=widest)
            needed += widest + 3
        if notes:  # one line per pair; on a narrow terminal it ends in "…"
            table.add_column("note", overflow="ellipsis")  # cut by its cells, see text()
        first_summary = True
        for cells, style in rows:
            if style == "summary":
                if first_summary:
                    table.add_section()
                    first_summary = False
                style = None
            table.add_row(*cells, style=style)
        if notes:
            needed += _MIN_NOTE
        width = self.console.width
        if needed > width:  # too narrow: longer lines (the terminal folds them), not cut names
            self.console.width = needed
        try:
            self.console.print(table, crop=False)
        finally:
            self.console.width = width
        for line in _footer(report):
            self.console.print(line, markup=False)

    def _cell(self, metric: str, record: dict[str, Any]) -> str:
        value = record.get(metric)
        text = fmt_number(value, "dB" if self.units[metric] == "dB" else "")
        if self.units[metric] == "dB":
            text = text.removesuffix(" dB")
            band = record.get(f"{metric}_band")
            if band:
                style = _BAND_STYLE.get(band, "")
                text = f"{text} [{style}]{band}[/{style}]" if style else f"{text} {band}"
        return text

    @staticmethod
    def _note(record: dict[str, Any]) -> str:
        """One line: the error, each gate failed and by how much, metrics undefined for the
        image size. On a terminal too narrow for it, the line ends in "…"."""
        parts = []
        if record.get("error"):
            parts.append(str(record["error"]))
        parts.extend(f"FAIL {failure}" for failure in record.get("gate_failures") or [])
        undefined = list(record.get("undefined") or {})
        if undefined and not record.get("error"):
            parts.append(f"{', '.join(undefined)}: undefined for this image size")
        return "; ".join(parts)


def _footer(report: dict[str, Any]) -> list[str]:
    lines = [report["pooling_note"]] if report.get("pooling_note") else []
    unmatched = report.get("unmatched") or {}
    for side, label in (("ref_only", "reference"), ("dist_only", "distorted")):
        files = unmatched.get(side) or []
        if files:
            lines.append(f"{len(files)} {label} file(s) without a partner:")
            shown = files if len(files) <= 4 else files[:3]
            lines.extend(f"  {one_line(f)}" for f in shown)
            if len(files) > len(shown):
                lines.append(f"  ... and {len(files) - len(shown)} more (all are in the JSON "
                             "report's \"unmatched\")")
    for name, stats in (report.get("summary") or {}).items():
        if stats.get("n_undefined"):
            lines.append(f"{name}: undefined for {stats['n_undefined']} pair(s) "
                         "(images too small for it)")
    counts = report.get("counts") or {}
    if counts.get("failed"):
        lines.append(f"{counts['failed']} of {counts.get('pairs', 0)} pair(s) could not be scored")
    gates = report.get("gates")
    if gates:
        lines.extend(gate_lines(gates))
    return lines


def gate_lines(gates: dict[str, Any]) -> list[str]:
    """The ``gates`` section of a report as text: one line per gate (PASS/FAIL and why),
    the baseline's coverage, then the verdict. Commands with their own table print it."""
    lines = ["gates:"]
    for check in gates.get("checks", []):
        lines.append(f"  {'PASS' if check['passed'] else 'FAIL'} {_check_text(check)}")
    baseline = gates.get("baseline")
    if baseline:
        if baseline.get("new"):
            lines.append(f"  new pairs (not in the baseline): {', '.join(baseline['new'])}")
        if baseline.get("only_in_run"):
            lines.append("  not in the baseline, not compared: "
                         + ", ".join(baseline["only_in_run"]))
        for change in baseline.get("definition_changes", []):
            lines.append(f"  baseline differs: {change}")
    failed = gates.get("checks_failed", 0)
    verdict = "all gates passed" if gates.get("passed") else f"FAILED: {failed} gate(s)"
    if gates.get("exit_code") == 2:
        verdict = f"input error (exit code 2); {verdict}"
    elif failed:
        verdict += " (exit code 1)"
    lines.append(f"result: {verdict}")
    return [one_line(line) for line in lines]  # pair names in them stay on their line


def _check_text(check: dict[str, Any]) -> str:
    name, failures = check["gate"], check.get("failures") or []
    checked = check.get("checked", 0)
    if check["type"] == "baseline_pairs":
        missing = [f["pair"] for f in failures if f.get("pair")]
        return f"{name}: " + (f"missing {', '.join(missing)}" if missing
                              else f"all {checked} present")
    if check["type"] == "baseline":
        detail = f"tolerance {check['tolerance']}" + (", two-sided" if check["two_sided"] else "")
        name = f"{name} ({detail})"
    if checked == 0 and failures:  # nothing to check
        return f"{name}: {failures[0]['message']}"
    if check.get("aggregate"):
        value = check.get("value")
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        return failures[0]["message"] if failures else f"{name}: {shown}"
    skipped = len(check.get("skipped") or [])
    tail = f", {skipped} skipped" if skipped else ""
    if failures:
        return f"{name}: {len(failures)} of {checked} result(s) failed{tail}"
    return f"{name}: {checked} result(s){tail}"


class KeyValueWriter:
    """One result as aligned "name  value" lines (plain text, also when piped), then the
    gate lines; ``rows(report)`` gives the lines."""

    def __init__(self, stream: IO[str], rows: Callable[[dict[str, Any]], list[tuple[str, str]]]
                 ) -> None:
        self.stream = stream
        self.rows = rows

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        pass

    def row(self, record: dict[str, Any]) -> None:
        pass

    def end(self, report: dict[str, Any]) -> None:
        rows = self.rows(report)
        width = max((len(key) for key, _ in rows), default=0)
        for key, value in rows:
            self.stream.write(f"{key:<{width}}  {value}\n")
        if report.get("gates"):
            for line in gate_lines(report["gates"]):
                self.stream.write(line + "\n")
        self.stream.flush()
