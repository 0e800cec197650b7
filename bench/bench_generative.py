"""Generative metrics in one ``iqa fid`` run against torch-fidelity as users run it today:
one ``calculate_metrics`` call per extractor, each in a new process, like the one ``iqa``
command. Two sets:

default
    FID + KID + IS on the Inception, precision/recall on VGG-16 (torch-fidelity: an
    Inception run with fid, kid, isc and a vgg16 run with prc).
``--dinov2``
    FID on the Inception, FD-DINOv2 + KID + precision/recall on DINOv2 ViT-L/14
    (``iqa fid -m fid,kid,fd,precision,recall --features dinov2-vit-l-14:torch-fidelity``;
    torch-fidelity: an Inception run with fid and a dinov2-vit-l-14 run with fid, kid, prc).

Weights: ``--weights FILE`` is the FID Inception in pytorch-fid's layout. In the default set
its logits layer is replaced by a seeded random one (IS needs a non-zero layer; speed does
not depend on the values) and VGG-16 is seeded random (torchvision's architecture). With
``--dinov2``, DINOv2 ViT-L/14 is seeded random in the key layout of the official
``dinov2_vitl14_pretrain.pth``. Each random network is imported into a temporary iqa cache
with ``iqa weights import NAME FILE --unverified``. torch-fidelity reads VGG-16 from
``feature_extractor_weights_path``; its DINOv2 extractor takes no weights file (it calls
``torch.hub.load("facebookresearch/dinov2", "dinov2_vitl14")``), so in its process that call
builds the hub model from ``--dinov2-hub`` (the GitHub repository, or a local checkout of
it) with ``pretrained=False`` and loads the same file ``strict=True`` — what the hub does with
the official file. Both tools get the same weights, so their values are printed side by side
as a check.

Run: python bench/bench_generative.py --weights FID.pth [--count 200] [--device cpu]
     python bench/bench_generative.py --weights FID.pth --dinov2 [--count 24]
         [--dinov2-hub DIR]
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

# torch-fidelity's dinov2 extractor loads the official weights through torch.hub; the hub
# model is built the same way and given the local file instead.
_TF_DINOV2 = """
import json, os, sys, torch, torch_fidelity
kw, hub, weights = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
hub_load = torch.hub.load
def load(repo, model, *args, **kwargs):
    source = "local" if os.path.isdir(hub) else "github"
    net = hub_load(hub, model, source=source, pretrained=False)
    net.load_state_dict(torch.load(weights, weights_only=True), strict=True)
    return net
torch.hub.load = load
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


def _dinov2_weights(folder: Path) -> Path:
    """Seeded random DINOv2 ViT-L/14 in ``dinov2_vitl14_pretrain.pth``'s keys and shapes
    (LayerScale gammas and norm weights near their trained scale, so the features vary)."""
    import torch

    from iqa.features.dinov2_vit_l_14 import expected_shapes

    required, optional = expected_shapes()
    g = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in {**required, **optional}.items():
        t = torch.randn(shape, generator=g) * 0.02
        if key.endswith("gamma"):
            t = t * 10
        elif "norm" in key and key.endswith("weight"):
            t = t + 1
        state[key] = t
    path = folder / "dinov2_vitl14-random.pth"
    torch.save(state, path)
    return path


def _import(name: str, path: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "iqa", "weights", "import", name, str(path),
                           "--unverified"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"iqa weights import {name} failed:\n{done.stderr[-2000:]}")


def _inception_vgg(args: argparse.Namespace, real: Path, fake: Path, folder: Path,
                   env: dict[str, str]):
    inception, vgg = _weights(args.weights, folder)
    _import("vgg16", vgg, env)
    size = min(args.count, 1000)
    iqa_cmd = ["-m", "fid,kid,is,precision,recall", "--weights", str(inception),
               "--kid-subset-size", str(size)]
    common = {"input1": str(fake), "input2": str(real), "cuda": args.device == "cuda",
              "cache": False, "verbose": False}
    runs = [(_TF, {**common, "fid": True, "kid": True, "isc": True, "kid_subset_size": size,
                   "feature_extractor_weights_path": str(inception)}, []),
            (_TF, {**common, "prc": True, "feature_extractor": "vgg16",
                   "feature_extractor_weights_path": str(vgg)}, [])]
    pairs = [("fid", "fid", "frechet_inception_distance"),
             ("kid_mean", "kid_mean", "kernel_inception_distance_mean"),
             ("is", "is", "inception_score_mean"), ("precision", "precision", "precision"),
             ("recall", "recall", "recall")]
    return iqa_cmd, runs, pairs


def _dinov2(args: argparse.Namespace, real: Path, fake: Path, folder: Path,
            env: dict[str, str]):
    dinov2 = _dinov2_weights(folder)
    _import("dinov2-vit-l-14", dinov2, env)
    size = min(args.count, 1000)
    iqa_cmd = ["-m", "fid,kid,fd,precision,recall", "--features",
               "dinov2-vit-l-14:torch-fidelity", "--weights", args.weights,
               "--kid-subset-size", str(size)]
    common = {"input1": str(fake), "input2": str(real), "cuda": args.device == "cuda",
              "cache": False, "verbose": False}
    runs = [(_TF, {**common, "fid": True, "feature_extractor_weights_path": args.weights}, []),
            (_TF_DINOV2, {**common, "fid": True, "kid": True, "prc": True,
                          "kid_subset_size": size, "feature_extractor": "dinov2-vit-l-14"},
             [args.dinov2_hub, str(dinov2)])]
    # torch-fidelity names every Frechet distance "frechet_inception_distance": the second
    # run's, on DINOv2 features, is FD-DINOv2
    pairs = [("fid", "fid", "frechet_inception_distance"),
             ("fd (DINOv2)", "fd", "fd_dinov2"),
             ("kid_mean", "kid_mean", "kernel_inception_distance_mean"),
             ("precision", "precision", "precision"), ("recall", "recall", "recall")]
    return iqa_cmd, runs, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="FID Inception (pytorch-fid layout)")
    parser.add_argument("--count", type=int, default=None,
                        help="images per folder (default: 200; 24 with --dinov2)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dinov2", action="store_true",
                        help="FID + FD-DINOv2 + KID + precision/recall on DINOv2 ViT-L/14")
    parser.add_argument("--dinov2-hub", default="facebookresearch/dinov2",
                        help="torch.hub source of the DINOv2 model for torch-fidelity: the "
                             "GitHub repository or a local checkout of it")
    args = parser.parse_args()
    if args.count is None:
        args.count = 24 if args.dinov2 else 200
    real, fake = make_pair(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "IQA_CACHE_DIR": str(folder / "cache"), "IQA_OFFLINE": "1"}
        setup = _dinov2 if args.dinov2 else _inception_vgg
        iqa_args, runs, pairs = setup(args, real, fake, folder, env)
        iqa_s, out = _timed([sys.executable, "-m", "iqa", "fid", str(real), str(fake),
                             *iqa_args, "--no-cache", "--device", args.device,
                             "--format", "json"], env)
        ours = json.loads(out)
        theirs, times = {}, []
        for script, kw, extra in runs:
            seconds, out = _timed([sys.executable, "-c", script, json.dumps(kw), *extra], env)
            times.append(seconds)
            values = json.loads(out.strip().splitlines()[-1])
            if kw.get("feature_extractor") == "dinov2-vit-l-14":
                values["fd_dinov2"] = values.pop("frechet_inception_distance")
            theirs.update(values)
    tf_s = sum(times)
    print(f"{args.count} real (500x375 JPEG) + {args.count} fake (256x256 PNG), {args.device}")
    for label, key, ref in pairs:
        a, b = ours[key], theirs[ref]
        print(f"  {label:<12} iqa {a:.8g}   torch-fidelity {b:.8g}   "
              f"|diff| {abs(a - b):.2g}")
    runs_s = " + ".join(f"{s:.1f}" for s in times)
    print(f"iqa (1 run): {iqa_s:.1f} s; torch-fidelity ({len(times)} runs): {runs_s} = "
          f"{tf_s:.1f} s; ratio torch-fidelity/iqa = {tf_s / iqa_s:.2f}")


if __name__ == "__main__":
    main()
