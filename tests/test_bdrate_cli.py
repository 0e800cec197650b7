"""`iqa bdrate` through the real command line: formats, gates, plots, bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import ROOT, strict_json

bjontegaard = pytest.importorskip("bjontegaard")

# Until the command is listed in iqa.cli._COMMANDS, add it the way that table does.
_MAIN = ("import sys, iqa.cli; iqa.cli._COMMANDS.setdefault('bdrate', 'iqa.cli.bdrate'); "
         "iqa.cli.main(sys.argv[1:])")


def run_bdrate(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _MAIN, "bdrate", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, timeout=300,
                          env={**os.environ, "IQA_DEBUG": "", "PYTHONPATH": str(ROOT)})


SEQ = {
    "a": ([1358.24, 2486.44, 4593.60, 9487.76], [34.851, 36.845, 38.615, 40.037],
          [1356.24, 2451.52, 4469.00, 9787.80], [34.987, 36.970, 38.651, 40.121]),
    "b": ([0.1, 0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 33.5, 35.6, 37.2],
          [0.09, 0.19, 0.37, 0.7, 1.5], [28.1, 31.2, 33.4, 35.9, 37.1]),
}


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
    return path


def pair_of_csvs(tmp_path: Path, seqs=SEQ) -> tuple[Path, Path]:
    anchor, test = [], []
    for name, (ra, qa, rt, qt) in seqs.items():
        anchor += [[name, r, q, q / 50] for r, q in zip(ra, qa)]
        test += [[name, r, q, q / 50] for r, q in zip(rt, qt)]
    header = ["sequence", "rate", "psnr", "ssim"]
    return (write_csv(tmp_path / "anchor.csv", header, anchor),
            write_csv(tmp_path / "test.csv", header, test))


def reference(fn, ra, qa, rt, qt, method="pchip"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(np.array(ra), np.array(qa), np.array(rt), np.array(qt), method=method,
                  require_matching_points=False)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_json_per_sequence_and_mean_equal_bjontegaard(tmp_path, method):
    anchor, test = pair_of_csvs(tmp_path)
    proc = run_bdrate(anchor, test, "--method", method, "--format", "json", "--metric", "psnr")
    assert proc.returncode == 0, proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["tool"] == "iqa" and doc["command"] == "bdrate" and doc["method"] == method
    assert list(doc["metrics"]) == ["psnr"]
    expected = {s: reference(bjontegaard.bd_rate, *v, method) for s, v in SEQ.items()}
    got = {s["sequence"]: s["metrics"]["psnr"]["bd_rate"] for s in doc["sequences"]}
    for name in SEQ:
        assert got[name] == pytest.approx(expected[name], rel=1e-9)
        q = reference(bjontegaard.bd_psnr, *SEQ[name], method)
        seq = next(s for s in doc["sequences"] if s["sequence"] == name)
        assert seq["metrics"]["psnr"]["bd_quality"] == pytest.approx(q, rel=1e-9)
    mean = doc["metrics"]["psnr"]
    assert mean["sequences"] == 2
    assert mean["bd_rate"] == pytest.approx(sum(expected.values()) / 2, rel=1e-12)


def test_table_and_csv_formats_and_output_file(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    table = run_bdrate(anchor, test)
    assert table.returncode == 0, table.stderr
    assert "psnr BD-rate" in table.stdout and "mean of 2" in table.stdout
    out = tmp_path / "bd.csv"
    proc = run_bdrate(anchor, test, "--format", "csv", "-o", out)
    assert proc.returncode == 0 and proc.stdout == ""
    rows = list(csv.DictReader(out.open()))
    assert [(r["scope"], r["sequence"], r["metric"]) for r in rows] == [
        ("sequence", "a", "psnr"), ("sequence", "a", "ssim"), ("sequence", "b", "psnr"),
        ("sequence", "b", "ssim"), ("mean", "", "psnr"), ("mean", "", "ssim")]
    assert float(rows[0]["bd_rate"]) == pytest.approx(
        reference(bjontegaard.bd_rate, *SEQ["a"]), rel=1e-12)


def test_gates_exit_codes_stderr_and_junit(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    junit = tmp_path / "gates.xml"
    passing = run_bdrate(anchor, test, "--fail-if", "bd_rate(psnr)>0.5", "--junit", junit)
    assert passing.returncode == 0, passing.stderr
    assert passing.stderr == "" and 'failures="0"' in junit.read_text()
    failing = run_bdrate(anchor, test, "--fail-if", "bd_rate(psnr)>-10,bd_quality(psnr)<0.5",
                         "--fail-if", "bd_rate(ssim) > 50", "--format", "json", "--junit", junit)
    assert failing.returncode == 1
    lines = failing.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("iqa: gate ") for line in lines)
    assert "bd_rate(psnr)>-10" in lines[0] and "bd_quality(psnr)<0.5" in lines[1]
    doc = strict_json(failing.stdout)
    assert doc["gates"]["exit_code"] == 1
    assert [c["passed"] for c in doc["gates"]["checks"]] == [False, False, True]
    assert 'failures="2"' in junit.read_text()


def test_swapped_files_follow_the_definition(tmp_path):
    anchor, test = pair_of_csvs(tmp_path, {"a": SEQ["a"]})
    fwd = strict_json(run_bdrate(anchor, test, "--format", "json").stdout)
    back = strict_json(run_bdrate(test, anchor, "--format", "json").stdout)
    b = fwd["metrics"]["psnr"]["bd_rate"]
    assert back["metrics"]["psnr"]["bd_rate"] == pytest.approx((100 / (100 + b) - 1) * 100,
                                                               rel=1e-12)


def test_lower_is_better_metric_and_rate_units(tmp_path):
    rates = [0.2, 0.4, 0.8, 1.6]
    lpips = [0.40, 0.25, 0.15, 0.08]
    anchor = write_csv(tmp_path / "a.csv", ["bpp", "lpips", "qp"],
                       [[r, v, 40 - i] for i, (r, v) in enumerate(zip(rates, lpips))])
    test = write_csv(tmp_path / "t.csv", ["bpp", "lpips", "qp"],
                     [[r * 0.8, v, 40 - i] for i, (r, v) in enumerate(zip(rates, lpips))])
    doc = strict_json(run_bdrate(anchor, test, "--format", "json").stdout)
    assert list(doc["metrics"]) == ["lpips"]  # qp is a label column, not a metric
    assert doc["metrics"]["lpips"]["higher_is_better"] is False
    assert doc["metrics"]["lpips"]["bd_rate"] == pytest.approx(-20.0, abs=1e-9)
    assert doc["sequences"][0]["sequence"] == "(all)"
    other = write_csv(tmp_path / "k.csv", ["kbps", "lpips"], [[r, v] for r, v in
                                                               zip(rates, lpips)])
    proc = run_bdrate(anchor, other)
    assert proc.returncode == 2 and "same rate unit" in proc.stderr


def test_infinite_psnr_point_is_left_out_with_a_warning(tmp_path):
    ra, qa, rt, qt = SEQ["b"]
    anchor = write_csv(tmp_path / "a.csv", ["rate", "psnr"],
                       [*zip(ra, qa), [9.0, "inf"]])
    test = write_csv(tmp_path / "t.csv", ["rate", "psnr"], list(zip(rt, qt)))
    proc = run_bdrate(anchor, test, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "infinite psnr" in proc.stderr and "left out" in proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["metrics"]["psnr"]["bd_rate"] == pytest.approx(
        reference(bjontegaard.bd_rate, ra, qa, rt, qt), rel=1e-9)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<svg")])
def test_plot(tmp_path, suffix, magic):
    anchor, test = pair_of_csvs(tmp_path)
    target = tmp_path / f"rd{suffix}"
    proc = run_bdrate(anchor, test, "--plot", target)
    assert proc.returncode == 0, proc.stderr
    assert magic in target.read_bytes()[:400]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_plot_bad_suffix_is_refused_before_work(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    proc = run_bdrate(anchor, test, "--plot", tmp_path / "rd.gif")
    assert proc.returncode == 2 and proc.stderr.startswith("iqa: --plot")


def compare_doc(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    doc = {"tool": "iqa", "command": "compare", "metrics": ["psnr", "ssim"],
           "definitions": {"psnr": {"higher_is_better": True}, "ssim": {"higher_is_better": True}},
           "pairs": rows}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_compare_json_groups_by_reference_and_uses_bpp(tmp_path):
    def rows(seqs, side):
        out = []
        for ref, v in seqs.items():
            rates, quality = (v[0], v[1]) if side == "a" else (v[2], v[3])
            for r, q in zip(rates, quality):
                out.append({"pair": f"{ref}@{r}", "ref": f"refs/{ref}.png", "dist": "x",
                            "psnr": q, "ssim": q / 50, "bpp": r, "error": None})
        return out

    anchor = compare_doc(tmp_path, "a.json", rows(SEQ, "a"))
    test = compare_doc(tmp_path, "t.json", rows(SEQ, "t"))
    doc = strict_json(run_bdrate(anchor, test, "--format", "json").stdout)
    assert doc["rate"] == "bpp"
    assert [s["sequence"] for s in doc["sequences"]] == ["refs/a.png", "refs/b.png"]
    assert doc["sequences"][1]["metrics"]["psnr"]["bd_rate"] == pytest.approx(
        reference(bjontegaard.bd_rate, *SEQ["b"]), rel=1e-9)


def test_compare_json_without_rates_uses_file_sizes(tmp_path):
    sizes_a, sizes_t = [1000, 2000, 4000, 8000], [900, 1800, 3600, 7200]
    quality = [30.0, 33.0, 35.5, 37.0]
    for sizes, side in ((sizes_a, "a"), (sizes_t, "t")):
        for i, size in enumerate(sizes):
            (tmp_path / f"{side}{i}.bin").write_bytes(b"\0" * size)
    anchor = compare_doc(tmp_path, "a.json", [
        {"ref": "r.png", "dist": f"a{i}.bin", "psnr": q, "ssim": q / 50, "error": None}
        for i, q in enumerate(quality)])
    test = compare_doc(tmp_path, "t.json", [
        {"ref": "r.png", "dist": f"t{i}.bin", "psnr": q, "ssim": q / 50, "error": None}
        for i, q in enumerate(quality)])
    proc = run_bdrate(anchor, test, "--format", "json", "--metric", "psnr")
    assert proc.returncode == 0, proc.stderr
    assert "file sizes" in proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["rate"] == "bytes (file size)"
    assert doc["metrics"]["psnr"]["bd_rate"] == pytest.approx(-10.0, abs=1e-9)


def _bad(tmp_path: Path, anchor_rows, test_rows=None, header=("sequence", "rate", "psnr")):
    good = [["s", r, q] for r, q in zip(SEQ["b"][2], SEQ["b"][3])]
    anchor = write_csv(tmp_path / "anchor.csv", list(header), anchor_rows)
    test = write_csv(tmp_path / "test.csv", ["sequence", "rate", "psnr"], test_rows or good)
    return run_bdrate(anchor, test)


GOOD_A = [["s", r, q] for r, q in zip(SEQ["b"][0], SEQ["b"][1])]


@pytest.mark.parametrize("rows, header, expected", [
    (GOOD_A[:3], None, "at least 4"),
    ([["t", *row[1:]] for row in GOOD_A], None, "no sequence in common"),
    ([row[1:] for row in GOOD_A], ("bits", "psnr"), "no rate column"),
    ([*GOOD_A[:3], ["s", 1.6, "n/a"]], None, "not a number"),
    ([*GOOD_A[:3], ["s", 0, 40]], None, "rates must be finite and > 0"),
    ([*GOOD_A[:3], ["s", -1, 40]], None, "rates must be finite and > 0"),
    ([*GOOD_A, ["s", 0.8, 36.0]], None, "two points with rate 0.8"),
    ([*GOOD_A[:4], ["s", 1.6, 30.0]], None, "does not rise with rate"),
    ([*GOOD_A[:4], ["s", 1.6, "nan"]], None, "give a finite number"),
    ([*GOOD_A[:4], ["s", 1.6, ""]], None, "is empty"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, rows, header, expected):
    proc = _bad(tmp_path, rows, header=header or ("sequence", "rate", "psnr"))
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iqa: ") and "csv" in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_metric_and_missing_sequence(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    proc = run_bdrate(anchor, test, "--metric", "lpips")
    assert proc.returncode == 2 and "anchor.csv: no metric 'lpips'" in proc.stderr
    (tmp_path / "one").mkdir()
    _, test_a_only = pair_of_csvs(tmp_path / "one", {"a": SEQ["a"]})
    proc = run_bdrate(anchor, test_a_only)
    assert proc.returncode == 2 and "no sequence 'b'" in proc.stderr
    allowed = run_bdrate(anchor, test_a_only, "--allow-missing", "--format", "json")
    assert allowed.returncode == 0 and "left out of the means" in allowed.stderr
    assert strict_json(allowed.stdout)["metrics"]["psnr"]["sequences"] == 1


def test_input_error_with_junit_still_writes_the_report(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    junit = tmp_path / "gates.xml"
    proc = run_bdrate(anchor, tmp_path / "missing.csv", "--fail-if", "bd_rate(psnr)>0",
                      "--junit", junit)
    assert proc.returncode == 2 and "missing.csv: no such file" in proc.stderr
    assert 'errors="1"' in junit.read_text()


@pytest.mark.parametrize("gate, expected", [
    ("psnr>0.5", "not a gate"),
    ("bd_rate(psnr)=0.5", "not a gate"),
    ("bd_rate(vmaf)>0.5", "vmaf is not compared"),
])
def test_bad_gate_is_a_usage_error(tmp_path, gate, expected):
    anchor, test = pair_of_csvs(tmp_path)
    proc = run_bdrate(anchor, test, "--fail-if", gate)
    assert proc.returncode == 2 and expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_end_to_end_jpeg_vs_webp_from_iqa_compare(tmp_path):
    """Encode the sample at 4 JPEG and 4 WebP qualities, `iqa compare` each set, then
    `iqa bdrate` with a gate and a plot: equal to bjontegaard on the file sizes."""
    from PIL import Image

    from tests.cli_helpers import run_iqa

    image = Image.open(ROOT / "sample_images" / "reference.png").convert("RGB")
    ref = tmp_path / "reference.png"
    image.save(ref)
    curves = {}
    for codec, ext, qualities in (("jpeg", "jpg", (40, 60, 80, 90)),
                                  ("webp", "webp", (20, 50, 70, 85))):
        files = []
        for q in qualities:
            files.append(tmp_path / f"{codec}_q{q}.{ext}")
            image.save(files[-1], quality=q)
        proc = run_iqa("compare", "reference.png", *[f.name for f in files], "-m", "psnr",
                       "--format", "json", "-o", f"{codec}.json", cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
        pairs = json.loads((tmp_path / f"{codec}.json").read_text())["pairs"]
        curves[codec] = ([(tmp_path / p["dist"]).stat().st_size for p in pairs],
                         [p["psnr"] for p in pairs])
    plot = tmp_path / "rd.svg"
    proc = run_bdrate("jpeg.json", "webp.json", "--fail-if", "bd_rate(psnr)>0.5", "--plot",
                      plot, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["rate"] == "bpp"  # every compare row carries bpp; BD-rate is scale-free
    expected = reference(bjontegaard.bd_rate, *curves["jpeg"], *curves["webp"])
    assert doc["metrics"]["psnr"]["bd_rate"] == pytest.approx(expected, rel=1e-9)
    assert expected < -20  # WebP needs far fewer bytes than JPEG for the same PSNR
    assert b"<svg" in plot.read_bytes()[:400]
    swapped = run_bdrate("webp.json", "jpeg.json", "--fail-if", "bd_rate(psnr)>0.5",
                         cwd=tmp_path)
    assert swapped.returncode == 1
    assert swapped.stderr.strip().splitlines()[-1].startswith("iqa: gate bd_rate(psnr)>0.5")


@pytest.mark.parametrize("broken, expected", [
    ({"error": "cannot decode x.jpg"}, "was not scored (cannot decode x.jpg)"),
    ({"bpp": None, "dist": "gone.jpg"}, "has no rate (bpp, kbps, bytes)"),
    ({"psnr": None}, "is empty"),
    ({"psnr": None, "psnr_band": "identical"}, "usable points (1 infinite left out)"),
])
def test_bad_compare_json_is_one_line_exit_2(tmp_path, broken, expected):
    rates, quality = [0.1, 0.2, 0.4, 0.8], [30.0, 33.0, 35.5, 37.0]
    rows = [{"pair": f"q{i}", "ref": "r.png", "dist": f"q{i}.jpg", "psnr": q, "ssim": q / 50,
             "bpp": r, "error": None} for i, (r, q) in enumerate(zip(rates, quality))]
    anchor = compare_doc(tmp_path, "a.json", rows)
    rows[1] = {**rows[1], **broken}
    test = compare_doc(tmp_path, "t.json", rows)
    proc = run_bdrate(anchor, test, "--metric", "psnr")
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("iqa: ") and "t.json" in last and expected in last


def test_worst_sequence_gates(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    per_seq = [reference(bjontegaard.bd_rate, *SEQ[s]) for s in SEQ]
    worst, best = max(per_seq), min(per_seq)
    mean = sum(per_seq) / 2
    ok = run_bdrate(anchor, test, "--fail-if", f"max(bd_rate(psnr))>{worst + 0.01}",
                    "--fail-if", f"bd_rate(psnr)>{mean + 0.01}")
    assert ok.returncode == 0, ok.stderr
    proc = run_bdrate(anchor, test, "--format", "json", "--fail-if",
                      f"max(bd_rate(psnr))>{worst - 0.01},min(bd_rate(psnr))<{best - 0.01}")
    assert proc.returncode == 1
    checks = strict_json(proc.stdout)["gates"]["checks"]
    assert [c["passed"] for c in checks] == [False, True]
    assert checks[0]["value"] == pytest.approx(worst, rel=1e-9)
    assert checks[0]["gate"].startswith("max(bd_rate(psnr))>")


def test_differently_defined_metric_is_refused(tmp_path):
    """PSNR on luma (`iqa compare --luma`) against PSNR on RGB is not one metric."""
    rows = [{"pair": f"q{i}", "ref": "r.png", "dist": f"q{i}.jpg", "psnr": q, "ssim": q / 50,
             "bpp": r, "error": None}
            for i, (r, q) in enumerate(zip([0.1, 0.2, 0.4, 0.8], [30.0, 33.0, 35.5, 37.0]))]
    anchor = compare_doc(tmp_path, "a.json", rows)
    doc = json.loads(anchor.read_text())
    doc["definitions"]["psnr"]["channels"] = "BT.601 luma"
    test = tmp_path / "t.json"
    test.write_text(json.dumps(doc))
    proc = run_bdrate(anchor, test, "--metric", "psnr")
    assert proc.returncode == 2
    assert "t.json: psnr is defined differently" in proc.stderr and "channels" in proc.stderr
    assert run_bdrate(anchor, test, "--metric", "ssim").returncode == 0


def test_poorly_conditioned_cubic_fit_is_a_warning_line(tmp_path):
    rates = [1, 2, 4, 8, 16]
    quality = [0.999990, 0.999991, 0.999992, 0.999993, 0.999994]
    anchor = write_csv(tmp_path / "a.csv", ["rate", "ssim"], list(zip(rates, quality)))
    test = write_csv(tmp_path / "t.csv", ["rate", "ssim"],
                     [[r * 0.9, q] for r, q in zip(rates, quality)])
    proc = run_bdrate(anchor, test, "--method", "cubic")
    assert proc.returncode == 0
    assert proc.stderr.strip().splitlines() == [
        "iqa: warning: --method cubic: Polyfit may be poorly conditioned; --method pchip "
        "does not fit a polynomial"]
    pchip = strict_json(run_bdrate(anchor, test, "--format", "json").stdout)
    assert pchip["metrics"]["ssim"]["bd_rate"] == pytest.approx(-10.0, abs=1e-6)


def test_plot_and_junit_follow_the_umask_and_write_through_links(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    real_plot, real_junit = tmp_path / "real.png", tmp_path / "real.xml"
    real_plot.write_bytes(b"old")
    real_junit.write_text("old")
    os.chmod(real_plot, 0o640)
    (tmp_path / "rd.png").symlink_to(real_plot)
    (tmp_path / "gates.xml").symlink_to(real_junit)
    new_plot = tmp_path / "new.svg"
    old_mask = os.umask(0o022)
    try:
        for plot in (tmp_path / "rd.png", new_plot):
            proc = run_bdrate(anchor, test, "--plot", plot, "--fail-if", "bd_rate(psnr)>1000",
                              "--junit", tmp_path / "gates.xml")
            assert proc.returncode == 0, proc.stderr
    finally:
        os.umask(old_mask)
    assert (tmp_path / "rd.png").is_symlink() and (tmp_path / "gates.xml").is_symlink()
    assert real_plot.read_bytes()[:4] == b"\x89PNG" and os.stat(real_plot).st_mode & 0o777 == 0o640
    assert os.stat(new_plot).st_mode & 0o777 == 0o644
    assert "<testsuites" in real_junit.read_text()


def test_columns_not_compared_are_not_read_as_numbers(tmp_path):
    """A text column, or a metric with empty cells (MS-SSIM of small images is null in
    `iqa compare` output), does not stop a BD-rate of the metrics compared: left out with
    --metric, and left out with a warning when every shared metric is compared."""
    anchor, test = pair_of_csvs(tmp_path)
    for path in (anchor, test):
        rows = list(csv.reader(path.open()))
        rows[0] += ["notes", "ms_ssim"]
        for row in rows[1:]:
            row += ["a, b", ""]
        write_csv(path, rows[0], rows[1:])
    named = run_bdrate(anchor, test, "--metric", "psnr", "--format", "json")
    assert named.returncode == 0, named.stderr
    expected = reference(bjontegaard.bd_rate, *SEQ["a"])
    got = {s["sequence"]: s["metrics"]["psnr"]["bd_rate"]
           for s in strict_json(named.stdout)["sequences"]}
    assert got["a"] == pytest.approx(expected, rel=1e-9)
    every = run_bdrate(anchor, test, "--format", "json")
    assert every.returncode == 0, every.stderr
    assert list(strict_json(every.stdout)["metrics"]) == ["psnr", "ssim"]
    assert "notes, ms_ssim has no number in some rows; left out" in every.stderr
    asked = run_bdrate(anchor, test, "--metric", "psnr,ms_ssim")
    assert asked.returncode == 2 and "ms_ssim is empty" in asked.stderr


def test_outputs_naming_an_input_are_refused_before_any_work(tmp_path):
    anchor, test = pair_of_csvs(tmp_path)
    before = anchor.read_bytes(), test.read_bytes()
    for option, target in (("-o", anchor), ("--junit", test), ("--html", anchor),
                           ("--plot", test)):
        proc = run_bdrate(anchor, test, "--metric", "psnr", option, target)
        assert proc.returncode == 2, (option, proc.stderr)
        assert "would destroy it" in proc.stderr and proc.stdout == ""
        assert (anchor.read_bytes(), test.read_bytes()) == before
    junit = tmp_path / "report.xml"
    proc = run_bdrate(anchor, test, "--metric", "psnr", "-o", anchor, "--junit", junit)
    assert proc.returncode == 2 and "would destroy it" in junit.read_text()
