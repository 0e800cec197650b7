"""CSV: a header, then one row per result as soon as it is scored (flushed).

Infinite PSNR is written ``inf``, a value that could not be computed is an empty cell.
The summary (mean/min/max) is not written: a CSV file stays one uniform table. With
gates, the column ``gate_failures`` holds the gates a pair fails (joined with "; ");
aggregate and baseline-coverage results are only in the JSON and JUnit reports.
"""

from __future__ import annotations

import csv
from typing import IO, Any

from iqa.output.values import csv_cell


class CSVWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n")
        self.columns: list[str] = []

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        self.columns = columns
        self.writer.writerow(columns)
        self.stream.flush()

    def row(self, record: dict[str, Any]) -> None:
        self.writer.writerow([_cell(record.get(c)) for c in self.columns])
        self.stream.flush()

    def end(self, report: dict[str, Any]) -> None:
        self.stream.flush()


def _cell(value: Any) -> str:
    """A list (the gate failures of a pair) is one cell, its items joined with "; "."""
    if isinstance(value, list | tuple):
        return "; ".join(csv_cell(v) for v in value)
    return csv_cell(value)
