"""End-to-end FID on CPU: ``iqa fid`` against ``python -m pytorch_fid``, same run.

Both commands run as users run them (new process, weights loaded, folders decoded), on
the same two folders (``--count`` images each, written once under bench/_data/) with
the same weights file:

    python -m pytorch_fid --device cpu --batch-size 50 --num-workers 2 REAL FAKE
    iqa fid REAL FAKE --device cpu --no-cache --weights FILE --resize pytorch-fid

``iqa`` runs in the ``pytorch-fid`` resize mode so that both print the same number.
Prints wall time, images/s (both folders / wall time), both FID values and the ratio;
then, in the same run, the Inception alone on random 299×299 batches (images/s), the
end-to-end rate as a share of it, the fixed cost of a run (the intercept of run time
against image count, from a run on 2 × 8 images and the end-to-end run; and the time of
``import torch`` alone, which it includes), and the time of a run whose two sides both
come from the statistics cache.

Run: python bench/bench_fid.py --weights FILE [--count 100]
(FILE: the FID Inception weights in pytorch-fid's layout; default $IQA_TEST_FID_WEIGHTS.)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fid_data import make_pair  # noqa: E402


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("IQA_TEST_FID_WEIGHTS"))
    parser.add_argument("--count", type=int, default=100, help="images per folder")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not args.weights or not Path(args.weights).is_file():
        sys.exit("give the FID Inception weights with --weights FILE")
    weights = Path(args.weights).resolve()
    real, fake = make_pair(args.count)
    total = 2 * args.count

    with tempfile.TemporaryDirectory() as home:
        hub = Path(home, "torch", "hub", "checkpoints")
        hub.mkdir(parents=True)
        (hub / "pt_inception-2015-12-05-6726825d.pth").symlink_to(weights)
        env = {**os.environ, "TORCH_HOME": str(Path(home, "torch")),
               "IQA_CACHE_DIR": str(Path(home, "iqa")), "IQA_OFFLINE": "1"}
        commands = {
            "pytorch-fid": [sys.executable, "-m", "pytorch_fid", "--device", "cpu",
                            "--batch-size", "50", "--num-workers", "2", str(real), str(fake)],
            "iqa": [sys.executable, "-m", "iqa", "fid", str(real), str(fake), "--device", "cpu",
                    "--no-cache", "--weights", str(weights), "--resize", "pytorch-fid",
                    "--format", "csv"],
        }
        import torch

        print(f"{total} images ({args.count} JPEG 500x375 + {args.count} PNG 256x256), "
              f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                seconds, out = timed(cmd, env)
                best[name] = min(best.get(name, float("inf")), seconds)
                print(f"{name:12s} {seconds:6.1f} s  {total / seconds:5.2f} images/s  "
                      f"FID {_value(name, out)}")
        ratio = best["pytorch-fid"] / best["iqa"]
        print(f"iqa fid is {ratio:.2f}x faster end to end "
              f"({total / best['iqa']:.2f} vs {total / best['pytorch-fid']:.2f} images/s)")

        network = network_rate(weights)
        e2e = total / best["iqa"]
        print(f"Inception alone: {network:.2f} images/s; iqa fid end to end "
              f"{e2e:.2f} images/s = {100 * e2e / network:.0f} % of it (goal 85 %)")
        small = [sys.executable, "-m", "iqa", "fid", str(_head(real, Path(home, "r8"), 8)),
                 str(_head(fake, Path(home, "f8"), 8)), "--device", "cpu", "--no-cache",
                 "--weights", str(weights), "--resize", "pytorch-fid", "--format", "csv"]
        small_run = min(timed(small, env)[0] for _ in range(max(1, args.repeat)))
        # The fixed cost is the intercept of run time against image count, from the run
        # on 2 x 8 images and the end-to-end run above (same command but the resize).
        per_image = (best["iqa"] - small_run) / (total - 16)
        fixed = small_run - 16 * per_image
        print(f"a run on 2 x 8 images: {small_run:.2f} s; fixed cost (intercept of run time "
              f"against images, {per_image * 1000:.0f} ms per image): {fixed:.2f} s (goal 2 s)")
        torch_import = min(timed([sys.executable, "-c", "import torch"], env)[0]
                           for _ in range(3))
        print(f"of which importing torch alone: {torch_import:.2f} s")
        cached = [c for c in commands["iqa"] if c != "--no-cache"]
        timed(cached, env)  # computes and stores both sides
        again = min(timed(cached, env)[0] for _ in range(max(1, args.repeat)))
        print(f"run with both sides from the statistics cache: {again:.2f} s (goal 0.8 s)")


def _head(folder: Path, target: Path, count: int) -> Path:
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir())[:count]:
        shutil.copyfile(path, target / path.name)
    return target


def network_rate(weights: Path, batch: int = 16, iters: int = 4) -> float:
    """The FID Inception alone, as iqa runs it on this CPU (batch 16, all threads)."""
    import torch

    from iqa.distribution.network import inception, resolve_weights

    net = inception(resolve_weights(weights), "cpu")
    x = torch.rand(batch, 3, 299, 299) * 2 - 1
    net(x)
    start = time.perf_counter()
    for _ in range(iters):
        net(x)
    return batch * iters / (time.perf_counter() - start)


def _value(name: str, out: str) -> str:
    if name == "pytorch-fid":
        match = re.search(r"FID:\s+(\S+)", out)
        return match.group(1) if match else "?"
    header, row = out.strip().splitlines()[:2]
    return dict(zip(header.split(","), row.split(",")))["fid"]


if __name__ == "__main__":
    main()
