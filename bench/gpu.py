"""The GPU path, measured: ``iqa fid`` and LPIPS on CUDA, end to end, in one command.

Needs only the README's full install (``pip install "iqa[torch]"``) and a CUDA device;
nothing is downloaded. It writes test images (crops of ``sample_images/reference.png``
resized to 256x256, as JPEG q90 and PNG) under a temporary folder and prints:

1. ``iqa fid`` images/s end to end (a new process per run, weights loaded, folders decoded,
   ``--resize tf``), with batch size and decoding workers swept, on JPEGs and on PNGs; a
   tiny run gives the fixed cost (start-up, weights, CUDA context), and the steady rate
   is ``(N - n) / (t_N - t_n)``;
2. the Inception alone on the GPU (random 299x299 batches) for comparison;
3. peak GPU memory of one in-process ``iqa.fid`` run (``torch.cuda.max_memory_allocated``);
4. the CUDA FID and KID against the CPU FID and KID on the same images (float32, TF32
   off, which ``iqa`` enforces): the difference must stay under 1e-3 in FID;
5. ``iqa compare -m lpips`` pairs/s end to end on 256x256 pairs, and the LPIPS network
   alone.

Weights: ``--weights FILE`` (the FID Inception in pytorch-fid's layout) and ``--alexnet
FILE`` (torchvision's AlexNet). Without them, seeded random weights of the same shapes
are written and used: speed does not depend on the values, and the CPU/CUDA agreement
is then checked on a network with random weights (the FID values differ from the
official ones; the output says which weights were used).

Run: python bench/gpu.py [--count 2500] [--pairs 2000] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_images" / "reference.png"


def _write_images(job: tuple[str, int, int, str, int]) -> None:
    """Write images start..stop-1 of one folder (crops of SOURCE resized to 256x256)."""
    from PIL import Image

    folder, start, stop, fmt, quality = job
    src = np.asarray(Image.open(SOURCE).convert("RGB"))
    h0, w0 = src.shape[:2]
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        side = int(rng.integers(min(h0, w0) // 4, min(h0, w0) + 1))
        y = int(rng.integers(0, h0 - side + 1))
        x = int(rng.integers(0, w0 - side + 1))
        img = Image.fromarray(src[y:y + side, x:x + side]).resize((256, 256),
                                                                 Image.Resampling.BICUBIC)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        name = Path(folder) / f"{i:06d}.{fmt}"
        if fmt == "jpg":
            img.save(name, quality=quality)
        else:
            img.save(name, compress_level=1)


def make_folder(folder: Path, count: int, fmt: str, quality: int = 90, offset: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    step = max(1, -(-count // (4 * cpus)))
    jobs = [(str(folder), offset + s, offset + min(s + step, count), fmt, quality)
            for s in range(0, count, step)]
    with ProcessPoolExecutor(max_workers=cpus) as pool:
        list(pool.map(_write_images, jobs))
    return folder


def subset(folder: Path, target: Path, count: int) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir())[:count]:
        shutil.copyfile(path, target / path.name)
    return target


def random_inception(path: Path) -> None:
    """Seeded random weights with the keys and shapes of pytorch-fid's FID Inception."""
    import torch
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    model = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    for name, tensor in model.state_dict().items():
        if name.endswith("conv.weight"):  # He initialisation keeps activations O(1)
            fan_in = tensor[0].numel()
            tensor.normal_(0.0, (2.0 / fan_in) ** 0.5)
    torch.save(model.state_dict(), path)


def random_alexnet(path: Path) -> None:
    import torch
    from torchvision.models import alexnet

    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), path)


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "iqa", *args], capture_output=True,
                          text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"iqa {' '.join(args)} exited {done.returncode}: "
                           f"{done.stderr.strip()[-1500:]}")
    return seconds, done.stdout


def fid_value(stdout: str) -> float:
    return float(json.loads(stdout)["fid"])


def both(a: Path, b: Path, weights: Path, device: str) -> dict[str, float]:
    """FID and KID of one run (one feature extraction per set)."""
    from iqa.distribution.run import FIDOptions, compare_sets

    result = compare_sets(a, b, FIDOptions(kid=True, weights=str(weights), device=device,
                                           cache=False))
    return {"fid": result.fid, "kid": result.kid.mean}


def network_rate(device: str, weights: Path, batch: int, iters: int) -> float:
    import torch

    from iqa.distribution.network import inception, resolve_weights

    net = inception(resolve_weights(weights), device)
    x = torch.rand(batch, 3, 299, 299, device=device) * 2 - 1
    with torch.inference_mode():
        net(x)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            net(x)
        if device == "cuda":
            torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


def network_variants(device: str, weights: Path, batch: int, iters: int) -> dict[str, float]:
    """The Inception alone with cuDNN's autotuner and/or channels-last tensors, to choose
    the defaults (both change only the order of float32 sums, ~1e-7 relative)."""
    import torch

    from iqa.distribution.network import inception, resolve_weights

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    rates = {}
    for tuned in (False, True):
        for nhwc in (False, True):
            torch.backends.cudnn.benchmark = tuned
            net = inception(resolve_weights(weights), device)
            if nhwc and not net.channels_last:
                net.channels_last = True

                def nhwc_conv(c: Any) -> Any:
                    return replace(c, weight=c.weight.contiguous(memory_format=torch.channels_last))

                net.convs = {k: nhwc_conv(c) for k, c in net.convs.items()}
                net.heads = {k: (nhwc_conv(c), s) for k, (c, s) in net.heads.items()}
            x = torch.rand(batch, 3, 299, 299, device=device) * 2 - 1
            with torch.inference_mode():
                for _ in range(2):
                    net(x)
                sync()
                start = time.perf_counter()
                for _ in range(iters):
                    net(x)
                sync()
            rates[f"benchmark={tuned},channels_last={nhwc}"] = (
                batch * iters / (time.perf_counter() - start))
    torch.backends.cudnn.benchmark = False
    return rates


def profile_cli(args: list[str], env: dict[str, str], target: Path) -> str:
    """Run ``iqa ARGS`` under cProfile; save the profile and return the top of it."""
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(target), "-m", "iqa", *args],
                   capture_output=True, text=True, env=env, check=True)
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(str(target), stream=text).sort_stats("cumulative").print_stats(45)
    return text.getvalue()


def lpips_rate(device: str, batch: int, iters: int) -> float:
    import torch

    from iqa.metrics.lpips import _Runner

    runner = _Runner("alex", device)
    x = torch.rand(batch, 3, 256, 256, device=runner.device) * 2 - 1
    y = torch.rand(batch, 3, 256, 256, device=runner.device) * 2 - 1
    runner.distances(x, y)  # .tolist() waits for the device
    start = time.perf_counter()
    for _ in range(iters):
        runner.distances(x, y)
    return batch * iters / (time.perf_counter() - start)


def nccl_probe(argv: list[str]) -> None:
    """``iqa ARGV`` through the distributed code path even with one rank (torchrun
    --nproc-per-node 1), so that its NCCL collectives run on a single GPU: NCCL refuses
    two ranks on one device, and iqa runs one rank as a plain process."""
    from iqa.cli import main as cli
    from iqa.distribution import ranks

    ranks.under_torchrun = lambda: True
    sys.argv = ["iqa", *argv]
    cli()


def main() -> None:
    if sys.argv[1:2] == ["--nccl-probe"]:
        nccl_probe(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2500, help="images per folder")
    parser.add_argument("--pairs", type=int, default=2000, help="LPIPS pairs")
    parser.add_argument("--check-count", type=int, default=250,
                        help="images per set for the CPU/CUDA agreement check")
    parser.add_argument("--batch-sizes", default="128,256")
    parser.add_argument("--workers", default="8,15")
    parser.add_argument("--device", default="cuda", help="cuda (cpu only to try the script)")
    parser.add_argument("--weights", default=os.environ.get("IQA_TEST_FID_WEIGHTS"))
    parser.add_argument("--alexnet", default=None)
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--variants", action="store_true",
                        help="also time the Inception with cuDNN autotuning / channels-last")
    parser.add_argument("--profile-dir", default=None,
                        help="also write cProfile files of the small runs (fixed costs) here")
    args = parser.parse_args()

    import warnings

    import torch

    warnings.simplefilter("ignore")  # unverified weights, small sets: said once above
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark measures the GPU path")
    results: dict[str, object] = {
        "torch": torch.__version__, "cpus": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
    }
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, device {device}"
          + (f" ({results['gpu']})" if results["gpu"] else ""), flush=True)

    with tempfile.TemporaryDirectory(prefix="iqa-gpu-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "IQA_CACHE_DIR": str(work / "cache"), "IQA_OFFLINE": "1",
               "PYTHONUNBUFFERED": "1"}
        os.environ.update({"IQA_CACHE_DIR": env["IQA_CACHE_DIR"], "IQA_OFFLINE": "1"})
        weights = Path(args.weights) if args.weights else None
        if weights is None or not weights.is_file():
            weights = work / "inception-random.pth"
            random_inception(weights)
            results["fid_weights"] = "seeded random (same shapes as the FID Inception)"
        else:
            results["fid_weights"] = str(weights)
        alex = Path(args.alexnet) if args.alexnet else work / "alexnet-random.pth"
        if not args.alexnet:
            random_alexnet(alex)
        results["alexnet_weights"] = args.alexnet or "seeded random"
        run_cli(["weights", "import", "alexnet", str(alex), "--unverified"], env)
        print(f"FID weights: {results['fid_weights']}; AlexNet: {results['alexnet_weights']}",
              flush=True)

        start = time.perf_counter()
        n = args.count
        jpeg_a = make_folder(work / "jpeg_a", n, "jpg")
        jpeg_b = make_folder(work / "jpeg_b", n, "jpg", offset=n)
        png_a = make_folder(work / "png_a", n, "png")
        png_b = make_folder(work / "png_b", n, "png", offset=n)
        lp_ref = make_folder(work / "lp_ref", args.pairs, "jpg", quality=95)
        lp_out = make_folder(work / "lp_out", args.pairs, "jpg", quality=30)
        tiny = 50
        tiny_a = subset(jpeg_a, work / "tiny_a", tiny)
        tiny_b = subset(jpeg_b, work / "tiny_b", tiny)
        print(f"wrote {4 * n + 2 * args.pairs} images in {time.perf_counter() - start:.1f} s",
              flush=True)

        startup, _ = run_cli(["--version"], env)
        probe = ("import time, torch; t = time.perf_counter(); torch.zeros(1, device='"
                 + device + "'); print(time.perf_counter() - t)")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              check=True)
        results["startup_s"] = {"iqa_version": startup,
                                "import_torch_and_first_tensor": time.perf_counter() - start,
                                "first_tensor_on_device": float(done.stdout)}
        print(f"start-up: iqa --version {startup:.2f} s; import torch + first {device} "
              f"tensor {results['startup_s']['import_torch_and_first_tensor']:.2f} s "
              f"(of which the tensor {float(done.stdout):.2f} s)", flush=True)

        common = ["--device", device, "--no-cache", "--weights", str(weights), "--format", "json"]
        fixed, _ = run_cli(["fid", str(tiny_a), str(tiny_b), *common], env)
        fixed = min(fixed, run_cli(["fid", str(tiny_a), str(tiny_b), *common], env)[0])
        print(f"\niqa fid fixed cost ({2 * tiny} images): {fixed:.2f} s", flush=True)
        results["fid_fixed_s"] = fixed
        if args.profile_dir:
            prof = Path(args.profile_dir)
            prof.mkdir(parents=True, exist_ok=True)
            top = profile_cli(["fid", str(tiny_a), str(tiny_b), *common], env,
                              prof / "fid_tiny.prof")
            (prof / "fid_tiny.txt").write_text(top)
        if device == "cuda":
            # NCCL: one rank under torchrun, through the distributed code path (all_reduce
            # of the sums, gather of the KID features, broadcasts), must give the
            # single-process FID and KID.
            single = json.loads(run_cli(["fid", str(tiny_a), str(tiny_b), *common, "--kid"],
                                        env)[1])
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1",
                 str(Path(__file__).resolve()), "--nccl-probe", "fid", str(tiny_a),
                 str(tiny_b), *common, "--kid"],
                capture_output=True, text=True, check=False,
                env={**env, "NCCL_DEBUG": "INFO", "NCCL_DEBUG_FILE": str(work / "nccl.log")})
            log = work / "nccl.log"  # NCCL's log goes to stdout unless given a file
            nccl = {"rc": done.returncode, "seconds": time.perf_counter() - start,
                    "nccl_lines": log.read_text().count("NCCL INFO") if log.is_file() else 0,
                    "stderr_tail": done.stderr.strip()[-600:]}
            try:
                got = json.loads(done.stdout)
            except ValueError:
                nccl["stdout"] = done.stdout[-300:]
                got = None
            if got is not None:
                nccl["fid"], nccl["kid"] = got["fid"], got["kid"]["mean"]
                nccl["abs_diff_vs_single"] = abs(got["fid"] - single["fid"])
                nccl["kid_abs_diff_vs_single"] = abs(got["kid"]["mean"] - single["kid"]["mean"])
            results["nccl_one_rank"] = nccl
            print(f"torchrun 1 rank (NCCL): rc {nccl['rc']}, {nccl['nccl_lines']} NCCL lines, "
                  f"|FID - single| {nccl.get('abs_diff_vs_single')}, |KID - single| "
                  f"{nccl.get('kid_abs_diff_vs_single')}", flush=True)
            if nccl["rc"] != 0 or got is None:
                print(nccl["stderr_tail"], flush=True)
        sweeps = []
        configs = [(None, None)] + [(int(b), int(w)) for b in args.batch_sizes.split(",")
                                    for w in args.workers.split(",")]
        print(f"{'input':6s} {'batch':>6s} {'workers':>8s} {'wall s':>7s} "
              f"{'img/s':>7s} {'steady img/s':>13s}")
        for label, (a, b) in {"jpeg": (jpeg_a, jpeg_b), "png": (png_a, png_b)}.items():
            for batch, workers in configs if label == "jpeg" else configs[:1]:
                extra = []
                if batch:
                    extra += ["--batch-size", str(batch)]
                if workers:
                    extra += ["--workers", str(workers)]
                seconds, out = run_cli(["fid", str(a), str(b), *common, *extra], env)
                rate = 2 * n / seconds
                steady = (2 * n - 2 * tiny) / max(seconds - fixed, 1e-9)
                sweeps.append({"input": label, "batch": batch or "default",
                               "workers": workers or "default", "wall_s": seconds,
                               "images_per_s": rate, "steady_images_per_s": steady,
                               "fid": fid_value(out)})
                print(f"{label:6s} {batch or 'def':>6} {workers or 'def':>8} {seconds:7.2f} "
                      f"{rate:7.0f} {steady:13.0f}", flush=True)
        results["fid_sweep"] = sweeps

        for b in (200,):
            rate = network_rate(device, weights, b, 10 if device == "cuda" else 1)
            results["inception_only_images_per_s"] = rate
            print(f"Inception alone, batch {b}: {rate:.0f} images/s", flush=True)
        if device == "cuda" and args.variants:
            variants = network_variants(device, weights, 200, 10)
            results["inception_variants_images_per_s"] = variants
            for name, rate in variants.items():
                print(f"  Inception alone, {name}: {rate:.0f} images/s", flush=True)

        import iqa

        sub_a = subset(jpeg_a, work / "check_a", args.check_count)
        sub_b = subset(png_b, work / "check_b", args.check_count)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        iqa.fid(jpeg_a, jpeg_b, weights=weights, device=device, cache=False)
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
            results["peak_gpu_mib"] = peak
            print(f"peak GPU memory, iqa.fid on {2 * n} images: {peak:.0f} MiB", flush=True)
        cpu, dev = (both(sub_a, sub_b, weights, d) for d in ("cpu", device))
        diff = abs(cpu["fid"] - dev["fid"])
        results["agreement"] = {"images": 2 * args.check_count, "cpu": cpu, device: dev,
                                "fid_abs_diff": diff, "within_1e-3": diff < 1e-3}
        print(f"FID cpu {cpu['fid']:.6f}  {device} {dev['fid']:.6f}  |diff| {diff:.2e} "
              f"({'OK' if diff < 1e-3 else 'OVER'} 1e-3); KID cpu {cpu['kid']:.8f} "
              f"{device} {dev['kid']:.8f}", flush=True)

        lp_common = ["compare", str(lp_ref), str(lp_out), "-m", "lpips", "--device", device,
                     "--format", "csv", "-o", str(work / "lpips.csv")]
        lp_tiny_ref = subset(lp_ref, work / "lpt_ref", tiny)
        lp_tiny_out = subset(lp_out, work / "lpt_out", tiny)
        lp_fixed, _ = run_cli(["compare", str(lp_tiny_ref), str(lp_tiny_out), "-m", "lpips",
                               "--device", device, "--format", "csv",
                               "-o", str(work / "lpt.csv")], env)
        if args.profile_dir:
            (work / "lpt.csv").unlink(missing_ok=True)
            top = profile_cli(["compare", str(lp_tiny_ref), str(lp_tiny_out), "-m", "lpips",
                               "--device", device, "--format", "csv",
                               "-o", str(work / "lpt.csv")], env,
                              Path(args.profile_dir) / "lpips_tiny.prof")
            (Path(args.profile_dir) / "lpips_tiny.txt").write_text(top)
        lp_rows = []
        for batch in (None, 256):
            extra = ["--batch-size", str(batch)] if batch else []
            (work / "lpips.csv").unlink(missing_ok=True)
            seconds, _ = run_cli([*lp_common, *extra], env)
            rate = args.pairs / seconds
            steady = (args.pairs - tiny) / max(seconds - lp_fixed, 1e-9)
            lp_rows.append({"batch": batch or "default", "wall_s": seconds,
                            "pairs_per_s": rate, "steady_pairs_per_s": steady})
            print(f"iqa compare -m lpips, batch {batch or 'default'}: {seconds:.2f} s, "
                  f"{rate:.0f} pairs/s (steady {steady:.0f}; fixed {lp_fixed:.2f} s)",
                  flush=True)
        results["lpips_compare"] = lp_rows
        rate = lpips_rate(device, 128, 10 if device == "cuda" else 1)
        results["lpips_network_only_pairs_per_s"] = rate
        print(f"LPIPS alex network alone, batch 128: {rate:.0f} pairs/s", flush=True)

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
