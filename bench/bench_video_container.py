"""Per-plane PSNR of a Y4M reference against an H.264 mp4: iqa (PyAV) against ffmpeg.

Run: python bench/bench_video_container.py [--frames 120] [--repeat 3] [--pix-fmt yuv420p10le]

Makes a 1920x1080 reference clip with ffmpeg (``testsrc2``, Y4M) and encodes it with
libx264 (``-preset ultrafast -crf 30``) to mp4, then times, as whole processes (start-up
included), alternately:

- ffmpeg: ``ffmpeg -i dist.mp4 -i ref.y4m -lavfi psnr -f null -``
- iqa:    ``python -c '<read ref.y4m natively and dist.mp4 through PyAV, pool PSNR>'``

Both decode the H.264 stream (ffmpeg with its own threads, iqa through PyAV's FFmpeg
with frame threads); it prints frames/s of each, the ratio, and whether both printed the
same PSNR line. Then iqa's peak resident memory on the clip and on a clip four times as
long, which must be the same: frames are decoded into reused buffers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_video import IQA_SCRIPT, ROOT, psnr_line, repeated, run, timed, warm  # noqa: E402


def encode(ffmpeg: str, ref: Path, out: Path, pix_fmt: str) -> Path:
    run([ffmpeg, "-nostdin", "-y", "-v", "error", "-i", str(ref), "-c:v", "libx264",
         "-preset", "ultrafast", "-crf", "30", "-pix_fmt", pix_fmt, str(out)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pix-fmt", default="yuv420p")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg is not installed")
    import av

    print(run([ffmpeg, "-version"]).stdout.splitlines()[0], f"| PyAV {av.__version__}")
    n = args.frames
    with tempfile.TemporaryDirectory(prefix="iqa-bench-container-") as tmp:
        folder = Path(tmp)
        ref = folder / "ref.y4m"
        run([ffmpeg, "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
             "testsrc2=size=1920x1080:rate=30", "-frames:v", str(n), "-pix_fmt",
             args.pix_fmt, "-strict", "-1", str(ref)])
        dist = encode(ffmpeg, ref, folder / "dist.mp4", args.pix_fmt)
        for path in (ref, dist):
            warm(path)
        ff_cmd = [ffmpeg, "-nostdin", "-hide_banner", "-i", str(dist), "-i", str(ref),
                  "-lavfi", "psnr", "-f", "null", "-"]
        iqa_cmd = [sys.executable, "-c", IQA_SCRIPT, str(ref), str(dist)]
        times: dict[str, list[float]] = {"ffmpeg": [], "iqa": []}
        for _ in range(args.repeat):
            wall, _, ff = timed(ff_cmd)
            times["ffmpeg"].append(wall)
            wall, _, ours = timed(iqa_cmd)
            times["iqa"].append(wall)
        print(f"1920x1080 {args.pix_fmt}, {n} frames, Y4M vs H.264 mp4, whole processes, "
              f"median of {args.repeat}, {os.cpu_count()} CPUs")
        fps = {tool: n / statistics.median(walls) for tool, walls in times.items()}
        for tool, rate in fps.items():
            print(f"{tool:7s}: {rate:7.1f} frames/s")
        print(f"ratio iqa/ffmpeg (frames/s): {fps['iqa'] / fps['ffmpeg']:.2f}x")
        ff_line, our_line = psnr_line(ff.stderr), psnr_line(ours.stdout)
        print(f"ffmpeg: {ff_line}\niqa   : {our_line}\nsame line: {ff_line == our_line}")

        memory = {}
        for factor in (1, 4):
            r = ref if factor == 1 else repeated(ref, factor, folder / "ref4.y4m")
            d = dist if factor == 1 else encode(ffmpeg, r, folder / "dist4.mp4", args.pix_fmt)
            out = run([sys.executable, "-c", IQA_SCRIPT, str(r), str(d)], cwd=ROOT).stdout
            memory[n * factor] = int(out.split("peak_kib")[1])
            print(f"iqa peak RSS, {n * factor} frames: {memory[n * factor] / 1024:.1f} MiB")
        (a, ma), (b, mb) = memory.items()
        print(f"peak memory {b} vs {a} frames: {mb / ma:.3f}x")


if __name__ == "__main__":
    main()
