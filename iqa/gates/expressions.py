"""Parsing ``--fail-if`` expressions and ``--tolerance`` values.

Grammar (whitespace is allowed between the parts, names are case-insensitive)::

    gate       := [aggregate "("] metric [")"] op number
    aggregate  := mean | median | min | max
    op         := < | <= | > | >=
    number     := a decimal or scientific literal, or inf / -inf
    tolerance  := metric "=" amount ["%"]        (amount >= 0)

Several gates or tolerances may be given in one option, separated by commas. A gate
names the condition that *fails* the run: ``psnr<30`` fails every pair whose PSNR is
below 30 dB; ``mean(psnr)<32`` fails when the mean over the pairs is below 32 dB.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from iqa.errors import UsageError

AGGREGATES = ("mean", "median", "min", "max")
OPERATORS = ("<", "<=", ">", ">=")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = re.compile(r"[+-]?(?:inf|infinity|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)", re.IGNORECASE)
_GATE = re.compile(
    rf"^\s*(?:(?P<agg>{_NAME})\s*\(\s*(?P<inner>{_NAME})\s*\)|(?P<metric>{_NAME}))"
    r"\s*(?P<op><=|>=|==|!=|=<|=>|<|>|=)?\s*(?P<rest>.*?)\s*$"
)
_TOLERANCE = re.compile(rf"^\s*(?P<metric>{_NAME})\s*=\s*(?P<amount>[^%\s]*)\s*(?P<pct>%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """One ``--fail-if`` gate: fail when ``value op limit`` holds."""

    metric: str
    op: str
    limit: float
    aggregate: str | None = None

    @property
    def text(self) -> str:
        """The canonical spelling, used as the gate's id in reports (``mean(psnr)<32``)."""
        subject = f"{self.aggregate}({self.metric})" if self.aggregate else self.metric
        return f"{subject}{self.op}{format_exact(self.limit)}"

    def fails(self, value: float) -> bool:
        if self.op == "<":
            return value < self.limit
        if self.op == "<=":
            return value <= self.limit
        if self.op == ">":
            return value > self.limit
        return value >= self.limit

    def excess(self, value: float) -> float:
        """How far a failing value lies past the limit (0 when it sits on the limit)."""
        if value == self.limit:
            return 0.0
        return abs(value - self.limit)


@dataclass(frozen=True)
class Tolerance:
    """How far a value may move from its baseline: absolute, or relative to the baseline."""

    amount: float
    relative: bool = False

    @property
    def text(self) -> str:
        return f"{format_exact(self.amount)}%" if self.relative else format_exact(self.amount)

    def allowed(self, baseline: float) -> float:
        """The largest change allowed around ``baseline`` (a relative one of an infinite
        baseline allows nothing: only an equal infinite value matches it)."""
        if not self.relative:
            return self.amount
        if not math.isfinite(baseline):
            return 0.0
        return abs(baseline) * self.amount / 100.0


EXACT = Tolerance(0.0)


def format_exact(value: float) -> str:
    """The shortest text that reads back as the same float: ``30``, ``0.95``, ``inf``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format_number(value) if not math.isfinite(value) else repr(value)


def format_number(value: float) -> str:
    """Short, exact enough text for a limit or a value: ``30``, ``0.95``, ``inf``."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.6g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


def split_list(values: Iterable[str], option: str) -> list[str]:
    """Repeated options and comma lists, flattened.

    An empty item (``--fail-if ""`` from an unset shell variable, ``","``, a trailing or
    doubled comma) is a usage error: it must never turn a gate off silently.
    """
    items = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                raise UsageError(
                    f"{option}: empty expression in {value!r} (an unset shell variable?); "
                    f"give e.g. {_EXAMPLES[option]}, or leave the option out"
                )
            items.append(part.strip())
    return items


_EXAMPLES = {"--fail-if": "'psnr<30'", "--tolerance": "'psnr=0.05'"}


def parse_gate(text: str) -> Threshold:
    """Parse one gate expression such as ``psnr<30`` or ``min(ssim) < 0.9``."""
    where = f"--fail-if {text!r}"
    match = _GATE.match(text)
    if not match:
        raise UsageError(
            f"{where}: expected METRIC OP NUMBER or AGGREGATE(METRIC) OP NUMBER, "
            "e.g. 'psnr<30' or 'mean(ssim)<0.95'"
        )
    op, rest = match["op"], match["rest"]
    if op is None and not rest:
        raise UsageError(
            f"{where}: missing comparison <, <=, > or >= after the metric (quote the "
            "expression: the shell takes < and > as redirections)"
        )
    if op is None:
        raise UsageError(
            f"{where}: expected METRIC OP NUMBER or AGGREGATE(METRIC) OP NUMBER, "
            "e.g. 'psnr<30' or 'mean(ssim)<0.95'"
        )
    if op not in OPERATORS:
        raise UsageError(f"{where}: unsupported comparison {op!r}; use <, <=, > or >=")
    if not _NUMBER.fullmatch(rest):
        raise UsageError(f"{where}: expected a number after {op!r}, got {rest!r}")
    aggregate = match["agg"].lower() if match["agg"] else None
    if aggregate is not None and aggregate not in AGGREGATES:
        raise UsageError(
            f"{where}: unknown aggregate {match['agg']!r}; use {', '.join(AGGREGATES)}"
        )
    metric = (match["inner"] or match["metric"]).lower()
    return Threshold(metric=metric, op=op, limit=float(rest), aggregate=aggregate)


def parse_gates(values: Iterable[str]) -> list[Threshold]:
    """Every gate of repeated ``--fail-if`` options (each may be a comma list), deduplicated."""
    gates: list[Threshold] = []
    for item in split_list(values, "--fail-if"):
        gate = parse_gate(item)
        if gate not in gates:
            gates.append(gate)
    return gates


def parse_tolerance(text: str) -> tuple[str, Tolerance]:
    """Parse ``psnr=0.05`` (absolute) or ``ssim=0.1%`` (relative to the baseline value)."""
    where = f"--tolerance {text!r}"
    match = _TOLERANCE.match(text)
    if not match:
        raise UsageError(f"{where}: expected METRIC=AMOUNT or METRIC=PERCENT%, e.g. 'psnr=0.05'")
    amount_text = match["amount"]
    try:
        amount = float(amount_text)
    except ValueError:
        raise UsageError(f"{where}: {amount_text!r} is not a number") from None
    if not math.isfinite(amount) or amount < 0:
        raise UsageError(f"{where}: a tolerance must be a finite number >= 0 (an infinite "
                         "one would pass any value, and none against an identical pair)")
    return match["metric"].lower(), Tolerance(amount, relative=bool(match["pct"]))


def parse_tolerances(values: Iterable[str]) -> dict[str, Tolerance]:
    """Tolerances by metric name; when a metric is given twice, the last one counts."""
    return dict(parse_tolerance(item) for item in split_list(values, "--tolerance"))


def check_names(names: Iterable[str], known: Iterable[str], option: str) -> None:
    """Raise a usage error naming the first unknown metric, with the closest known name."""
    known = sorted(set(known))
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            f"{option}: unknown metric {name!r}; {hint}"
            f"known: {', '.join(known) or 'none'} (see `iqa metrics`)"
        )
