"""Video and raw YUV clips: frames streamed with their bit depth, scored plane by plane.

    from iqa.video import open_source, iter_frame_pairs, frame_psnr, ClipPSNR, pool

    with open_source("ref.y4m") as ref, open_source("dist.yuv", size="1920x1080",
                                                     pix_fmt="yuv420p10le") as dist:
        clip = None
        for index, r, d in iter_frame_pairs(ref, dist):
            result = frame_psnr(r, d)          # psnr_y, psnr_u, psnr_v, psnr (ffmpeg psnr)
            ...

Modules: :mod:`~iqa.video.frames` (frame and format types), :mod:`~iqa.video.y4m`,
:mod:`~iqa.video.yuv` (readers), :mod:`~iqa.video.sources` (opening, pairing),
:mod:`~iqa.video.psnr`, :mod:`~iqa.video.ssim` (per-plane metrics),
:mod:`~iqa.video.pooling` (per-clip pooling). Names are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Frame": "iqa.video.frames",
    "FrameFormat": "iqa.video.frames",
    "FrameSource": "iqa.video.frames",
    "open_source": "iqa.video.sources",
    "check_pair": "iqa.video.sources",
    "iter_frame_pairs": "iqa.video.sources",
    "is_clip": "iqa.video.sources",
    "frame_psnr": "iqa.video.psnr",
    "clip_psnr": "iqa.video.psnr",
    "ClipPSNR": "iqa.video.psnr",
    "FramePSNR": "iqa.video.psnr",
    "peak_value": "iqa.video.psnr",
    "frame_ssim": "iqa.video.ssim",
    "FrameSSIM": "iqa.video.ssim",
    "pool": "iqa.video.pooling",
    "POOLINGS": "iqa.video.pooling",
    "mse_pooled_psnr": "iqa.video.pooling",
    "write_y4m": "iqa.video.y4m",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iqa.video' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
