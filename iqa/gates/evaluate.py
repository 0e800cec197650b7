"""Evaluating gates on results: thresholds per result, aggregates, and a baseline.

Rules (also written into every report, see :data:`RULES`):

* A threshold on a metric (``psnr<30``) applies to every result; one failing result
  fails the gate. An aggregate (``mean(psnr)<32``) applies to the mean / median / min /
  max over the results that have a value; for a command with a single result it is that
  value. A gate with nothing to check (no result has a value) fails.
* Against a baseline, each result is compared with the baseline value of the same pair.
  A change in the worse direction (from ``higher_is_better``) larger than the tolerance
  fails; with ``two_sided`` a change in the better direction larger than the tolerance
  fails too. Without a tolerance the comparison is exact, but differences below
  :data:`NOISE_REL` relative (or :data:`NOISE_ABS` absolute) are float noise, never a
  change. Pairs of the baseline missing from the run fail; new pairs are listed.
* Infinite values (identical images have an infinite PSNR) compare as numbers: ``inf``
  passes ``psnr<30``; against a baseline, ``inf`` equals ``inf``, and a finite value
  against an infinite baseline is infinitely worse, whatever the tolerance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from iqa.errors import InputError, UsageError
from iqa.gates.baseline import Baseline, record_key, record_value
from iqa.gates.expressions import EXACT, Threshold, Tolerance
from iqa.gates.results import (
    FAIL,
    NOISE_ABS,
    NOISE_REL,
    PASS,
    SKIP,
    CheckResult,
    GateResult,
    Outcome,
    Quantity,
    json_number,
)


def aggregate(name: str, values: Sequence[float]) -> float:
    """``mean``, ``median``, ``min`` or ``max`` of the values (a mean with an infinite
    value is infinite, as in the report's summary)."""
    if name == "mean":
        if all(math.isfinite(v) for v in values):
            return math.fsum(values) / len(values)
        return sum(values) / len(values)
    if name == "median":
        return float(statistics.median(values))
    return min(values) if name == "min" else max(values)


def compare_values(
    value: float, base: float, tolerance: Tolerance, higher_is_better: bool, two_sided: bool
) -> tuple[str, dict[str, float]]:
    """``(status, numbers)`` of one value against its baseline value.

    ``status`` is ``"pass"``, ``"regression"`` or ``"improvement"``; ``numbers`` holds
    ``delta`` (value − baseline), ``allowed`` and ``excess`` (the change beyond the
    tolerance, infinite when exactly one of the two values is infinite).
    """
    allowed = tolerance.allowed(base)
    if value == base:
        return PASS, {"delta": 0.0, "allowed": allowed, "excess": 0.0}
    delta = value - base
    worse = -delta if higher_is_better else delta
    finite = [abs(v) for v in (value, base) if math.isfinite(v)]
    slack = NOISE_REL * max(finite, default=0.0) + NOISE_ABS
    numbers = {"delta": delta, "allowed": allowed, "excess": abs(worse) - allowed}
    if worse > allowed + slack:
        return "regression", numbers
    if two_sided and -worse > allowed + slack:
        return "improvement", numbers
    return PASS, numbers


class GateEvaluator:
    """Checks results one at a time (:meth:`check`), then the whole run (:meth:`finish`).

    Raises :class:`UsageError` when a gate or tolerance names a metric that the run does
    not compute, and :class:`InputError` when the baseline shares no metric with it.
    """

    def __init__(
        self,
        gates: Sequence[Threshold],
        quantities: Sequence[Quantity],
        *,
        baseline: Baseline | None = None,
        tolerances: Mapping[str, Tolerance] | None = None,
        two_sided: bool = False,
    ) -> None:
        self.quantities = {q.name: q for q in quantities}
        for q in quantities:
            self.quantities.setdefault(q.field, q)
        computed = ", ".join(q.name for q in quantities)
        for gate in gates:
            if gate.metric not in self.quantities:
                raise UsageError(
                    f"--fail-if {gate.text}: {gate.metric} is not computed by this run "
                    f"(computed: {computed})"
                )
        self.gates = list(gates)
        self.baseline = baseline
        self.tolerances = dict(tolerances or {})
        self.two_sided = two_sided
        self.notes: list[str] = []  # one line each, for stderr
        self.compared: list[Quantity] = []
        self._base: dict[str, dict[str, float | None]] = {}
        if baseline is not None:
            self._prepare_baseline(baseline, quantities)
        self._pair_checks = [(g, self._threshold_check(g)) for g in self.gates if not g.aggregate]
        self._base_checks = [self._baseline_check(q) for q in self.compared]
        self._values: dict[str, list[float]] = {q.field: [] for q in quantities}
        self._seen: list[str] = []

    def _prepare_baseline(self, baseline: Baseline, quantities: Sequence[Quantity]) -> None:
        self.compared = [q for q in quantities if baseline.has_metric(q.field)]
        if not self.compared:
            raise InputError(
                f"--baseline {baseline.path}: has none of the metrics of this run "
                f"({', '.join(q.name for q in quantities)})",
                baseline.path,
            )
        for name in self.tolerances:
            quantity = self.quantities.get(name)
            if quantity is None or quantity not in self.compared:
                self.notes.append(
                    f"--tolerance {name}: not compared with the baseline in this run; ignored"
                )
        self._base = baseline.values(q.field for q in self.compared)

    def _tolerance(self, quantity: Quantity) -> Tolerance:
        found = self.tolerances.get(quantity.name, self.tolerances.get(quantity.field))
        return found or EXACT

    def _threshold_check(self, gate: Threshold) -> CheckResult:
        quantity = self.quantities[gate.metric]
        spec = {
            "metric": quantity.name,
            "aggregate": gate.aggregate,
            "op": gate.op,
            "limit": json_number(gate.limit),
            "higher_is_better": quantity.higher_is_better,
        }
        return CheckResult(gate.text, "threshold", spec,
                           empty_message=f"no result has a {quantity.name} value to check")

    def _baseline_check(self, quantity: Quantity) -> CheckResult:
        tolerance = self._tolerance(quantity)
        spec = {
            "metric": quantity.name,
            "higher_is_better": quantity.higher_is_better,
            "tolerance": tolerance.text if tolerance.amount else "exact",
            "tolerance_absolute": None if tolerance.relative else json_number(tolerance.amount),
            "tolerance_percent": json_number(tolerance.amount) if tolerance.relative else None,
            "two_sided": self.two_sided,
        }
        return CheckResult(f"{quantity.name} vs baseline", "baseline", spec,
                           empty_message="no result could be compared with the baseline")

    def check(self, record: dict[str, Any]) -> list[str]:
        """Check one result; returns the message of each gate it fails (empty if none)."""
        pair = record_key(record)
        self._seen.append(pair)
        reason = f"not scored: {record['error']}" if record.get("error") else "no value"
        current: dict[str, float | None] = {}
        for field_name, values in self._values.items():
            value = record_value(record, field_name)
            current[field_name] = value
            if value is not None:
                values.append(value)
        failures = []
        for gate, check in self._pair_checks:
            quantity = self.quantities[gate.metric]
            outcome = self._threshold_outcome(pair, gate, quantity, current[quantity.field],
                                              reason)
            check.outcomes.append(outcome)
            if outcome.status == FAIL:
                failures.append(outcome.message)
        for quantity, check in zip(self.compared, self._base_checks):
            outcome = self._baseline_outcome(pair, quantity, current[quantity.field], reason)
            check.outcomes.append(outcome)
            if outcome.status == FAIL:
                failures.append(outcome.message)
        return failures

    @staticmethod
    def _threshold_outcome(
        pair: str | None, gate: Threshold, quantity: Quantity, value: float | None, reason: str
    ) -> Outcome:
        if value is None:
            return Outcome(pair, SKIP, reason)
        numbers = {"value": value}
        if not gate.fails(value):
            return Outcome(pair, PASS, numbers=numbers)
        excess = gate.excess(value)
        numbers["excess"] = excess
        return Outcome(pair, FAIL, f"{gate.text}: {_beyond(quantity, value, gate, excess)}",
                       numbers)

    def _baseline_outcome(
        self, pair: str, quantity: Quantity, value: float | None, reason: str
    ) -> Outcome:
        if pair not in self._base:
            return Outcome(pair, SKIP, "new: not in the baseline")
        base = self._base[pair][quantity.field]
        if base is None:
            return Outcome(pair, SKIP, "the baseline has no value for this pair")
        if value is None:
            return Outcome(pair, SKIP, reason)
        tolerance = self._tolerance(quantity)
        status, numbers = compare_values(value, base, tolerance, quantity.higher_is_better,
                                         self.two_sided)
        numbers = {"value": value, "baseline": base, **numbers}
        if status == PASS:
            return Outcome(pair, PASS, numbers=numbers)
        numbers["direction"] = status
        change = quantity.show(abs(numbers["delta"]))
        allowed = quantity.show(numbers["allowed"])
        if not tolerance.amount:
            rule = "exact comparison"
        elif tolerance.relative:
            rule = f"tolerance {tolerance.text} = {allowed}"
        else:
            rule = f"tolerance {allowed}"
        word = "worse" if status == "regression" else "better"
        message = (f"{quantity.name} vs baseline: {quantity.show(value)}, baseline "
                   f"{quantity.show(base)}: {change} {word} ({rule})")
        if status == "improvement":
            message += "; refresh the baseline"
        return Outcome(pair, FAIL, message, numbers)

    def finish(self) -> GateResult:
        """Aggregate gates and baseline coverage, once every result has been checked."""
        per_result = dict(self._pair_checks)
        checks = [self._aggregate_check(g) if g.aggregate else per_result[g] for g in self.gates]
        checks.extend(self._base_checks)
        info = None
        if self.baseline is not None:
            pairs_check, info = self._coverage(self.baseline)
            checks.append(pairs_check)
        return GateResult(checks, [g.text for g in self.gates], info)

    def _aggregate_check(self, gate: Threshold) -> CheckResult:
        check = self._threshold_check(gate)
        quantity = self.quantities[gate.metric]
        values = self._values[quantity.field]
        if not values:
            return check
        value = aggregate(gate.aggregate or "mean", values)
        check.spec["value"] = json_number(value)
        check.spec["n"] = len(values)
        outcome = self._threshold_outcome(None, gate, quantity, value, "")
        if outcome.status == FAIL:
            outcome.message += f" over {len(values)} result(s)"
        check.outcomes.append(outcome)
        return check

    def _coverage(self, baseline: Baseline) -> tuple[CheckResult, dict[str, Any]]:
        seen = set(self._seen)
        missing = [p for p in baseline.records if p not in seen]
        new = [p for p in self._seen if p not in self._base]
        check = CheckResult("pairs in baseline", "baseline_pairs", {"new": new})
        for pair in baseline.records:
            if pair in seen:
                check.outcomes.append(Outcome(pair, PASS))
            else:
                check.outcomes.append(
                    Outcome(pair, FAIL, f"{pair}: in the baseline but not in this run")
                )
        for pair in new:
            check.outcomes.append(Outcome(pair, SKIP, "new: not in the baseline"))
        run_names = {q.name for q in self.quantities.values()}
        info = {
            "file": baseline.path,
            "command": baseline.command,
            "version": baseline.version,
            "two_sided": self.two_sided,
            "tolerances": {n: t.text for n, t in self.tolerances.items()},
            "default_tolerance": "exact",
            "metrics": [q.name for q in self.compared],
            "only_in_baseline": sorted(set(baseline.definitions) - run_names),
            "only_in_run": sorted(run_names - {q.name for q in self.compared}),
            "pairs": len(baseline.records),
            "missing": missing,
            "new": new,
        }
        return check, info


def _beyond(quantity: Quantity, value: float, gate: Threshold, excess: float) -> str:
    side = "below" if gate.op in ("<", "<=") else "above"
    where = "at the limit" if excess == 0 else f"{quantity.show(excess)} {side} the limit"
    return f"{quantity.show(value)} ({where})"
