"""JUnit XML reports of quality gates, in the schema GitLab, Jenkins and GitHub reporters read.

::

    <testsuites name="iqa compare" tests=".." failures=".." errors=".." skipped="..">
      <testsuite name="psnr&lt;30" tests=".." failures=".." errors="0" skipped="..">
        <properties><property name="iqa.version" value="0.1.0"/></properties>
        <testcase classname="iqa.compare.psnr" name="a.png [psnr&lt;30]">
          <failure message="psnr&lt;30: 28.4 dB (1.6 dB below the limit)" type="gate">..</failure>
        </testcase>

One test suite per gate, one test case per result and gate (an aggregate gate has one
test case, "all results"). Results without a value are ``skipped`` with the reason.
The suite ``inputs`` has one test case per result and per unusable input: an
``error`` when it makes the run fail (exit code 2), ``skipped`` when it was allowed
(``--skip-bad``, ``--allow-unmatched``).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from iqa.gates import CheckResult, GateResult, InputProblem
from iqa.gates.expressions import format_number
from iqa.gates.results import ALL_RESULTS, FAIL, SKIP


def junit_tree(
    name: str,
    result: GateResult | None,
    *,
    results: Sequence[str],
    problems: Sequence[InputProblem],
    properties: Mapping[str, str],
) -> ET.Element:
    """The ``<testsuites>`` element for a run named ``name`` (``"iqa compare"``)."""
    prefix = name.replace(" ", ".")
    root = ET.Element("testsuites", name=name)
    suites = [_gate_suite(check, prefix) for check in (result.checks if result else [])]
    suites.append(_inputs_suite(results, problems, prefix))
    for suite in suites:
        if properties:
            block = ET.Element("properties")
            for key, value in properties.items():
                ET.SubElement(block, "property", name=key, value=value)
            suite.insert(0, block)
        root.append(suite)
    _count(root, suites)
    return root


def write_junit(
    path: str,
    name: str,
    result: GateResult | None,
    *,
    results: Sequence[str],
    problems: Sequence[InputProblem],
    properties: Mapping[str, str],
) -> None:
    """Write the report to ``path`` atomically (UTF-8, with an XML declaration)."""
    from iqa.output import open_output

    root = junit_tree(name, result, results=results, problems=problems, properties=properties)
    ET.indent(root)
    with open_output(path) as stream:
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(ET.tostring(root, encoding="unicode"))
        stream.write("\n")


def _gate_suite(check: CheckResult, prefix: str) -> ET.Element:
    suite = ET.Element("testsuite", name=check.id)
    classname = f"{prefix}.{check.spec.get('metric') or 'baseline'}"
    for outcome in check.outcomes:
        case = ET.SubElement(suite, "testcase", classname=classname,
                             name=f"{outcome.pair or ALL_RESULTS} [{check.id}]")
        if outcome.status == FAIL:
            failure = ET.SubElement(case, "failure", message=outcome.message, type="gate")
            failure.text = _details(outcome.numbers) or outcome.message
        elif outcome.status == SKIP:
            ET.SubElement(case, "skipped", message=outcome.message)
    if check.checked == 0 and check.empty_message:
        case = ET.SubElement(suite, "testcase", classname=classname, name=f"[{check.id}]")
        ET.SubElement(case, "failure", message=check.empty_message, type="gate")
    return suite


def _inputs_suite(
    results: Sequence[str], problems: Sequence[InputProblem], prefix: str
) -> ET.Element:
    suite = ET.Element("testsuite", name="inputs")
    by_name: dict[str, list[InputProblem]] = {}
    for problem in problems:
        by_name.setdefault(problem.name, []).append(problem)
    for name in [*results, *(n for n in by_name if n not in set(results))]:
        case = ET.SubElement(suite, "testcase", classname=f"{prefix}.inputs",
                             name=f"{name} [input]")
        for problem in by_name.get(name, []):
            if problem.fatal:
                error = ET.SubElement(case, "error", message=problem.message, type="input")
                error.text = problem.message
            else:
                ET.SubElement(case, "skipped", message=problem.message)
    return suite


def _details(numbers: Mapping[str, object]) -> str:
    """``key: value`` lines with full-precision numbers (``inf`` for infinities)."""
    lines = []
    for key, value in numbers.items():
        if isinstance(value, float):
            value = repr(value) if math.isfinite(value) else format_number(value)
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _count(root: ET.Element, suites: Sequence[ET.Element]) -> None:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
