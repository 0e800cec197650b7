"""A whole `iqa compare` process on a 512x512 pair against `python -c "import torch"`.

Weight-free metrics must not import torch, torchvision or lpips: the whole command
(start-up, decoding, PSNR, SSIM, MS-SSIM, table) must take less than half the time of
importing torch alone. Both are timed as fresh processes, alternately, same run.

Run: python bench/bench_startup.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_pair(folder: Path) -> tuple[Path, Path]:
    import io

    import skimage.data
    from PIL import Image

    ref = skimage.data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, "JPEG", quality=40)
    Image.fromarray(ref).save(folder / "ref.png")
    Image.open(buf).convert("RGB").save(folder / "dist.png")
    return folder / "ref.png", folder / "dist.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref, dist = make_pair(Path(tmp))
        ours = [sys.executable, "-m", "iqa", "compare", str(ref), str(dist),
                "-m", "psnr,ssim,ms_ssim"]
        peer = [sys.executable, "-c", "import torch"]
        times: dict[str, list[float]] = {"iqa": [], "torch": []}
        for _ in range(args.repeat):
            for key, cmd in (("iqa", ours), ("torch", peer)):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times[key].append(time.perf_counter() - start)
    t_ours, t_peer = statistics.median(times["iqa"]), statistics.median(times["torch"])
    print(f"iqa compare ref.png dist.png -m psnr,ssim,ms_ssim (512x512): {t_ours:.3f} s")
    print(f'python -c "import torch"                                   : {t_peer:.3f} s')
    print(f"iqa compare takes {t_ours / t_peer:.2f} of the time of importing torch "
          f"(median of {args.repeat})")


if __name__ == "__main__":
    main()
