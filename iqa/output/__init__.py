"""Result writers: a rich table, CSV, JSON and JSON Lines, behind one protocol.

Every writer gets ``begin(columns)`` once, ``row(record)`` for each result as soon as
it exists, and ``end(report)`` once. Records and reports are plain dicts; values that
JSON cannot carry (infinite PSNR) are turned into ``null`` by :func:`strict_json`.
With quality gates, records carry ``gate_failures`` and the report a ``gates`` section;
the JUnit report of the gates is written by :mod:`iqa.output.junit`. Where reports go
(stdout, files replaced atomically, devices and pipes written directly) and the checks
made before any work are in :mod:`iqa.output.files`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from iqa.errors import UsageError
from iqa.output.files import check_output_targets, open_output

__all__ = ["FORMATS", "check_output_targets", "make_writer", "open_output"]

FORMATS = ("table", "csv", "json", "jsonl")


def make_writer(fmt: str, stream: IO[str], *, color: bool | None = None,
                one_result: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None):
    """The writer for ``fmt``. With ``one_result`` (a run whose result is one record, as
    ``iqa fid``), JSON puts the header and that record at the top level of the document
    and the table is aligned "name  value" lines made by ``one_result(report)``."""
    if one_result is not None and fmt in ("table", "json"):
        if fmt == "json":
            from iqa.output.json_writer import ResultJSONWriter

            return ResultJSONWriter(stream)
        from iqa.output.table import KeyValueWriter

        return KeyValueWriter(stream, one_result)
    if fmt == "table":
        from iqa.output.table import TableWriter

        return TableWriter(stream, color=color)
    if fmt == "csv":
        from iqa.output.csv_writer import CSVWriter

        return CSVWriter(stream)
    if fmt in ("json", "jsonl"):
        from iqa.output.json_writer import JSONLinesWriter, JSONWriter

        return JSONWriter(stream) if fmt == "json" else JSONLinesWriter(stream)
    raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
