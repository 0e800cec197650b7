"""Per-channel ``(x − mean) / std``, as torchvision's ``normalize``, without its syncs.

``torchvision.transforms.functional.normalize`` turns ``mean`` and ``std`` into tensors
on the input's device for every call (a copy from ordinary host memory) and checks
``(std == 0).any()``; on a GPU both wait for everything queued on the device, so each
batch's preprocessing would wait for the previous batch's network. Here the constants
are checked once, in Python, and made once per (constants, dtype, device). The arithmetic
is torchvision's: a float subtraction, then a float division, by tensors of the same dtype,
so the values are the same bits.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def channel_normalize(x: Any, mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    """``x`` (N×C×H×W or C×H×W, floating point) less ``mean`` over ``std``, per channel;
    a new tensor (``x`` is left as it was)."""
    m, s = _constants(tuple(float(v) for v in mean), tuple(float(v) for v in std),
                      x.dtype, x.device)
    return (x - m) / s


@lru_cache(maxsize=32)
def _constants(mean: tuple[float, ...], std: tuple[float, ...], dtype: Any,
               device: Any) -> tuple[Any, Any]:
    """C×1×1 tensors on ``device``; made outside inference mode, so that a caller that
    records gradients may use them too."""
    import torch

    if any(v == 0 for v in std):
        raise ValueError(f"std {std} holds a zero: the division would be undefined")
    with torch.inference_mode(False):
        return (torch.tensor(mean, dtype=dtype).view(-1, 1, 1).to(device),
                torch.tensor(std, dtype=dtype).view(-1, 1, 1).to(device))
