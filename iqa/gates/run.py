"""One run's quality gates, from the parsed options to the exit code.

A command builds a :class:`GateRun` with :func:`plan_gates` before any work (bad
expressions, unknown metrics, unreadable baselines are usage/input errors, exit 2), and
then::

    with gates.guard():                       # an error still leaves a JUnit report
        gates.bind(quantities, context)       # what the results carry
        for record in results:
            gates.check(record)               # adds record["gate_failures"]
            writer.row(record)
        outcome = gates.finish(records, problems)
        report["gates"] = outcome.section     # None when no gate option was given
        writer.end(report)
    return outcome.exit_code

The exit code follows :func:`exit_code`. Messages for the user (a tolerance that is not
used, a setting that changed but does not change values) go to the ``warn`` callable,
Python's :mod:`warnings` by default; the library prints nothing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqa.errors import EXIT_GATE_FAILED, EXIT_INPUT, EXIT_OK, InputError, IQAError, UsageError
from iqa.gates.baseline import (
    Baseline,
    load_baseline,
    record_definition_changes,
    record_key,
)
from iqa.gates.evaluate import GateEvaluator
from iqa.gates.expressions import Threshold, Tolerance, check_names, parse_gates, parse_tolerances
from iqa.gates.results import GateResult, InputProblem, Quantity

#: Result fields that gates may name, and the metric that computes each.
FIELD_METRICS = {"kid_mean": "kid"}

DEFINITION_HINT = ("use a baseline made with the same options, or pass "
                   "--allow-definition-change to compare anyway")


def exit_code(result: GateResult | None, problems: Iterable[InputProblem] = ()) -> int:
    """The run's exit code: 2 when an input problem is fatal (it wins over a failed gate),
    otherwise 1 when a gate failed, otherwise 0."""
    if any(p.fatal for p in problems):
        return EXIT_INPUT
    if result is not None and not result.passed:
        return EXIT_GATE_FAILED
    return EXIT_OK


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


@dataclass
class GateOutcome:
    """What :meth:`GateRun.finish` decided: the result, its report section, the exit code."""

    result: GateResult | None
    section: dict[str, Any] | None  # the "gates" section of JSON reports
    exit_code: int
    results: int = 0  # how many results were checked
    problems: list[InputProblem] = field(default_factory=list)

    def verdict(self, noun: str = "pair") -> list[str]:
        """A few lines for a log (see :func:`iqa.gates.verdict.verdict_lines`)."""
        from iqa.gates.verdict import verdict_lines

        if self.result is None or not (self.result.checks or self.problems):
            return []
        return verdict_lines(self.result, self.problems, self.results, self.exit_code, noun)


@dataclass
class GateRun:
    """The gate options of one run, and their evaluation as results come in."""

    command: str
    thresholds: list[Threshold] = field(default_factory=list)
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    baseline: Baseline | None = None
    two_sided: bool = False
    junit: str | None = None
    allow_definition_change: bool = False
    warn: Callable[[str], None] = _warn
    evaluator: GateEvaluator | None = None
    definition_changes: list[str] = field(default_factory=list)
    #: Files and folders the run reads (or writes otherwise): an error report is never
    #: written over one of them (see :meth:`report_error`).
    protected: Sequence[str] = ()
    error_reported: bool = field(default=False, repr=False)

    @property
    def active(self) -> bool:
        return bool(self.thresholds or self.baseline or self.junit)

    @property
    def metric_names(self) -> list[str]:
        """Metrics that --fail-if names, in order (a command may compute them on demand);
        a result field stands for the metric that computes it (``kid_mean``: ``kid``)."""
        names: list[str] = []
        for gate in self.thresholds:
            name = FIELD_METRICS.get(gate.metric, gate.metric)
            if name not in names:
                names.append(name)
        return names

    @property
    def columns(self) -> list[str]:
        return ["gate_failures"] if self.active else []

    def bind(self, quantities: Sequence[Quantity], context: dict[str, Any]) -> None:
        """Check the gates against what the run computes, and the baseline's definitions.

        ``context`` is what the report starts with; its ``definitions`` and ``settings``
        are compared with the baseline's. A change that makes values incomparable (a
        metric's definition, a decoding or resizing setting) raises :class:`InputError`
        unless ``allow_definition_change``, then it is a warning; a change that does not
        touch values (``pair_by``) is always only a warning."""
        if not self.active:
            return
        self.evaluator = GateEvaluator(
            self.thresholds, quantities, baseline=self.baseline, tolerances=self.tolerances,
            two_sided=self.two_sided,
        )
        for note in self.evaluator.notes:
            self.warn(note)
        if self.baseline is None:
            return
        changed, neutral = self.baseline.definition_changes(
            context.get("definitions") or {}, context.get("settings") or {},
            [q.name for q in self.evaluator.compared],
        )
        where = f"--baseline {self.baseline.path}"
        self._changed(changed)
        self.definition_changes += neutral
        for line in neutral:
            self.warn(f"{where}: {line}")

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Before any work: a value-changing setting (resize, alpha, exif) that differs from
        the baseline's is an error now (or, when allowed, a warning), not after the run.

        :meth:`bind` later compares the definitions known only after the run (weights)."""
        if self.baseline is not None:
            changed, _ = self.baseline.definition_changes({}, settings, [])
            self._changed(changed)

    def _changed(self, lines: list[str]) -> None:
        """Definition changes: an input error unless allowed, then warnings."""
        lines = [line for line in lines if line not in self.definition_changes]
        if not lines or self.baseline is None:
            return
        where = f"--baseline {self.baseline.path}"
        if not self.allow_definition_change:
            raise InputError(f"{where}: {'; '.join(lines)}; {DEFINITION_HINT}",
                             self.baseline.path)
        self.definition_changes += lines
        for line in lines:
            self.warn(f"{where}: {line}")

    def check(self, record: dict[str, Any]) -> dict[str, Any]:
        """Check one result and add ``gate_failures`` (messages; empty when it passes).

        A result whose own definition fields (the network and weights of ``iqa fid``,
        :data:`iqa.gates.baseline.RECORD_DEFINITIONS`) differ from its baseline result's
        is a definition change, as in :meth:`bind`."""
        if self.evaluator is not None:
            if self.baseline is not None:
                base = self.baseline.records.get(record_key(record))
                if base is not None:
                    self._changed(record_definition_changes(base, record))
            record["gate_failures"] = self.evaluator.check(record)
        return record

    def finish(
        self, records: Sequence[dict[str, Any]], problems: Iterable[InputProblem] = (),
        *, write_junit: bool = True,
    ) -> GateOutcome:
        """Evaluate the run, write the JUnit report, and decide the exit code.

        With ``write_junit=False`` the caller writes it later with :meth:`write_junit`
        (after its own report is complete, so one report's failure never costs the other).
        """
        problems = list(problems)
        if self.evaluator is None:
            return GateOutcome(None, None, exit_code(None, problems), len(records), problems)
        result = self.evaluator.finish()
        if result.baseline is not None:
            result.baseline["definition_changes"] = self.definition_changes
        code = exit_code(result, problems)
        section = {
            **result.to_json(),
            "exit_code": code,
            "input_problems": len(problems),
            "input_problems_fatal": any(p.fatal for p in problems),
        }
        outcome = GateOutcome(result, section, code, len(records), problems)
        if write_junit:
            self.write_junit(outcome, records)
        return outcome

    def write_junit(self, outcome: GateOutcome, records: Sequence[dict[str, Any]]) -> None:
        """The JUnit report of a finished run (nothing when no --junit was given)."""
        if not self.junit or outcome.result is None:
            return
        from iqa.output.junit import write_junit

        write_junit(self.junit, self.suite_name, outcome.result,
                    results=[record_key(r) for r in records], problems=outcome.problems,
                    properties=self.properties())

    @contextmanager
    def guard(self) -> Iterator[None]:
        """On an error that ends the run, still write a JUnit report that shows it."""
        try:
            yield
        except IQAError as exc:
            self.report_error(str(exc))
            raise

    def report_error(self, message: str) -> None:
        """Write the JUnit report of a run that stopped on ``message`` (once; nothing
        without --junit), atomically, so a stale report of an earlier run never stays.

        The target is checked first as before any work (:func:`check_output_targets`),
        against :attr:`protected` and the baseline too: an error met before the
        command's own check never writes over an input or into a folder that cannot
        take it. An unusable target, or a report that cannot be written, is left
        without a report: the run's own error is the line the user must see."""
        if not self.junit or self.error_reported:
            return
        self.error_reported = True
        from iqa.output.files import check_output_targets
        from iqa.output.junit import write_junit

        inputs = [*self.protected, *([self.baseline.path] if self.baseline else [])]
        try:
            check_output_targets([("--junit", self.junit)], inputs,
                                 input_folders=[p for p in inputs if os.path.isdir(p)])
            write_junit(self.junit, self.suite_name, None, results=[],
                        problems=[InputProblem(self.suite_name, message)],
                        properties=self.properties())
        except IQAError:
            pass

    @property
    def suite_name(self) -> str:
        return f"iqa {self.command}"

    def properties(self) -> dict[str, str]:
        from iqa import __version__

        props = {"iqa.command": self.command, "iqa.version": __version__}
        if self.baseline is not None:
            props["iqa.baseline"] = self.baseline.path
        return props


def plan_gates(
    command: str,
    *,
    fail_if: Sequence[str] = (),
    baseline: str | None = None,
    tolerance: Sequence[str] = (),
    two_sided: bool = False,
    junit: str | None = None,
    allow_definition_change: bool = False,
    extra_names: Iterable[str] = (),
    warn: Callable[[str], None] = _warn,
    protected: Sequence[str] = (),
) -> GateRun:
    """Parse and check the gate options before any work is done.

    Metric names must be registered metrics (``iqa metrics``) or one of ``extra_names``
    (result fields a command offers besides metric names, such as ``kid_mean``).

    --junit is checked first; once it names a usable file, every refusal here (a bad
    expression, a missing, non-strict or foreign baseline) writes the one-error JUnit
    report before it is raised (:meth:`GateRun.report_error`; never over one of the
    ``protected`` paths, the files and folders the command was given).
    """
    if junit:
        folder = Path(junit).parent
        if Path(junit).is_dir():
            raise UsageError(f"--junit {junit}: is a directory; give a file name, e.g. "
                             f"{Path(junit) / 'quality.xml'}")
        if not folder.is_dir():
            raise UsageError(f"--junit {junit}: folder {folder} does not exist")
    run = GateRun(command, two_sided=two_sided, junit=junit,
                  allow_definition_change=allow_definition_change, warn=warn,
                  protected=[*protected, *([baseline] if baseline else [])])
    with run.guard():
        run.thresholds, run.tolerances, run.baseline = _parse_options(
            command, fail_if, baseline, tolerance, two_sided, allow_definition_change,
            extra_names)
    return run


def _parse_options(
    command: str, fail_if: Sequence[str], baseline: str | None, tolerance: Sequence[str],
    two_sided: bool, allow_definition_change: bool, extra_names: Iterable[str],
) -> tuple[list[Threshold], dict[str, Tolerance], Baseline | None]:
    from iqa.registry import registered

    thresholds = parse_gates(fail_if)
    tolerances = parse_tolerances(tolerance)
    known = set(registered()) | set(extra_names)
    check_names([g.metric for g in thresholds], known, "--fail-if")
    check_names(tolerances, known, "--tolerance")
    if (tolerances or two_sided) and baseline is None:
        raise UsageError("--tolerance and --two-sided need --baseline FILE")
    if allow_definition_change and baseline is None:
        raise UsageError("--allow-definition-change needs --baseline FILE")
    loaded = load_baseline(baseline) if baseline is not None else None
    if loaded is not None and loaded.command and loaded.command != command:
        raise UsageError(
            f"--baseline {baseline}: it holds results of `iqa {loaded.command}`, "
            f"not `iqa {command}`"
        )
    return thresholds, tolerances, loaded
