"""The gate engine without the command line: expressions, tolerances, baselines, rules."""

from __future__ import annotations

import json
import math

import pytest

from iqa.errors import InputError, UsageError
from iqa.gates import (
    EXACT,
    GateEvaluator,
    Quantity,
    Threshold,
    Tolerance,
    aggregate,
    baseline_from_document,
    check_names,
    compare_values,
    json_number,
    load_baseline,
    parse_gate,
    parse_gates,
    parse_tolerances,
)

INF = math.inf
PSNR = Quantity("psnr", higher_is_better=True, unit="dB")
SSIM = Quantity("ssim", higher_is_better=True)
LPIPS = Quantity("lpips", higher_is_better=False)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("psnr<30", Threshold("psnr", "<", 30.0)),
        (" ssim <= 0.95 ", Threshold("ssim", "<=", 0.95)),
        ("LPIPS>0.1", Threshold("lpips", ">", 0.1)),
        ("fid>=5", Threshold("fid", ">=", 5.0)),
        ("mean(psnr)<32", Threshold("psnr", "<", 32.0, "mean")),
        ("min( ssim ) < 9e-1", Threshold("ssim", "<", 0.9, "min")),
        ("Median(psnr)>-1.5", Threshold("psnr", ">", -1.5, "median")),
        ("max(lpips)>.2", Threshold("lpips", ">", 0.2, "max")),
        ("psnr<inf", Threshold("psnr", "<", INF)),
    ],
)
def test_parse_gate(text, expected):
    assert parse_gate(text) == expected


def test_gate_text_is_canonical_and_keeps_the_exact_limit():
    assert parse_gate(" mean( PSNR ) <  32.0").text == "mean(psnr)<32"
    assert parse_gate("psnr<=42.0211746").text == "psnr<=42.0211746"
    assert parse_gate("psnr<inf").text == "psnr<inf"


@pytest.mark.parametrize(
    "text, message",
    [
        ("psnr", "quote the expression"),
        ("psnr 30", "expected METRIC OP NUMBER"),
        ("psnr=30", "unsupported comparison '='"),
        ("psnr==30", "unsupported comparison '=='"),
        ("psnr!=30", "unsupported comparison '!='"),
        ("psnr<", "expected a number after '<', got ''"),
        ("psnr<30dB", "expected a number after '<', got '30dB'"),
        ("psnr<nan", "got 'nan'"),
        ("avg(psnr)<30", "unknown aggregate 'avg'; use mean, median, min, max"),
        ("mean(psnr<30", "expected METRIC OP NUMBER"),
        ("<30", "expected METRIC OP NUMBER"),
        ("30>psnr", "expected METRIC OP NUMBER"),
        ("mean(psnr, ssim)<3", "expected METRIC OP NUMBER"),
    ],
)
def test_malformed_gates_are_usage_errors(text, message):
    with pytest.raises(UsageError) as err:
        parse_gate(text)
    assert message in str(err.value)
    assert str(err.value).startswith(f"--fail-if {text!r}: ")


def test_repeated_and_comma_separated_gates_are_flattened_once():
    gates = parse_gates(["psnr<30,ssim<0.9", "psnr<30", " min(ssim)<0.8 "])
    assert [g.text for g in gates] == ["psnr<30", "ssim<0.9", "min(ssim)<0.8"]


def test_threshold_fails_and_excess():
    gate = parse_gate("psnr<30")
    assert gate.fails(29.5) and not gate.fails(30.0) and not gate.fails(INF)
    assert gate.excess(29.5) == 0.5
    at = parse_gate("psnr<=30")
    assert at.fails(30.0) and at.excess(30.0) == 0.0
    assert parse_gate("lpips>0.1").fails(0.2) and not parse_gate("lpips>0.1").fails(0.1)
    assert parse_gate("psnr<inf").fails(99.0) and not parse_gate("psnr<inf").fails(INF)


def test_parse_tolerances():
    found = parse_tolerances(["psnr=0.05, ssim=0.1%", "lpips = 1e-3", "psnr=0.02"])
    assert found == {
        "psnr": Tolerance(0.02),  # the last one counts
        "ssim": Tolerance(0.1, relative=True),
        "lpips": Tolerance(0.001),
    }
    assert found["ssim"].text == "0.1%" and found["psnr"].text == "0.02"
    assert Tolerance(0.1, relative=True).allowed(0.9) == pytest.approx(0.0009)
    assert Tolerance(5, relative=True).allowed(INF) == 0.0
    assert Tolerance(0.05).allowed(INF) == 0.05


@pytest.mark.parametrize(
    "text, message",
    [
        ("psnr", "expected METRIC=AMOUNT"),
        ("psnr:0.05", "expected METRIC=AMOUNT"),
        ("psnr=", "'' is not a number"),
        ("psnr=abc", "'abc' is not a number"),
        ("psnr=-0.1", "must be a finite number >= 0"),
        ("psnr=nan", "must be a finite number >= 0"),
        ("psnr=inf", "must be a finite number >= 0"),
        ("ssim=1e400%", "must be a finite number >= 0"),
        ("psnr=0.1%%", "expected METRIC=AMOUNT"),
    ],
)
def test_malformed_tolerances_are_usage_errors(text, message):
    with pytest.raises(UsageError) as err:
        parse_tolerances([text])
    assert message in str(err.value)


def test_unknown_names_suggest_the_closest():
    check_names(["psnr"], ["psnr", "ssim"], "--fail-if")
    with pytest.raises(UsageError) as err:
        check_names(["pnsr"], ["psnr", "ssim", "ms_ssim"], "--fail-if")
    assert str(err.value) == (
        "--fail-if: unknown metric 'pnsr'; did you mean 'psnr'? known: ms_ssim, psnr, ssim "
        "(see `iqa metrics`)"
    )


@pytest.mark.parametrize(
    "value, base, tolerance, higher, two_sided, status",
    [
        (30.0, 30.0, EXACT, True, False, "pass"),
        (30.0 - 1e-12, 30.0, EXACT, True, False, "pass"),  # float noise, not a change
        (29.999, 30.0, EXACT, True, False, "regression"),
        (29.96, 30.0, Tolerance(0.05), True, False, "pass"),
        (29.95, 30.0, Tolerance(0.05), True, False, "pass"),  # on the tolerance: allowed
        (29.9, 30.0, Tolerance(0.05), True, False, "regression"),
        (31.0, 30.0, Tolerance(0.05), True, False, "pass"),
        (31.0, 30.0, Tolerance(0.05), True, True, "improvement"),
        (0.9991, 1.0, Tolerance(0.1, relative=True), True, False, "pass"),
        (0.998, 1.0, Tolerance(0.1, relative=True), True, False, "regression"),
        (0.12, 0.10, Tolerance(0.01), False, False, "regression"),  # lower is better
        (0.08, 0.10, Tolerance(0.01), False, False, "pass"),
        (0.08, 0.10, Tolerance(0.01), False, True, "improvement"),
        (0.0, 0.0, EXACT, False, True, "pass"),
        (INF, INF, EXACT, True, True, "pass"),
        (48.0, INF, Tolerance(1000), True, False, "regression"),
        (48.0, INF, Tolerance(50, relative=True), True, False, "regression"),
        (INF, 48.0, Tolerance(1000), True, False, "pass"),
        (INF, 48.0, Tolerance(1000), True, True, "improvement"),
        (48.0, INF, Tolerance(INF), True, False, "pass"),  # an infinite tolerance allows all
    ],
)
def test_compare_values(value, base, tolerance, higher, two_sided, status):
    assert compare_values(value, base, tolerance, higher, two_sided)[0] == status


def test_regression_against_an_infinite_baseline_is_infinite():
    status, numbers = compare_values(48.0, INF, Tolerance(0.05), True, False)
    assert status == "regression" and numbers["excess"] == INF and numbers["delta"] == -INF
    assert json_number(numbers["delta"]) is None and json_number(numbers["excess"]) is None


def test_aggregates():
    assert aggregate("mean", [1.0, 2.0, 6.0]) == 3.0
    assert aggregate("median", [5.0, 1.0, 2.0]) == 2.0
    assert aggregate("min", [3.0, INF]) == 3.0 and aggregate("max", [3.0, INF]) == INF
    assert aggregate("mean", [30.0, INF]) == INF  # as the report's summary says


def _records(**values):
    return [{"pair": k, "psnr": v, "error": None} for k, v in values.items()]


def test_evaluator_thresholds_and_aggregates():
    ev = GateEvaluator(parse_gates(["psnr<30", "mean(psnr)<35", "max(psnr)<40"]), [PSNR, SSIM])
    failures = [ev.check(r) for r in _records(a=28.0, b=31.0, c=INF)]
    assert failures[0] == ["psnr<30: 28 dB (2 dB below the limit)"]
    assert failures[1:] == [[], []]
    result = ev.finish()
    assert [c.passed for c in result.checks] == [False, True, True] and not result.passed
    doc = result.to_json()
    json.dumps(doc, allow_nan=False)
    mean_check = doc["checks"][1]
    assert mean_check["value"] is None and mean_check["n"] == 3
    assert doc["checks"][0]["failures"][0] == {
        "pair": "a", "value": 28.0, "excess": 2.0,
        "message": "psnr<30: 28 dB (2 dB below the limit)"}


def test_results_without_a_value_are_skipped_and_an_empty_gate_fails():
    ev = GateEvaluator(parse_gates(["ssim<0.5", "mean(ssim)<0.5"]), [PSNR, SSIM])
    assert ev.check({"pair": "x", "psnr": None, "ssim": None, "error": "x.png: corrupt"}) == []
    result = ev.finish()
    assert not result.passed
    per_pair = result.to_json()["checks"][0]
    assert per_pair["skipped"] == [{"pair": "x", "reason": "not scored: x.png: corrupt"}]
    assert per_pair["failures"] == [{"pair": None,
                                     "message": "no result has a ssim value to check"}]


def test_gate_on_a_metric_not_computed_is_a_usage_error():
    with pytest.raises(UsageError, match="lpips is not computed by this run"):
        GateEvaluator(parse_gates(["lpips>0.1"]), [PSNR, SSIM])


def _baseline(**values):
    doc = {"command": "compare", "version": "0.0.9",
           "pairs": [{"pair": k, "psnr": None if v == INF else v,
                      "psnr_band": "identical" if v == INF else "visible", "error": None}
                     for k, v in values.items()]}
    return baseline_from_document(json.loads(json.dumps(doc)), "base.json")


def test_baseline_regressions_improvements_missing_and_new_pairs():
    base = _baseline(a=30.0, b=30.0, same=INF, gone=25.0)
    ev = GateEvaluator([], [PSNR], baseline=base, tolerances={"psnr": Tolerance(0.05)},
                       two_sided=True)
    out = {r["pair"]: ev.check(r) for r in _records(a=29.9, b=30.5, same=INF, new=20.0)}
    assert out["a"] == ["psnr vs baseline: 29.9 dB, baseline 30 dB: 0.1 dB worse "
                        "(tolerance 0.05 dB)"]
    assert out["b"][0].endswith("0.5 dB better (tolerance 0.05 dB); refresh the baseline")
    assert out["same"] == [] and out["new"] == []
    result = ev.finish()
    by_id = {c.id: c.to_json() for c in result.checks}
    psnr = by_id["psnr vs baseline"]
    assert [f["direction"] for f in psnr["failures"]] == ["regression", "improvement"]
    assert psnr["skipped"] == [{"pair": "new", "reason": "new: not in the baseline"}]
    pairs = by_id["pairs in baseline"]
    assert not pairs["passed"] and [f["pair"] for f in pairs["failures"]] == ["gone"]
    assert result.baseline["missing"] == ["gone"] and result.baseline["new"] == ["new"]
    assert result.baseline["version"] == "0.0.9"


def test_identical_baseline_against_a_finite_value_fails_whatever_the_tolerance():
    ev = GateEvaluator([], [PSNR], baseline=_baseline(same=INF),
                       tolerances={"psnr": Tolerance(10, relative=True)})
    assert ev.check(_records(same=80.0)[0]) == [
        "psnr vs baseline: 80 dB, baseline inf dB: inf dB worse (tolerance 10% = 0 dB)"]
    failure = ev.finish().to_json()["checks"][0]["failures"][0]
    assert failure["baseline"] is None and failure["excess"] is None  # as values.strict does
    assert "baseline inf dB" in failure["message"]


def test_baseline_round_trip_through_json_is_exact():
    values = {"a": 0.1 + 0.2, "b": 1 / 3, "c": 48.13080360867910}
    ev = GateEvaluator([], [PSNR], baseline=_baseline(**values))
    assert all(ev.check(r) == [] for r in _records(**values))
    assert ev.finish().passed


def test_lower_is_better_metric_and_an_alias_key():
    kid = Quantity("kid", higher_is_better=False, key="kid_mean")
    fid = Quantity("fid", higher_is_better=False)
    base = baseline_from_document({"command": "fid", "fid": 10.0, "kid_mean": 0.01}, "b.json")
    ev = GateEvaluator(parse_gates(["fid>12", "mean(kid)>0.02"]), [fid, kid], baseline=base,
                       tolerances={"fid": Tolerance(5, relative=True)})
    record = {"real": "r/", "fake": "f/", "fid": 10.4, "kid_mean": 0.011, "kid_std": 0.001,
              "kid": {"subsets": 100, "subset_size": 1000}}
    assert ev.check(record) == [
        "kid vs baseline: 0.011, baseline 0.01: 0.001 worse (exact comparison)"]
    result = ev.finish()
    assert [(c.id, c.passed) for c in result.checks] == [
        ("fid>12", True), ("mean(kid)>0.02", True), ("fid vs baseline", True),
        ("kid vs baseline", False), ("pairs in baseline", True)]


def test_tolerance_for_a_metric_not_compared_is_noted():
    ev = GateEvaluator([], [PSNR, SSIM], baseline=_baseline(a=30.0),
                       tolerances={"ssim": Tolerance(0.1)})
    assert ev.notes == ["--tolerance ssim: not compared with the baseline in this run; ignored"]
    assert [q.name for q in ev.compared] == ["psnr"]


def test_baseline_without_any_metric_of_the_run_is_an_input_error():
    with pytest.raises(InputError, match="has none of the metrics of this run"):
        GateEvaluator([], [SSIM], baseline=_baseline(a=30.0))


def test_load_baseline_reads_json_and_json_lines(tmp_path):
    doc = {"tool": "iqa", "command": "compare", "pairs": [{"pair": "a", "psnr": 31.5}]}
    (tmp_path / "b.json").write_text(json.dumps(doc))
    assert load_baseline(str(tmp_path / "b.json")).records["a"]["psnr"] == 31.5
    lines = [{"type": "pair", "pair": "a", "psnr": 31.5},
             {"type": "summary", "tool": "iqa", "command": "compare", "version": "0.1.0"}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    loaded = load_baseline(str(tmp_path / "b.jsonl"))
    assert loaded.command == "compare" and loaded.records["a"]["psnr"] == 31.5


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "expected a JSON object"),
        ('{"tool": "iqa", "pairs": []}', "holds no results"),
        ('{"tool": "iqa", "pairs": [{"pair": "a"}, {"pair": "a"}]}', "pair 'a' appears twice"),
    ],
)
def test_bad_baselines_are_input_errors(tmp_path, content, message):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        load_baseline(str(path))
    assert message in str(err.value) and str(err.value).startswith(f"--baseline {path}")


def test_a_baseline_value_that_is_not_a_number_names_the_pair():
    base = baseline_from_document({"pairs": [{"pair": "a", "psnr": "high"}]}, "b.json")
    with pytest.raises(InputError, match="pair 'a': psnr is 'high', not a number"):
        GateEvaluator([], [PSNR], baseline=base)


def test_changed_definitions_are_listed():
    base = baseline_from_document(
        {"pairs": [{"pair": "a", "psnr": 1.0}],
         "definitions": {"psnr": {"channels": "all channels"}},
         "settings": {"alpha": "error"}}, "b.json")
    lines = base.changed_definitions({"psnr": {"channels": "BT.601 luma (Y), unrounded"}},
                                     {"alpha": "drop"}, ["psnr"])
    assert lines == [
        "psnr definition changed (channels: 'all channels' -> 'BT.601 luma (Y), unrounded')",
        "setting alpha changed ('error' -> 'drop')",
    ]
