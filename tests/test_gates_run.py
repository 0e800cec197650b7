"""The library owns a gated run: :class:`iqa.gates.GateRun` and the exit-code rule."""

from __future__ import annotations

import json

import pytest

from iqa.errors import InputError
from iqa.gates import GateRun, InputProblem, Quantity, exit_code, parse_gates, plan_gates
from iqa.gates.results import GateResult

PSNR = Quantity("psnr", higher_is_better=True, unit="dB")


def _result(passed: bool) -> GateResult:
    run = GateRun("compare", parse_gates(["psnr<30"]))
    run.bind([PSNR], {})
    run.check({"pair": "a", "psnr": 40.0 if passed else 20.0})
    return run.evaluator.finish()


@pytest.mark.parametrize(
    "passed, problems, code",
    [
        (True, [], 0),
        (False, [], 1),
        (True, [InputProblem("a", "corrupt")], 2),
        (False, [InputProblem("a", "corrupt")], 2),  # an input error wins over a failed gate
        (False, [InputProblem("a", "skipped", fatal=False)], 1),
        (None, [], 0),
        (None, [InputProblem("a", "corrupt")], 2),
    ],
)
def test_exit_code_rule(passed, problems, code):
    result = None if passed is None else _result(passed)
    assert exit_code(result, problems) == code


def test_a_gated_run_without_the_command_line(tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"tool": "iqa", "command": "compare",
                                "definitions": {"psnr": {"channels": "all"}},
                                "settings": {"pair_by": "path"},
                                "pairs": [{"pair": "a", "psnr": 31.0}]}))
    notes: list[str] = []
    run = plan_gates("compare", fail_if=["psnr<30"], baseline=str(base),
                     tolerance=["psnr=0.5"], warn=notes.append)
    run.bind([PSNR], {"definitions": {"psnr": {"channels": "all"}},
                      "settings": {"pair_by": "stem"}})
    assert notes == [f"--baseline {base}: setting pair_by changed ('path' -> 'stem')"]
    run.check({"pair": "a", "psnr": 30.2})
    outcome = run.finish([{"pair": "a"}])
    assert outcome.exit_code == 1 and outcome.section["exit_code"] == 1
    assert outcome.verdict() == [
        "FAIL 1 of 3 gates on 1 pair (exit code 1)",
        "  FAIL psnr vs baseline: 1 of 1 pair: a 30.2 dB, baseline 31 dB: 0.8 dB worse "
        "(tolerance 0.5 dB)",
    ]


def test_a_changed_definition_is_an_input_error_unless_allowed(tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"tool": "iqa", "command": "compare",
                                "definitions": {"psnr": {"channels": "all"}},
                                "pairs": [{"pair": "a", "psnr": 31.0}]}))
    context = {"definitions": {"psnr": {"channels": "luma"}}}
    with pytest.raises(InputError, match=r"psnr definition changed \(channels: 'all' -> "
                                         r"'luma'\); use a baseline made with the same"):
        plan_gates("compare", baseline=str(base)).bind([PSNR], context)
    with pytest.warns(UserWarning, match="psnr definition changed"):
        plan_gates("compare", baseline=str(base), allow_definition_change=True).bind(
            [PSNR], context)


def test_allow_definition_change_needs_a_baseline():
    with pytest.raises(Exception, match="--allow-definition-change needs --baseline FILE"):
        plan_gates("compare", allow_definition_change=True)
