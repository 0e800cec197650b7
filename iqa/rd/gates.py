"""Gates on Bjøntegaard deltas: ``--fail-if 'bd_rate(psnr)>0.5'``.

Grammar (case-insensitive, spaces allowed, several gates may be comma-separated)::

    gate      := [aggregate "("] quantity "(" metric ")" [")"] op number ["%"]
    aggregate := mean | min | max      (over sequences; default mean)
    quantity  := bd_rate | bd_quality
    op        := < | <= | > | >=

A gate names the condition that *fails* the run. Without an aggregate it tests the mean
over sequences (what CTC reports): ``bd_rate(psnr)>0.5`` fails when TEST needs more than
0.5 % more bits than ANCHOR for the same PSNR on average; ``bd_quality(psnr)<-0.05``
fails when TEST loses more than 0.05 dB. ``max(bd_rate(psnr))>2`` fails when any one
sequence loses more than 2 %.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from iqa.errors import UsageError
from iqa.rd.report import Analysis

QUANTITIES = ("bd_rate", "bd_quality")
AGGREGATES = ("mean", "min", "max")
_INNER = r"(?P<q>[A-Za-z_]+)\s*\(\s*(?P<m>[A-Za-z_][A-Za-z0-9_]*)\s*\)"
_GATE = re.compile(
    rf"^\s*(?:(?P<agg>[A-Za-z]+)\s*\(\s*{_INNER}\s*\)|{_INNER.replace('?P<', '?P<o')})"
    r"\s*(?P<op><=|>=|<|>)\s*(?P<n>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*%?\s*$"
)


@dataclass(frozen=True)
class BDGate:
    quantity: str
    metric: str
    op: str
    limit: float
    aggregate: str = "mean"

    @property
    def text(self) -> str:
        subject = f"{self.quantity}({self.metric})"
        if self.aggregate != "mean":
            subject = f"{self.aggregate}({subject})"
        return f"{subject}{self.op}{_exact(self.limit)}"

    def fails(self, value: float) -> bool:
        if math.isnan(value):
            return True
        return {"<": value < self.limit, "<=": value <= self.limit,
                ">": value > self.limit, ">=": value >= self.limit}[self.op]


def _exact(limit: float) -> str:
    """The limit as given: ``0.5``, ``-10``, ``0.123456789`` (never rounded)."""
    if limit.is_integer() and abs(limit) < 1e15:
        return str(int(limit))
    return repr(limit)


def parse_gates(expressions: Iterable[str]) -> list[BDGate]:
    gates = []
    for option in expressions:
        for text in option.split(","):
            match = _GATE.match(text)
            quantity = (match["q"] or match["oq"]).lower() if match else ""
            aggregate = (match["agg"] or "mean").lower() if match else ""
            if quantity not in QUANTITIES or aggregate not in AGGREGATES:
                raise UsageError(
                    f"--fail-if {text.strip()!r}: not a gate; write bd_rate(METRIC)>PERCENT or "
                    "bd_quality(METRIC)<AMOUNT, e.g. 'bd_rate(psnr)>0.5' (the mean over "
                    "sequences) or 'max(bd_rate(psnr))>2'; operators < <= > >=")
            metric = (match["m"] or match["om"]).lower()
            gates.append(BDGate(quantity, metric, match["op"], float(match["n"]), aggregate))
    return gates


@dataclass(frozen=True)
class GateCheck:
    gate: BDGate
    value: float
    failed: bool

    @property
    def message(self) -> str:
        unit = " %" if self.gate.quantity == "bd_rate" else ""
        return f"gate {self.gate.text} failed: {self.gate.quantity} = {self.value:.4g}{unit}"


def check(gates: Sequence[BDGate], analysis: Analysis) -> list[GateCheck]:
    """Each gate against the mean (or min / max) over the sequences of ``analysis``."""
    checks = []
    for g in gates:
        if g.aggregate == "mean":
            value = analysis.means[g.metric][g.quantity]
        else:
            values = [s.metrics[g.metric][g.quantity] for s in analysis.sequences]
            value = max(values) if g.aggregate == "max" else min(values)
        checks.append(GateCheck(g, value, g.fails(value)))
    return checks


def section(checks: Sequence[GateCheck]) -> dict:
    """The ``gates`` section of the JSON report."""
    return {
        "passed": not any(c.failed for c in checks),
        "checks": [{"gate": c.gate.text, "value": c.value, "passed": not c.failed}
                   for c in checks],
    }


def write_junit(path: str, checks: Sequence[GateCheck], version: str,
                error: str | None = None) -> None:
    """A JUnit XML file: one test case per gate (or one error when the run failed), well
    formed whatever the file names (:func:`iqa.output.junit.xml_safe`)."""
    from iqa.output import open_output

    root = _junit_tree(checks, version, error)
    ET.indent(root)
    with open_output(path) as stream:  # regular files atomically, pipes/devices through
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(ET.tostring(root, encoding="unicode"))
        stream.write("\n")


def _junit_tree(checks: Sequence[GateCheck], version: str, error: str | None) -> ET.Element:
    from iqa.output.junit import xml_safe

    root = ET.Element("testsuites", name="iqa bdrate")
    suite = ET.SubElement(root, "testsuite", name="iqa bdrate")
    props = ET.SubElement(suite, "properties")
    for name, value in (("iqa.command", "bdrate"), ("iqa.version", version)):
        ET.SubElement(props, "property", name=name, value=value)
    failures = 0
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname="iqa.bdrate", name=c.gate.text)
        if c.failed:
            failures += 1
            ET.SubElement(case, "failure", type="gate", message=c.message)
    if error is not None:
        case = ET.SubElement(suite, "testcase", classname="iqa.bdrate", name="inputs")
        ET.SubElement(case, "error", type="input", message=error)
    count = len(checks) + (error is not None)
    for element in (root, suite):
        element.set("tests", str(count))
        element.set("failures", str(failures))
        element.set("errors", str(int(error is not None)))
    for element in root.iter():
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))
    return root
