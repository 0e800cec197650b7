"""Sets of images held in memory: numpy arrays, torch tensors, iterables of batches.

So a training loop can evaluate samples without writing files (torch-fidelity's
generator input, torchmetrics' ``update``). The contract of a batch:

* a **numpy array** N×H×W×3 (images as usually stored), or a **torch tensor**
  N×3×H×W (torch's layout, on any device);
* dtype ``uint8`` (0-255), or floating point with every value in [0, 1], which is
  quantized to 8 bits as ``round(x · 255)``: exactly what writing the images as 8-bit
  PNG files does, so the FID equals the one from those files (the network's input is
  8-bit in every reference tool);
* an **iterable** (list, generator) yields such batches one at a time; they may differ
  in size, and each is dropped once its features are folded into the statistics.

Each image is then resized like a decoded file (``resize`` mode) and fed to the
network in batches of ``batch_size``. Nothing is cached (there is no file to key on).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError
from iqa.features.inception import FEATURE_DIM


def is_in_memory(value: Any) -> bool:
    """True for anything that is not a path (str, bytes or os.PathLike)."""
    return not isinstance(value, str | bytes | os.PathLike)


def describe(value: Any) -> str:
    """How reports name an in-memory set."""
    kind = type(value).__module__.split(".")[0]
    if kind == "numpy":
        return f"<numpy array {'x'.join(map(str, value.shape))}>"
    if kind == "torch" and hasattr(value, "shape"):
        return f"<torch tensor {'x'.join(map(str, value.shape))}>"
    return f"<{type(value).__name__} of batches>"


def _is_batch(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def _to_nhwc_uint8(batch: Any, label: str) -> np.ndarray:
    """One batch as N×H×W×3 uint8, by the module's contract; InputError otherwise."""
    if isinstance(batch, np.ndarray):
        array, layout = batch, "N×H×W×3"
    elif type(batch).__module__.startswith("torch") and hasattr(batch, "detach"):
        array, layout = batch.detach().cpu().numpy(), "N×3×H×W"
    else:
        raise InputError(f"{label}: a batch of type {type(batch).__name__}; give numpy arrays "
                         "(N×H×W×3) or torch tensors (N×3×H×W)", label)
    channel_axis = 3 if layout == "N×H×W×3" else 1
    if array.ndim != 4 or array.shape[channel_axis] != 3:
        raise InputError(f"{label}: a batch of shape {array.shape}; expected {layout} "
                         "(3 colour channels)", label)
    if layout == "N×3×H×W":
        array = array.transpose(0, 2, 3, 1)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind != "f":
        raise InputError(f"{label}: a batch of dtype {array.dtype}; give uint8 (0-255) or "
                         "floating point in [0, 1]", label)
    if not np.isfinite(array).all() or array.min(initial=0) < 0 or array.max(initial=0) > 1:
        raise InputError(f"{label}: floating-point images must hold values in [0, 1] (found "
                         f"{np.nanmin(array):.3g} to {np.nanmax(array):.3g}, or NaN)", label)
    return np.rint(array.astype(np.float64) * 255).astype(np.uint8)


def batches(value: Any, label: str) -> Iterator[np.ndarray]:
    """The batches of ``value`` (one array or tensor, or an iterable of them)."""
    if _is_batch(value):
        yield _to_nhwc_uint8(value, label)
        return
    if not isinstance(value, Iterable):
        raise InputError(f"{label}: expected a folder, a .npz file, an array, a tensor or an "
                         f"iterable of batches, not {type(value).__name__}", label)
    for batch in value:
        yield _to_nhwc_uint8(batch, label)


def extract_arrays(value: Any, label: str, network: Callable[[Any], Any], resize: Callable,
                   *, device: str, batch_size: int, keep_features: bool,
                   least: int = 2) -> tuple[FeatureStats, np.ndarray | None]:
    """Statistics (and features when asked) of an in-memory set; InputError with fewer
    than ``least`` images (0 for one rank's share of a set, checked once gathered)."""
    import torch

    del device  # kept in the signature for symmetry with extract()
    stats = FeatureStats.empty(FEATURE_DIM)
    kept: list[np.ndarray] = []
    pending: list[Any] = []

    def flush() -> None:
        if not pending:
            return
        batch = torch.stack(pending)  # the network moves it to its device
        features = network(batch).cpu().numpy()
        stats.update(features)
        if keep_features:
            kept.append(features.astype(np.float32, copy=False))
        pending.clear()

    for images in batches(value, label):
        for image in images:
            pending.append(resize(image))
            if len(pending) == batch_size:
                flush()
    flush()
    if stats.n < least:
        raise too_few(label, stats.n)
    features = (np.concatenate(kept) if kept else np.zeros((0, FEATURE_DIM), np.float32)
                ) if keep_features else None
    return stats, features


def too_few(label: str, n: int) -> InputError:
    return InputError(f"{label}: holds {n} image(s); FID and KID need at least 2 images "
                      "per set", label)
