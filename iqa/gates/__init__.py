"""Quality gates: thresholds, aggregates and baselines that decide a run's exit code.

Command-agnostic and free of I/O except reading a baseline file. A command

1. builds a :class:`GateRun` with :func:`plan_gates` (it parses the options with
   :func:`parse_gates` / :func:`parse_tolerances` and reads the baseline with
   :func:`load_baseline`: usage and input errors before any work),
2. binds it to the :class:`Quantity` values its results carry (name, direction from
   ``MetricInfo.higher_is_better``) and the report's definitions (:meth:`GateRun.bind`),
3. calls :meth:`GateRun.check` on each result record as it is produced and
   :meth:`GateRun.finish` at the end, which returns a :class:`GateOutcome`: the
   :class:`GateResult`, the report's ``gates`` section, the exit code
   (:func:`exit_code`) and a short verdict for a log.

A record is a dict with a ``pair`` key (or none, for a command with a single result)
and one value per metric; see :mod:`iqa.gates.evaluate` for the rules.
"""

from iqa.gates.baseline import (
    SINGLE,
    Baseline,
    baseline_from_document,
    load_baseline,
    record_key,
)
from iqa.gates.evaluate import GateEvaluator, aggregate, compare_values
from iqa.gates.expressions import (
    AGGREGATES,
    EXACT,
    OPERATORS,
    Threshold,
    Tolerance,
    check_names,
    format_number,
    parse_gate,
    parse_gates,
    parse_tolerance,
    parse_tolerances,
)
from iqa.gates.results import (
    NOISE_ABS,
    NOISE_REL,
    RULES,
    CheckResult,
    GateResult,
    InputProblem,
    Outcome,
    Quantity,
    json_number,
)
from iqa.gates.run import DEFINITION_HINT, GateOutcome, GateRun, exit_code, plan_gates

__all__ = [
    "DEFINITION_HINT",
    "GateOutcome",
    "GateRun",
    "exit_code",
    "plan_gates",
    "AGGREGATES",
    "EXACT",
    "NOISE_ABS",
    "NOISE_REL",
    "OPERATORS",
    "RULES",
    "SINGLE",
    "Baseline",
    "CheckResult",
    "GateEvaluator",
    "GateResult",
    "InputProblem",
    "Outcome",
    "Quantity",
    "Threshold",
    "Tolerance",
    "aggregate",
    "baseline_from_document",
    "check_names",
    "compare_values",
    "format_number",
    "json_number",
    "load_baseline",
    "parse_gate",
    "parse_gates",
    "parse_tolerance",
    "parse_tolerances",
    "record_key",
]
