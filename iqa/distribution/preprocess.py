"""From a decoded image to the FID Inception's input: three named resize modes.

Every mode takes 8-bit RGB pixels and returns a float32 tensor 3×299×299 with values in
[−1, 1], the scaling the network was trained with. They differ only in how the image is
resized to 299×299, which changes FID by far more than the differences between papers
it is used to rank, so the mode is always named in reports:

``tf`` (default)
    TensorFlow 1.x ``tf.image.resize_bilinear`` (``align_corners=False``, no
    antialiasing) from 8-bit values, in float32, then (x − 128)/128. This is the graph
    of the original TTUR code, and what torch-fidelity and the ADM evaluation suite
    compute; it reproduces ``torch_fidelity.calculate_metrics(..., fid=True)``
    bit for bit.
``pytorch-fid``
    x/255 → ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
    without antialiasing → 2x − 1, as ``python -m pytorch_fid`` does inside its network.
``clean``
    Pillow's bicubic filter on each channel as a float image (no rounding to 8 bits),
    clipped to [0, 255], then (x − 128)/128: clean-fid's ``mode="clean"``.

Bit depth, channels and alpha (:func:`to_rgb8`): the three references decode with
``PIL.Image.open(path).convert("RGB")``. 16-bit colour images are reduced to their high
byte (v >> 8), which is what Pillow does when it opens them; 16-bit gray images are
reduced the same way (Pillow's ``convert("RGB")`` clips them at 255 instead, which turns
most of the image white). Gray images are repeated over three channels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

#: Side of the network's square input.
INPUT_SIZE = 299


@dataclass(frozen=True)
class ResizeMode:
    """A named preprocessing: what it computes and which reference it reproduces."""

    name: str
    description: str
    reference: str
    fn: Callable[[np.ndarray], Any]  # H×W×3 uint8 → float32 tensor 3×299×299 in [−1, 1]
    #: The same on a uint8 tensor N×3×H×W on any device (None: only ``fn`` exists).
    batch_fn: Callable[[Any], Any] | None = None


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """H×W×C (C = 1 or 3; uint8 or uint16) → H×W×3 uint8, as described in the module."""
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"expected H×W×1 or H×W×3 pixels, got shape {pixels.shape}")
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels)


def _chw_float(rgb8: np.ndarray) -> Any:
    import torch

    # np.require copies a read-only array (a decoded 1×1 image's transpose is one):
    # torch.from_numpy warns about non-writable arrays.
    chw = np.require(rgb8.transpose(2, 0, 1), requirements=["C", "W"])
    return torch.from_numpy(chw).float()


def _tf_axis(in_size: int, out_size: int) -> tuple[Any, Any, Any]:
    """Source indices and weights of TF1 bilinear resizing along one axis (float32).

    TF1 with ``align_corners=False`` maps output pixel i to input coordinate
    i · in/out (no half-pixel offset), computed in float32.
    """
    import torch

    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    pos = torch.arange(0, out_size, 1, dtype=torch.float32) * scale
    lo = pos.long()
    hi = (lo + 1).clamp_max(in_size - 1)
    return lo, hi, pos - lo.float()


@lru_cache(maxsize=64)
def _tf_axis_on(in_size: int, out_size: int, device: Any) -> tuple[Any, Any, Any]:
    """:func:`_tf_axis` on ``device``, made once per (sizes, device).

    A copy from ordinary host memory to a GPU waits for everything queued on the
    device: made for every batch, it would hold each batch's resize until the previous
    batch's network had finished. The tensors are made outside inference mode, so a
    caller that records gradients can use them too.
    """
    import torch

    with torch.inference_mode(False):
        return tuple(t.to(device) for t in _tf_axis(in_size, out_size))


def _tf_bilinear(x: Any, size: int) -> Any:
    """TF1 bilinear resize of the last two axes of a float32 tensor (any device), then
    (x − 128)/128."""
    return (tf_bilinear(x, size) - 128) / 128


def tf_bilinear(x: Any, size: int) -> Any:
    """TF1 bilinear resize of the last two axes of a float32 tensor to size×size, values
    unchanged in scale (torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x``;
    any device)."""
    h, w = x.shape[-2:]
    y_lo, y_hi, dy = _tf_axis_on(h, size, x.device)
    x_lo, x_hi, dx = _tf_axis_on(w, size, x.device)
    top, bottom = x.index_select(-2, y_lo), x.index_select(-2, y_hi)
    dx = dx.view(1, size)
    left, right = top.index_select(-1, x_lo), top.index_select(-1, x_hi)
    row_top = left + (right - left) * dx
    left, right = bottom.index_select(-1, x_lo), bottom.index_select(-1, x_hi)
    row_bottom = left + (right - left) * dx
    return row_top + (row_bottom - row_top) * dy.view(size, 1)


def resize_tf(rgb8: np.ndarray, size: int = INPUT_SIZE) -> Any:
    """``tf`` mode: TF1 bilinear resize in float32, then (x − 128)/128.

    The arithmetic (float32 positions and weights, interpolation along x then y, in
    this order, each step rounded to float32) is torch-fidelity's
    ``interpolate_bilinear_2d_like_tensorflow1x``, which equals TensorFlow's kernel bit
    for bit on CPU. The same element-wise steps give the same bits on a GPU
    (:func:`resize_tf_batch`). One image is resized in NumPy: the same IEEE float32
    steps (so the same bits), the gathers on the 8-bit pixels, about a fourth of the
    CPU time of torch's kernels on one small tensor.
    """
    import torch

    h, w = rgb8.shape[:2]
    y_lo, y_hi, dy = _tf_axis_np(h, size)
    x_lo, x_hi, dx = _tf_axis_np(w, size)
    # Each source row the output reads is interpolated along x once (an upscale reads
    # most rows twice), channels first so that every step runs along whole rows.
    used = np.arange(h) if h <= 2 * size else np.union1d(y_lo, y_hi)
    chw = np.ascontiguousarray(rgb8[used].transpose(2, 0, 1))  # still 8-bit
    left = np.take(chw, x_lo, axis=2).astype(np.float32)
    right = np.take(chw, x_hi, axis=2).astype(np.float32)
    right -= left
    right *= dx
    left += right  # left + (right − left)·dx
    if h > 2 * size:
        y_lo, y_hi = np.searchsorted(used, y_lo), np.searchsorted(used, y_hi)
    top = np.take(left, y_lo, axis=1)
    bottom = np.take(left, y_hi, axis=1)
    bottom -= top
    bottom *= dy[:, None]
    top += bottom  # top + (bottom − top)·dy
    top -= np.float32(128)
    top /= np.float32(128)
    return torch.from_numpy(top)


def _tf_axis_np(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_tf_axis` in NumPy (the same float32 steps)."""
    pos = np.arange(out_size, dtype=np.float32) * np.float32(in_size / out_size)
    lo = pos.astype(np.int64)
    return lo, np.minimum(lo + 1, in_size - 1), pos - lo.astype(np.float32)


def resize_tf_batch(images: Any, size: int = INPUT_SIZE) -> Any:
    """:func:`resize_tf` of a uint8 tensor N×3×H×W, on the tensor's device."""
    return _tf_bilinear(images.float(), size)


def _pytorch_fid(x: Any, size: int) -> Any:
    import torch.nn.functional as F

    x = F.interpolate(x.div(255), size=(size, size), mode="bilinear", align_corners=False)
    return 2 * x - 1


def resize_pytorch_fid(rgb8: np.ndarray, size: int = INPUT_SIZE) -> Any:
    """``pytorch-fid`` mode: [0, 1] → torch bilinear (align_corners=False) → 2x − 1."""
    return _pytorch_fid(_chw_float(rgb8)[None], size)[0]


def resize_pytorch_fid_batch(images: Any, size: int = INPUT_SIZE) -> Any:
    """:func:`resize_pytorch_fid` of a uint8 tensor N×3×H×W, on the tensor's device (as
    pytorch-fid itself resizes inside its network, on the GPU when it runs there)."""
    return _pytorch_fid(images.float(), size)


def resize_clean(rgb8: np.ndarray, size: int = INPUT_SIZE) -> Any:
    """``clean`` mode: Pillow bicubic per channel in float32, clip to [0, 255], (x − 128)/128."""
    import torch
    from PIL import Image as PILImage

    channels = []
    for c in range(3):
        plane = PILImage.fromarray(rgb8[:, :, c].astype(np.float32), mode="F")
        plane = plane.resize((size, size), resample=PILImage.Resampling.BICUBIC)
        channels.append(np.asarray(plane).clip(0, 255))
    x = torch.from_numpy(np.stack(channels).astype(np.float32))
    return (x - 128) / 128


RESIZE_MODES: dict[str, ResizeMode] = {
    m.name: m
    for m in (
        ResizeMode(
            "tf",
            "TF1 bilinear resize to 299 from uint8 (align_corners=False), then (x-128)/128",
            "torch-fidelity calculate_metrics(fid=True); TTUR; ADM evaluation suite",
            resize_tf,
            resize_tf_batch,
        ),
        ResizeMode(
            "pytorch-fid",
            "x/255, torch bilinear resize to 299 (align_corners=False, no antialias), 2x-1",
            "python -m pytorch_fid",
            resize_pytorch_fid,
            resize_pytorch_fid_batch,
        ),
        ResizeMode(
            "clean",
            "PIL bicubic resize to 299 per channel in float, clip to [0, 255], (x-128)/128",
            "clean-fid compute_fid(mode='clean')",
            resize_clean,
        ),
    )
}


def resize_mode(name: str) -> ResizeMode:
    from iqa.params import invalid

    mode = RESIZE_MODES.get(name)
    if mode is None:
        raise invalid("resize", f"{name!r}: must be one of {', '.join(RESIZE_MODES)}")
    return mode
