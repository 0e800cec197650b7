"""FID + KID + IS + precision/recall in one ``iqa fid`` run against torch-fidelity as users
run it today: one ``calculate_metrics`` call per extractor (Inception for FID, KID and IS;
VGG-16 for precision/recall), each in a new process, like the one ``iqa`` command.

Weights: ``--weights FILE`` is the FID Inception in pytorch-fid's layout; its logits
layer is replaced by a seeded random one (IS needs a non-zero layer; speed does not depend
on the values). VGG-16 is seeded random (torchvision's architecture), imported into a
temporary iqa cache with ``iqa weights import vgg16 FILE --unverified``. Both tools get
the same files, so their values are printed side by side as a check.

Run: python bench/bench_generative.py --weights FID.pth [--count 200] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fid_data import make_pair  # noqa: E402

_TF = """
import json, sys, torch_fidelity
kw = json.loads(sys.argv[1])
print(json.dumps(torch_fidelity.calculate_metrics(**kw)))
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:4])}...\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def _weights(fid: str, folder: Path) -> tuple[Path, Path]:
    import torch
    import torchvision

    state = torch.load(fid, weights_only=True)
    g = torch.Generator().manual_seed(12)
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=g) * 0.05
    inception = folder / "inception-random-fc.pth"
    torch.save(state, inception)
    torch.manual_seed(0)
    vgg = folder / "vgg16-random.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), vgg)
    return inception, vgg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="FID Inception (pytorch-fid layout)")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    real, fake = make_pair(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inception, vgg = _weights(args.weights, folder)
        env = {**os.environ, "IQA_CACHE_DIR": str(folder / "cache"), "IQA_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "iqa", "weights", "import", "vgg16", str(vgg),
                        "--unverified"], check=True, env=env, capture_output=True)
        size = min(args.count, 1000)
        iqa_s, out = _timed([sys.executable, "-m", "iqa", "fid", str(real), str(fake), "-m",
                             "fid,kid,is,precision,recall", "--weights", str(inception),
                             "--kid-subset-size", str(size), "--no-cache", "--device",
                             args.device, "--format", "json"], env)
        ours = json.loads(out)
        common = {"input1": str(fake), "input2": str(real), "cuda": args.device == "cuda",
                  "cache": False, "verbose": False}
        runs = [{**common, "fid": True, "kid": True, "isc": True, "kid_subset_size": size,
                 "feature_extractor_weights_path": str(inception)},
                {**common, "prc": True, "feature_extractor": "vgg16",
                 "feature_extractor_weights_path": str(vgg)}]
        theirs, tf_s = {}, 0.0
        for kw in runs:
            seconds, out = _timed([sys.executable, "-c", _TF, json.dumps(kw)], env)
            tf_s += seconds
            theirs.update(json.loads(out.strip().splitlines()[-1]))
    pairs = [("fid", "frechet_inception_distance"), ("kid_mean", "kernel_inception_distance_mean"),
             ("is", "inception_score_mean"), ("precision", "precision"), ("recall", "recall")]
    print(f"{args.count} real (500x375 JPEG) + {args.count} fake (256x256 PNG), {args.device}")
    for key, ref in pairs:
        print(f"  {key:<10} iqa {ours[key]:.6g}   torch-fidelity {theirs[ref]:.6g}")
    print(f"iqa (1 run): {iqa_s:.1f} s; torch-fidelity (2 runs): {tf_s:.1f} s; "
          f"ratio torch-fidelity/iqa = {tf_s / iqa_s:.2f}")


if __name__ == "__main__":
    main()
