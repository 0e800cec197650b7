"""Peak memory of ``iqa fid`` at 1x and 4x the number of images (it should stay flat).

Each measurement runs ``iqa fid REAL FAKE --device cpu --no-cache`` in a fresh process
and reads the peak resident set size of that process tree (``RUSAGE_CHILDREN`` of a
wrapper process that runs only that command). FID keeps O(2048²) statistics whatever the
number of images; ``--kid`` keeps the features (8 KiB per image), shown for comparison.

Run: python bench/bench_fid_memory.py --weights FILE [--count 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fid_data import make_pair  # noqa: E402

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True,
                         text=True, env=env, check=True)
    seconds = time.perf_counter() - start
    kib, code = out.stdout.split()
    if code != "0":
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return int(kib) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("IQA_TEST_FID_WEIGHTS"))
    parser.add_argument("--count", type=int, default=50, help="images per folder at 1x")
    args = parser.parse_args()
    if not args.weights or not Path(args.weights).is_file():
        sys.exit("give the FID Inception weights with --weights FILE")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "IQA_CACHE_DIR": home, "IQA_OFFLINE": "1"}
        for extra in ([], ["--kid"]):
            for scale in (1, 4):
                count = args.count * scale
                real, fake = make_pair(count)
                cmd = [sys.executable, "-m", "iqa", "fid", str(real), str(fake), "--device",
                       "cpu", "--no-cache", "--weights", args.weights, "--format", "csv",
                       *extra]
                mib, seconds = peak_rss_mib(cmd, env)
                label = " ".join(["iqa fid", *extra])
                print(f"{label:12s} {scale}x: {2 * count:4d} images  peak RSS {mib:7.1f} MiB  "
                      f"({seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
