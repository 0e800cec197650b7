"""Per-plane PSNR of a 1920x1080 8-bit 4:2:0 Y4M clip: iqa against ffmpeg's psnr filter.

Run: python bench/bench_video.py [--frames 120] [--repeat 3] [--ssim] [--pix-fmt yuv420p10le]

Makes a reference clip with ffmpeg (``testsrc2``) and a distorted one (``noise``) in a
temporary folder, then times, as whole processes (start-up included), alternately:

- ffmpeg: ``ffmpeg -i ref.y4m -i dist.y4m -lavfi psnr -f null -``
- iqa:    ``python -c '<read both clips with iqa.video, frame_psnr per frame, pool>'``

and prints frames/s of each (and CPU seconds), the ratio, and that both printed the same
PSNR line. It then measures iqa's peak resident memory (``VmHWM``) on the clip and on a
clip four times as long (the same frames repeated), which must be the same: frames are
streamed into reused buffers.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IQA_SSIM_SCRIPT = """
import sys
from iqa.video import open_source, score_clips
with open_source(sys.argv[1]) as ref, open_source(sys.argv[2]) as dist:
    s = score_clips(ref, dist, metrics=("psnr", "ssim")).summary
print("ssim_mean", s["ssim"]["mean"], "psnr", s["psnr"]["mse_pooled"])
"""

IQA_SCRIPT = """
import sys
from iqa.video import ClipPSNR, frame_psnr, iter_frame_pairs, open_source
with open_source(sys.argv[1]) as ref, open_source(sys.argv[2]) as dist:
    clip = ClipPSNR(ref.format)
    for _, r, d in iter_frame_pairs(ref, dist):
        clip.add(frame_psnr(r, d))
print(clip.ffmpeg_line())
status = open("/proc/self/status").read().split("VmHWM:")[1]
print("peak_kib", int(status.split()[0]))
"""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stderr[-2000:]}")
    return result


def make_clips(ffmpeg: str, folder: Path, frames: int, pix_fmt: str) -> tuple[Path, Path]:
    ref, dist = folder / "ref.y4m", folder / "dist.y4m"
    run([ffmpeg, "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=1920x1080:rate=30", "-frames:v", str(frames), "-pix_fmt", pix_fmt,
         "-strict", "-1", str(ref)])
    run([ffmpeg, "-nostdin", "-y", "-v", "error", "-i", str(ref), "-vf",
         "noise=alls=12:allf=t", "-pix_fmt", pix_fmt, "-strict", "-1", str(dist)])
    return ref, dist


def repeated(clip: Path, times: int, out: Path) -> Path:
    """The same clip ``times`` times over, in one Y4M file (header once), by streaming."""
    with open(clip, "rb") as src, open(out, "wb") as dst:
        dst.write(src.readline())
        start = src.tell()
        for _ in range(times):
            src.seek(start)
            shutil.copyfileobj(src, dst, 1 << 22)
    return out


def warm(path: Path) -> None:
    """Read a file once so that both tools find it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def ffmpeg_cmd(ffmpeg: str, ref: Path, dist: Path) -> list[str]:
    return [ffmpeg, "-nostdin", "-hide_banner", "-i", str(ref), "-i", str(dist),
            "-lavfi", "psnr", "-f", "null", "-"]


def iqa_cmd(ref: Path, dist: Path, script: str = IQA_SCRIPT) -> list[str]:
    return [sys.executable, "-c", script, str(ref), str(dist)]


def psnr_line(text: str) -> str:
    lines = [line[line.index("PSNR "):] for line in text.splitlines() if "PSNR y:" in line]
    return lines[-1] if lines else "(none)"


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall-clock seconds, CPU seconds (user + system) and the result of a process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run(cmd, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pix-fmt", default="yuv420p",
                        help="ffmpeg pixel format of the clips (e.g. yuv420p10le)")
    parser.add_argument("--ssim", action="store_true",
                        help="also time per-plane PSNR + SSIM against ffmpeg's ssim filter "
                        "(a different, 8x8-block definition: for information only)")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg is not installed")
    print(run([ffmpeg, "-version"]).stdout.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="iqa-bench-video-") as tmp:
        folder = Path(tmp)
        ref, dist = make_clips(ffmpeg, folder, args.frames, args.pix_fmt)
        for path in (ref, dist):
            warm(path)
        times: dict[str, list[tuple[float, float]]] = {"ffmpeg": [], "iqa": []}
        for _ in range(args.repeat):
            wall, cpu, ff = timed(ffmpeg_cmd(ffmpeg, ref, dist))
            times["ffmpeg"].append((wall, cpu))
            wall, cpu, ours = timed(iqa_cmd(ref, dist))
            times["iqa"].append((wall, cpu))
        n = args.frames
        print(f"1920x1080 {args.pix_fmt}, {n} frames, whole processes (start-up included), "
              f"median of {args.repeat}, {os.cpu_count()} CPUs")
        fps = {}
        for tool, runs in times.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            fps[tool] = n / wall
            print(f"{tool:7s}: {n / wall:7.1f} frames/s  wall {wall:.3f} s  cpu {cpu:.3f} s")
        print(f"ratio iqa/ffmpeg (frames/s): {fps['iqa'] / fps['ffmpeg']:.2f}x (target >= 0.8x)")
        ff_line, our_line = psnr_line(ff.stderr), psnr_line(ours.stdout)
        print(f"ffmpeg: {ff_line}\niqa   : {our_line}\nsame line: {ff_line == our_line}")

        if args.ssim:
            ff_ssim = [ffmpeg, "-nostdin", "-hide_banner", "-i", str(ref), "-i", str(dist),
                       "-lavfi", "ssim", "-f", "null", "-"]
            wall_ff, _, _ = timed(ff_ssim)
            wall_iqa, _, out = timed(iqa_cmd(ref, dist, IQA_SSIM_SCRIPT))
            print(f"psnr+ssim: iqa {n / wall_iqa:.1f} frames/s, ffmpeg ssim filter "
                  f"{n / wall_ff:.1f} frames/s, ratio {wall_ff / wall_iqa:.2f}x "
                  f"(iqa: Gaussian 11x11 per plane; ffmpeg: 8x8 blocks) {out.stdout.strip()}")

        memory = {}
        for times in (1, 4):
            r = ref if times == 1 else repeated(ref, times, folder / "ref4.y4m")
            d = dist if times == 1 else repeated(dist, times, folder / "dist4.y4m")
            out = run(iqa_cmd(r, d), cwd=ROOT).stdout
            kib = int(out.split("peak_kib")[1])
            memory[n * times] = kib
            print(f"iqa peak RSS, {n * times} frames: {kib / 1024:.1f} MiB")
        (a, ma), (b, mb) = memory.items()
        print(f"peak memory {b} vs {a} frames: {mb / ma:.3f}x")


if __name__ == "__main__":
    main()
