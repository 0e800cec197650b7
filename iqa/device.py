"""One device rule for every network in ``iqa`` (LPIPS trunks, the FID Inception).

``device`` is ``"auto"``, ``"cpu"`` or ``"cuda"``. ``auto`` picks CUDA when torch sees a
usable device and CPU otherwise; ``cuda`` without a device is an error, never a silent
fall-back. Batch sizes are declared by each network (they depend on its size) and looked
up here per device type; decoding workers depend only on the device and the CPU count.

Errors name the library parameter (``device=``) and carry it in ``exc.param``; the command
line shows the flag instead (``--device``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from iqa.params import invalid

DEVICES = ("auto", "cpu", "cuda")


def cuda_impossible() -> bool:
    """True when no CUDA device can exist here, decided without importing torch.

    On macOS torch has no CUDA; on Linux CUDA needs an NVIDIA (``/dev/nvidiactl``), ROCm
    (``/dev/kfd``) or WSL (``/dev/dxg``) device node, and ``CUDA_VISIBLE_DEVICES=""`` or
    ``-1`` hides every device. Anywhere else the answer is left to torch. This keeps a
    run whose statistics all come from the cache from importing torch (seconds).
    """
    if "torch" in sys.modules:
        return False
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    if sys.platform == "darwin":
        return True
    if sys.platform.startswith("linux"):
        return not any(os.path.exists(node) for node in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg"))
    return False


def check_device(device: str) -> str:
    """``device`` if it is one of :data:`DEVICES`; :class:`InvalidArgument` otherwise."""
    if device not in DEVICES:
        raise invalid("device", f"{device!r}: must be auto, cpu or cuda")
    return device


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` must be available."""
    check_device(device)
    if device == "cpu" or (device == "auto" and cuda_impossible()):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise invalid("device", "cuda: no CUDA device is available; use device cpu")
    return "cpu"


def default_batch_size(device: str, per_device: Mapping[str, int], fallback: int = 1) -> int:
    """A network's batch size for a resolved ``device`` (``"cpu"``/``"cuda"``), from the
    table the network declares (e.g. LPIPS ``{"cpu": 2, "cuda": 16}``)."""
    return per_device.get(device, fallback)


def default_workers(device: str) -> int | None:
    """Decoding processes when none are asked for; None: decode in threads of this
    process, between the network's batches.

    On the CPU the network uses every core, so decoding beside it only makes both
    slower (measured: the pipeline at 86 % of the network-only rate with one decoding
    process, 93–100 % when each batch is decoded on all cores before the network runs
    it); that is the default there. On CUDA decoding is the bottleneck and gets up to 8
    processes, which overlap with the device.
    """
    if device != "cuda":
        return None
    return max(1, min(8, usable_cpus() - 1))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cpus or 1)
