"""Compressed video through PyAV: the same planes, and scores, as ffmpeg's decode to Y4M.

References: the system ``ffmpeg`` encodes the clips (lossless: libx264 ``-qp 0`` in mp4,
ffv1 in mkv; lossy: libx264 and libvpx-vp9), decodes them to Y4M (``ffmpeg -i out.mp4
out.y4m``, read by iqa's native Y4M reader) and scores them with its ``psnr`` filter.
PyAV carries its own FFmpeg build; decoding is bit-exact across builds, so the planes
must be equal, and every per-frame value and every pooled value equal to the last bit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iqa.errors import InputError
from iqa.video import ClipPSNR, frame_psnr, iter_frame_pairs, open_source, score_clips
from tests.cli_helpers import ROOT, run_iqa
from tests.test_video_ffmpeg import (  # noqa: F401 - ffmpeg is a fixture
    check_against_ffmpeg,
    ffmpeg,
    ffmpeg_psnr,
    run_ffmpeg,
)

ENV = {"PYTHONPATH": str(ROOT)}


@pytest.fixture
def exe(request) -> str:
    """The system ffmpeg (the shared ``ffmpeg`` fixture: a failure in CI when missing)."""
    return request.getfixturevalue("ffmpeg")


def make_ref(exe: str, folder: Path, pix_fmt: str, size: str = "96x64",
             frames: int = 6, rate: int = 5) -> Path:
    ref = folder / f"ref_{pix_fmt}_{size}.y4m"
    run_ffmpeg(exe, "-f", "lavfi", "-i", f"testsrc2=size=96x64:rate={rate}",
               "-frames:v", str(frames), "-vf", f"scale={size.replace('x', ':')}",
               "-pix_fmt", pix_fmt, "-strict", "-1", str(ref))
    return ref


def encode(exe: str, ref: Path, out: Path, *codec: str) -> Path:
    run_ffmpeg(exe, "-i", str(ref), *codec, str(out))
    return out


def to_y4m(exe: str, clip: Path) -> Path:
    """ffmpeg's own decode of ``clip``: the reference route."""
    out = clip.with_name(clip.name + ".y4m")
    run_ffmpeg(exe, "-i", str(clip), "-strict", "-1", str(out))
    return out


def planes_of(path: Path) -> list[list[np.ndarray]]:
    with open_source(path) as clip:
        return [[p.copy() for p in frame.planes] for frame in clip]


def assert_same_planes(a: Path, b: Path) -> None:
    fa, fb = planes_of(a), planes_of(b)
    assert len(fa) == len(fb) > 0
    for frame_a, frame_b in zip(fa, fb):
        for pa, pb in zip(frame_a, frame_b):
            assert pa.dtype == pb.dtype and pa.shape == pb.shape
            np.testing.assert_array_equal(pa, pb)


LOSSLESS = [
    ("yuv420p", "96x64", "mp4", ("-c:v", "libx264", "-qp", "0")),
    ("yuv420p10le", "96x64", "mkv", ("-c:v", "ffv1")),
    ("yuv444p12le", "96x64", "mkv", ("-c:v", "ffv1")),
    ("yuv422p", "96x64", "mkv", ("-c:v", "ffv1")),
    ("gray10le", "96x64", "mkv", ("-c:v", "ffv1")),
]


@pytest.mark.parametrize("pix_fmt, size, ext, codec", LOSSLESS)
def test_lossless_clip_decodes_to_the_reference_planes(exe, tmp_path, pix_fmt, size, ext,
                                                        codec):
    ref = make_ref(exe, tmp_path, pix_fmt, size)
    out = encode(exe, ref, tmp_path / f"out.{ext}", *codec, "-pix_fmt", pix_fmt)
    with open_source(ref) as r, open_source(out) as d:
        assert d.format == r.format and d.pix_fmt == pix_fmt and d.frame_count == 6
        assert d.rate == 5
    assert_same_planes(ref, out)
    assert_same_planes(to_y4m(exe, out), out)


def test_odd_frame_size_rounds_chroma_up(exe, tmp_path):
    """95x63 4:2:0 has 48x32 chroma planes, as ffmpeg's raw output (its Y4M muxer of this
    Debian release writes odd sizes wrongly, so raw YUV is the reference here)."""
    source = ("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=5", "-frames:v", "4", "-vf",
              "scale=95:63", "-pix_fmt", "yuv420p10le")
    raw, mkv = tmp_path / "ref.yuv", tmp_path / "out.mkv"
    run_ffmpeg(exe, *source, "-f", "rawvideo", str(raw))
    run_ffmpeg(exe, *source, "-c:v", "ffv1", str(mkv))
    with open_source(raw, size="95x63", pix_fmt="yuv420p10le") as r, open_source(mkv) as d:
        assert d.format == r.format and d.format.plane_sizes[1] == (48, 32)
        pairs = [(a.copy(), b.copy()) for _, a, b in iter_frame_pairs(r, d)]
    assert len(pairs) == 4
    for a, b in pairs:
        for pa, pb in zip(a.planes, b.planes):
            np.testing.assert_array_equal(pa, pb)


LOSSY = [
    ("yuv420p", "mp4", ("-c:v", "libx264", "-crf", "32", "-bf", "2")),
    ("yuv420p10le", "mkv", ("-c:v", "libx264", "-crf", "30")),
    ("yuv420p10le", "webm", ("-c:v", "libvpx-vp9", "-b:v", "60k", "-deadline", "realtime")),
]


@pytest.mark.parametrize("pix_fmt, ext, codec", LOSSY)
def test_lossy_clip_scores_equal_the_y4m_route_and_ffmpeg(exe, tmp_path, pix_fmt, ext,
                                                           codec):
    ref = make_ref(exe, tmp_path, pix_fmt)
    out = encode(exe, ref, tmp_path / f"out.{ext}", *codec, "-pix_fmt", pix_fmt)
    decoded = to_y4m(exe, out)
    assert_same_planes(decoded, out)
    metrics = ("psnr", "ssim", "ms_ssim")
    with open_source(ref) as r, open_source(out) as d:
        ours = score_clips(r, d, metrics=metrics)
    with open_source(ref) as r, open_source(decoded) as d:
        theirs = score_clips(r, d, metrics=metrics)
    assert ours.rows == theirs.rows and ours.summary == theirs.summary
    assert 20 < ours.summary["psnr_y"]["mse_pooled"] < 60  # lossy, not broken
    # ffmpeg's psnr filter reading the compressed clip itself
    line, rows = ffmpeg_psnr(exe, ref, out, tmp_path)
    with open_source(ref) as r, open_source(out) as d:
        clip = ClipPSNR(r.format)
        frames = []
        for _, a, b in iter_frame_pairs(r, d):
            frames.append(frame_psnr(a, b))
            clip.add(frames[-1])
    check_against_ffmpeg(line, rows, clip.ffmpeg_line(), frames)


def test_cli_mp4_against_mp4_equals_the_y4m_route(exe, tmp_path):
    """`iqa compare ref.mp4 out.mp4` and `iqa compare ref.y4m out.mp4` give the numbers
    of the two clips decoded to Y4M by ffmpeg; kbps is the mp4's bytes over its duration."""
    ref = make_ref(exe, tmp_path, "yuv420p")
    ref_mp4 = encode(exe, ref, tmp_path / "ref.mp4", "-c:v", "libx264", "-qp", "0")
    out = encode(exe, ref, tmp_path / "out.mp4", "-c:v", "libx264", "-crf", "35")

    def report(*args: object) -> dict:
        proc = run_iqa("compare", *args, "-m", "psnr,ssim", "--format", "json", env=ENV)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["pairs"][0]

    via_y4m = report(to_y4m(exe, ref_mp4), to_y4m(exe, out))
    for reference in (ref_mp4, ref):
        got = report(reference, out)
        for name in ("psnr_y", "psnr_u", "psnr_v", "psnr", "ssim_y", "ssim_u", "ssim_v",
                     "ssim"):
            assert got[name] == via_y4m[name], name
        assert got["summary"] == via_y4m["summary"]
        size = out.stat().st_size
        assert (got["bytes"], got["frames"], got["fps"]) == (size, 6, 5.0)
        assert got["kbps"] == 8 * size * 5 / 6 / 1000
        assert got["bpp"] == 8 * size / (96 * 64 * 6)


def one_line_error(*args: object) -> str:
    proc = run_iqa("compare", *args, env=ENV)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_frame_count_mismatch_names_both_files(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv420p")
    short = encode(exe, ref, tmp_path / "short.mp4", "-frames:v", "4", "-c:v", "libx264")
    line = one_line_error(ref, short)
    assert f"{ref} has 6 frames but {short} has 4" in line and "--frames 4" in line
    proc = run_iqa("compare", ref, short, "--frames", "4", "--format", "json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairs"][0]["frames"] == 4


def test_unsupported_pixel_format_names_the_conversion(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv420p")
    alpha = encode(exe, ref, tmp_path / "alpha.mkv", "-c:v", "ffv1", "-pix_fmt",
                   "yuva420p")
    with pytest.raises(InputError) as info:
        open_source(alpha)
    message = str(info.value)
    assert message.startswith(f"{alpha}: the video stream decodes to yuva420p, which is not "
                              "scored")
    assert "ffmpeg -i alpha.mkv -pix_fmt yuv420p" in message
    line = one_line_error(ref, alpha)
    assert "decodes to yuva420p" in line


def test_variable_frame_rate_is_refused(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv420p")
    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg(exe, "-i", str(ref), "-vf", "setpts='if(lt(N,3),N*0.2,N*0.5)/TB'",
               "-fps_mode", "passthrough", "-c:v", "ffv1", str(vfr))
    line = one_line_error(ref, vfr)
    assert re.match(rf"iqa: {re.escape(str(vfr))}: variable frame rate \(frame durations "
                    r"from 200 to \d+ ms\); frames are paired by index", line), line
    assert "-fps_mode cfr" in line


def test_frame_size_change_mid_stream_is_refused(exe, tmp_path):
    """Two H.264 transport streams of different sizes, one after the other (as `cat`
    joins them): the stream declares one size, some frames have another."""
    parts = []
    for size, offset in (("96x64", "0"), ("128x96", "0.6")):
        parts.append(tmp_path / f"{size}.ts")
        run_ffmpeg(exe, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=5", "-frames:v",
                   "3", "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p",
                   "-output_ts_offset", offset, str(parts[-1]))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with open_source(joined) as clip:
        declared = f"{clip.format.width}x{clip.format.height}"
        other = "96x64" if declared == "128x96" else "128x96"
    ref = make_ref(exe, tmp_path, "yuv420p", declared)
    line = one_line_error(ref, joined)
    assert re.fullmatch(rf"iqa: {re.escape(str(joined))}: frame \d is {other} yuv420p, not "
                        rf"the stream's {declared} yuv420p; clips whose frame size or pixel "
                        "format changes mid-stream are not supported", line), line


def test_no_video_stream_and_not_a_video(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv420p")
    audio = tmp_path / "audio.mkv"
    run_ffmpeg(exe, "-f", "lavfi", "-i", "sine=duration=0.2", "-c:a", "flac", str(audio))
    assert one_line_error(ref, audio) == f"iqa: {audio}: has no video stream"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    assert one_line_error(ref, junk).startswith(f"iqa: {junk}: not a video file PyAV can read")
    assert one_line_error(ref, tmp_path / "gone.mp4") == f"iqa: {tmp_path}/gone.mp4: no such file"


def test_missing_pyav_names_the_extra(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv420p")
    out = encode(exe, ref, tmp_path / "out.mp4", "-c:v", "libx264")
    prelude = ("import sys\nsys.modules['av'] = None\nfrom iqa.cli import main\n"
               "main(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", prelude, "compare", str(ref), str(out)],
                          capture_output=True, text=True, cwd=ROOT, env={**ENV},
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f'iqa: {out}: compressed video (mp4, mkv, webm, ivf ...) '
                                   'needs av, which is not installed: pip install "iqa[video]"')
    # a Y4M pair needs no PyAV
    proc = subprocess.run([sys.executable, "-c", prelude, "compare", str(ref), str(ref)],
                          capture_output=True, text=True, cwd=ROOT, env={**ENV}, timeout=300)
    assert proc.returncode == 0, proc.stderr


_PEAK = """
import resource, sys
from iqa.video import open_source
with open_source(sys.argv[1]) as clip:
    for frame in clip:
        pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_memory_does_not_grow_with_clip_length(exe, tmp_path):
    """Peak RSS decoding 8 and 64 frames of 640x480 (each frame 0.46 MB: kept frames
    would add 26 MB)."""
    peaks = []
    for frames in (8, 64):
        clip = tmp_path / f"c{frames}.mkv"
        run_ffmpeg(exe, "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-frames:v",
                   str(frames), "-pix_fmt", "yuv420p", "-c:v", "ffv1", str(clip))
        proc = subprocess.run([sys.executable, "-c", _PEAK, str(clip)], capture_output=True,
                              text=True, cwd=ROOT, env={**ENV}, timeout=300)
        assert proc.returncode == 0, proc.stderr
        peaks.append(int(proc.stdout) / 1024)
    assert peaks[1] - peaks[0] < 8, peaks


@pytest.mark.parametrize("ext", ["mp4", "ts"])
def test_a_stream_copied_cut_counts_the_frames_ffmpeg_outputs(exe, tmp_path, ext):
    """`ffmpeg -ss T -i clip -c copy cut` keeps the packets from the key frame before T:
    in mp4 an edit list marks those before T discarded; a transport stream cut after a
    key frame starts with packets the decoder cannot decode. Neither is a frame ffmpeg
    outputs, so neither counts: the frame count, the scores and kbps are those of the
    cut's own decode to Y4M."""
    ref = make_ref(exe, tmp_path, "yuv420p", frames=30, rate=25)
    whole = encode(exe, ref, tmp_path / f"whole.{ext}", "-c:v", "libx264", "-g", "12",
                   "-bf", "2", "-crf", "30")
    cut = tmp_path / f"cut.{ext}"
    if ext == "mp4":
        run_ffmpeg(exe, "-ss", "0.3", "-i", str(whole), "-c", "copy", str(cut))
    else:  # drop the leading packets up to the second key frame's predecessors
        run_ffmpeg(exe, "-i", str(whole), "-c", "copy", "-bsf:v",
                   "noise=drop='lt(n,5)'", str(cut))
    decoded = to_y4m(exe, cut)
    frames = len(planes_of(decoded))
    assert 0 < frames < 30
    proc = run_iqa("compare", decoded, cut, "-m", "psnr", "--format", "json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)["pairs"][0]
    assert got["frames"] == frames and got["psnr"] is None  # identical: infinite PSNR
    assert got["kbps"] == pytest.approx(8 * cut.stat().st_size * 25 / frames / 1000, rel=1e-12)


def _with_display_matrix(source: Path, out: Path, degrees: int, hflip: bool, vflip: bool):
    """``source``'s packets remuxed into ``out`` with a display matrix (PyAV's writer)."""
    import av

    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        stream = inp.streams.video[0]
        target = dst.add_stream_from_template(stream)
        target.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for packet in inp.demux(stream):
            if packet.dts is not None:
                packet.stream = target
                dst.mux(packet)
    return out


@pytest.mark.parametrize("pix_fmt, size", [("yuv420p", "94x62"), ("yuv444p", "95x63")])
def test_a_display_matrix_turns_frames_as_ffmpeg_shows_them(exe, tmp_path, pix_fmt, size):
    """Every rotation and mirror of the eight orientations gives the planes of ffmpeg's own
    decode to Y4M (``-autorotate``, its default): each plane turned on its own."""
    ref = make_ref(exe, tmp_path, pix_fmt, size=size, frames=3)
    source = encode(exe, ref, tmp_path / "src.mp4", "-c:v", "libx264", "-qp", "0")
    w, h = map(int, size.split("x"))
    seen = set()
    for degrees in (0, 90, 180, 270):
        for hflip, vflip in ((False, False), (True, False)):
            clip = _with_display_matrix(source, tmp_path / f"r{degrees}{hflip:d}.mp4",
                                        degrees, hflip, vflip)
            with open_source(clip) as ours:
                seen.add(ours.orientation)
                assert (ours.format.width, ours.format.height) == (
                    (h, w) if degrees % 180 else (w, h))
            assert_same_planes(clip, to_y4m(exe, clip))
    assert len(seen) == 8  # every orientation was exercised
    proc = run_iqa("compare", ref, tmp_path / "r1800.mp4", "-m", "psnr", "--format",
                   "json", env=ENV)
    assert proc.returncode == 0 and json.loads(proc.stdout)["pairs"][0]["psnr_y"] < 30


def test_a_transposed_422_clip_and_odd_angles_are_refused(exe, tmp_path):
    ref = make_ref(exe, tmp_path, "yuv422p", frames=2)
    source = encode(exe, ref, tmp_path / "src.mp4", "-c:v", "libx264", "-qp", "0")
    turned = _with_display_matrix(source, tmp_path / "r90.mp4", 90, False, False)
    line = one_line_error(ref, turned)
    assert "turns the picture by 270 degrees clockwise" in line and "4:2:2" in line
    assert "-pix_fmt yuv444p" in line
    tilted = _with_display_matrix(source, tmp_path / "r30.mp4", 30, False, False)
    line = one_line_error(ref, tilted)
    assert "turns the picture by 330 degrees clockwise" in line and "resampled" in line


@pytest.mark.parametrize("codec", [("-c:v", "mjpeg", "-q:v", "3"), ("-c:v", "libx264")])
def test_a_full_range_clip_is_not_compared_with_a_limited_one(exe, tmp_path, codec):
    """ffmpeg's psnr filter converts a full-range (yuvj) clip to the other's range before
    comparing; iqa compares samples as decoded, so it refuses the pair instead of giving
    a number 10-20 dB away from ffmpeg's. Against its own decode (Y4M, XCOLORRANGE=FULL)
    the clip is scored."""
    ref = make_ref(exe, tmp_path, "yuv420p", frames=3)
    full = encode(exe, ref, tmp_path / f"full_{codec[1]}.avi", *codec, "-pix_fmt", "yuvj420p")
    line = one_line_error(ref, full)
    assert "is limited-range (the range ffmpeg assumes" in line and "is full-range" in line
    decoded = to_y4m(exe, full)
    with open_source(decoded) as clip:
        assert clip.color_range == "full"
    proc = run_iqa("compare", decoded, full, "-m", "psnr", "--format", "json", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairs"][0]["psnr_band"] == "identical"


def test_memory_does_not_grow_with_the_number_of_decoded_frames(exe, tmp_path):
    """Frames are decoded into reused buffers: the process's peak memory after 200 frames
    of 640x360 is that after 20 (a leaked frame would add 0.35 MiB each)."""
    import subprocess
    import sys

    clip = tmp_path / "long.mp4"
    run_ffmpeg(exe, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-frames:v", "200",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip))
    code = ("import resource, sys\nfrom iqa.video import open_source\n"
            "with open_source(sys.argv[1]) as clip:\n"
            "    for i, _ in enumerate(clip):\n"
            "        if i in (20, 199):\n"
            "            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", code, str(clip)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    early, late = (int(x) / 1024 for x in done.stdout.split())
    assert late - early < 16, (early, late)
