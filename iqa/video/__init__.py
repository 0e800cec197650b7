"""Video and raw YUV clips: frames streamed with their bit depth, scored plane by plane.

    from iqa.video import open_source, score_clips

    with open_source("ref.y4m") as ref, open_source("dist.yuv", size="1920x1080",
                                                     pix_fmt="yuv420p10le") as dist:
        scores = score_clips(ref, dist, metrics=("psnr", "ssim"))
    scores.rows        # one dict per frame: frame, psnr_y, psnr_u, psnr_v, psnr, ssim_y, ...
    scores.summary     # {"psnr_y": {"mean": .., "min": .., ..., "mse_pooled": ..}, ...}

Lower level: ``iter_frame_pairs(ref, dist)`` yields ``(index, ref_frame, dist_frame)``;
``frame_psnr``, ``frame_ssim``, ``frame_ms_ssim`` score one frame pair; ``ClipPSNR``
pools PSNR as ffmpeg; ``pool`` pools any per-frame values.

``open_source`` also opens compressed video (``"out.mp4"``, ``.mkv``, ``.webm``, ``.ivf``
...) through PyAV (``pip install "iqa[video]"``); every source has ``format`` and ``rate``
(frames per second, or ``None``).

Modules: :mod:`~iqa.video.frames` (frame and format types), :mod:`~iqa.video.y4m`,
:mod:`~iqa.video.yuv`, :mod:`~iqa.video.container` (readers), :mod:`~iqa.video.sources`
(opening, pairing),
:mod:`~iqa.video.psnr`, :mod:`~iqa.video.ssim` (per-plane metrics),
:mod:`~iqa.video.pooling` (per-clip pooling), :mod:`~iqa.video.score` (all of it for a
pair of clips). Names are imported on first use.
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
    "frame_ms_ssim": "iqa.video.ssim",
    "FrameMSSSIM": "iqa.video.ssim",
    "pool": "iqa.video.pooling",
    "POOLINGS": "iqa.video.pooling",
    "mse_pooled_psnr": "iqa.video.pooling",
    "write_y4m": "iqa.video.y4m",
    "score_clips": "iqa.video.score",
    "ClipScores": "iqa.video.score",
    "summarize": "iqa.video.score",
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
