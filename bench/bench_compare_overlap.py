"""`iqa compare -m psnr,ssim,ms_ssim` on 100 pairs of 1080p PNG vs JPEG q50: decoding and
metrics, apart and together.

Run: python bench/bench_compare_overlap.py [--pairs 100] [--rounds 3]  (this checkout's iqa)

Each round times, back to back, with the library pipeline of ``iqa compare``
(:func:`iqa.compare.score_pairs`, which decodes the next pairs in threads while the
metrics run):

- decode: the pairs decoded by the same threads, no metric;
- metrics: the metrics on pairs decoded beforehand (held in memory);
- run: the real pipeline, decoding and metrics together;
- ssim run: the same pipeline with ``-m ssim`` alone.

``run / ssim run`` is the per-pair cost of the three metrics against SSIM alone, as
``iqa compare`` pays it (goal <= 1.3: PSNR and MS-SSIM's full scale come from SSIM's
pass, so what the three metrics add is MS-SSIM's four lower scales and their 2x2 means).

It prints the wall time and the process CPU time of each, ``run / max(decode,
metrics)`` (1.0 = fully overlapped, the cost of the slower half alone) and
``run / (decode + metrics)`` (1.0 = no overlap at all). When both halves keep every
core busy, no overlap can beat their summed CPU time spread over the cores:
``(cpu_decode + cpu_metrics) / cores``, also printed, with ``run`` against it.
The min and median of the rounds' ratios are printed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Time the checkout this script is in, not an installed copy of iqa.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_pairs(folder: Path, count: int) -> list:
    """``count`` 1920x1080 PNG references (a photo, shifted per pair) and JPEG q50 copies."""
    import cv2
    import numpy as np
    import skimage.data

    from iqa.io.pairing import Pair

    photo = cv2.resize(skimage.data.astronaut()[:, :, ::-1], (2048, 1152),
                       interpolation=cv2.INTER_CUBIC)
    pairs = []
    for i in range(count):
        dy, dx = (7 * i) % 72, (13 * i) % 128
        img = np.ascontiguousarray(photo[dy:dy + 1080, dx:dx + 1920])
        ref, dist = folder / f"{i:03d}.png", folder / f"{i:03d}.jpg"
        cv2.imwrite(str(ref), img)
        cv2.imwrite(str(dist), img, [cv2.IMWRITE_JPEG_QUALITY, 50])
        pairs.append(Pair(key=f"{i:03d}", ref=str(ref), dist=str(dist)))
    return pairs


def timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from iqa.compare import _score_batch, build_metrics, score_pairs
    from iqa.io.images import Image
    from iqa.metrics._ssim_engine import compiled
    from iqa.metrics.base import MetricOptions
    from iqa.pair_loading import LoadSettings, _prefetched, decode_threads

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    settings = LoadSettings()
    metrics = build_metrics(["psnr", "ssim", "ms_ssim"], MetricOptions())
    ssim_only = build_metrics(["ssim"], MetricOptions())
    with tempfile.TemporaryDirectory() as tmp:
        pairs = make_pairs(Path(tmp), args.pairs)
        decoded = [loaded for _, loaded in _prefetched(pairs, settings, ahead=2)]

        def decode() -> None:
            for _ in _prefetched(pairs, settings, ahead=2):
                pass

        def metrics_only() -> None:
            # New array views per round: nothing is reused from an earlier round.
            for pair, (ref, dist) in zip(pairs, decoded):
                fresh = (Image(ref.pixels[...], ref.path), Image(dist.pixels[...], dist.path))
                for _ in _score_batch([(pair, fresh)], metrics):
                    pass

        def run(chosen=metrics) -> None:
            for record in score_pairs(pairs, chosen, settings):
                assert record["error"] is None, record["error"]

        print(f"{args.pairs} pairs of 1920x1080 PNG vs JPEG q50, psnr,ssim,ms_ssim; "
              f"{cores} cores, {decode_threads()} decoding threads, SSIM engine "
              f"{'compiled' if compiled(1920 * 1080) else 'BLAS'}")
        over_max, over_sum, over_cpu, over_ssim = [], [], [], []
        for r in range(args.rounds):
            (td, cd), (tm, cm), (tr, cr) = timed(decode), timed(metrics_only), timed(run)
            ts, cs = timed(lambda: run(ssim_only))
            over_ssim.append(tr / ts)
            bound = max(td, tm, (cd + cm) / cores)
            over_max.append(tr / max(td, tm))
            over_sum.append(tr / (td + tm))
            over_cpu.append(tr / bound)
            print(f"round {r + 1}: decode {td:6.2f} s (cpu {cd:6.2f})  metrics {tm:6.2f} s "
                  f"(cpu {cm:6.2f})  run {tr:6.2f} s (cpu {cr:6.2f}, "
                  f"{args.pairs / tr:.1f} pairs/s)  run/max {over_max[-1]:.2f}  "
                  f"run/sum {over_sum[-1]:.2f}  run/cpu-bound {over_cpu[-1]:.2f}  ssim run "
                  f"{ts:6.2f} s (cpu {cs:6.2f})  run/ssim run {over_ssim[-1]:.2f}", flush=True)
        for name, ratios in (("run / max(decode, metrics)", over_max),
                             ("run / (decode + metrics)", over_sum),
                             ("run / max(decode, metrics, cpu total / cores)", over_cpu),
                             ("three-metric run / ssim-only run (goal <= 1.3)", over_ssim)):
            print(f"{name}: min {min(ratios):.2f}  median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
