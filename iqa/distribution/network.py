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

WEIGHTS_NAME = "fid-inception"
#: Images per forward pass when no batch size is given (looked up by
#: :func:`iqa.device.default_batch_size`). On CPU, 16 is as fast as larger batches and
#: keeps activations in cache; on CUDA, larger batches fill the device.
DEFAULT_BATCH = {"cpu": 16, "cuda": 128}

_lock = threading.Lock()
_built: dict[tuple[str, str, str], Any] = {}

DownloadProgress = Callable[[str], AbstractContextManager[Any]]


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
    from iqa.extras import require

    require("torch", "iqa fid on image folders")
    key = (str(weights.path), weights.sha256, device)
    with _lock:
        net = _built.get(key)
        if net is None:
            net = _build(weights, device)
            _built.clear()  # one network at a time: each holds ~95 MB of weights
            _built[key] = net
    return net


def _build(weights: Any, device: str) -> Any:
    """Read and re-hash the weights file in a thread while torch is imported here (both
    take a noticeable part of a short run's fixed cost; file reading and hashing release
    the interpreter lock), then load and build."""
    from concurrent.futures import ThreadPoolExecutor

    from iqa.weights import load_state_dict, read_verified

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="iqa-weights") as pool:
        pending = pool.submit(read_verified, weights)
        import torch  # noqa: F401 - imported now, while the weights are read

        from iqa.features.inception import build_inception

        data = pending.result()
    return build_inception(load_state_dict(weights, data), device=device)
