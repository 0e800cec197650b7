"""The HTML reports open in a real headless browser (Debian's chromium): no console
error, every image decodes, the tables sort when a header is clicked, the A/B toggle
flips, and the page makes no network request (offline context, every request but the
file itself intercepted and recorded). See ``tests/browser.py``."""

from __future__ import annotations

import math
import re

import cv2
import numpy as np
import pytest

from tests.browser import browser, column_values, image_widths, open_report  # noqa: F401
from tests.cli_helpers import run_iqa, strict_json
from tests.images import astronaut, jpeg


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Six pairs (crops of one photo at JPEG qualities), one name needing HTML escaping."""
    root = tmp_path_factory.mktemp("report")
    (root / "ref").mkdir()
    (root / "dist").mkdir()
    photo = astronaut()
    names = ["a.png", "b.png", "c.png", "d.png", "e.png", "x<b>&y.png"]
    for i, (name, q) in enumerate(zip(names, (8, 20, 35, 50, 70, 90))):
        crop = photo[i * 20:i * 20 + 150, i * 30:i * 30 + 190]
        cv2.imwrite(str(root / "ref" / name), crop[:, :, ::-1])
        cv2.imwrite(str(root / "dist" / name), jpeg(crop, q)[:, :, ::-1])
    return root


@pytest.fixture(scope="module")
def compare_run(pairs):
    out = pairs / "out"
    out.mkdir(exist_ok=True)
    result = run_iqa("compare", pairs / "ref", pairs / "dist", "-m", "psnr,ssim",
                     "--fail-if", "psnr<30", "--maps", out / "maps", "--html", out / "r.html",
                     "--worst", "3", "--format", "json", "-o", out / "r.json")
    assert result.returncode == 1, result.stderr  # the gate fails for the low qualities
    return out, strict_json((out / "r.json").read_text())


def test_compare_report_in_browser(browser, compare_run):  # noqa: F811
    out, doc = compare_run
    opened = open_report(browser, out / "r.html")
    page = opened.page
    widths = image_widths(page)
    # 3 worst pairs x (ref, dist, 2 maps, A/B ref + dist, dist crop, 2 map crops) + 2 legends
    assert len(widths) == 3 * 9 + 2
    assert all(w > 0 and ok for _, w, ok in widths), widths
    assert page.locator(".pairview").count() == 3
    # the worst pairs are the three lowest SSIM, worst first
    worst = sorted(doc["pairs"], key=lambda r: r["ssim"])[:3]
    shown = [page.locator(".pairview h3").nth(i).inner_text() for i in range(3)]
    assert shown == [f"{i + 1}. {r['pair']}" for i, r in enumerate(worst)]
    # sorting: SSIM is column 4 (pair, bytes, bpp, psnr, ssim)
    header = page.locator("#pairs-table th").nth(4)
    assert header.inner_text().startswith("ssim")
    header.click()
    ascending = column_values(page, "pairs-table", 4)
    assert ascending == sorted(r["ssim"] for r in doc["pairs"])
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert column_values(page, "pairs-table", 4) == ascending[::-1]
    page.locator("#pairs-table th").nth(0).click()  # text column
    names = page.evaluate("Array.from(document.querySelectorAll('#pairs-table tbody tr'))"
                          ".map(r => r.cells[0].textContent)")
    assert names == sorted(names)
    # failing gates marked with the reason; PSNR band coloured
    failing = [r for r in doc["pairs"] if r["gate_failures"]]
    assert failing and page.locator("#pairs-table tr.fail").count() == len(failing)
    reason = page.locator("#pairs-table tr.fail td.reason").first.inner_text()
    assert "psnr<30" in reason and "below the limit" in reason
    assert page.locator("#pairs-table td.band-hard-to-see, #pairs-table td.band-visible, "
                        "#pairs-table td.band-degraded").count() == len(doc["pairs"])
    # A/B flicker toggle
    box = page.locator(".ab").first
    assert box.locator(".ab-label").inner_text() == "reference"
    box.locator(".ab-toggle").click()
    assert box.locator(".ab-label").inner_text() == "distorted"
    assert box.locator("img").nth(0).get_attribute("class") == "hidden"
    # the worst pairs' names in the table link to their pictures
    links = page.evaluate("Array.from(document.querySelectorAll('#pairs-table a'))"
                          ".map(a => [a.textContent, a.getAttribute('href')])")
    assert sorted(links) == sorted([r["pair"], f"#pair-{i + 1}"] for i, r in enumerate(worst))
    # a file name is text, not markup
    assert page.locator("text=x<b>&y.png").count() >= 1
    assert opened.errors == []
    assert opened.blocked == []
    assert opened.requests == [(out / "r.html").resolve().as_uri()]


def test_compare_report_is_self_contained(compare_run):
    out, _ = compare_run
    text = (out / "r.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text)
    assert "http://" not in text and "https://" not in text
    assert "x&lt;b&gt;&amp;y.png" in text and "x<b>&y.png" not in text


def test_maps_files(compare_run, pairs):
    out, doc = compare_run
    maps = out / "maps"
    names = sorted(p.name for p in maps.iterdir())
    expected = sorted([f"{r['pair']}.{m}.png" for r in doc["pairs"] for m in ("psnr", "ssim")]
                      + ["legend.psnr.png", "legend.ssim.png"])
    assert names == expected
    assert not [p for p in maps.iterdir() if p.name.startswith(".")]  # no temporary left
    import iqa
    from iqa.output.maps import colorize

    ref = cv2.imread(str(pairs / "ref" / "a.png"))[:, :, ::-1]
    dist = cv2.imread(str(pairs / "dist" / "a.png"))[:, :, ::-1]
    for metric, fn in (("ssim", iqa.ssim), ("psnr", iqa.psnr)):
        png = cv2.imread(str(maps / f"a.png.{metric}.png"))[:, :, ::-1]
        assert png.shape == ref.shape  # image resolution
        value, value_map = fn(ref, dist, full=True)
        assert np.array_equal(png, colorize(metric, value_map, ref.shape[:2], 255))
        record = next(r for r in doc["pairs"] if r["pair"] == "a.png")
        assert math.isclose(record[metric], value, rel_tol=0, abs_tol=1e-12)
    # SSIM's 5-pixel border (no window fits) is grey
    png = cv2.imread(str(maps / "a.png.ssim.png"))
    assert (png[:5] == 128).all() and (png[:, -5:] == 128).all()


def test_maps_refuse_a_file_and_never_overwrite_an_input(pairs, tmp_path):
    result = run_iqa("compare", pairs / "ref", pairs / "dist", "--maps", pairs / "ref" / "a.png")
    assert result.returncode == 2 and "--maps" in result.stderr and "is a file" in result.stderr
    # an input whose name is the map of another pair, maps written into the inputs' folder
    for side in ("ref", "dist"):
        (tmp_path / side).mkdir()
        for name in ("a.png", "a.png.ssim.png"):
            (tmp_path / side / name).write_bytes((pairs / side / "a.png").read_bytes())
    before = (tmp_path / "dist" / "a.png.ssim.png").read_bytes()
    result = run_iqa("compare", tmp_path / "ref", tmp_path / "dist", "--maps", tmp_path / "dist",
                     "-m", "ssim")
    assert result.returncode == 2, result.stderr
    assert "would replace the input" in result.stderr and "a.png.ssim.png" in result.stderr
    assert (tmp_path / "dist" / "a.png.ssim.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["a.png", "a.png.ssim.png"]


def test_html_target_is_checked_before_work(pairs):
    result = run_iqa("compare", pairs / "ref", pairs / "dist", "--html", pairs / "ref" / "a.png")
    assert result.returncode == 2 and "--html" in result.stderr and "input" in result.stderr
    result = run_iqa("compare", pairs / "ref", pairs / "dist", "--html", pairs / "no" / "r.html")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_bdrate_report_in_browser(browser, tmp_path):  # noqa: F811
    from tests.test_bdrate_cli import pair_of_csvs, run_bdrate

    anchor, test = pair_of_csvs(tmp_path)
    page_path = tmp_path / "bd.html"
    result = run_bdrate(anchor, test, "--html", page_path, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    opened = open_report(browser, page_path)
    page = opened.page
    widths = image_widths(page)
    assert len(widths) == 1 and widths[0][1] > 0  # the RD plot (inline SVG)
    shown = column_values(page, "means", 1)
    assert shown == [doc["metrics"][m]["bd_rate"] for m in doc["metrics"]]
    page.locator("#sequences th").nth(2).click()
    rates = column_values(page, "sequences", 2)
    assert rates == sorted(rates) and len(rates) == 4
    assert opened.errors == [] and opened.blocked == []


def test_fid_report_in_browser(browser, fid_weights, tmp_path):  # noqa: F811
    from tests.fid_helpers import make_pair

    real, fake = make_pair(tmp_path, 10, seed=3)
    page_path = tmp_path / "fid.html"
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--html", page_path,
                     "--format", "json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    opened = open_report(browser, page_path)
    page = opened.page
    widths = image_widths(page)
    assert len(widths) == 2 * 10 and all(w > 0 for _, w, _ in widths)
    value = page.locator("#results tr:nth-child(2) td.n").inner_text()
    assert float(value) == pytest.approx(doc["fid"], rel=1e-6)
    assert opened.errors == [] and opened.blocked == []


def test_fid_sample_grid_is_a_seeded_choice(tmp_path):
    from iqa.output.html.fid import GRID, sample_paths

    for i in range(50):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), np.full((4, 4, 3), i, np.uint8))
    chosen = sample_paths(str(tmp_path))
    assert len(chosen) == GRID == 32 and chosen == sorted(chosen)
    assert sample_paths(str(tmp_path)) == chosen  # the same choice on every run
    assert sample_paths(str(tmp_path), seed=1) != chosen


def test_sigterm_leaves_no_partial_file(tmp_path):
    """SIGTERM in the middle of a run with --maps and --html: exit 143, every map file
    complete (decodes, image size) or absent, no temporary file, no report."""
    import signal
    import subprocess
    import sys
    import time

    from tests.cli_helpers import ROOT

    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    photo = astronaut()
    for i in range(40):
        crop = photo[i:i + 400, i:i + 400]
        cv2.imwrite(str(tmp_path / "ref" / f"{i:02d}.png"), crop[:, :, ::-1])
        cv2.imwrite(str(tmp_path / "dist" / f"{i:02d}.png"), jpeg(crop, 30)[:, :, ::-1])
    maps = tmp_path / "maps"
    proc = subprocess.Popen(
        [sys.executable, "-m", "iqa", "compare", tmp_path / "ref", tmp_path / "dist",
         "--maps", maps, "--html", tmp_path / "r.html", "--format", "json"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(maps.glob("0[2-9].png.*.png")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    files = list(maps.iterdir())
    assert files and not [f for f in files if f.name.startswith(".")]
    for f in files:
        if not f.name.startswith("legend"):
            assert cv2.imread(str(f)).shape == (400, 400, 3)
    assert len(files) < 2 + 2 * 40  # stopped before the end
    assert not (tmp_path / "r.html").exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


def test_html_needs_the_extra(monkeypatch):
    from iqa.extras import EXTRAS, MissingExtraError
    from iqa.output.html import render

    monkeypatch.setitem(EXTRAS, "html", ("iqa_no_such_module",))
    with pytest.raises(MissingExtraError, match=r'pip install "iqa\[html\]"'):
        render("fid.html")


def test_the_banner_of_a_run_with_input_errors_is_not_pass(tmp_path):
    """Exit code 2 (a file that could not be read) with every gate passing: the page
    must not say PASS in green, as the table says "input error (exit code 2)"."""
    from PIL import Image

    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    img = np.full((20, 20, 3), 120, np.uint8)
    for name in ("a.png", "b.png"):
        Image.fromarray(img).save(ref / name)
    Image.fromarray(img + 3).save(dist / "a.png")
    (dist / "b.png").write_bytes(b"not an image")
    page = tmp_path / "r.html"
    proc = run_iqa("compare", ref, dist, "-m", "psnr", "--fail-if", "psnr<5",
                   "--html", page, "-o", tmp_path / "r.json", "--format", "json")
    assert proc.returncode == 2
    banner = re.search(r'<div class="verdict (\w+)">([^<]*)<', page.read_text())
    assert banner.groups() == ("fail", "INPUT ERROR (exit code 2): 0 of 1 gate(s) failed")
    Image.fromarray(img).save(dist / "b.png")
    proc = run_iqa("compare", ref, dist, "-m", "psnr", "--fail-if", "psnr<5",
                   "--html", page, "-o", tmp_path / "r.json", "--format", "json")
    assert proc.returncode == 0
    banner = re.search(r'<div class="verdict (\w+)">([^<]*)<', page.read_text())
    assert banner.groups() == ("pass", "PASS: 0 of 1 gate(s) failed")
