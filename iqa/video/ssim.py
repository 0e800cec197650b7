"""Per-plane SSIM of video frames, and the frame's SSIM weighted by plane size.

Each plane is scored by :func:`iqa.metrics.ssim.ssim` — Wang et al. 2004, 11×11
Gaussian window (σ = 1.5), valid windows, equal to scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
— with data range L = 2^bits − 1 of the frame's bit depth (1023 for 10-bit).

The frame's ``ssim`` weighs the planes by their sample counts,
Σ ssim_c · (w_c · h_c) / Σ (w · h), as ffmpeg's ``ssim`` filter does for its "All"
value (``vf_ssim.c``: ``coefs[c] = planeheight[c] * planewidth[c] / sum``): 4/6, 1/6, 1/6
for 4:2:0. (ffmpeg's per-plane SSIM itself is a different, cheaper definition on 8×8
blocks, so its numbers differ from these.)

A plane smaller than the 11×11 window has no SSIM: its value is ``None``, the reason is
recorded, and the frame's ``ssim`` is ``None`` too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from iqa.errors import UsageError
from iqa.metrics._ssim_engine import sized_as
from iqa.video.frames import Frame, FrameFormat

WINDOW = 11


@dataclass(frozen=True)
class FrameSSIM:
    """SSIM of one frame: per plane (Y, U, V order) and weighted over planes."""

    index: int
    names: tuple[str, ...]
    planes: tuple[float | None, ...]
    ssim: float | None
    reasons: dict[str, str]

    def as_dict(self) -> dict[str, float | None]:
        """``ssim_y``, ``ssim_u``, ``ssim_v`` and ``ssim``."""
        out: dict[str, float | None] = {f"ssim_{n}": v for n, v in zip(self.names, self.planes)}
        out["ssim"] = self.ssim
        return out


def frame_ssim(ref: Frame, dist: Frame) -> FrameSSIM:
    """Per-plane SSIM (data range 2^bits − 1) and their pixel-count weighted sum."""
    from iqa.metrics.ssim import ssim

    fmt = ref.format
    if dist.format != fmt:
        raise UsageError(f"frames differ: {fmt.describe()} vs {dist.format.describe()}")
    values: list[float | None] = []
    reasons: dict[str, str] = {}
    for name, a, b in zip(fmt.plane_names, ref.planes, dist.planes):
        h, w = a.shape
        if h < WINDOW or w < WINDOW:
            values.append(None)
            reasons[f"ssim_{name}"] = (
                f"plane {name.upper()} is {w}x{h}, smaller than the {WINDOW}x{WINDOW} window"
            )
            continue
        with sized_as(_frame_pixels(ref)):  # every plane on the luma's engine
            values.append(ssim(a, b, data_range=float(fmt.max_value)))
    total: float | None = None
    if all(v is not None for v in values):
        total = _sample_weighted(values, fmt)  # type: ignore[arg-type]
        reasons_all = {}
    else:
        reasons_all = {"ssim": "a plane is smaller than the 11x11 window"}
    return FrameSSIM(ref.index, fmt.plane_names, tuple(values), total, {**reasons, **reasons_all})


def _sample_weighted(values: list[float], fmt: FrameFormat) -> float:
    """Σ v_c·n_c / Σ n_c over the planes (n_c: the plane's samples), ffmpeg's
    ``planeweight`` pooling. Summed over sample counts rather than multiplied by their
    float shares, so equal per-plane values give exactly that value (identical clips
    give SSIM 1, not 1 − 2⁻⁵²); otherwise the two differ by an ulp or so."""
    counts = [w * h for w, h in fmt.plane_sizes]
    return math.fsum(v * c for v, c in zip(values, counts)) / sum(counts)


@dataclass(frozen=True)
class FrameMSSSIM:
    """MS-SSIM of each plane of one frame (no whole-frame value)."""

    index: int
    names: tuple[str, ...]
    planes: tuple[float | None, ...]
    reasons: dict[str, str]

    def as_dict(self) -> dict[str, float | None]:
        """``ms_ssim_y``, ``ms_ssim_u``, ``ms_ssim_v``."""
        return {f"ms_ssim_{n}": v for n, v in zip(self.names, self.planes)}


def frame_ms_ssim(ref: Frame, dist: Frame) -> FrameMSSSIM:
    """MS-SSIM of each plane (:func:`iqa.metrics.ms_ssim.ms_ssim`, Wang et al. 2003, five
    scales, data range 2^bits − 1). A plane with a side under 161 samples (five scales
    of an 11×11 window) has none: ``None`` with the reason — in 4:2:0 the chroma planes
    of frames under 322 pixels wide or high."""
    from iqa.metrics.ms_ssim import min_size, ms_ssim

    fmt = ref.format
    if dist.format != fmt:
        raise UsageError(f"frames differ: {fmt.describe()} vs {dist.format.describe()}")
    side = min_size()
    values: list[float | None] = []
    reasons: dict[str, str] = {}
    for name, a, b in zip(fmt.plane_names, ref.planes, dist.planes):
        h, w = a.shape
        if h < side or w < side:
            values.append(None)
            reasons[f"ms_ssim_{name}"] = (
                f"plane {name.upper()} is {w}x{h}; MS-SSIM needs {side}x{side} "
                "(5 scales of an 11x11 window)"
            )
            continue
        with sized_as(_frame_pixels(ref)):
            values.append(ms_ssim(a, b, data_range=float(fmt.max_value)))
    return FrameMSSSIM(ref.index, fmt.plane_names, tuple(values), reasons)


def _frame_pixels(frame: Frame) -> int:
    """The samples of the frame's largest plane: the size that picks the SSIM engine for
    all its planes (:func:`iqa.metrics._ssim_engine.compiled`)."""
    return max(p.shape[0] * p.shape[1] for p in frame.planes)
