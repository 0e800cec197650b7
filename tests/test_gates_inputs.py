"""Gate options and baselines that cannot work are refused in one line with exit code 2.

An empty ``--fail-if`` (an unset shell variable) must never turn the gate off, and a
baseline that is not an ``iqa`` result (or not a readable regular JSON file) must never
look like a failed gate (exit 1) or crash (exit 3).
"""

from __future__ import annotations

import errno
import json
import os

import pytest

from iqa.errors import InputError, UsageError
from iqa.gates import load_baseline, parse_gates, parse_tolerances
from tests.cli_helpers import run_iqa
from tests.test_cli_gates import CLEAN, NOISY, compare, make_pairs, one_line_error


@pytest.fixture
def pairs(tmp_path):
    return make_pairs(tmp_path, {"clean.png": CLEAN, "noisy.png": NOISY})


@pytest.mark.parametrize("values", [[""], [","], [" , "], ["psnr<30,"], ["psnr<30,,ssim<0.9"],
                                    ["psnr<30", ""]])
def test_empty_gate_expressions_are_usage_errors(values):
    with pytest.raises(UsageError, match="--fail-if: empty expression"):
        parse_gates(values)


@pytest.mark.parametrize("values", [[""], [","], ["psnr=0.1,"]])
def test_empty_tolerances_are_usage_errors(values):
    with pytest.raises(UsageError, match="--tolerance: empty"):
        parse_tolerances(values)


@pytest.mark.parametrize("expr", ["", ","])
def test_empty_fail_if_on_the_command_line_is_exit_2(pairs, expr):
    line = one_line_error(compare(*pairs, "--fail-if", expr))
    assert "--fail-if: empty expression" in line


_NOT_IQA = json.dumps({"psnr": 30.0, "ssim": 0.5})
_NAN = '{"tool": "iqa", "command": "compare", "pairs": [{"pair": "clean.png", "psnr": NaN}]}'
_INF = '{"tool": "iqa", "command": "compare", "pairs": [{"pair": "clean.png", "psnr": Infinity}]}'
_TEXT_VALUE = json.dumps({"tool": "iqa", "command": "compare",
                          "pairs": [{"pair": "clean.png", "psnr": "high"}]})


@pytest.mark.parametrize(
    "content, message",
    [
        (_NOT_IQA.encode(), "not a result written by iqa"),
        (b"42", "expected a JSON object written by `iqa"),
        (b"[1, 2]", "expected a JSON object written by `iqa"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (_NAN.encode(), "NaN is not strict JSON"),
        (_INF.encode(), "Infinity is not strict JSON"),
        (_TEXT_VALUE.encode(), "pair 'clean.png': psnr is 'high', not a number"),
        (b'{"tool": "iqa", "pairs": [{"pair": "caf\xe9.png", "psnr": 30}]}',
         "not UTF-8 text (invalid byte 0xe9 at offset"),
        (b"", "is empty"),
        (b" \n", "is empty"),
    ],
)
def test_baselines_that_are_not_iqa_results_exit_2_in_one_line(pairs, tmp_path, content,
                                                                message):
    path = tmp_path / "base.json"
    path.write_bytes(content)
    result = compare(*pairs, "--baseline", path, "--format", "json")
    line = one_line_error(result)
    assert f"--baseline {path}" in line and message in line
    assert result.stdout == ""


def test_dev_null_as_baseline_is_not_a_regular_file():
    with pytest.raises(InputError, match=r"/dev/null: not a regular file \(a character "
                                         r"device\); give a JSON file saved with"):
        load_baseline("/dev/null")


def test_a_named_pipe_as_baseline_is_refused_without_waiting(pairs, tmp_path):
    fifo = tmp_path / "base.json"
    os.mkfifo(fifo)
    result = run_iqa("compare", *pairs, "-m", "psnr", "--baseline", fifo, timeout=120)
    assert "not a regular file (a named pipe)" in one_line_error(result)


def test_a_missing_baseline_says_no_such_file(tmp_path):
    with pytest.raises(InputError, match="nope.json: no such file"):
        load_baseline(str(tmp_path / "nope.json"))


def test_an_unreadable_baseline_says_why(tmp_path, monkeypatch):
    path = tmp_path / "base.json"
    path.write_text("{}")
    real_open = os.open

    def denied(name, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(InputError) as caught:
        load_baseline(str(path))
    message = str(caught.value)
    assert message == f"--baseline {path}: cannot read it (permission denied)"


def test_every_iqa_json_result_is_accepted(tmp_path):
    """``tool: iqa`` marks a result; an ``iqa fid --format jsonl`` line (no header) is one too."""
    compare_doc = {"tool": "iqa", "command": "compare", "pairs": [{"pair": "a", "psnr": 30}]}
    fid_line = {"real": "r/", "fake": "f/", "fid": 3.5, "network": "inception", "sources": {}}
    for name, doc in (("c.json", compare_doc), ("f.jsonl", fid_line)):
        (tmp_path / name).write_text(json.dumps(doc) + "\n")
        assert load_baseline(str(tmp_path / name)).records


def test_directories_as_baseline_or_junit_are_one_line(pairs, tmp_path):
    line = one_line_error(compare(*pairs, "--baseline", tmp_path))
    assert f"--baseline {tmp_path}: not a regular file (a directory)" in line
    line = one_line_error(compare(*pairs, "--junit", tmp_path))
    assert f"--junit {tmp_path}: is a directory; give a file name" in line


def test_a_baseline_larger_than_any_result_is_refused_unread(tmp_path):
    from iqa.gates.baseline import MAX_BASELINE_BYTES

    path = tmp_path / "huge.json"
    with open(path, "wb") as stream:
        stream.truncate(MAX_BASELINE_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(InputError, match="larger than any result"):
        load_baseline(str(path))
