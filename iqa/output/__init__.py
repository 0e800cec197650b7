"""Result writers: a rich table, CSV, JSON and JSON Lines, behind one protocol.

Every writer gets ``begin(columns)`` once, ``row(record)`` for each result as soon as
it exists, and ``end(report)`` once. Records and reports are plain dicts; values that
JSON cannot carry (infinite PSNR) are turned into ``null`` by :func:`strict_json`.
With quality gates, records carry ``gate_failures`` and the report a ``gates`` section;
the JUnit report of the gates is written by :mod:`iqa.output.junit`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from iqa.errors import UsageError

FORMATS = ("table", "csv", "json", "jsonl")


def make_writer(fmt: str, stream: IO[str], *, color: bool | None = None):
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


@contextmanager
def open_output(path: str | None):
    """stdout, or a file written beside its target and renamed into place at the end.

    A run that stops half-way (Ctrl-C, a crash) leaves the target untouched.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"-o {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
