"""Baselines: a JSON result saved by an earlier run, read back to compare against.

A baseline is what ``iqa compare ... --format json -o FILE`` (or ``--format jsonl``)
writes. Results are matched by their ``pair`` key (the file name, or the path relative
to the folder), so a baseline stays valid when the folders move. A result without a
``pair`` key (the single result of ``iqa fid``) is matched as :data:`SINGLE`.

Values are read back exactly: JSON numbers round-trip float64 values. A ``null`` value
whose ``<metric>_band`` is ``"identical"`` is an infinite PSNR; the strings ``"inf"`` and
``"-inf"`` are read as infinities too. Any other ``null`` means "no value" (the pair
could not be scored when the baseline was made).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqa.errors import InputError

#: The key of a result that has no ``pair`` (a command that produces one result).
SINGLE = "result"
_RECORD_LISTS = ("pairs", "results", "records")


def record_key(record: dict[str, Any]) -> str:
    """The name a result is matched by, in reports and against a baseline."""
    key = record.get("pair")
    return str(key) if key is not None else SINGLE


def record_value(record: dict[str, Any], key: str) -> float | None:
    """A metric value of a result as a float, ``inf`` for identical images, or None."""
    value = record.get(key)
    if value is None:
        return math.inf if record.get(f"{key}_band") == "identical" else None
    if isinstance(value, bool):
        raise ValueError(f"{key} is {value!r}, not a number")
    if isinstance(value, int | float):
        value = float(value)
    elif isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf"):
        value = float(value)
    else:
        raise ValueError(f"{key} is {value!r}, not a number")
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Baseline:
    """The results of an earlier run, by pair key, and what they were computed with."""

    path: str
    records: dict[str, dict[str, Any]]
    command: str | None = None
    version: str | None = None
    definitions: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def has_metric(self, key: str) -> bool:
        return any(key in record for record in self.records.values())

    def values(self, keys: Iterable[str]) -> dict[str, dict[str, float | None]]:
        """``{pair: {metric key: value}}`` for the given metric keys; raises InputError
        naming the pair when a value is not a number."""
        keys = list(keys)
        table: dict[str, dict[str, float | None]] = {}
        for pair, record in self.records.items():
            row: dict[str, float | None] = {}
            for key in keys:
                try:
                    row[key] = record_value(record, key)
                except ValueError as exc:
                    raise InputError(
                        f"--baseline {self.path}: pair {pair!r}: {exc}", self.path
                    ) from None
            table[pair] = row
        return table

    def changed_definitions(
        self, definitions: dict[str, Any], settings: dict[str, Any], metrics: Iterable[str]
    ) -> list[str]:
        """One line per metric definition or setting that differs from this run's."""
        lines = []
        for name in metrics:
            old, new = self.definitions.get(name), definitions.get(name)
            if old is not None and new is not None and old != new:
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys)
                lines.append(f"{name} definition changed ({detail})")
        for key in sorted(set(self.settings) & set(settings)):
            if self.settings[key] != settings[key]:
                lines.append(f"setting {key} changed ({self.settings[key]!r} -> {settings[key]!r})")
        return lines


def load_baseline(path: str) -> Baseline:
    """Read a JSON (or JSON Lines) result file written by ``iqa ... --format json``."""
    where = f"--baseline {path}"
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{where}: no such file", path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read it ({exc})", path) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        document = _json_lines(text)
        if document is None:
            raise InputError(
                f"{where}: not valid JSON (line {exc.lineno}: {exc.msg}); save a baseline "
                "with `iqa compare ... --format json -o FILE`",
                path,
            ) from None
    return baseline_from_document(document, path)


def baseline_from_document(document: Any, path: str) -> Baseline:
    """A :class:`Baseline` from a parsed result document (no file access)."""
    where = f"--baseline {path}"
    if not isinstance(document, dict):
        raise InputError(f"{where}: expected a JSON object written by `iqa ... --format json`")
    records = next(
        (document[k] for k in _RECORD_LISTS if isinstance(document.get(k), list)), None
    )
    if records is None:
        records = [document]  # a command with a single result may write it at the top
    by_key: dict[str, dict[str, Any]] = {}
    for record in records:
        if not isinstance(record, dict):
            raise InputError(f"{where}: every result must be a JSON object", path)
        key = record_key(record)
        if key in by_key:
            raise InputError(f"{where}: pair {key!r} appears twice", path)
        by_key[key] = record
    if not by_key:
        raise InputError(f"{where}: holds no results to compare with", path)
    definitions = document.get("definitions")
    settings = document.get("settings")
    return Baseline(
        path=path,
        records=by_key,
        command=document.get("command"),
        version=document.get("version"),
        definitions=definitions if isinstance(definitions, dict) else {},
        settings=settings if isinstance(settings, dict) else {},
    )


def _json_lines(text: str) -> dict[str, Any] | None:
    """A JSON Lines result (``--format jsonl``) as one document, or None if it is not one."""
    pairs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    try:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        return None
    if len(lines) < 2 or not all(isinstance(line, dict) for line in lines):
        return None
    for line in lines:
        if line.get("type") == "summary":
            summary = line
        else:
            pairs.append({k: v for k, v in line.items() if k != "type"})
    return {**{k: v for k, v in summary.items() if k != "type"}, "pairs": pairs}
