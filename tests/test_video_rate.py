"""The rate of video clips: bytes, kbps and bits per pixel, and clip results fed to bdrate.

kbps = 8 · bytes / duration / 1000, bytes the size of the distorted clip's file and
duration = frames / fps, fps from the Y4M ``F`` header, the container, or ``--fps``;
bpp = 8 · bytes / (W · H · frames). Worked out here with exact fractions.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from iqa.video import Frame, FrameFormat, write_y4m
from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.test_bdrate_cli import bjontegaard, reference, run_bdrate
from tests.test_video_ffmpeg import ffmpeg, run_ffmpeg  # noqa: F401 - ffmpeg is a fixture

ENV = {"PYTHONPATH": str(ROOT)}
FMT = FrameFormat(16, 8, "420")


def frames(seed: int, count: int = 3) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [Frame(FMT, tuple(rng.integers(0, 256, (h, w), np.uint8) for w, h in
                             FMT.plane_sizes), i) for i in range(count)]


def clip_record(*args: object) -> dict:
    proc = run_iqa("compare", *args, "-m", "psnr", "--format", "json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    return strict_json(proc.stdout)["pairs"][0]


def test_kbps_from_the_y4m_header_raw_fps_and_override(tmp_path):
    ref, dist = tmp_path / "ref.y4m", tmp_path / "dist.y4m"
    write_y4m(ref, frames(0), rate="30000:1001")
    write_y4m(dist, frames(1), rate="30000:1001")
    size = dist.stat().st_size
    record = clip_record(ref, dist)
    assert (record["bytes"], record["frames"]) == (size, 3)
    assert record["fps"] == 30000 / 1001
    assert record["kbps"] == float(Fraction(8 * size) * Fraction(30000, 1001) / 3 / 1000)
    assert record["bpp"] == 8 * size / (16 * 8 * 3)
    # --fps overrides the header
    assert clip_record(ref, dist, "--fps", "50")["kbps"] == 8 * size * 50 / 3 / 1000
    # raw YUV: no rate without --fps (kbps null, bpp still there); with it, kbps
    raw_ref, raw_dist = tmp_path / "ref.yuv", tmp_path / "dist.yuv"
    for path, clip in ((raw_ref, frames(0)), (raw_dist, frames(1))):
        path.write_bytes(b"".join(p.tobytes() for f in clip for p in f.planes))
    raw_size = raw_dist.stat().st_size
    opts = ("--size", "16x8", "--pix-fmt", "yuv420p")
    record = clip_record(raw_ref, raw_dist, *opts)
    assert (record["kbps"], record["fps"], record["bytes"]) == (None, None, raw_size)
    assert record["bpp"] == 12.0  # uncompressed 8-bit 4:2:0: 1.5 samples of 8 bits a pixel
    record = clip_record(raw_ref, raw_dist, *opts, "--fps", "30000/1001")
    assert record["kbps"] == float(Fraction(8 * raw_size * 30000, 1001) / 3 / 1000)
    # --frames scores fewer frames; the rate is still the whole file's
    assert clip_record(raw_ref, raw_dist, *opts, "--fps", "25", "--frames", "2")["kbps"] == (
        8 * raw_size * 25 / 3 / 1000)
    # an unknown rate in the header (F0:0) gives no kbps
    write_y4m(dist, frames(1), rate="0:0")
    assert clip_record(ref, dist)["kbps"] is None


@pytest.mark.parametrize("fps", ["abc", "0", "-5", "1/0"])
def test_bad_fps_is_one_line_exit_2(tmp_path, fps):
    ref = tmp_path / "ref.y4m"
    write_y4m(ref, frames(0))
    proc = run_iqa("compare", ref, ref, f"--fps={fps}", env=ENV)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"iqa: --fps {fps}: give a frame rate in frames per "
                                   "second, e.g. 25, 29.97 or 30000/1001")


def test_fps_and_per_clip_are_refused_for_images():
    image = ROOT / "sample_images" / "reference.png"
    proc = run_iqa("compare", image, image, "--fps", "25", "--per-clip", env=ENV)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("iqa: --fps, --per-clip: only for video clips")


CODECS = {  # two encoders, four rates each: an anchor and a test RD curve per clip
    "x264": [("-c:v", "libx264", "-crf", str(q), "-preset", "medium") for q in (18, 26, 34, 42)],
    "mpeg4": [("-c:v", "mpeg4", "-q:v", str(q)) for q in (2, 5, 10, 20)],
}


def make_rd_set(exe: str, folder: Path) -> None:
    """refs/{a,b}.y4m and, per codec, CODEC/qN/{a,b}.mp4 (the --pair-by subfolders layout)."""
    (folder / "refs").mkdir()
    for name, source in (("a", "testsrc2"), ("b", "mandelbrot")):
        run_ffmpeg(exe, "-f", "lavfi", "-i", f"{source}=size=128x96:rate=25", "-frames:v",
                   "8", "-pix_fmt", "yuv420p", str(folder / "refs" / f"{name}.y4m"))
        for codec, settings in CODECS.items():
            for i, args in enumerate(settings):
                out = folder / codec / f"q{i}" / f"{name}.mp4"
                out.parent.mkdir(parents=True, exist_ok=True)
                run_ffmpeg(exe, "-i", str(folder / "refs" / f"{name}.y4m"), *args, str(out))


def test_clip_results_feed_bdrate_end_to_end(request, tmp_path):
    """`iqa compare` of two encoders' clips (CSV with --per-clip, JSON, JSON Lines per
    frame), then `iqa bdrate`: equal to the bjontegaard package on the clips' kbps and
    MSE-pooled PSNR, whichever file format carried them."""
    make_rd_set(request.getfixturevalue("ffmpeg"), tmp_path)
    for codec in CODECS:
        for fmt, extra in (("csv", ("--per-clip",)), ("json", ()), ("jsonl", ())):
            proc = run_iqa("compare", "refs", codec, "--pair-by", "subfolders", "-m",
                           "psnr", "--format", fmt, *extra, "-o", f"{codec}.{fmt}",
                           cwd=tmp_path, env=ENV)
            assert proc.returncode == 0, proc.stderr
    rows = {c: list(csv.DictReader(io.StringIO((tmp_path / f"{c}.csv").read_text())))
            for c in CODECS}
    for codec, table in rows.items():  # the CSV rows are the JSON clip records
        records = json.loads((tmp_path / f"{codec}.json").read_text())["pairs"]
        assert [r["pair"] for r in table] == [r["pair"] for r in records]
        for row, record in zip(table, records):
            size = (tmp_path / record["dist"]).stat().st_size
            assert record["bytes"] == size and record["fps"] == 25.0
            assert record["kbps"] == 8 * size * 25 / 8 / 1000 == float(row["kbps"])
            assert float(row["psnr_y"]) == record["psnr_y"]
    docs = {}
    for fmt in ("csv", "json", "jsonl"):
        proc = run_bdrate(f"x264.{fmt}", f"mpeg4.{fmt}", "--format", "json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        docs[fmt] = strict_json(proc.stdout)
        assert docs[fmt]["rate"] == "kbps"
        assert set(docs[fmt]["metrics"]) == {"psnr_y", "psnr_u", "psnr_v", "psnr"}
    for metric in ("psnr_y", "psnr_u", "psnr_v", "psnr"):
        expected = []
        for ref in ("refs/a.y4m", "refs/b.y4m"):
            curve = {c: [(float(r["kbps"]), float(r[metric])) for r in rows[c]
                         if r["ref"] == ref] for c in CODECS}
            expected.append(reference(bjontegaard.bd_rate,
                                      *zip(*curve["x264"]), *zip(*curve["mpeg4"])))
        for doc in docs.values():
            got = doc["metrics"][metric]
            assert got["bd_rate"] == pytest.approx(float(np.mean(expected)), rel=1e-9)
        assert docs["jsonl"]["metrics"][metric] == docs["json"]["metrics"][metric]
        numbers = {k: v for k, v in docs["json"]["metrics"][metric].items() if k != "unit"}
        assert {k: docs["csv"]["metrics"][metric][k] for k in numbers} == numbers
    assert docs["json"]["metrics"]["psnr"]["bd_rate"] > 0  # mpeg4 needs more bits than x264
    gate = run_bdrate("x264.csv", "mpeg4.csv", "--fail-if", "bd_rate(psnr)>0.5", cwd=tmp_path)
    assert gate.returncode == 1


def test_empty_kbps_cells_fall_back_to_bpp(tmp_path):
    """Clips without a frame rate (raw .yuv without --fps) have empty kbps cells in the
    per-clip CSV: bdrate then takes bpp, the next rate column every row fills."""
    header = ["pair", "ref", "dist", "frames", "bytes", "kbps", "bpp", "fps", "psnr_y",
              "error"]
    curves = {"anchor": ([0.1, 0.2, 0.4, 0.8], [30.0, 33.0, 35.5, 37.5]),
              "test": ([0.09, 0.18, 0.35, 0.75], [30.2, 33.1, 35.6, 37.4])}
    for side, (rates, psnr) in curves.items():
        with (tmp_path / f"{side}.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            for i, (bpp, q) in enumerate(zip(rates, psnr)):
                out.writerow([f"q{i}/a", "a.yuv", f"q{i}/a.yuv", 3, 100 * (i + 1), "", bpp,
                              "", q, ""])
    proc = run_bdrate("anchor.csv", "test.csv", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["rate"] == "bpp" and list(doc["metrics"]) == ["psnr_y"]
    expected = reference(bjontegaard.bd_rate, *curves["anchor"], *curves["test"])
    assert doc["metrics"]["psnr_y"]["bd_rate"] == pytest.approx(expected, rel=1e-9)


def test_a_raw_av1_stream_has_no_frame_rate_of_its_own(request, tmp_path):
    """An AV1 OBU stream carries no frame rate: its demuxer stamps frames at a default
    25 fps, which must not become the clip's (a 30000/1001 clip's kbps would be 17 % too
    low). The rate is unknown without --fps; the same stream in IVF keeps its own."""
    exe = request.getfixturevalue("ffmpeg")
    ref = tmp_path / "ref.y4m"
    run_ffmpeg(exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30000/1001",
               "-frames:v", "6", "-pix_fmt", "yuv420p", str(ref))
    ivf, obu = tmp_path / "d.ivf", tmp_path / "d.obu"
    run_ffmpeg(exe, "-i", str(ref), "-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40",
               str(ivf))
    run_ffmpeg(exe, "-i", str(ivf), "-c", "copy", "-f", "obu", str(obu))
    timed = clip_record(ref, ivf)
    assert timed["fps"] == 30000 / 1001 and timed["frames"] == 6
    raw = clip_record(ref, obu)
    assert (raw["fps"], raw["kbps"], raw["frames"]) == (None, None, 6)
    assert raw["psnr"] == timed["psnr"] and raw["bpp"] == 8 * obu.stat().st_size / (64 * 48 * 6)
    given = clip_record(ref, obu, "--fps", "30000/1001")
    assert given["kbps"] == float(Fraction(8 * obu.stat().st_size * 30000, 1001) / 6 / 1000)
