"""SSIM and MS-SSIM on a 1920x1080 RGB pair: iqa against pytorch-msssim, same arrays.

Run: python bench/bench_ssim.py [--repeat N]
Prints the median time of each, the values, and the speed ratio. The two are timed
alternately, call by call, so that both see the same load on the machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Time the checkout this script is in, not an installed copy of iqa.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def full_hd_pair() -> tuple[np.ndarray, np.ndarray]:
    import cv2
    import skimage.data
    from PIL import Image

    ref = cv2.resize(skimage.data.astronaut(), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, "JPEG", quality=40)
    return ref, np.asarray(Image.open(buf).convert("RGB"))


def median_times(ours, theirs, repeat: int) -> tuple[float, float, float, float]:
    """Median seconds of ``ours`` and ``theirs``, timed alternately, and their values."""
    v_ours, v_theirs = ours(), theirs()  # warm-up (thread pools, allocator, buffers)
    t_ours, t_theirs = [], []
    for _ in range(repeat):
        for fn, times in ((ours, t_ours), (theirs, t_theirs)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(t_ours), statistics.median(t_theirs), float(v_ours), float(v_theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import torch
    from pytorch_msssim import ms_ssim as torch_ms_ssim
    from pytorch_msssim import ssim as torch_ssim

    import iqa

    ref, dist = full_hd_pair()
    x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].float()
    y = torch.from_numpy(dist.copy()).permute(2, 0, 1)[None].float()
    print(f"1920x1080 RGB pair; torch threads: {torch.get_num_threads()}")
    rows = [
        ("ssim", lambda: iqa.ssim(ref, dist), lambda: torch_ssim(x, y, data_range=255)),
        ("ms_ssim", lambda: iqa.ms_ssim(ref, dist), lambda: torch_ms_ssim(x, y, data_range=255)),
    ]
    for name, ours, theirs in rows:
        t_ours, t_theirs, v_ours, v_theirs = median_times(ours, theirs, args.repeat)
        print(
            f"{name:8s} iqa {t_ours * 1000:7.1f} ms ({v_ours:.7f})   "
            f"pytorch_msssim {t_theirs * 1000:7.1f} ms ({v_theirs:.7f})   "
            f"iqa is {t_theirs / t_ours:.1f}x faster"
        )


if __name__ == "__main__":
    main()
