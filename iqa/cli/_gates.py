"""The gate options of the commands, and the glue between a command and :mod:`iqa.gates`.

A command adds the options with :func:`gate_options`, builds :class:`Gates` with
:func:`prepare_gates` before any work (bad expressions, unknown metrics and unreadable
baselines are usage/input errors, exit 2), and then::

    with gates.guard():                       # an error still leaves a JUnit report
        gates.bind(quantities, context)       # what the results carry
        for record in results:
            gates.check(record)               # adds record["gate_failures"]
            writer.row(record)
        outcome = gates.finish(records, problems)
        report["gates"] = outcome.section     # None when no gate option was given
        writer.end(report)
    return outcome.exit_code

Exit codes: 2 when there is a fatal input problem (it wins over a failed gate),
otherwise 1 when a gate failed, otherwise 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from iqa import __version__
from iqa.cli._common import warn
from iqa.errors import EXIT_GATE_FAILED, EXIT_INPUT, EXIT_OK, IQAError, UsageError
from iqa.gates import (
    NOISE_REL,
    Baseline,
    GateEvaluator,
    GateResult,
    InputProblem,
    Quantity,
    Threshold,
    Tolerance,
    check_names,
    format_number,
    load_baseline,
    parse_gates,
    parse_tolerances,
    record_key,
)

EXIT_CODES_HELP = (
    "Exit codes: 0 all gates pass, 1 a quality gate failed, 2 usage or input error "
    "(2 wins over 1)."
)


def gate_options(fn: Callable) -> Callable:
    """Add --fail-if, --baseline, --tolerance, --two-sided and --junit to a command."""
    fn = click.option(
        "--junit", type=click.Path(dir_okay=False), default=None, metavar="FILE",
        help="Write a JUnit XML report to FILE: one test case per result and gate, plus "
        "input errors and pairs missing from the baseline.",
    )(fn)
    fn = click.option(
        "--two-sided", is_flag=True,
        help="With --baseline, also fail when a result is better than its baseline by more "
        "than the tolerance (so stale baselines get refreshed).",
    )(fn)
    fn = click.option(
        "--tolerance", multiple=True, metavar="NAME=AMOUNT[%]",
        help="Allowed change from the baseline: 'psnr=0.05' absolute, 'ssim=0.1%' relative "
        "to the baseline value. Default: exact (differences below "
        f"{format_number(NOISE_REL)} relative are float noise). Repeatable; comma lists "
        "allowed.",
    )(fn)
    fn = click.option(
        "--baseline", type=click.Path(dir_okay=False), default=None, metavar="FILE",
        help="Compare each result with the same pair in FILE (saved earlier with "
        "--format json -o FILE): a change for the worse beyond --tolerance fails; pairs "
        "of FILE missing from this run fail; new pairs are listed.",
    )(fn)
    fn = click.option(
        "--fail-if", "fail_if", multiple=True, metavar="EXPR",
        help="Fail (exit 1) when EXPR holds. 'psnr<30', 'ssim<0.95', 'lpips>0.1' test every "
        "result; 'mean(psnr)<32', 'min(ssim)<0.9' (mean, median, min, max) test the whole "
        "run. Operators < <= > >=; quote EXPR in the shell. Repeatable; comma lists allowed.",
    )(fn)
    return fn


@dataclass
class GateOutcome:
    result: GateResult | None
    section: dict[str, Any] | None  # the "gates" section of JSON reports
    exit_code: int


@dataclass
class Gates:
    """The gate options of one run, and their evaluation as results come in."""

    command: str
    thresholds: list[Threshold] = field(default_factory=list)
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    baseline: Baseline | None = None
    two_sided: bool = False
    junit: str | None = None
    evaluator: GateEvaluator | None = None
    definition_changes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.thresholds or self.baseline or self.junit)

    @property
    def metric_names(self) -> list[str]:
        """Metrics that --fail-if names, in order (a command may compute them on demand)."""
        names: list[str] = []
        for gate in self.thresholds:
            if gate.metric not in names:
                names.append(gate.metric)
        return names

    @property
    def columns(self) -> list[str]:
        return ["gate_failures"] if self.active else []

    def bind(self, quantities: Sequence[Quantity], context: dict[str, Any]) -> None:
        """Check the gates against what the run computes; warn about baseline mismatches.

        ``context`` is what the report starts with; its ``definitions`` and ``settings``
        are compared with the baseline's."""
        if not self.active:
            return
        self.evaluator = GateEvaluator(
            self.thresholds, quantities, baseline=self.baseline, tolerances=self.tolerances,
            two_sided=self.two_sided,
        )
        for note in self.evaluator.notes:
            warn(note)
        if self.baseline is not None:
            self.definition_changes = self.baseline.changed_definitions(
                context.get("definitions") or {}, context.get("settings") or {},
                [q.name for q in self.evaluator.compared],
            )
            for line in self.definition_changes:
                warn(f"--baseline {self.baseline.path}: {line}")

    def check(self, record: dict[str, Any]) -> dict[str, Any]:
        """Check one result and add ``gate_failures`` (messages; empty when it passes)."""
        if self.evaluator is not None:
            record["gate_failures"] = self.evaluator.check(record)
        return record

    def finish(
        self, records: Sequence[dict[str, Any]], problems: Iterable[InputProblem] = ()
    ) -> GateOutcome:
        """Evaluate the run, write the JUnit report, and decide the exit code."""
        problems = list(problems)
        fatal = any(p.fatal for p in problems)
        if self.evaluator is None:
            return GateOutcome(None, None, EXIT_INPUT if fatal else EXIT_OK)
        result = self.evaluator.finish()
        if result.baseline is not None:
            result.baseline["definition_changes"] = self.definition_changes
        code = EXIT_INPUT if fatal else EXIT_OK if result.passed else EXIT_GATE_FAILED
        section = {
            **result.to_json(),
            "exit_code": code,
            "input_problems": len(problems),
            "input_problems_fatal": fatal,
        }
        if self.junit:
            from iqa.output.junit import write_junit

            write_junit(self.junit, self._suite_name, result,
                        results=[record_key(r) for r in records], problems=problems,
                        properties=self._properties())
        return GateOutcome(result, section, code)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """On an error that ends the run, still write a JUnit report that shows it."""
        try:
            yield
        except IQAError as exc:
            if self.junit:
                from iqa.output.junit import write_junit

                write_junit(self.junit, self._suite_name, None, results=[],
                            problems=[InputProblem(f"iqa {self.command}", str(exc))],
                            properties=self._properties())
            raise

    @property
    def _suite_name(self) -> str:
        return f"iqa {self.command}"

    def _properties(self) -> dict[str, str]:
        props = {"iqa.command": self.command, "iqa.version": __version__}
        if self.baseline is not None:
            props["iqa.baseline"] = self.baseline.path
        return props


def prepare_gates(
    command: str,
    *,
    fail_if: Sequence[str] = (),
    baseline: str | None = None,
    tolerance: Sequence[str] = (),
    two_sided: bool = False,
    junit: str | None = None,
    extra_names: Iterable[str] = (),
) -> Gates:
    """Parse and check the gate options before any work is done.

    Metric names must be registered metrics (``iqa metrics``) or one of ``extra_names``
    (result fields a command offers besides metric names, such as ``kid_mean``).
    """
    from iqa.registry import registered

    thresholds = parse_gates(fail_if)
    tolerances = parse_tolerances(tolerance)
    known = set(registered()) | set(extra_names)
    check_names([g.metric for g in thresholds], known, "--fail-if")
    check_names(tolerances, known, "--tolerance")
    if (tolerances or two_sided) and baseline is None:
        raise UsageError("--tolerance and --two-sided need --baseline FILE")
    if junit:
        folder = Path(junit).parent
        if not folder.is_dir():
            raise UsageError(f"--junit {junit}: folder {folder} does not exist")
    loaded = load_baseline(baseline) if baseline is not None else None
    if loaded is not None and loaded.command and loaded.command != command:
        raise UsageError(
            f"--baseline {baseline}: it holds results of `iqa {loaded.command}`, "
            f"not `iqa {command}`"
        )
    return Gates(command, thresholds, tolerances, loaded, two_sided, junit)
