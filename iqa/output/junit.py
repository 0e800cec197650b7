r"""JUnit XML reports of quality gates, in the schema GitLab, Jenkins and GitHub reporters read.

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

The report is always well-formed UTF-8 XML, whatever the file names. Every name, message
and property goes through :func:`xml_safe`: a backslash is written ``\\``; tab, newline
and carriage return ``\t`` ``\n`` ``\r``; other control characters (C0 and DEL) ``\xHH``;
C1 controls, lone surrogates and U+FFFE/U+FFFF ``\uHHHH``; and each byte of a file name
that is not UTF-8 (decoded by :func:`os.fsdecode` to U+DC80..U+DCFF) ``\xHH`` with
``HH`` >= 80. :func:`raw_name` reads such a name back into the exact bytes of the file
name; the JSON report carries the names too.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from iqa.gates.expressions import format_number
from iqa.gates.results import ALL_RESULTS, FAIL, SKIP, CheckResult, GateResult, InputProblem

_SHORT = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNSHORT = {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}
_ESCAPE = re.compile(r"\\(\\|t|n|r|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8 (os.fsdecode)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def xml_safe(text: str, keep: str = "") -> str:
    """``text`` with what XML cannot carry (or a log would hide) backslash-escaped.

    Characters in ``keep`` (``"\\n"`` for multi-line text) are left as they are. See the
    module docstring for the escapes; :func:`raw_name` undoes them."""
    if keep:
        return keep.join(xml_safe(part) for part in text.split(keep[0]))
    return _UNSAFE.sub(_escape, text)


def raw_name(text: str) -> bytes:
    """The bytes of the file name that :func:`xml_safe` wrote as ``text``."""
    out = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        out += text[position:match.start()].encode("utf-8", "surrogatepass")
        code = match.group(1)
        if code[0] == "x":
            out.append(int(code[1:], 16))
        elif code[0] == "u":
            out += chr(int(code[1:], 16)).encode("utf-8", "surrogatepass")
        else:
            out += _UNSHORT[code]
        position = match.end()
    out += text[position:].encode("utf-8", "surrogatepass")
    return bytes(out)


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
    for element in root.iter():
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))
        if element.text:
            element.text = xml_safe(element.text, keep="\n")
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
