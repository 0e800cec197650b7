"""PSNR, peak signal-to-noise ratio, with interpretation bands.

Definition used: PSNR = 10·log10(MAX² / MSE), MSE the mean squared difference over all
pixels and channels in float64, MAX the data range (255 for 8-bit, 65535 for 16-bit,
given for floats). This equals ``skimage.metrics.peak_signal_noise_ratio``. Identical
images have MSE = 0 and an infinite PSNR.

With ``luma=True`` PSNR is computed on the BT.601 luma of RGB images, as
super-resolution and codec papers report it:
Y = 16·MAX/255 + (65.481·R + 128.553·G + 24.966·B)/255 (no rounding; MAX unchanged),
the formula of MATLAB's ``rgb2ycbcr`` and BasicSR's ``to_y_channel``.
Gray images are used as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from iqa.errors import InvalidArgument
from iqa.io.images import Image
from iqa.metrics._arrays import ImageLike, as_pair
from iqa.metrics.base import PAIR, MetricInfo, Option, PairMetric

#: (lower bound in dB, band id, what it means), from best to worst.
BANDS = (
    (math.inf, "identical", "identical images (MSE = 0)"),
    (50.0, "near-lossless", "near-lossless, only tiny errors"),
    (30.0, "hard-to-see", "differences hard for the eye to see"),
    (20.0, "visible", "differences visible"),
    (10.0, "degraded", "clearly degraded, structure still recognisable"),
    (-math.inf, "unrecognisable", "hard to tell whether it is the same image"),
)


#: Rows are processed in strips of about this many bytes of float64.
STRIP_BYTES = 4 << 20


def psnr(
    ref: ImageLike, dist: ImageLike, *, data_range: float | None = None, luma: bool = False,
    full: bool = False,
) -> float | tuple[float, np.ndarray]:
    """PSNR in dB of two images (H×W or H×W×C); ``inf`` when they are identical.

    Parameters
    ----------
    ref, dist : ndarray, Image or path
        Reference and distorted image, same shape. Arrays, nested lists, ``iqa.Image``
        objects and file paths (decoded with ``iqa.load_image``'s defaults).
    data_range : float, optional
        MAX. Implied only for ``uint8`` (255) and ``uint16`` (65535); required for every
        other type (floats, other integers, Python lists). See ``iqa.metrics._arrays``.
    luma : bool
        Score the BT.601 luma (Y) of RGB images instead of all channels.
    full : bool
        Also return the squared-error map: H×W float64, each pixel's squared difference
        averaged over the channels (or of Y with ``luma``). Its mean is the MSE the PSNR
        is computed from (the same pass; for 8/16-bit images MSE is the exact integer
        sum of the map over H·W·C).

    Raises
    ------
    IQAError
        Also a ``ValueError`` or ``TypeError``: bad shapes, types, NaN pixels, range.

    Notes
    -----
    The squared error is summed in strips of rows, so memory does not grow with the
    image beyond the inputs: exactly, in integers, for 8- and 16-bit images (then MSE is
    the correctly rounded quotient), else in float64 per strip and ``math.fsum`` over
    strips.
    """
    ref, dist, data_range = as_pair(ref, dist, data_range, metric="psnr")
    if luma:
        _check_luma(ref)
    error = np.empty(ref.shape[:2]) if full else None
    mse = mean_squared_error(ref, dist, luma=luma, data_range=data_range, out=error)
    value = from_mse(mse, data_range)
    return value if error is None else (value, error)


def from_mse(mse: float, data_range: float) -> float:
    """PSNR = 10·log10(MAX² / MSE); ``inf`` for MSE = 0."""
    if mse == 0.0:
        return math.inf
    return float(10 * np.log10((data_range**2) / mse))


def mean_squared_error(
    ref: np.ndarray, dist: np.ndarray, *, luma: bool = False, data_range: float = 255.0,
    out: np.ndarray | None = None,
) -> float:
    """Mean squared error of two H×W×C arrays, computed in strips of rows (see psnr).

    ``out`` (H×W float64) receives each pixel's squared error averaged over channels.
    """
    h, w, c = ref.shape
    rows = max(1, STRIP_BYTES // (8 * w * c))
    exact = (not luma and ref.dtype == dist.dtype and ref.dtype.kind in "ui"
             and ref.dtype.itemsize <= 2)
    if exact and out is None and ref.dtype == np.uint8:
        from iqa.metrics._sse import sse_uint8

        return sse_uint8(ref, dist) / (h * w * c)
    if exact:
        total = 0
        for top in range(0, h, rows):
            d = ref[top:top + rows].astype(np.int64)
            d -= dist[top:top + rows]
            np.square(d, out=d)
            total += int(d.sum())
            if out is not None:
                _channel_mean(d, out[top:top + rows])
        return total / (h * w * c)
    partial = []
    count = 0
    for top in range(0, h, rows):
        if luma:  # from the pixels as they are: 8-bit ones take BasicSR's float32 steps
            a = _luma(ref[top:top + rows], data_range)
            b = _luma(dist[top:top + rows], data_range)
        else:
            a = ref[top:top + rows].astype(np.float64)
            b = dist[top:top + rows].astype(np.float64)
        a -= b
        np.square(a, out=a)
        partial.append(float(a.sum(dtype=np.float64)))
        count += a.size
        if out is not None:
            _channel_mean(a, out[top:top + rows])
    return math.fsum(partial) / count


def _channel_mean(a: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = a.mean(axis=2)``, one channel plane at a time (numpy's reduction
    over a last axis of 3 is several times slower)."""
    np.copyto(out, a[:, :, 0], casting="unsafe")
    for k in range(1, a.shape[2]):
        out += a[:, :, k]
    if a.shape[2] > 1:
        out /= a.shape[2]


def _check_luma(a: np.ndarray) -> None:
    if a.shape[2] not in (1, 3):
        raise InvalidArgument(f"psnr: luma needs RGB or gray images, got {a.shape[2]} channels")


def _luma(a: np.ndarray, data_range: float) -> np.ndarray:
    from iqa.io.channels import bt601_luma

    return bt601_luma(a, data_range)


def band(value: float | None) -> tuple[str, str]:
    """The interpretation band of a PSNR value: (id, description)."""
    if value is None or math.isnan(value):
        return "", ""
    for lower, key, text in BANDS:
        if value >= lower:
            return key, text
    return BANDS[-1][1], BANDS[-1][2]  # pragma: no cover - -inf bound catches all


class PSNR(PairMetric):
    info = MetricInfo(
        name="psnr",
        kind=PAIR,
        higher_is_better=True,
        needs="pixels",
        definition="PSNR = 10 log10(MAX^2 / MSE), MSE over all pixels and channels",
        unit="dB",
        options=(Option("luma", bool, False,
                        "PSNR on BT.601 luma (Y) instead of all channels (--luma)"),),
    )

    @property
    def luma(self) -> bool:
        return bool(self.options.params.get("psnr.luma", False))

    #: Scored after SSIM and MS-SSIM in a batch, to take their squared error.
    run_late = True

    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        return [self._one(r, d) for r, d in pairs]

    def _one(self, r: Image, d: Image) -> float:
        """:func:`psnr` of a decoded pair; for integer pixels that SSIM or MS-SSIM has
        already filtered, the exact sum of squared errors of that pass (the same integer,
        so the same value)."""
        if not self.luma:
            from iqa.metrics._ssim_core import shared_squared_error

            _, _, data_range = as_pair(r.pixels, d.pixels, r.data_range, metric="psnr")
            total = shared_squared_error(r.pixels, d.pixels, data_range)
            if total is not None:
                return from_mse(total / r.pixels.size, data_range)
        return psnr(r.pixels, d.pixels, data_range=r.data_range, luma=self.luma)

    def score_maps(self, pairs: Sequence[tuple[Image, Image]]) -> list[tuple[float, np.ndarray]]:
        """Each pair's PSNR and its H×W squared-error map, from the same pass."""
        out = []
        for r, d in pairs:
            value, error = psnr(r.pixels, d.pixels, data_range=r.data_range, luma=self.luma,
                                full=True)
            out.append((value, error))
        return out

    def annotate(self, value: float | None) -> dict:
        return {"psnr_band": band(value)[0] or None}

    def describe(self) -> dict:
        return {
            "definition": self.info.definition,
            "channels": "BT.601 luma (Y), unrounded" if self.luma else "all channels",
            "max": "data range: 255 (8-bit), 65535 (16-bit)",
            "infinite": "identical images: null in JSON, inf in CSV, psnr_band 'identical'",
            "bands_db": {key: lower for lower, key, _ in BANDS if math.isfinite(lower)},
        }
