"""Gates on Bjøntegaard deltas: ``--fail-if 'bd_rate(psnr)>0.5'``.

Grammar (case-insensitive, spaces allowed, several gates may be comma-separated)::

    gate     := quantity "(" metric ")" op number
    quantity := bd_rate | bd_quality
    op       := < | <= | > | >=

A gate names the condition that *fails* the run and tests the mean over sequences:
``bd_rate(psnr)>0.5`` fails when TEST needs more than 0.5 % more bits than ANCHOR for the
same PSNR; ``bd_quality(psnr)<-0.05`` fails when TEST loses more than 0.05 dB.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iqa.errors import UsageError

QUANTITIES = ("bd_rate", "bd_quality")
_GATE = re.compile(
    r"^\s*(?P<q>[A-Za-z_]+)\s*\(\s*(?P<m>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*(?P<op><=|>=|<|>)"
    r"\s*(?P<n>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*%?\s*$"
)


@dataclass(frozen=True)
class BDGate:
    quantity: str
    metric: str
    op: str
    limit: float

    @property
    def text(self) -> str:
        return f"{self.quantity}({self.metric}){self.op}{self.limit:g}"

    def fails(self, value: float) -> bool:
        if math.isnan(value):
            return True
        return {"<": value < self.limit, "<=": value <= self.limit,
                ">": value > self.limit, ">=": value >= self.limit}[self.op]


def parse_gates(expressions: Iterable[str]) -> list[BDGate]:
    gates = []
    for option in expressions:
        for text in option.split(","):
            match = _GATE.match(text)
            if not match or match["q"].lower() not in QUANTITIES:
                raise UsageError(
                    f"--fail-if {text.strip()!r}: not a gate; write bd_rate(METRIC)>PERCENT or "
                    "bd_quality(METRIC)<AMOUNT, e.g. 'bd_rate(psnr)>0.5' (operators < <= > >=)")
            gates.append(BDGate(match["q"].lower(), match["m"].lower(), match["op"],
                                float(match["n"])))
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


def check(gates: Sequence[BDGate], means: dict[str, dict[str, float]]) -> list[GateCheck]:
    return [GateCheck(g, means[g.metric][g.quantity], g.fails(means[g.metric][g.quantity]))
            for g in gates]


def section(checks: Sequence[GateCheck]) -> dict:
    """The ``gates`` section of the JSON report."""
    return {
        "passed": not any(c.failed for c in checks),
        "checks": [{"gate": c.gate.text, "value": c.value, "passed": not c.failed}
                   for c in checks],
    }


def write_junit(path: str, checks: Sequence[GateCheck], version: str,
                error: str | None = None) -> None:
    """A JUnit XML file: one test case per gate (or one error when the run failed)."""
    root = ET.Element("testsuites", name="iqa bdrate")
    suite = ET.SubElement(root, "testsuite", name="iqa bdrate")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="iqa.version", value=version)
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
    tmp = Path(path).with_name(f".{Path(path).name}.part")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
