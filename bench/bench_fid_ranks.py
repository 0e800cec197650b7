"""``iqa fid`` in one process against ``torchrun --nproc-per-node N``, same run, same folders.

Three runs on the same two folders (``--count`` images each, written once under
bench/_data/), all with ``--device cpu --no-cache``:

    iqa fid REAL FAKE                                   (one process, all threads)
    OMP_NUM_THREADS=1 iqa fid REAL FAKE                 (one process, one thread)
    torchrun --nproc-per-node N -m iqa fid REAL FAKE    (N ranks, one thread each)

Prints wall time, images/s (both folders / wall time), FID, and the ratios. FID of the
ranks equals the one-thread process's (the float32 network's results depend on the
number of threads, not on the ranks); the difference is printed.

Run: python bench/bench_fid_ranks.py --weights FILE [--count 48] [--ranks 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fid_data import make_pair  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    header, row = done.stdout.strip().splitlines()[:2]
    return seconds, float(dict(zip(header.split(","), row.split(",")))["fid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("IQA_TEST_FID_WEIGHTS"))
    parser.add_argument("--count", type=int, default=48, help="images per folder")
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    if not args.weights or not Path(args.weights).is_file():
        sys.exit("give the FID Inception weights with --weights FILE")
    real, fake = make_pair(args.count)
    total = 2 * args.count
    fid = ["fid", str(real), str(fake), "--device", "cpu", "--no-cache", "--weights",
           str(Path(args.weights).resolve()), "--format", "csv"]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "IQA_CACHE_DIR": home, "IQA_OFFLINE": "1"}
        one = {**env, "OMP_NUM_THREADS": "1"}
        runs = {
            "1 process": ([sys.executable, "-m", "iqa", *fid], env),
            "1 process, 1 thread": ([sys.executable, "-m", "iqa", *fid], one),
            f"{args.ranks} ranks": ([sys.executable, "-m", "torch.distributed.run",
                                     "--nproc-per-node", str(args.ranks), "--master-addr",
                                     "127.0.0.1", "--master-port", str(_port()), "-m", "iqa",
                                     *fid], one),
        }
        print(f"{total} images ({args.count} JPEG 500x375 + {args.count} PNG 256x256), "
              f"{os.cpu_count()} CPUs")
        results = {}
        for name, (cmd, run_env) in runs.items():
            seconds, value = timed(cmd, run_env)
            results[name] = (seconds, value)
            print(f"{name:22s} {seconds:6.1f} s  {total / seconds:5.2f} images/s  FID {value!r}")
    ranks = results[f"{args.ranks} ranks"]
    for name in ("1 process", "1 process, 1 thread"):
        print(f"{args.ranks} ranks vs {name}: {results[name][0] / ranks[0]:.2f}x")
    single = results["1 process, 1 thread"][1]
    print(f"FID of {args.ranks} ranks - FID of 1 process, 1 thread: {ranks[1] - single:.3g} "
          f"(relative {abs(ranks[1] - single) / single:.2g})")


if __name__ == "__main__":
    main()
