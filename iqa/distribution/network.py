"""The FID Inception of one run: weights from the weights manager, built once per device.

Weights are the catalog file ``fid-inception`` (pytorch-fid's release file, verified by
its digest, downloaded on first use unless ``IQA_OFFLINE=1``) or a user file given with
``--weights FILE`` / ``weights=``: a state dict in pytorch-fid's key layout, loaded with
``weights_only=True`` after its keys and shapes are checked. A file without a real
logits layer is fine: FID and KID use the pool3 features only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from iqa.errors import UsageError

WEIGHTS_NAME = "fid-inception"
#: Images per forward pass when no batch size is given. On CPU, 16 is as fast as larger
#: batches and keeps activations in cache; on CUDA, larger batches fill the device.
DEFAULT_BATCH = {"cpu": 16, "cuda": 128}

_lock = threading.Lock()
_built: dict[tuple[str, str, str], Any] = {}

DownloadProgress = Callable[[str], AbstractContextManager[Any]]


def cuda_impossible() -> bool:
    """True when no CUDA device can exist here, decided without importing torch.

    On macOS torch has no CUDA; on Linux CUDA needs an NVIDIA (``/dev/nvidiactl``), ROCm
    (``/dev/kfd``) or WSL (``/dev/dxg``) device node, and ``CUDA_VISIBLE_DEVICES=""`` or
    ``-1`` hides every device. Anywhere else the answer is left to torch. This keeps a
    run whose statistics all come from the cache from importing torch (seconds).
    """
    import sys

    if "torch" in sys.modules:
        return False
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    if sys.platform == "darwin":
        return True
    if sys.platform.startswith("linux"):
        return not any(os.path.exists(node) for node in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg"))
    return False


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` must be available."""
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}")
    if device == "cpu" or (device == "auto" and cuda_impossible()):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise UsageError("--device cuda: no CUDA device is available (use --device cpu)")
    return "cpu"


def default_workers(device: str) -> int:
    """DataLoader workers for decoding and resizing when ``--workers`` is not given.

    On CPU the network uses every core, so one worker (two on machines with more than
    four cores) is enough to hide decoding; on CUDA decoding is the bottleneck and gets
    up to 8 processes.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if device == "cuda":
        return max(1, min(8, cpus - 1))
    return 1 if cpus <= 4 else 2


def resolve_weights(path: str | os.PathLike[str] | None, progress: DownloadProgress | None = None):
    """The weights to use: a user file (verified only if it is the official one) or the
    catalog file. Returns :class:`iqa.weights.ResolvedWeights`."""
    from iqa.weights import from_file, resolve

    if path is not None:
        return from_file(path, name=WEIGHTS_NAME)
    if progress is None:
        return resolve(WEIGHTS_NAME)
    with progress("FID Inception weights") as callback:
        return resolve(WEIGHTS_NAME, progress=callback)


def inception(weights: Any, device: str) -> Any:
    """The :class:`~iqa.features.inception.FIDInception` for these weights on ``device``.

    Built once per (file, digest, device) in a process and reused by later runs.
    """
    key = (str(weights.path), weights.sha256, device)
    with _lock:
        net = _built.get(key)
        if net is None:
            from iqa.features.inception import build_inception
            from iqa.weights import load_state_dict

            net = build_inception(load_state_dict(weights), device=device)
            _built.clear()  # one network at a time: each holds ~95 MB of weights
            _built[key] = net
    return net
