"""The gate options of the commands; the run itself is :class:`iqa.gates.GateRun`.

A command adds the options with :func:`gate_options` (help text per command, chosen by
the command function's name) and builds its :class:`Gates` with :func:`prepare_gates`
before any work; see :mod:`iqa.gates.run` for the rest of the protocol. The CLI part adds
only printing: warnings on stderr and, when the results do not go to stdout as a table,
the verdict of :meth:`iqa.gates.GateOutcome.verdict` on stderr so a CI log shows what
failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import click

from iqa.cli._common import say, warn
from iqa.gates import NOISE_REL, GateOutcome, GateRun, InputProblem, format_number, plan_gates

EXIT_CODES_HELP = (
    "Exit codes: 0 all gates pass, 1 a quality gate failed, 2 usage or input error "
    "(2 wins over 1)."
)
_ALLOW_KEY = "iqa.allow_definition_change"

#: Per command: (--fail-if examples, --baseline text, the noun of one result, options
#: that change a definition).
_HELP = {
    "compare": (
        "'psnr<30', 'ssim<0.95', 'lpips>0.1' test every pair; 'mean(psnr)<32', "
        "'min(ssim)<0.9' (mean, median, min, max) test the whole run.",
        "Compare each result with the same pair in FILE (saved earlier with --format json "
        "-o FILE): a change for the worse beyond --tolerance fails; pairs of FILE missing "
        "from this run fail; new pairs are listed.",
        "pair",
        "--luma, --alpha, --ignore-exif",
    ),
    "fid": (
        "'fid>12', 'kid_mean>0.01' (a gate on kid or kid_mean turns --kid on) test the "
        "run's one result.",
        "Compare FID (and KID) with the same statistics saved earlier in FILE (--format "
        "json -o FILE): a change for the worse beyond --tolerance (e.g. fid=2%) fails.",
        "result",
        "--resize, --alpha, --exif",
    ),
}


def gate_options(fn: Callable) -> Callable:
    """Add --fail-if, --baseline, --tolerance, --two-sided, --allow-definition-change and
    --junit to a command; the help text follows the command (``compare`` or ``fid``)."""
    examples, baseline_help, _, changers = _HELP.get(fn.__name__, _HELP["compare"])
    fn = click.option(
        "--junit", type=click.Path(), default=None, metavar="FILE",
        help="Write a JUnit XML report to FILE: one test case per result and gate, plus "
        "input errors and results missing from the baseline.",
    )(fn)
    fn = click.option(
        "--allow-definition-change", is_flag=True, expose_value=False, is_eager=False,
        callback=_remember_allow,
        help="With --baseline, compare even when a metric definition or a setting that "
        f"changes values ({changers}) differs from the baseline's; "
        "otherwise that is an error (exit 2).",
    )(fn)
    fn = click.option(
        "--two-sided", is_flag=True,
        help="With --baseline, also fail when a result is better than its baseline by more "
        "than the tolerance (so stale baselines get refreshed).",
    )(fn)
    fn = click.option(
        "--tolerance", multiple=True, metavar="NAME=AMOUNT[%]",
        help="Allowed change from the baseline: 'NAME=0.05' absolute, 'NAME=0.1%' relative "
        "to the baseline value. Default: exact (differences below "
        f"{format_number(NOISE_REL)} relative are float noise). Repeatable; comma lists "
        "allowed.",
    )(fn)
    fn = click.option(
        "--baseline", type=click.Path(), default=None, metavar="FILE",
        help=baseline_help,
    )(fn)
    fn = click.option(
        "--fail-if", "fail_if", multiple=True, metavar="EXPR",
        help=f"Fail (exit 1) when EXPR holds. {examples} Operators < <= > >=; quote EXPR in "
        "the shell. Repeatable; comma lists allowed; an empty EXPR is an error.",
    )(fn)
    return fn


def _remember_allow(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta[_ALLOW_KEY] = bool(value)
    return value


@dataclass
class Gates(GateRun):
    """A :class:`GateRun` that warns on stderr and prints the verdict on stderr when
    stdout does not carry the table (``-o FILE``, or ``--format`` csv/json/jsonl)."""

    verdict_noun: str = "pair"
    verdict_on_stderr: bool = False

    def finish(
        self, records: Sequence[dict[str, Any]], problems: Iterable[InputProblem] = (),
        *, write_junit: bool = True,
    ) -> GateOutcome:
        outcome = super().finish(records, problems, write_junit=write_junit)
        if self.verdict_on_stderr and (self.thresholds or self.baseline is not None):
            for line in outcome.verdict(self.verdict_noun):
                say(line)
        return outcome


@dataclass
class _Context:
    output: str | None
    fmt: str
    allow_definition_change: bool
    paths: list[str]  # the values of the command's path options and arguments, but --junit


def _from_click() -> _Context:
    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    meta = ctx.meta if ctx is not None else {}
    return _Context(params.get("output"), params.get("fmt") or "table",
                    bool(meta.get(_ALLOW_KEY, False)), _path_values(ctx))


def _path_values(ctx: click.Context | None) -> list[str]:
    """What the command was given as files and folders (``click.Path`` parameters: the
    inputs, the other reports), which a JUnit error report must never replace."""
    if ctx is None:
        return []
    paths: list[str] = []
    for param in ctx.command.params:
        if param.name == "junit" or not isinstance(param.type, click.Path):
            continue
        value = ctx.params.get(param.name or "")
        values = value if isinstance(value, list | tuple) else [value]
        paths += [str(v) for v in values if v not in (None, "-")]
    return paths


def prepare_gates(
    command: str,
    *,
    fail_if: Sequence[str] = (),
    baseline: str | None = None,
    tolerance: Sequence[str] = (),
    two_sided: bool = False,
    junit: str | None = None,
    extra_names: Iterable[str] = (),
    allow_definition_change: bool | None = None,
    output: str | None = None,
    fmt: str | None = None,
) -> Gates:
    """Parse and check the gate options before any work is done (see
    :func:`iqa.gates.plan_gates`).

    ``allow_definition_change``, ``output`` and ``fmt`` default to the current click
    command's ``--allow-definition-change``, ``-o`` and ``--format``. The verdict goes
    to stderr unless a table goes to stdout (which already shows the gates).

    With --junit, a refusal here or anywhere later in the command writes the one-error
    JUnit report: :func:`plan_gates` for its own, and for those the command raises
    outside :meth:`GateRun.guard` (an unknown metric, an option that does not fit the
    inputs) the command line's error hook (:data:`iqa.cli.ON_ERROR`).
    """
    from iqa.cli import ON_ERROR

    seen = _from_click()
    allow = seen.allow_definition_change if allow_definition_change is None \
        else allow_definition_change
    output = output if output is not None else seen.output
    fmt = fmt or seen.fmt
    run = plan_gates(command, fail_if=fail_if, baseline=baseline, tolerance=tolerance,
                     two_sided=two_sided, junit=junit, allow_definition_change=allow,
                     extra_names=extra_names, warn=warn, protected=seen.paths)
    gates = Gates(**{f.name: getattr(run, f.name) for f in fields(run)},
                  verdict_noun=_HELP.get(command, _HELP["compare"])[2],
                  verdict_on_stderr=fmt != "table" or output not in (None, "-"))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta.setdefault(ON_ERROR, []).append(gates.report_error)
    return gates
