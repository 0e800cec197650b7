"""What gate evaluation produces: one outcome per result and check, in JSON-ready form.

Numbers in the ``gates`` section of reports follow the convention of every other section
(:func:`iqa.output.values.strict`): a finite number is a JSON number, a non-finite one
(the infinite PSNR of identical images, an infinite excess against such a baseline) is
``null``; the gate's ``message`` says ``inf``. The report stays strict RFC 8259 JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from iqa.gates.expressions import format_number

NOISE_REL = 1e-9
NOISE_ABS = 1e-12

RULES = {
    "thresholds": "a gate on a metric applies to every result and fails if any result "
    "fails; an aggregate gate applies to mean/median/min/max over the results with a value",
    "empty": "a gate with no value to check fails",
    "baseline": "each result is compared with the baseline value of the same pair; a "
    "change in the worse direction beyond the tolerance fails (with two_sided, in the "
    "better direction too); pairs missing from the run fail, new pairs are listed",
    "exact": f"differences below {format_number(NOISE_REL)} relative or "
    f"{format_number(NOISE_ABS)} absolute are "
    "float noise, not a change",
    "infinite": "identical images have infinite PSNR: inf passes psnr<30; against a "
    "baseline inf equals inf and a finite value is infinitely worse than inf",
    "numbers": "non-finite numbers are null, as in the rest of the report; the message "
    "says inf",
}

PASS, FAIL, SKIP = "pass", "fail", "skip"
ALL_RESULTS = "all results"


@dataclass(frozen=True)
class Quantity:
    """A value that gates can test: its name in expressions and its direction.

    ``key`` is the field of the result records when it differs from ``name``
    (``kid`` read from ``kid_mean``); ``unit`` is used in messages (``dB``).
    """

    name: str
    higher_is_better: bool
    key: str = ""
    unit: str = ""

    @classmethod
    def from_info(cls, info: Any, key: str = "") -> Quantity:
        """The quantity of a metric, from its ``MetricInfo`` (name, direction, unit)."""
        return cls(info.name, bool(info.higher_is_better), key, getattr(info, "unit", ""))

    @property
    def field(self) -> str:
        return self.key or self.name

    def show(self, value: float) -> str:
        text = format_number(value)
        return f"{text} {self.unit}" if self.unit else text


@dataclass(frozen=True)
class InputProblem:
    """A result or input file that could not be used; a ``fatal`` one makes the run
    an input error (exit code 2), which wins over a failed gate."""

    name: str
    message: str
    fatal: bool = True


@dataclass
class Outcome:
    """One result against one check: pass, fail (with a message) or skip (with a reason)."""

    pair: str | None  # None for an aggregate over all results
    status: str
    message: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)  # value, baseline, delta, ...


@dataclass
class CheckResult:
    """One gate and its outcome for each result (or one outcome for an aggregate)."""

    id: str
    type: str  # "threshold", "baseline" or "baseline_pairs"
    spec: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)
    empty_message: str = ""

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAIL]

    @property
    def checked(self) -> int:
        return sum(1 for o in self.outcomes if o.status != SKIP)

    @property
    def passed(self) -> bool:
        return not self.failures and (self.checked > 0 or not self.empty_message)

    def to_json(self) -> dict[str, Any]:
        failures = [
            {"pair": o.pair, **{k: json_number(v) for k, v in o.numbers.items()},
             "message": o.message}
            for o in self.failures
        ]
        if self.checked == 0 and self.empty_message:
            failures.append({"pair": None, "message": self.empty_message})
        return {
            "gate": self.id,
            "type": self.type,
            **self.spec,
            "passed": self.passed,
            "checked": self.checked,
            "failed": len(self.failures),
            "failures": failures,
            "skipped": [
                {"pair": o.pair, "reason": o.message} for o in self.outcomes if o.status == SKIP
            ],
        }


@dataclass
class GateResult:
    """Every check of a run, and what the baseline comparison covered."""

    checks: list[CheckResult]
    gates: list[str]
    baseline: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks_failed": len(self.failed_checks),
            "fail_if": self.gates,
            "checks": [c.to_json() for c in self.checks],
            "baseline": self.baseline,
            "rules": RULES,
        }


def json_number(value: Any) -> Any:
    """A value strict JSON can carry, as :func:`iqa.output.values.strict` writes it:
    a non-finite float becomes None (``null``); anything else is returned as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


