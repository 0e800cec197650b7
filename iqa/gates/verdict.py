"""A short verdict of a run's gates, for a CI log when the results go to a file.

One head line, then one line per failing gate with the worst results first::

    FAIL 1 of 2 gates on 40 pairs (exit code 1)
      FAIL psnr<30: 3 of 40 pairs: b.png 27.1 dB (2.9 dB below the limit); a.png ...
    PASS 3 gates on 40 pairs

The worst results are those furthest past the limit or the tolerance (``excess``); at
most :data:`WORST` are named, then how many more there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from iqa.gates.results import CheckResult, GateResult, InputProblem, Outcome

#: How many failing results a verdict line names.
WORST = 3


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def verdict_lines(
    result: GateResult,
    problems: Sequence[InputProblem],
    results: int,
    exit_code: int,
    noun: str = "pair",
) -> list[str]:
    """The verdict as lines without a prefix (the command adds ``iqa:``).

    ``results`` is how many results were checked and ``noun`` what one is called
    (``pair`` for ``iqa compare``, ``result`` for ``iqa fid``)."""
    total = len(result.checks)
    failed = result.failed_checks
    on = f"on {_count(results, noun)}"
    gates = (f"FAIL {len(failed)} of {_count(total, 'gate')} {on}" if failed
             else f"PASS {_count(total, 'gate')} {on}")
    fatal = [p for p in problems if p.fatal]
    if fatal:
        problems_text = _count(len(fatal), "input problem")
        head = f"ERROR {problems_text} (exit code {exit_code}); gates: {gates}"
    elif failed:
        head = f"{gates} (exit code {exit_code})"
    else:
        head = gates
    allowed = len(problems) - len(fatal)
    if allowed:
        head += f"; {_count(allowed, 'input problem')} allowed"
    single = results == 1 and noun != "pair"
    return [head, *(f"  FAIL {check.id}: {_detail(check, noun, single)}" for check in failed)]


def _detail(check: CheckResult, noun: str, single: bool) -> str:
    failures = check.failures
    if not failures:
        return check.empty_message or "failed"
    if single or all(o.pair is None for o in failures):
        return "; ".join(_strip(check, o) for o in failures)
    worst = sorted(failures, key=_excess, reverse=True)
    named = "; ".join(f"{_name(o.pair)} {_strip(check, o)}" for o in worst[:WORST])
    more = f" (and {len(worst) - WORST} more)" if len(worst) > WORST else ""
    return f"{len(failures)} of {_count(check.checked, noun)}: {named}{more}"


def _strip(check: CheckResult, outcome: Outcome) -> str:
    if check.type == "baseline_pairs":
        return "missing from this run"
    return outcome.message.removeprefix(f"{check.id}: ")


def _excess(outcome: Outcome) -> float:
    value = outcome.numbers.get("excess", 0.0)
    return float(value) if isinstance(value, int | float) and not math.isnan(value) else 0.0


def _name(pair: str | None) -> str:
    """A result's name on one line: control characters and undecodable bytes escaped."""
    from iqa.output.junit import xml_safe

    return xml_safe(pair or "")
