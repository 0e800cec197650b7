"""JSON (one object at the end) and JSON Lines (one object per result, as it comes).

Both are strict RFC 8259 JSON: an infinite PSNR (identical images) is ``null`` with
``"psnr_band": "identical"``. JSON Lines ends with one summary object that has
``"type": "summary"``; result lines have ``"type": "pair"``.
"""

from __future__ import annotations

from typing import IO, Any

from iqa.output.values import dumps


class JSONWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.context: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        self.context = context

    def row(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def end(self, report: dict[str, Any]) -> None:
        document = {**self.context, "pairs": self.records, **report}
        self.stream.write(dumps(document, indent=2) + "\n")
        self.stream.flush()


class ResultJSONWriter(JSONWriter):
    """One result: the header and the result (given to ``end``) at the top level of the
    document (``{header..., "fid": ...}``), no ``pairs`` list."""

    def end(self, report: dict[str, Any]) -> None:
        self.stream.write(dumps({**self.context, **report}, indent=2) + "\n")
        self.stream.flush()


class JSONLinesWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.context: dict[str, Any] = {}

    def begin(self, columns: list[str], context: dict[str, Any]) -> None:
        self.context = context

    def row(self, record: dict[str, Any]) -> None:
        self.stream.write(dumps({"type": "pair", **record}) + "\n")
        self.stream.flush()

    def end(self, report: dict[str, Any]) -> None:
        self.stream.write(dumps({"type": "summary", **self.context, **report}) + "\n")
        self.stream.flush()
