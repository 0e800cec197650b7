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
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from iqa.errors import InputError

#: The key of a result that has no ``pair`` (a command that produces one result).
SINGLE = "result"
_RECORD_LISTS = ("pairs", "results", "records")
#: Fields of a result that define how its numbers were computed (``iqa fid``: the network,
#: the weights' digest, the KID subsets); checked when the result and its baseline both have
#: them.
RECORD_DEFINITIONS = ("network", "weights.sha256", "kid.subsets", "kid.subset_size", "kid.seed")
#: Settings that choose which files are paired but do not change any value.
NEUTRAL_SETTINGS = frozenset({"pair_by", "max_image_mb"})  # choose files, not values


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
        """Whether some result holds a value of ``key``. A metric left null in every
        result (MS-SSIM of images too small for it, a run's default set) has nothing to
        compare with, so it is not compared; a value that is not a number counts, so
        that :meth:`values` names it."""
        for record in self.records.values():
            try:
                if record_value(record, key) is not None:
                    return True
            except ValueError:
                return True
        return False

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
        changed, neutral = self.definition_changes(definitions, settings, metrics)
        return changed + neutral

    def definition_changes(
        self, definitions: dict[str, Any], settings: dict[str, Any], metrics: Iterable[str]
    ) -> tuple[list[str], list[str]]:
        """``(changes that make values incomparable, changes that do not)``, one line each.

        A metric's definition (``definitions`` of the report) or a setting of the run
        (``settings``: decoding, resizing) that differs changes the numbers; a setting in
        :data:`NEUTRAL_SETTINGS` only chooses which files are paired.
        """
        changed, neutral = [], []
        for name in metrics:
            old, new = self.definitions.get(name), definitions.get(name)
            if isinstance(old, dict) and isinstance(new, dict) and old != new:
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys)
                changed.append(f"{name} definition changed ({detail})")
        from iqa.output.report import QUIET_DEFAULTS

        if not self.settings:  # a document that says nothing of its settings
            return changed, neutral
        # A report leaves a setting out when it has its default: it is filled in on
        # both sides, so a baseline made with --crop-border 8 is not compared with a
        # run made without it.
        old = {**QUIET_DEFAULTS, **self.settings}
        new = {**QUIET_DEFAULTS, **settings}
        for key in sorted(set(old) & set(new)):
            if old[key] != new[key]:
                line = f"setting {key} changed ({old[key]!r} -> {new[key]!r})"
                (neutral if key in NEUTRAL_SETTINGS else changed).append(line)
        return changed, neutral


def _field(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def record_definition_changes(base: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """One line per field of :data:`RECORD_DEFINITIONS` that both results have and that
    differs (``network changed ('a' -> 'b')``)."""
    lines = []
    for name in RECORD_DEFINITIONS:
        old, new = _field(base, name), _field(record, name)
        if old is not None and new is not None and old != new:
            lines.append(f"{name} changed ({old!r} -> {new!r})")
    return lines


#: Refused before reading: a baseline larger than this is not a result file.
MAX_BASELINE_BYTES = 1 << 30
_SAVE_HINT = "give a JSON file saved with `iqa ... --format json -o FILE`"


def load_baseline(path: str) -> Baseline:
    """Read a JSON (or JSON Lines) result file written by ``iqa ... --format json``.

    Every way a file can fail to be such a result is an :class:`InputError` with one
    line naming the file and the reason: missing, not a regular file (a FIFO would block,
    ``/dev/null`` reads as nothing), unreadable, empty, not UTF-8, not strict JSON
    (``NaN``/``Infinity`` tokens), nested too deeply to parse, or not a result of ``iqa``.
    """
    where = f"--baseline {path}"
    text = _read_text(path, where)
    if not text.strip():
        raise InputError(f"{where}: is empty; {_SAVE_HINT}", path)
    try:
        document = _parse(text, where, path)
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to be a result; {_SAVE_HINT}",
                         path) from None
    except _NonStrict as exc:
        raise InputError(f"{where}: {exc} is not strict JSON (RFC 8259); {_SAVE_HINT}",
                         path) from None
    check_iqa_result(document, where, path)
    return baseline_from_document(document, path)


def _parse(text: str, where: str, path: str) -> Any:
    """One JSON document, or JSON Lines read as one document."""
    try:
        return _strict_loads(text)
    except json.JSONDecodeError as exc:
        document = _json_lines(text)
        if document is None:
            raise InputError(
                f"{where}: not valid JSON (line {exc.lineno}: {exc.msg}); {_SAVE_HINT}", path,
            ) from None
        return document


def check_iqa_result(document: Any, where: str, path: str | None = None) -> None:
    """Refuse a parsed document that is not a result written by ``iqa``.

    A result is a JSON object with ``"tool": "iqa"`` (every ``--format json`` report and
    the summary line of ``--format jsonl``), or an ``iqa fid --format jsonl`` line, which
    carries ``fid``, ``network`` and ``sources``.
    """
    if not isinstance(document, dict):
        raise InputError(
            f"{where}: expected a JSON object written by `iqa ... --format json`, "
            f"found a JSON {_json_type(document)}", path,
        )
    if document.get("tool") == "iqa":
        return
    if all(k in document for k in ("fid", "network", "sources")):
        return
    raise InputError(
        f"{where}: not a result written by iqa (no \"tool\": \"iqa\" key); {_SAVE_HINT}", path
    )


class _NonStrict(ValueError):
    """A ``NaN``, ``Infinity`` or ``-Infinity`` token, which RFC 8259 does not allow."""


def _refuse_constant(token: str) -> Any:
    raise _NonStrict(token)


def _strict_loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse_constant)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "number"


def _read_text(path: str, where: str) -> str:
    """The file's text, refusing anything but a readable regular UTF-8 file.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so
    a named pipe never blocks and a file swapped after a check is still checked.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{where}: no such file", path) from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({_reason(exc)})", path) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"{where}: not a regular file ({_kind(info.st_mode)}); {_SAVE_HINT}",
                         path)
    with os.fdopen(fd, "rb") as stream:
        if info.st_size > MAX_BASELINE_BYTES:
            raise InputError(f"{where}: {info.st_size} bytes, larger than any result "
                             f"({MAX_BASELINE_BYTES} bytes at most); {_SAVE_HINT}", path)
        try:
            data = stream.read(MAX_BASELINE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"{where}: cannot read it ({_reason(exc)})", path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); {_SAVE_HINT}", path,
        ) from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


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
        lines = [_strict_loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        return None
    if len(lines) < 2 or not all(isinstance(line, dict) for line in lines):
        return None
    frames = False
    for line in lines:
        if line.get("type") == "summary":
            summary = line
        else:
            frames = frames or line.get("type") == "frame"
            pairs.append({k: v for k, v in line.items() if k != "type"})
    if frames and isinstance(summary.get("clips"), list):
        # Clips written frame by frame: the summary holds each clip's record, which is
        # what a clip's gate tests (MSE-pooled PSNR, mean SSIM), not its frames.
        pairs = summary["clips"]
    document = {k: v for k, v in summary.items() if k not in ("type", "clips")}
    return {**document, "pairs": pairs}
