"""Metric options through the command line: declared by each metric, checked by compare,
and a folder pairing that matches few files is summarised in a few lines."""

from __future__ import annotations

import json

from PIL import Image

from tests.cli_helpers import ROOT, run_iqa

REF = ROOT / "sample_images" / "reference.png"
DIST = ROOT / "sample_images" / "codec" / "jpeg_q50.jpg"


def test_a_metric_option_reaches_the_metric_and_equals_its_alias():
    by_option = run_iqa("compare", REF, DIST, "-m", "psnr", "--metric-option", "psnr.luma=true",
                        "--format", "json")
    by_alias = run_iqa("compare", REF, DIST, "-m", "psnr", "--luma", "--format", "json")
    plain = run_iqa("compare", REF, DIST, "-m", "psnr", "--format", "json")
    assert by_option.returncode == by_alias.returncode == plain.returncode == 0
    value = json.loads(by_option.stdout)["pairs"][0]["psnr"]
    assert value == json.loads(by_alias.stdout)["pairs"][0]["psnr"]
    assert value != json.loads(plain.stdout)["pairs"][0]["psnr"]


def test_a_misspelt_option_or_one_of_an_unselected_metric_is_one_line_exit_2():
    for option, words in (("psnr.lumaa=1", "has no option 'lumaa'; its options: luma"),
                          ("lpips.net=vgg", "not one of the metrics of this run"),
                          ("psnr.luma=maybe", "psnr.luma"),
                          ("luma", "METRIC.OPTION=VALUE")):
        done = run_iqa("compare", REF, DIST, "-m", "psnr", "--metric-option", option)
        assert done.returncode == 2, (option, done.stderr)
        assert done.stderr.count("\n") == 1 and words in done.stderr, (option, done.stderr)


def test_many_unmatched_files_are_summarised_in_a_few_lines(tmp_path):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    tile = Image.open(REF).convert("RGB").crop((0, 0, 32, 32))
    tile.save(ref / "pair.png")
    tile.save(dist / "pair.png")
    for i in range(40):
        tile.save(ref / f"only{i:02d}.png")
    done = run_iqa("compare", ref, dist, "-m", "psnr", "--allow-unmatched", "--format", "csv")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= 6, lines
    assert "37 more reference image(s)" in done.stderr
    table = run_iqa("compare", ref, dist, "-m", "psnr", "--allow-unmatched")
    assert table.returncode == 0 and "... and 37 more" in table.stdout
    assert table.stdout.count("only") <= 3
