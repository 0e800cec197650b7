"""Per-plane PSNR of Y4M and raw YUV clips against ffmpeg's own ``psnr`` filter.

Reference: ``ffmpeg -i dist.y4m -i ref.y4m -lavfi psnr=stats_file=s.log -f null -``
(FFmpeg ``libavfilter/vf_psnr.c``): its final line ``PSNR y:… u:… v:… average:… min:…
max:…`` (6 decimals) and every frame of its stats file (2 decimals). The clips are made
here with ffmpeg's ``testsrc2`` and a blur + noise distortion. ffmpeg is required: when it
is missing these tests skip on a developer machine and fail in CI (``CI=true`` or
``IQA_REQUIRE_FFMPEG=1``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iqa.video import (
    ClipPSNR,
    frame_psnr,
    iter_frame_pairs,
    open_source,
    score_clips,
    write_y4m,
)

# 8-bit 4:2:0, 10-bit 4:2:0, 8-bit 4:4:4, and the other layouts
FORMATS = ["yuv420p", "yuv420p10le", "yuv444p", "yuv422p12le", "gray", "gray10le"]
_SUMMARY = re.compile(r"PSNR ((?:[yuv]:\S+ )+)average:(\S+) min:(\S+) max:(\S+)")


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        message = "ffmpeg is not installed (Debian: apt-get install ffmpeg)"
        required = os.environ.get("CI", "").lower() == "true"
        if required or os.environ.get("IQA_REQUIRE_FFMPEG") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def run_ffmpeg(ffmpeg: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-y", *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def make_pair(ffmpeg: str, folder: Path, pix_fmt: str, frames: int = 6) -> tuple[Path, Path]:
    ref, dist = folder / f"ref_{pix_fmt}.y4m", folder / f"dist_{pix_fmt}.y4m"
    source = "testsrc2=size=96x64:rate=5"
    run_ffmpeg(ffmpeg, "-f", "lavfi", "-i", source, "-frames:v", str(frames),
               "-pix_fmt", pix_fmt, "-strict", "-1", str(ref))
    run_ffmpeg(ffmpeg, "-i", str(ref), "-vf", "gblur=sigma=0.6:steps=1,noise=alls=8:allf=t",
               "-pix_fmt", pix_fmt, "-strict", "-1", str(dist))
    return ref, dist


def ffmpeg_psnr(ffmpeg: str, ref: Path, dist: Path, folder: Path) -> tuple[str, list[dict]]:
    """ffmpeg's final PSNR line and its stats file, one dict of strings per frame."""
    stats = folder / f"{dist.stem}.log"
    # the psnr filter's first input is the distorted ("main") clip, the second the reference
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", dist.name, "-i", ref.name,
         "-lavfi", f"psnr=stats_file={stats.name}", "-f", "null", "-"],
        capture_output=True, text=True, cwd=folder,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [m.group(0) for m in _SUMMARY.finditer(result.stderr)]
    assert len(lines) == 1, result.stderr[-2000:]
    rows = [dict(field.split(":", 1) for field in line.split())
            for line in stats.read_text().splitlines() if line.strip()]
    return lines[0], rows


def ours(ref_path: Path, dist_path: Path, **opts) -> tuple[str, list]:
    with open_source(ref_path, **opts) as ref, open_source(dist_path, **opts) as dist:
        clip = ClipPSNR(ref.format)
        frames = []
        for _, r, d in iter_frame_pairs(ref, dist):
            result = frame_psnr(r, d)
            clip.add(result)
            frames.append(result)
    return clip.ffmpeg_line(), frames


def check_against_ffmpeg(line: str, rows: list[dict], our_line: str, frames: list) -> None:
    # the overall line: ffmpeg prints 6 decimals; ours are computed in its order, so the
    # printed text is identical, and the numbers within 1e-5 dB
    theirs, mine = _SUMMARY.fullmatch(line), _SUMMARY.fullmatch(our_line)
    assert mine is not None, our_line
    values = lambda m: [float(v.split(":")[1]) for v in m.group(1).split()] + [  # noqa: E731
        float(m.group(i)) for i in (2, 3, 4)]
    assert values(mine) == pytest.approx(values(theirs), abs=1e-5, rel=0)
    assert our_line == line
    # every frame of the stats file, to its printed precision (%0.2f)
    assert len(rows) == len(frames)
    for row, f in zip(rows, frames):
        assert int(row["n"]) == f.index + 1
        assert row["mse_avg"] == f"{f.mse:0.2f}"
        assert row["psnr_avg"] == f"{f.psnr:0.2f}"
        for name, mse, psnr in zip(f.names, f.mse_planes, f.psnr_planes):
            assert row[f"mse_{name}"] == f"{mse:0.2f}", (f.index, name)
            assert row[f"psnr_{name}"] == f"{psnr:0.2f}", (f.index, name)


@pytest.mark.parametrize("pix_fmt", FORMATS)
def test_psnr_equals_ffmpeg(ffmpeg, tmp_path, pix_fmt):
    ref, dist = make_pair(ffmpeg, tmp_path, pix_fmt)
    line, rows = ffmpeg_psnr(ffmpeg, ref, dist, tmp_path)
    our_line, frames = ours(ref, dist)
    check_against_ffmpeg(line, rows, our_line, frames)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_identical_frames_are_inf_as_in_ffmpeg(ffmpeg, tmp_path, pix_fmt):
    """A distorted clip whose frame 1 equals the reference: ffmpeg prints inf for it."""
    ref, dist = make_pair(ffmpeg, tmp_path, pix_fmt, frames=3)
    mixed = tmp_path / "mixed.y4m"
    with open_source(ref) as r, open_source(dist) as d:
        copies = [(rf if i == 1 else df).copy() for i, rf, df in iter_frame_pairs(r, d)]
    # same frame rate as the reference: ffmpeg pairs frames by timestamp, not by index
    write_y4m(mixed, copies, rate="5:1")
    line, rows = ffmpeg_psnr(ffmpeg, ref, mixed, tmp_path)
    our_line, frames = ours(ref, mixed)
    assert rows[1]["psnr_y"] == "inf" and "max:inf" in line
    check_against_ffmpeg(line, rows, our_line, frames)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "yuv444p"])
def test_raw_yuv_gives_the_same_numbers_as_y4m(ffmpeg, tmp_path, pix_fmt):
    ref, dist = make_pair(ffmpeg, tmp_path, pix_fmt)
    raw = []
    for clip in (ref, dist):
        out = clip.with_suffix(".yuv")
        run_ffmpeg(ffmpeg, "-i", str(clip), "-f", "rawvideo", "-pix_fmt", pix_fmt, str(out))
        raw.append(out)
    line_y4m, frames_y4m = ours(ref, dist)
    line_raw, frames_raw = ours(*raw, size="96x64", pix_fmt=pix_fmt)
    assert line_raw == line_y4m
    assert frames_raw == frames_y4m  # every field of every frame, bit for bit
    line, rows = ffmpeg_psnr(ffmpeg, ref, dist, tmp_path)
    check_against_ffmpeg(line, rows, line_raw, frames_raw)


def test_y4m_written_by_ffmpeg_reads_its_header(ffmpeg, tmp_path):
    ref, _ = make_pair(ffmpeg, tmp_path, "yuv420p10le", frames=2)
    with open_source(ref) as clip:
        assert (clip.format.width, clip.format.height) == (96, 64)
        assert (clip.format.layout, clip.format.bits, clip.frame_count) == ("420", 10, 2)
        assert clip.params["rate"] == "5:1"


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_score_clips_summary_is_ffmpegs_line(ffmpeg, tmp_path, pix_fmt):
    ref, dist = make_pair(ffmpeg, tmp_path, pix_fmt)
    line, rows = ffmpeg_psnr(ffmpeg, ref, dist, tmp_path)
    with open_source(ref) as r, open_source(dist) as d:
        scores = score_clips(r, d, metrics=("psnr", "ssim"))
    s = scores.summary
    expected = dict(f.split(":") for f in line.split()[1:])
    assert f"{s['psnr_y']['mse_pooled']:f}" == expected["y"]
    assert f"{s['psnr_v']['mse_pooled']:f}" == expected["v"]
    assert f"{s['psnr']['mse_pooled']:f}" == expected["average"]
    assert f"{s['psnr']['min']:f}" == expected["min"]
    assert f"{s['psnr']['max']:f}" == expected["max"]
    assert [f"{row['psnr_u']:0.2f}" for row in scores.rows] == [r["psnr_u"] for r in rows]
