"""`iqa bdrate` on awkward inputs: names that look like markup, mathtext or control
characters, lossless clips, settings that change values, malformed JSON, CSV fields
holding line separators, warnings, gate ids."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from iqa.errors import IQAError
from iqa.output.csv_writer import csv_line
from iqa.rd.curves import read_points
from iqa.rd.gates import BDGate, GateCheck, parse_gates, write_junit
from iqa.rd.report import analyse, choose_metrics
from tests.cli_helpers import ROOT, run_iqa

RATES = [0.1, 0.2, 0.4, 0.8]
PSNR = [30.0, 33.0, 35.5, 37.0]


def run_bdrate(*args, cwd: Path) -> object:
    return run_iqa("bdrate", *args, cwd=cwd, env={"PYTHONPATH": str(ROOT), "IQA_DEBUG": ""})


def curves_csv(path: Path, sequences: list[str], scale: float = 1.0) -> Path:
    lines = [csv_line(["sequence", "bpp", "psnr"])]
    lines += [csv_line([s, repr(r * scale), repr(q)]) for s in sequences
              for r, q in zip(RATES, PSNR)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def compare_json(path: Path, rows: list[dict], settings: dict | None = None,
                 metrics: tuple[str, ...] = ("psnr",)) -> Path:
    doc = {"tool": "iqa", "command": "compare", "metrics": list(metrics),
           "definitions": {m: {"higher_is_better": True, "unit": "dB"} for m in metrics},
           "pairs": rows}
    if settings is not None:
        doc["settings"] = settings
    path.write_text(json.dumps(doc))
    return path


def rows(scale: float = 1.0, metric: str = "psnr") -> list[dict]:
    return [{"pair": f"q{i}/r", "ref": "r.y4m", "dist": f"q{i}/r.mp4", metric: q,
             "kbps": r * scale, "error": None} for i, (r, q) in enumerate(zip(RATES, PSNR))]


def bd(anchor: Path, test: Path, metrics=(), warn=None):
    """What `iqa bdrate` computes (raises the command's IQAError)."""
    messages = [] if warn is None else warn
    a, t = read_points(str(anchor), messages.append), read_points(str(test), messages.append)
    chosen = choose_metrics(a, t, list(metrics), messages.append)
    return analyse(a, t, chosen, "pchip", allow_missing=False, warn=messages.append)


# 1. rich markup in sequence names
def test_table_shows_names_as_they_are_and_keeps_the_verdict(tmp_path):
    names = ["photo [edit].png", "a[/].png", "x[/y]/z.png", "tab\tand\x02.png"]
    anchor = curves_csv(tmp_path / "a.csv", names)
    test = curves_csv(tmp_path / "t.csv", names, scale=0.9)
    junit = tmp_path / "gates.xml"
    proc = run_bdrate(anchor, test, "--fail-if", "bd_rate(psnr)>-5", "--junit", junit,
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for shown in ["photo [edit].png", "a[/].png", "x[/y]/z.png", "tab\\tand\\x02.png"]:
        assert shown in proc.stdout
    assert "\x02" not in proc.stdout and 'failures="0"' in junit.read_text()


# 2. mathtext in plot labels
def test_plot_draws_dollars_as_text(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    from iqa.rd.plot import figure

    anchor = curves_csv(tmp_path / "a.csv", ["s$x$", r"u$\q$"])
    test = curves_csv(tmp_path / "t.csv", ["s$x$", r"u$\q$"], scale=0.9)
    fig = figure(bd(anchor, test), "bpp", ("ANCHOR c$a^b$", r"TEST cost$\q$"))
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(out, format="svg")  # an unparsable `$\q$` raised ValueError here
    svg = out.getvalue()
    for label in ["ANCHOR c$a^b$: s$x$", r"TEST cost$\q$: u$\q$", r"TEST cost$\q$ vs ANCHOR"]:
        assert label in svg


def test_plot_of_a_dollar_file_name_exits_0(tmp_path):
    pytest.importorskip("matplotlib")
    anchor = curves_csv(tmp_path / "cost$\\q$.csv", ["s"])
    test = curves_csv(tmp_path / "t.csv", ["s"], scale=0.9)
    proc = run_bdrate(anchor.name, test.name, "--plot", "rd.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert b"<svg" in (tmp_path / "rd.svg").read_bytes()[:400]


# 3. JUnit with control characters
def test_junit_escapes_control_characters_and_names_the_command(tmp_path):
    gate = parse_gates(["bd_rate(psnr)>0"])[0]
    target = tmp_path / "gates.xml"
    write_junit(str(target), [GateCheck(gate, 1.5, True)], "1.0",
                error="a\x02b.json: no such file")
    text = target.read_text(encoding="utf-8")
    root = ET.fromstring(text.encode())  # well-formed
    assert text.endswith("</testsuites>\n")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props == {"iqa.command": "bdrate", "iqa.version": "1.0"}
    assert root.find(".//error").get("message") == "a\\x02b.json: no such file"
    assert root.find(".//failure") is not None


# 4. lossless clip in video JSON
@pytest.mark.parametrize("metric", ["psnr_y", "psnr_avg"])
def test_lossless_point_of_any_psnr_is_left_out_as_in_csv(tmp_path, metric):
    lossless = {"pair": "lossless/r", "ref": "r.y4m", "dist": "l/r.mp4", metric: None,
                f"{metric}_band": "identical", "kbps": 50.0, "error": None}
    anchor = compare_json(tmp_path / "a.json", rows(metric=metric), metrics=(metric,))
    test = compare_json(tmp_path / "t.json", [*rows(0.9, metric), lossless],
                        metrics=(metric,))
    csv_test = tmp_path / "t.csv"
    csv_test.write_text(f"sequence,kbps,{metric}\n" + "".join(
        f"r.y4m,{r * 0.9!r},{q!r}\n" for r, q in zip(RATES, PSNR)) + "r.y4m,50.0,inf\n")
    warnings: list[str] = []
    from_json = bd(anchor, test, warn=warnings)
    from_csv = bd(anchor, csv_test)
    assert from_json.means == from_csv.means
    assert any(f"infinite {metric} (lossless)" in w for w in warnings)


# 5. settings that change values
@pytest.mark.parametrize("anchor_settings, test_settings, refused", [
    ({"pair_by": "path"}, {"pair_by": "path", "channels": "gray"}, "channels"),
    ({"pair_by": "path"}, {"pair_by": "path", "crop_border": 4}, "crop_border"),
    ({"pair_by": "path", "alpha": "error"}, {"pair_by": "path", "alpha": "drop"}, "alpha"),
    ({"pair_by": "path"}, {"pair_by": "subfolders", "max_image_mb": 50}, None),
    ({"pair_by": "path"}, {"pair_by": "path", "crop_border": 0}, None),
    ({"pair_by": "path", "exif": True}, {"pair_by": "path"}, None),  # only keys both have
    (None, {"pair_by": "path", "channels": "gray"}, None),  # says nothing: not checked
])
def test_settings_that_change_values_are_refused(tmp_path, anchor_settings, test_settings,
                                                 refused):
    anchor = compare_json(tmp_path / "a.json", rows(), anchor_settings)
    test = compare_json(tmp_path / "t.json", rows(0.9), test_settings)
    if refused is None:
        assert bd(anchor, test).means["psnr"]["bd_rate"] == pytest.approx(-10.0)
        return
    with pytest.raises(IQAError) as caught:
        bd(anchor, test)
    assert caught.value.exit_code == 2
    assert "t.json: made with other settings than" in str(caught.value)
    assert f"setting {refused} changed" in str(caught.value)


def test_settings_refusal_through_the_command_line(tmp_path):
    compare_json(tmp_path / "a.json", rows(), {"pair_by": "path"})
    compare_json(tmp_path / "t.json", rows(0.9), {"pair_by": "path", "crop_border": 4})
    proc = run_bdrate("a.json", "t.json", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "iqa: t.json: made with other settings than a.json (setting crop_border changed "
        "(0 -> 4)); run both `iqa compare` with the same options"]


# 6. malformed JSON
HUGE = 10 ** 400


@pytest.mark.parametrize("text, expected", [
    ('{"pairs": []}', "no `pairs`"),
    ('{"pairs": [], "metrics": ["psnr"]}', "no `pairs`"),
    ('{"pairs": [1, 2]}', "pair 1 is int, not an object"),
    (json.dumps({"pairs": [{"ref": "r", "kbps": HUGE, "psnr": 30}]}), "kbps is 1000"),
    (json.dumps({"metrics": ["psnr"], "pairs": [{"ref": "r", "kbps": 1, "psnr": HUGE}]}),
     "psnr is 1000"),
    ('{"pairs": [{"ref": "r.y4m", "kbps": 1, "psnr": 30}], "metrics": "psnr", '
     '"definitions": [1], "settings": 5}', "psnr curve has 1 usable points"),
    ("[" * 100000, "not valid JSON"),
])
def test_malformed_json_is_an_input_error(tmp_path, text, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    good = compare_json(tmp_path / "a.json", rows())
    for anchor, test in ((good, bad), (bad, good)):
        with pytest.raises(IQAError) as caught:
            bd(anchor, test)
        message = str(caught.value)
        assert caught.value.exit_code == 2 and "\n" not in message
        assert "bad.json" in message and expected in message and len(message) < 400


def test_malformed_json_through_the_command_line(tmp_path):
    (tmp_path / "bad.json").write_text('{"pairs": [1, 2]}')
    compare_json(tmp_path / "a.json", rows())
    proc = run_bdrate("a.json", "bad.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "iqa: bad.json: pair 1 is int, not an object; give `iqa compare --format json` "
        "output or a CSV file"]


# 7. CSV records and JSON lines split only at real line ends
ODD_NAMES = ["shot\u2028a.png", "x\x85y.png", "f\x0cg.png", "r\x1cs\x1dt\x1e.png",
             "new\nline.png", "cr\rname.png"]


def test_csv_of_iqa_compare_keeps_names_with_line_separators(tmp_path):
    """`iqa compare --format csv` quotes only , " CR LF: U+2028, NEL, FF, FS/GS/RS stay
    bare, and a quoted name holds a newline."""
    path = curves_csv(tmp_path / "a.csv", ODD_NAMES)
    points = read_points(str(path), lambda _: None)
    assert list(points.sequences) == ODD_NAMES
    assert all(len(p) == len(RATES) for p in points.sequences.values())


def test_jsonl_keeps_names_with_line_separators(tmp_path):
    lines = [json.dumps({"type": "pair", "ref": name, "kbps": r, "psnr": q},
                        ensure_ascii=False)
             for name in ODD_NAMES for r, q in zip(RATES, PSNR)]
    lines.append(json.dumps({"type": "summary", "metrics": ["psnr"]}))
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(read_points(str(path), lambda _: None).sequences) == ODD_NAMES


@pytest.mark.parametrize("text", [
    "\ufeffsequence,kbps,psnr\r\ns,100,30\r\ns,200,33\r\n\r\ns,400,36\r\ns,800,39\r\n",
    "sequence,kbps,psnr\rs,100,30\rs,200,33\rs,400,36\rs,800,39",
    "sequence,kbps,psnr,\ns,100,30,\n\n\ns,200,33,\ns,400,36,\ns,800,39,\n",
])
def test_csv_line_ends_bom_blank_lines_and_trailing_comma(tmp_path, text):
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8", newline="")
    points = read_points(str(path), lambda _: None)
    points.use(["psnr"])
    assert points.metrics == ["psnr"] and points.rate_unit == "kbps"
    assert points.sequences == {"s": [(100.0, {"psnr": 30.0}), (200.0, {"psnr": 33.0}),
                                      (400.0, {"psnr": 36.0}), (800.0, {"psnr": 39.0})]}


def test_csv_error_names_the_line_a_record_starts_on(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('sequence,kbps,psnr\n"two\nlines",100,30\ns,200\n')
    with pytest.raises(IQAError, match="line 4 has 2 cells, the header 3"):
        read_points(str(path), lambda _: None)


# 8. warnings of --method cubic with a plot
def test_cubic_warning_with_plot_and_html_is_one_line(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    quality = [0.999990, 0.999991, 0.999992, 0.999993, 0.999994]
    for name, scale in (("a.csv", 1.0), ("t.csv", 0.9)):
        (tmp_path / name).write_text("rate,ssim\n" + "".join(
            f"{r * scale!r},{q!r}\n" for r, q in zip([1, 2, 4, 8, 16], quality)))
    proc = run_bdrate("a.csv", "t.csv", "--method", "cubic", "--plot", "rd.png", "--html",
                      "rd.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "iqa: warning: --method cubic: Polyfit may be poorly conditioned; --method pchip "
        "does not fit a polynomial"]


# 9. gate ids
@pytest.mark.parametrize("expression, text", [
    ("bd_rate(psnr)>0.123456789", "bd_rate(psnr)>0.123456789"),
    ("max(bd_rate(psnr)) > 2", "max(bd_rate(psnr))>2"),
    ("bd_quality(psnr)<-0.05", "bd_quality(psnr)<-0.05"),
    ("bd_rate(psnr)>1e-7", "bd_rate(psnr)>1e-07"),
])
def test_gate_id_keeps_the_limit_exactly(expression, text):
    gate = parse_gates([expression])[0]
    assert gate.text == text
    assert parse_gates([gate.text])[0] == gate  # the id reads back as the same gate


def test_gate_limit_is_exact_for_any_float():
    for limit in (0.1 + 0.2, 1 / 3, -2.5e-300, 12345678.901234567):
        gate = BDGate("bd_rate", "psnr", ">", limit)
        assert float(gate.text.split(">")[1]) == limit
