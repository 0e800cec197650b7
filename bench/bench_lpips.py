"""LPIPS over a folder of 512x512 pairs: `iqa compare -m lpips` against lpips pair by pair.

The peer is what lpips's own scripts (lpips_2dirs.py) do: build ``lpips.LPIPS`` once,
then for each file ``im2tensor(load_image(...))`` both images and call the model. Both
sides run as fresh processes (start-up, imports, network build and decoding included)
on the same PNG files with the same AlexNet trunk weights (a seeded random trunk, as no
ImageNet weights can be downloaded here; speed does not depend on the values).

Run: python bench/bench_lpips.py [--pairs 24] [--net alex] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "_data" / "lpips"
TV_NAMES = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}

PEER = textwrap.dedent("""
    import os, sys, torch, torchvision, lpips
    net, tv_name, trunk, dir0, dir1 = sys.argv[1:6]
    real = getattr(torchvision.models, tv_name)
    def constructor(*args, **kwargs):
        model = real(weights=None)
        model.load_state_dict(torch.load(trunk, weights_only=True))
        return model
    setattr(lpips.pretrained_networks.tv, tv_name, constructor)
    loss_fn = lpips.LPIPS(net=net, version="0.1", verbose=False)
    total = 0.0
    for name in sorted(os.listdir(dir0)):
        if os.path.exists(os.path.join(dir1, name)):
            img0 = lpips.im2tensor(lpips.load_image(os.path.join(dir0, name)))
            img1 = lpips.im2tensor(lpips.load_image(os.path.join(dir1, name)))
            with torch.no_grad():
                total += float(loss_fn.forward(img0, img1))
    print(total)
""")


def make_data(pairs: int, net: str) -> dict[str, str]:
    """PNG pairs (JPEG-distorted crops of a photo), and a cache with the trunk imported."""
    import io

    import cv2
    import numpy as np
    import skimage.data
    import torch
    import torchvision
    from PIL import Image

    env = {**os.environ, "TORCH_HOME": str(DATA / "torch"), "IQA_CACHE_DIR": str(DATA / "iqa"),
           "IQA_OFFLINE": "1"}
    ref_dir, dist_dir = DATA / "ref", DATA / "dist"
    if not (ref_dir.is_dir() and len(list(ref_dir.iterdir())) == pairs):
        for d in (ref_dir, dist_dir):
            d.mkdir(parents=True, exist_ok=True)
            for f in d.iterdir():
                f.unlink()
        photo = cv2.resize(skimage.data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
        rng = np.random.default_rng(0)
        for i in range(pairs):
            y, x = rng.integers(0, 512, 2)
            crop = photo[y:y + 512, x:x + 512]
            buf = io.BytesIO()
            Image.fromarray(crop).save(buf, "JPEG", quality=int(rng.integers(10, 90)))
            Image.fromarray(crop).save(ref_dir / f"{i:03d}.png")
            Image.open(buf).convert("RGB").save(dist_dir / f"{i:03d}.png")
    trunk = DATA / f"{TV_NAMES[net]}-random.pth"
    if not trunk.exists():
        torch.manual_seed(0)
        torch.save(getattr(torchvision.models, TV_NAMES[net])(weights=None).state_dict(), trunk)
    subprocess.run([sys.executable, "-m", "iqa", "weights", "import", TV_NAMES[net], str(trunk),
                    "--unverified"], env=env, check=True, capture_output=True)
    env["BENCH_TRUNK"] = str(trunk)
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--net", choices=sorted(TV_NAMES), default="alex")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", default=None)
    args = parser.parse_args()

    env = make_data(args.pairs, args.net)
    ours = [sys.executable, "-m", "iqa", "compare", str(DATA / "ref"), str(DATA / "dist"),
            "-m", "lpips", "--format", "csv", "--device", args.device]
    if args.net != "alex":
        ours += ["--lpips-net", args.net]
    if args.batch_size:
        ours += ["--batch-size", args.batch_size]
    peer = [sys.executable, "-c", PEER, args.net, TV_NAMES[args.net], env["BENCH_TRUNK"],
            str(DATA / "ref"), str(DATA / "dist")]
    t_ours, t_peer = [], []
    for _ in range(args.repeat):
        t, out = timed(ours, env)
        t_ours.append(t)
        t, peer_out = timed(peer, env)
        t_peer.append(t)
    lines = out.strip().splitlines()
    column = lines[0].split(",").index("lpips")
    ours_total = sum(float(line.split(",")[column]) for line in lines[1:])
    n = args.pairs
    m_ours, m_peer = statistics.median(t_ours), statistics.median(t_peer)
    print(f"{n} pairs of 512x512 PNG, net={args.net}, device={args.device}, "
          f"whole processes (median of {args.repeat})")
    print(f"iqa compare -m lpips : {m_ours:6.2f} s  {n / m_ours:5.2f} pairs/s  "
          f"(sum of values {ours_total:.6f})")
    print(f"lpips pair by pair   : {m_peer:6.2f} s  {n / m_peer:5.2f} pairs/s  "
          f"(sum of values {float(peer_out):.6f})")
    print(f"iqa is {m_peer / m_ours:.2f}x the speed of pair-by-pair lpips")


if __name__ == "__main__":
    main()
