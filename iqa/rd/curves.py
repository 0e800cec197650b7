"""Reading rate–distortion points: CSV files and ``iqa compare`` JSON / JSON Lines.

**CSV**: a header row, then one row per encoding. Column names are case-insensitive.

* the rate: the first of ``kbps``, ``bpp``, ``bytes``, ``rate`` that is present and filled
  in every row (any unit: BD-rate is scale-free, but ANCHOR and TEST must use the same
  column; video clips carry both kbps and bpp, whose ratio W·H·fps/1000 is the same for
  every encoding of a clip, so either gives the same BD-rate; a clip without a frame
  rate has no kbps, so its file's rate is bpp);
* records end at CR, LF or CRLF outside quotes (a quoted cell keeps its line breaks;
  U+2028, form feeds ... are never line ends); a UTF-8 BOM is skipped;
* ``sequence`` (optional): which RD curve a row belongs to; without it, the ``ref``
  column groups the rows (one curve per reference, as in the CSV of ``iqa compare``),
  and without either the whole file is one curve; a row with a non-empty ``error``
  (a pair ``iqa compare`` could not score) is refused;
* every other column is a metric (``psnr``, ``ssim``, ``psnr_y``, ``lpips``, ...) except
  the label columns in :data:`NOT_METRICS` (``qp``, ``crf``, ``codec``, ``file``, ...).
  ``inf`` is an infinite value (lossless PSNR).

**JSON** from ``iqa compare --format json`` (or ``jsonl``): one RD curve per reference
(the ``ref`` field as written, so run both compares from the same folder with the same
reference paths); for clips scored one row per frame (JSON Lines), the clip records of
the summary line's ``clips``; the rate of a row is its ``kbps``, ``bpp``, ``bytes`` or
``rate`` field
(first present), otherwise the size in bytes of its ``dist`` file (looked up relative to
the current folder, then to the JSON file's folder). A row with an ``error`` is refused.
A ``null`` value with ``<metric>_band: "identical"`` (``psnr``, ``psnr_y`` ... of a lossless
encoding) is an infinite PSNR. The document's ``settings`` are kept to be compared
(:func:`iqa.rd.report.check_settings`).

Rules for every curve (:func:`curve`): at least :data:`MIN_POINTS` points; rates finite
and > 0 and all different; metric values finite, except that points with an infinite
quality (lossless: infinite PSNR) are left out of that metric's curve with a warning;
quality strictly increasing with rate (strictly decreasing for lower-is-better metrics).
Anything else is an :class:`~iqa.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.errors import InputError

MIN_POINTS = 4
RATE_COLUMNS = ("kbps", "bpp", "bytes", "rate")
SEQUENCE_COLUMN = "sequence"
#: Columns of a CSV file that are labels or settings, never metrics.
NOT_METRICS = frozenset({
    SEQUENCE_COLUMN, *RATE_COLUMNS, "qp", "crf", "q", "quality", "preset", "codec",
    "encoder", "config", "file", "path", "pair", "ref", "dist", "name", "label", "frames",
    "width", "height", "time", "enc_time", "dec_time", "encode_time", "decode_time",
    "psnr_band", "error", "gate_failures", "type", "fps", "duration", "format",
})
#: Unregistered metric names (or their prefix before "_") where lower is better.
LOWER_IS_BETTER = frozenset({"lpips", "fid", "kid", "dists", "mse", "rmse", "mae", "flip",
                             "butteraugli", "ciede2000"})
ALL = "(all)"  # the sequence name of a file without a sequence column


@dataclass
class PointSet:
    """The RD points of one file: per sequence, a list of (rate, {metric: value})."""

    path: str
    rate_unit: str
    metrics: list[str]
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    sequences: dict[str, list[tuple[float, dict[str, float]]]] = field(default_factory=dict)
    #: Each point's metric values as read (a JSON value or a CSV cell) with where they
    #: are, in the order of ``sequences``; :meth:`use` turns those of the metrics compared
    #: into numbers, so a column left out (a text column, a metric undefined for the
    #: image size) is never checked.
    raw: dict[str, list[dict[str, tuple[Any, str]]]] = field(default_factory=dict)
    #: The ``settings`` of the ``iqa compare`` run (decoding, cropping); empty for a CSV
    #: file or a document that does not say.
    settings: dict[str, Any] = field(default_factory=dict)

    def add(self, sequence: str, rate: float, values: dict[str, tuple[Any, str]]) -> None:
        self.sequences.setdefault(sequence, []).append((rate, {}))
        self.raw.setdefault(sequence, []).append(values)

    def unusable(self, metric: str) -> bool:
        """Whether some point has no number for ``metric`` (an empty cell, a null, text,
        NaN)."""
        for points in self.raw.values():
            for v in points:
                value = v[metric][0]
                if isinstance(value, bool) or value is None:
                    return True
                try:
                    if math.isnan(float(value)):
                        return True
                except (TypeError, ValueError, OverflowError):
                    return True
        return False

    def use(self, metrics: Iterable[str]) -> None:
        """Check and convert the values of ``metrics`` (:class:`InputError` naming the
        cell of the first bad one); the points then hold those metrics only."""
        for sequence, points in self.sequences.items():
            self.sequences[sequence] = [
                (rate, {m: _number(*raw[m], self.path) for m in metrics})
                for (rate, _), raw in zip(points, self.raw[sequence])]


@dataclass(frozen=True)
class Curve:
    """One checked RD curve, sorted by rate; ``dropped`` counts infinite-quality points."""

    rates: np.ndarray
    quality: np.ndarray
    dropped: int = 0


def read_points(path: str, warn: Callable[[str], None]) -> PointSet:
    """The RD points of a CSV or ``iqa compare`` JSON file (chosen by content)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:  # a quoted CR stays a CR
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give a CSV file or `iqa compare --format "
                         "json` output", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc}); give a UTF-8 CSV or JSON file",
                         path) from None
    if text.lstrip().startswith(("{", "[")):
        return _from_compare(path, _json_rows(path, text), warn)
    return _from_csv(path, text)


def _json_rows(path: str, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = _json_lines(path, text)
    if len(lines) == 1 and isinstance(lines[0], dict) and isinstance(lines[0].get("pairs"), list):
        pairs, header = lines[0]["pairs"], lines[0]
    else:
        pairs = [x for x in lines if isinstance(x, dict) and x.get("type") == "pair"]
        header = next((x for x in lines if isinstance(x, dict) and x.get("type") == "summary"),
                      {})
        if not pairs and isinstance(header.get("clips"), list):  # clips scored frame by frame
            pairs = [x for x in header["clips"] if isinstance(x, dict)]
    if not pairs:
        raise InputError(f"{path}: no `pairs` in this JSON; give `iqa compare --format json` "
                         "output or a CSV file", path)
    for i, row in enumerate(pairs, 1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: pair {i} is {type(row).__name__}, not an object; give "
                             "`iqa compare --format json` output or a CSV file", path)
    return pairs, header


def _json_lines(path: str, text: str) -> list[Any]:
    """The JSON document as a list of one, or the objects of JSON Lines."""
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):  # JSONDecodeError, an integer of too many digits
        pass
    try:
        # JSON Lines end at CR or LF only: U+2028 or NEL may be in a string as they are
        return [json.loads(line) for line in re.split("\r\n|\r|\n", text) if line.strip()]
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise InputError(f"{path}: not valid JSON ({reason}); give `iqa compare --format "
                         "json` output or a CSV file", path) from None


def _header_field(header: dict[str, Any], name: str, kind: type) -> Any:
    """``header[name]`` when it is a ``kind`` (a list, a dict), else an empty one."""
    value = header.get(name)
    return value if isinstance(value, kind) else kind()


def _lossless(row: dict[str, Any], metric: str) -> Any:
    """The row's value of ``metric``: ``inf`` for a null with ``<metric>_band:
    "identical"`` (the infinite PSNR of a lossless encoding, psnr_y as psnr)."""
    value = row.get(metric)
    if value is None and row.get(f"{metric}_band") == "identical":
        return math.inf
    return value


def _from_compare(path: str, parsed: tuple[list[dict[str, Any]], dict[str, Any]],
                  warn: Callable[[str], None]) -> PointSet:
    rows, header = parsed
    metrics = [m for m in _header_field(header, "metrics", list) if isinstance(m, str)]
    if not metrics:
        metrics = [k for k, v in rows[0].items() if isinstance(v, int | float)
                   and not isinstance(v, bool) and k.lower() not in NOT_METRICS]
    definitions = _header_field(header, "definitions", dict)
    hib = {m: bool(definitions[m]["higher_is_better"]) for m in metrics
           if isinstance(definitions.get(m), dict) and "higher_is_better" in definitions[m]}
    units = set()
    points = PointSet(path, "", metrics, hib,
                      {m: definitions[m] for m in metrics if isinstance(definitions.get(m), dict)},
                      settings=_header_field(header, "settings", dict))
    for i, row in enumerate(rows, 1):
        where = f"{path}: pair {row.get('pair') or row.get('dist') or i}"
        if row.get("error"):
            raise InputError(f"{where} was not scored ({row['error']}); fix it and rerun "
                             "`iqa compare`", path)
        unit, rate = _row_rate(path, row, where)
        units.add(unit)
        values = {m: (_lossless(row, m), f"{where}: {m}") for m in metrics}
        points.add(str(row.get("ref") or ALL), rate, values)
    if len(units) > 1:
        raise InputError(f"{path}: rows mix rate units ({', '.join(sorted(units))}); give "
                         "every row the same one of bpp, kbps, bytes", path)
    points.rate_unit = units.pop() if units else "bytes"
    if points.rate_unit == "bytes (file size)":
        warn(f"{path}: no bpp/kbps/bytes in the rows; rates are the file sizes of the "
             "distorted files")
    return points


def _row_rate(path: str, row: dict[str, Any], where: str) -> tuple[str, float]:
    for name in RATE_COLUMNS:
        if row.get(name) is not None:
            return name, _rate(row[name], f"{where}: {name}", path)
    dist = row.get("dist")
    if isinstance(dist, str):
        for candidate in (Path(dist), Path(path).parent / dist):
            if candidate.is_file():
                return "bytes (file size)", float(os.path.getsize(candidate))
    raise InputError(f"{where} has no rate (bpp, kbps, bytes) and its file {dist} is not "
                     "found; run the JSON's `iqa compare` folder or add a rate", path)


def _csv_lines(path: str, text: str) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of each CSV record. Records end at CR, LF or CRLF outside
    quotes only (a quoted name keeps its line breaks, U+2028, form feeds ...); the number
    is the line the record starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, line = [], 1
    try:
        for cells in reader:
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not CSV ({exc}); fix the row",
                         path) from None
    return records


def _from_csv(path: str, text: str) -> PointSet:
    records = _csv_lines(path, text)
    header = records[0][1] if records else None
    if not header or not any(h.strip() for h in header):
        raise InputError(f"{path}: empty CSV; give a header row with a rate column "
                         f"({', '.join(RATE_COLUMNS)}) and metric columns", path)
    names = [h.strip().lower() for h in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"{path}: column {duplicated[0]!r} appears twice; rename one", path)
    present = [c for c in RATE_COLUMNS if c in names]
    if not present:
        raise InputError(f"{path}: no rate column; add a column named one of "
                         f"{', '.join(RATE_COLUMNS)} (any unit)", path)
    lines = records[1:]
    filled = [c for c in present if all(
        len(cells) != len(names) or cells[names.index(c)].strip()
        for _, cells in lines if any(x.strip() for x in cells))]
    # the first rate column that every row fills (a clip without a frame rate has an
    # empty kbps cell but a bpp), else the first present, whose empty cell is the error
    rate_col = (filled or present)[0]
    metrics = [n for n in names if n and n not in NOT_METRICS]
    points = PointSet(path, rate_col, metrics)
    for line, cells in lines:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            raise InputError(f"{path}: line {line} has {len(cells)} cells, the header "
                             f"{len(names)}; fix the row", path)
        row = dict(zip(names, (c.strip() for c in cells)))
        where = f"{path}: line {line}"
        if row.get("error"):
            raise InputError(f"{where}: {row.get('pair') or 'the row'} was not scored "
                             f"({row['error']}); fix it and rerun `iqa compare`", path)
        rate = _rate(row[rate_col], f"{where}: {rate_col}", path)
        values = {m: (row[m], f"{where}: {m}") for m in metrics}
        points.add(row.get(SEQUENCE_COLUMN) or row.get("ref") or ALL, rate, values)
    if not points.sequences:
        raise InputError(f"{path}: no data rows; add one row per encoding", path)
    return points


def _number(value: Any, where: str, path: str) -> float:
    """A float from a JSON value or CSV cell; nan and -inf are refused, +inf kept."""
    if isinstance(value, bool) or value is None or value == "":
        raise InputError(f"{where} is empty; give a number", path)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a number; fix the cell or leave the "
                         "column out with --metric", path) from None
    except OverflowError:  # a JSON integer beyond float range (10**400)
        raise InputError(f"{where} is {_short(value)}, beyond the range of a float; give "
                         "a finite number", path) from None
    if math.isnan(number) or number == -math.inf:
        raise InputError(f"{where} is {value}; give a finite number", path)
    return number


def _short(value: Any) -> str:
    """An integer of hundreds of digits as its first digits and its length."""
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def _rate(value: Any, where: str, path: str) -> float:
    rate = _number(value, where, path)
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(f"{where} is {value}; rates must be finite and > 0", path)
    return rate


def registered_info(name: str):
    """The ``info`` of the registered metric ``name``, or None (unknown or broken plugin)."""
    from iqa.errors import IQAError
    from iqa.registry import load, registered

    if name in registered():
        try:
            return load(name).info
        except IQAError:
            return None
    return None


def lower_is_better_by_name(name: str) -> bool:
    """Whether ``name`` is a lower-is-better metric: the registered metric's
    ``higher_is_better``, else :data:`LOWER_IS_BETTER` (name or prefix before "_")."""
    info = registered_info(name)
    if info is not None:
        return not info.higher_is_better
    return name in LOWER_IS_BETTER or name.split("_", 1)[0] in LOWER_IS_BETTER


def curve(
    points: Iterable[tuple[float, dict[str, float]]], metric: str, higher_is_better: bool,
    where: str, path: str,
) -> Curve:
    """The checked curve of one metric (rules in the module docstring)."""
    pairs = sorted((r, v[metric]) for r, v in points)
    kept = [(r, q) for r, q in pairs if not math.isinf(q)]
    dropped = len(pairs) - len(kept)
    if dropped and not higher_is_better:
        raise InputError(f"{where}: {metric} has an infinite value where lower is better; "
                         "fix the value", path)
    if len(kept) < MIN_POINTS:
        extra = f" ({dropped} infinite left out)" if dropped else ""
        raise InputError(f"{where}: {metric} curve has {len(kept)} usable points{extra}; "
                         f"BD needs at least {MIN_POINTS} encodings per curve", path)
    rates = np.array([r for r, _ in kept])
    quality = np.array([q for _, q in kept])
    same = np.flatnonzero(np.diff(rates) == 0)
    if same.size:
        raise InputError(f"{where}: two points with rate {rates[same[0]]:g}; keep one "
                         "encoding per rate", path)
    steps = np.diff(quality) if higher_is_better else -np.diff(quality)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        i = bad[0]
        trend = "rise" if higher_is_better else "fall"
        raise InputError(
            f"{where}: {metric} does not {trend} with rate ({quality[i]:g} at rate "
            f"{rates[i]:g}, {quality[i + 1]:g} at rate {rates[i + 1]:g}); BD needs a strictly "
            "monotonic curve: drop the outlier or leave the metric out with --metric", path)
    return Curve(rates, quality, dropped)
