"""SSIM against its arithmetic floor, and SSIM + MS-SSIM + PSNR against SSIM alone.

Run: IQA_THREADS=N python bench/bench_ssim_floor.py [--repeat N]  (this checkout's iqa)

The floor: five filtered maps (x, y, x², y², x·y, or any five equivalent inputs) ×
two separable passes × 11 taps × 2 flop = 220 flop per pixel per channel, at the
float64 GEMM rate measured in the same run (best of several 2048×2048 ``numpy.dot``,
run with the same number of BLAS threads as ``IQA_THREADS``). Target: ``iqa.ssim``
≤ 2.0× the floor at 1080p and 4K.

The shared pass: ``iqa compare -m psnr,ssim,ms_ssim`` scores each pair through the
metric classes in that order; the ratio of that per-pair time to the SSIM class alone
is printed (target ≤ 1.3×).

All timings are the best of ``--repeat`` calls (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Time the checkout this script is in, not an installed copy of iqa.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The GEMM reference runs on as many BLAS threads as the engine has (set before numpy loads).
if os.environ.get("IQA_THREADS", "").isdigit():
    os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ["IQA_THREADS"])
    os.environ.setdefault("OMP_NUM_THREADS", os.environ["IQA_THREADS"])

import numpy as np  # noqa: E402

FLOP_PER_PIXEL = 5 * 2 * 11 * 2  # maps × passes × taps × (multiply + add)


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up: thread pool, buffers
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_rate(repeat: int) -> float:
    """float64 GEMM rate in flop/s: best of ``repeat`` 2048×2048 products."""
    rng = np.random.default_rng(0)
    a, b = rng.random((2048, 2048)), rng.random((2048, 2048))
    out = np.empty_like(a)
    seconds = best_of(lambda: np.dot(a, b, out=out), repeat)
    return 2 * 2048**3 / seconds


def pair(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A photo resized to ``width``×``height`` RGB and its JPEG q40 version."""
    import io

    import cv2
    import skimage.data
    from PIL import Image

    ref = cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, "JPEG", quality=40)
    return ref, np.asarray(Image.open(buf).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    import iqa
    from iqa.io.images import Image
    from iqa.metrics._ssim_core import thread_count
    from iqa.metrics.ms_ssim import MSSSIM
    from iqa.metrics.psnr import PSNR
    from iqa.metrics.ssim import SSIM

    rate = gemm_rate(args.repeat)
    print(f"threads {thread_count()}; float64 GEMM {rate / 1e9:.1f} GFLOP/s "
          f"(2048x2048 numpy.dot, best of {args.repeat})")
    for width, height in ((1920, 1080), (3840, 2160)):
        ref, dist = pair(width, height)
        floor = FLOP_PER_PIXEL * width * height * 3 / rate
        t = best_of(lambda ref=ref, dist=dist: iqa.ssim(ref, dist), args.repeat)
        print(f"{width}x{height} RGB  ssim {t * 1e3:7.1f} ms  floor {floor * 1e3:6.1f} ms  "
              f"ratio {t / floor:.2f}x (target <= 2.0)")

        metrics = [PSNR(), SSIM(), MSSSIM()]

        def compare_like(metrics=metrics, ref=ref, dist=dist) -> None:
            # Fresh Image objects per call, as `iqa compare` decodes each pair anew.
            images = [(Image(ref.copy()), Image(dist.copy()))]
            for metric in metrics:
                metric.score(images)

        def ssim_only(ref=ref, dist=dist) -> None:
            images = [(Image(ref.copy()), Image(dist.copy()))]
            SSIM().score(images)

        t_three = best_of(compare_like, args.repeat)
        t_one = best_of(ssim_only, args.repeat)
        print(f"{width}x{height} RGB  psnr+ssim+ms_ssim {t_three * 1e3:7.1f} ms  "
              f"ssim alone {t_one * 1e3:7.1f} ms  ratio {t_three / t_one:.2f}x (target <= 1.3)")


if __name__ == "__main__":
    main()
