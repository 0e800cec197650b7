"""`iqa compare` on 1080p pairs with `--maps DIR --html FILE` against the same run without.

Goal: under 1.5x the plain run. Both are whole processes on the same folders, timed
alternately in one run (default metrics psnr, ssim, ms_ssim). Also prints the size of
the report and of the maps folder, and, with --pairs-1000, the size and generation time
of a report of 1,000 small pairs (the table dominates; the worst 10 carry the pictures).

Run: python bench/bench_report.py [--pairs 100] [--repeat 3] [--pairs-1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_pairs(root: Path, count: int, size: tuple[int, int]) -> tuple[Path, Path]:
    """``count`` pairs: crops of a photo scaled to ``size`` (W, H), JPEG at 10..90."""
    import cv2
    import skimage.data

    ref_dir, dist_dir = root / "ref", root / "dist"
    ref_dir.mkdir(parents=True)
    dist_dir.mkdir()
    photo = skimage.data.astronaut()[:, :, ::-1]
    w, h = size
    big = cv2.resize(photo, (w + count, h + count), interpolation=cv2.INTER_CUBIC)
    for i in range(count):
        ref = big[i:i + h, i:i + w]
        q = 10 + (i * 80) // max(1, count - 1)
        dist = cv2.imdecode(cv2.imencode(".jpg", ref, [cv2.IMWRITE_JPEG_QUALITY, q])[1], 1)
        cv2.imwrite(str(ref_dir / f"{i:04d}.png"), ref, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        cv2.imwrite(str(dist_dir / f"{i:04d}.png"), dist, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return ref_dir, dist_dir


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pairs-1000", action="store_true",
                        help="also time a 1,000-pair report (256x256 pairs)")
    args = parser.parse_args()
    iqa = [sys.executable, "-m", "iqa", "compare"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ref, dist = make_pairs(root / "hd", args.pairs, (1920, 1080))
        plain = [*iqa, str(ref), str(dist), "--format", "json", "-o", str(root / "a.json")]
        full = [*iqa, str(ref), str(dist), "--format", "json", "-o", str(root / "b.json"),
                "--maps", str(root / "maps"), "--html", str(root / "report.html")]
        times: dict[str, list[float]] = {"plain": [], "maps+html": []}
        for _ in range(args.repeat):
            shutil.rmtree(root / "maps", ignore_errors=True)
            times["plain"].append(run(plain))
            times["maps+html"].append(run(full))
        t0, t1 = statistics.median(times["plain"]), statistics.median(times["maps+html"])
        print(f"{args.pairs} pairs of 1920x1080, median of {args.repeat}, "
              f"{os.cpu_count()} CPUs")
        print(f"  iqa compare                   {t0:8.2f} s")
        print(f"  iqa compare --maps --html     {t1:8.2f} s")
        print(f"  ratio                         {t1 / t0:8.2f}x  (goal < 1.5x)")
        print(f"  report.html {(root / 'report.html').stat().st_size / 1e6:.2f} MB, "
              f"maps {folder_size(root / 'maps') / 1e6:.1f} MB")
        if args.pairs_1000:
            ref, dist = make_pairs(root / "small", 1000, (256, 256))
            page = root / "report1000.html"
            t = run([*iqa, str(ref), str(dist), "-m", "psnr,ssim", "--html", str(page),
                     "--format", "json", "-o", str(root / "c.json")])
            t_plain = run([*iqa, str(ref), str(dist), "-m", "psnr,ssim", "--format", "json",
                           "-o", str(root / "d.json")])
            print(f"1,000 pairs of 256x256: report {page.stat().st_size / 1e6:.2f} MB, "
                  f"run {t:.2f} s with --html, {t_plain:.2f} s without "
                  f"(+{t - t_plain:.2f} s)")


if __name__ == "__main__":
    main()
