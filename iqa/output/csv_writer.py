"""CSV: a header, then one row per result as soon as it is scored (flushed).

Infinite PSNR is written ``inf``, a value that could not be computed is an empty cell.
The summary (mean/min/max) is not written: a CSV file stays one uniform table. With
gates, the column ``gate_failures`` holds the gates a pair fails (joined with "; ");
aggregate and baseline-coverage results are only in the JSON and JUnit reports.

Quoting is RFC 4180's, written here rather than by :func:`csv.writer`: a cell is quoted
(its quotes doubled) when it holds a comma, a quote, a carriage return or a line feed.
``csv.writer(lineterminator="\\n")`` quotes only the characters of its line terminator, so
a file name with a bare carriage return was written unquoted and split the row when read
back; with every line-break character quoted, ``csv.reader`` returns the rows written.
Lines end with ``\\n``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from iqa.output.values import csv_cell


class CSVWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.columns: list[str] = []

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        self.columns = columns
        self.stream.write(csv_line(columns))
        self.stream.flush()

    def row(self, record: dict[str, Any]) -> None:
        self.stream.write(csv_line(_cell(record.get(c)) for c in self.columns))
        self.stream.flush()

    def end(self, report: dict[str, Any]) -> None:
        self.stream.flush()


def _cell(value: Any) -> str:
    """A list (the gate failures of a pair) is one cell, its items joined with "; "."""
    if isinstance(value, list | tuple):
        return "; ".join(csv_cell(v) for v in value)
    return csv_cell(value)


_SPECIAL = frozenset(',"\r\n')


def csv_line(cells: Iterable[str]) -> str:
    """One CSV line (with its ``\\n``): cells holding ``,``, ``"``, CR or LF are quoted.

    A line of one empty cell is written ``""``, as :func:`csv.writer` does, so it is not
    read back as a blank line (no row).
    """
    items = list(cells)
    if items == [""]:
        return '""\n'
    return ",".join(
        '"' + item.replace('"', '""') + '"' if _SPECIAL.intersection(item) else item
        for item in items
    ) + "\n"
