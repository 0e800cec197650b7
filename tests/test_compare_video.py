"""``iqa compare`` on Y4M and raw YUV clips, against ffmpeg's ``psnr`` filter.

Clips are made with ffmpeg as in ``test_video_ffmpeg.py`` (its ``ffmpeg`` fixture: the
tests fail, not skip, in CI when ffmpeg is missing).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np
import pytest

from tests.cli_helpers import run_iqa, strict_json
from tests.test_video_ffmpeg import ffmpeg, ffmpeg_psnr, make_pair, run_ffmpeg  # noqa: F401

DEFAULT = ["psnr_y", "psnr_u", "psnr_v", "psnr", "ssim_y", "ssim_u", "ssim_v", "ssim"]


def summary_values(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in (f.split(":") for f in line.split()[1:])}


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "yuv444p"])
def test_clip_json_and_csv_equal_ffmpeg(ffmpeg, tmp_path, pix_fmt):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, pix_fmt)
    line, stats = ffmpeg_psnr(ffmpeg, ref, dist, tmp_path)
    expected = summary_values(line)
    result = run_iqa("compare", ref, dist, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["metrics"] == DEFAULT
    (clip,) = doc["pairs"]
    assert clip["frames"] == 6 and clip["error"] is None
    assert clip["bytes"] == os.path.getsize(dist)
    assert clip["bpp"] == pytest.approx(8 * os.path.getsize(dist) / (96 * 64 * 6))
    for plane in "yuv":
        pooled = clip["summary"][f"psnr_{plane}"]["mse_pooled"]
        assert pooled == pytest.approx(expected[plane], abs=1e-5)
        assert clip[f"psnr_{plane}"] == pooled  # the clip's value is the MSE-pooled one
    assert clip["psnr"] == pytest.approx(expected["average"], abs=1e-5)
    assert clip["summary"]["psnr"]["min"] == pytest.approx(expected["min"], abs=1e-5)
    assert set(clip["summary"]["ssim_y"]) >= {"mean", "min", "max", "harmonic_mean", "p1", "p5"}
    assert clip["ssim"] == clip["summary"]["ssim"]["mean"]
    assert doc["definitions"]["psnr_y"]["pooling"].startswith("mse_pooled")
    # CSV: one row per frame, equal to ffmpeg's stats file to its printed digits
    result = run_iqa("compare", ref, dist, "--format", "csv", "-m", "psnr")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:2] == ["pair", "frame"]
    assert [int(r["frame"]) for r in rows] == list(range(6))
    for row, theirs in zip(rows, stats):
        for name in ("psnr_y", "psnr_u", "psnr_v"):
            assert f"{float(row[name]):0.2f}" == theirs[name]
        assert f"{float(row['psnr']):0.2f}" == theirs["psnr_avg"]


def test_jsonl_frames_then_clip_summaries(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p", frames=3)
    # -m all: a value too small to define is null with a warning (named, it would be an
    # error of the pair: test_a_value_asked_for_by_name_that_a_clip_lacks_is_an_error).
    result = run_iqa("compare", ref, dist, "--format", "jsonl", "-m", "all")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["type"] for x in lines] == ["frame"] * 3 + ["summary"]
    assert [x["frame"] for x in lines[:3]] == [0, 1, 2]
    assert set(lines[0]) >= {"pair", "frame", "psnr_y", "ms_ssim_y"}
    assert lines[0]["ms_ssim_y"] is None  # 96x64 is too small for MS-SSIM
    (clip,) = lines[-1]["clips"]
    assert clip["pair"] == dist.name and "ms_ssim_y" in clip["undefined"]


def test_table_one_row_per_clip_and_per_frame(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p", frames=3)
    result = run_iqa("compare", ref, dist, "-m", "psnr_y,ssim")
    assert result.returncode == 0, result.stderr
    body = result.stdout
    assert body.count(dist.name) == 1 and "frame" not in body.split("mean")[0]
    assert "MSE-pooled" in body and "mean over frames" in body
    result = run_iqa("compare", ref, dist, "-m", "psnr_y", "--per-frame")
    assert f"{dist.name} frame 2" in result.stdout


def test_gates_test_the_pooled_value_and_min_the_worst_frame(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p")
    doc = strict_json(run_iqa("compare", ref, dist, "-m", "psnr_y", "--format", "json").stdout)
    clip = doc["pairs"][0]
    pooled, worst = clip["psnr_y"], clip["summary"]["psnr_y"]["min"]
    assert worst < pooled
    ok = run_iqa("compare", ref, dist, "-m", "psnr_y", "--fail-if", f"psnr_y<{pooled - 0.01}")
    assert ok.returncode == 0, ok.stderr
    bad = run_iqa("compare", ref, dist, "-m", "psnr_y", "--fail-if", f"psnr_y<{pooled + 0.01}")
    assert bad.returncode == 1, bad.stderr
    between = (worst + pooled) / 2
    assert run_iqa("compare", ref, dist, "--fail-if", f"psnr_y<{between}").returncode == 0
    frame_gate = run_iqa("compare", ref, dist, "--fail-if", f"min(psnr_y)<{between}")
    assert frame_gate.returncode == 1, frame_gate.stderr
    # a baseline saved from a run matches clip by clip
    base = tmp_path / "base.json"
    assert run_iqa("compare", ref, dist, "--format", "json", "-o", base).returncode == 0
    again = run_iqa("compare", ref, dist, "--baseline", base)
    assert again.returncode == 0, again.stderr


def test_folders_of_clips_and_raw_yuv(ffmpeg, tmp_path):  # noqa: F811
    refs, dists = tmp_path / "refs", tmp_path / "dists"
    refs.mkdir()
    dists.mkdir()
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p10le", frames=3)
    for clip, folder in ((ref, refs), (dist, dists)):
        run_ffmpeg(ffmpeg, "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "yuv420p10le",
                   str(folder / "a.yuv"))
    y4m = strict_json(run_iqa("compare", ref, dist, "--format", "json").stdout)["pairs"][0]
    result = run_iqa("compare", refs, dists, "--size", "96x64", "--pix-fmt", "yuv420p10le",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    (raw,) = strict_json(result.stdout)["pairs"]
    assert raw["pair"] == "a.yuv"
    for name in DEFAULT:
        assert raw[name] == y4m[name]
    missing = run_iqa("compare", refs, dists)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "--size" in missing.stderr


def test_bad_clip_is_one_line_and_other_clips_are_scored(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p", frames=4)
    short = tmp_path / "short.y4m"
    run_ffmpeg(ffmpeg, "-i", str(dist), "-frames:v", "2", str(short))
    result = run_iqa("compare", ref, short, dist, "-m", "psnr", "--format", "json")
    assert result.returncode == 2
    doc = strict_json(result.stdout)
    bad, good = doc["pairs"]
    assert "has 4 frames but" in bad["error"] and bad["psnr"] is None
    assert good["error"] is None and math.isfinite(good["psnr"])
    assert result.stderr.count("\n") == 1 and "short.y4m" in result.stderr
    frames = run_iqa("compare", ref, short, "-m", "psnr", "--frames", "2", "--format", "json")
    assert frames.returncode == 0, frames.stderr
    assert strict_json(frames.stdout)["pairs"][0]["frames"] == 2


def test_video_options_are_refused_for_images(tmp_path):
    from tests.cli_helpers import ROOT

    sample = ROOT / "sample_images" / "reference.png"
    result = run_iqa("compare", sample, sample, "--size", "96x64")
    assert result.returncode == 2 and "--size" in result.stderr
    assert result.stderr.count("\n") == 1


def test_reduced_peak_for_ten_bit(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p10le", frames=2)
    plain = strict_json(run_iqa("compare", ref, dist, "-m", "psnr_y", "--format",
                                "json").stdout)["pairs"][0]["psnr_y"]
    reduced = strict_json(run_iqa("compare", ref, dist, "-m", "psnr_y", "--psnr-peak",
                                  "reduced", "--format", "json").stdout)["pairs"][0]["psnr_y"]
    assert plain - reduced == pytest.approx(20 * math.log10(1023 / 1020), abs=1e-9)


def test_a_gate_on_psnr_adds_only_the_whole_frame_value(ffmpeg, tmp_path):  # noqa: F811
    ref, dist = make_pair(ffmpeg, tmp_path, "yuv420p", frames=2)
    result = run_iqa("compare", ref, dist, "-m", "ssim_y", "--fail-if", "psnr<10",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["metrics"] == ["ssim_y", "psnr"]
    bad = run_iqa("compare", ref, dist, "--fail-if", "ms_ssim<0.5")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    zero = run_iqa("compare", ref, dist, "--frames", "0")
    assert zero.returncode == 2 and "--frames" in zero.stderr


def test_a_value_asked_for_by_name_that_a_clip_lacks_is_an_error(tmp_path):
    """As for images: a default value that is undefined is null with a warning (exit 0);
    one named in -m or --fail-if is an error of the pair (exit 2)."""
    from iqa.video import Frame, FrameFormat, write_y4m

    rng = np.random.default_rng(0)

    def clip(path, layout, w, h, offset):
        fmt = FrameFormat(w, h, layout, 8)
        frames = [Frame(fmt, tuple(np.clip(rng.integers(0, 200, (ph, pw)) + offset, 0, 255)
                                   .astype(np.uint8) for pw, ph in fmt.plane_sizes), i)
                  for i in range(2)]
        write_y4m(path, frames)
        return str(path)

    ref, dist = clip(tmp_path / "r.y4m", "420", 20, 20, 0), clip(tmp_path / "d.y4m", "420", 20,
                                                                   20, 9)
    gray = clip(tmp_path / "g.y4m", "mono", 32, 32, 0)
    default = run_iqa("compare", ref, dist, "--format", "json")
    assert default.returncode == 0, default.stderr
    assert "ssim_u is null" in default.stderr
    for args, name in ((["-m", "ssim_u"], "ssim_u"), (["-m", "ms_ssim"], "ms_ssim_y"),
                       (["-m", "ssim"], "ssim"), (["--fail-if", "ssim_v<0.5"], "ssim_v")):
        result = run_iqa("compare", ref, dist, "--format", "json", *args)
        assert result.returncode == 2, (args, result.stderr)
        record = strict_json(result.stdout)["pairs"][0]
        assert f"{name} is undefined" in record["error"]
        assert record[name] is None
    named = run_iqa("compare", gray, gray, "-m", "psnr_u", "--format", "json")
    assert named.returncode == 2 and "psnr_u is undefined: no such plane" in named.stderr
    family = run_iqa("compare", gray, gray, "-m", "psnr", "--format", "json")
    assert family.returncode == 0 and "psnr_u is null" in family.stderr


def test_raw_yuv_options_without_a_raw_clip_are_refused(tmp_path):
    from iqa.video import Frame, FrameFormat, write_y4m

    fmt = FrameFormat(16, 16, "420", 8)
    frame = Frame(fmt, tuple(np.zeros((h, w), np.uint8) for w, h in fmt.plane_sizes), 0)
    clip = tmp_path / "a.y4m"
    write_y4m(clip, [frame])
    for args in (["--size", "32x32"], ["--pix-fmt", "gray"]):
        result = run_iqa("compare", clip, clip, *args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "describe raw .yuv clips, and no input is one" in lines[0]


def test_clips_in_a_folder_of_images_are_named_not_dropped(tmp_path):
    from PIL import Image

    from iqa.video import Frame, FrameFormat, write_y4m

    for side in ("ref", "out"):
        (tmp_path / side).mkdir()
        Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / side / "a.png")
    fmt = FrameFormat(16, 16, "420", 8)
    write_y4m(tmp_path / "ref" / "c.y4m",
              [Frame(fmt, tuple(np.zeros((h, w), np.uint8) for w, h in fmt.plane_sizes), 0)])
    result = run_iqa("compare", tmp_path / "ref", tmp_path / "out", "-m", "psnr")
    assert result.returncode == 0, result.stderr
    assert "holds 1 clip as well as images" in result.stderr
    assert "its clips are not scored" in result.stderr
