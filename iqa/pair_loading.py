"""Reading the pairs ``iqa compare`` scores: each pair decoded once, by the decode policy,
then cropped and (with ``luma``) converted to BT.601 Y; decoded ahead of the metrics in
threads, or in worker processes (:mod:`iqa.decode_workers`) when a metric runs on a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from iqa.errors import ImageSizeError, InputError
from iqa.io.channels import convert_channels
from iqa.io.images import Image, load_image
from iqa.io.pairing import Pair
from iqa.io.policy import DecodePolicy


class _Loaded(tuple):
    """A loaded pair ``(ref, dist)`` that also carries the pair's rate (bytes, bpp) and,
    with ``luma``, the pair's BT.601 Y images."""

    rate: dict[str, float | int | None]
    luma: tuple[Image, Image] | None

    def __new__(cls, ref: Image, dist: Image, *, rate: dict[str, float | int | None],
                luma: tuple[Image, Image] | None = None):
        self = super().__new__(cls, (ref, dist))
        self.rate = rate
        self.luma = luma
        return self


@dataclass(frozen=True)
class LumaImage(Image):
    """Unrounded Y (float64, H×W×1) of a ``bits``-bit image, on that image's scale.

    Y of a b-bit image is the README's ``16·MAX/255 + (65.481 R + 128.553 G + 24.966 B)/255``
    with MAX = 2^b − 1: BasicSR's ``to_y_channel`` on pixels normalised to [0, 1], times
    MAX. So ``data_range`` stays the image's MAX (1023 for 10 bits, 65535 for 16), not
    255 and not the float type's: the float pixels carry the depth of the image they
    came from, which :class:`Image`'s integer check cannot see, hence a check of its own.
    """

    bits: int = 8

    def __post_init__(self) -> None:
        dtype = np.asarray(self.pixels).dtype
        if dtype != np.float64 or not 8 <= self.bits <= 16:
            raise ValueError(f"LumaImage needs float64 pixels and 8 to 16 bits, not "
                             f"{dtype} and bits={self.bits}")

    @property
    def peak(self) -> int:
        """The Y values' MAX, ``data_range`` (kept for callers of the former field)."""
        return self.data_range


def crop_border(image: Image, n: int, path: str) -> Image:
    """``image`` without ``n`` pixels on each side (BasicSR's ``crop_border``).

    The result is ``image`` with only its pixels replaced (:func:`dataclasses.replace`),
    so the bit depth (the MAX every metric scores with) and the type travel with it.
    """
    if n <= 0:
        return image
    h, w = image.pixels.shape[:2]
    if 2 * n >= h or 2 * n >= w:
        raise InputError(f"{path}: --crop-border {n} removes the whole {w}x{h} image; give "
                         f"a border under {(min(h, w) + 1) // 2}", path)
    return replace(image, pixels=image.pixels[n:-n, n:-n])


def luma_image(image: Image) -> LumaImage:
    """The unrounded BT.601 Y of an RGB or gray image (:func:`iqa.io.channels.bt601_luma`),
    with the image's bit depth (see :class:`LumaImage`)."""
    from iqa.io.channels import bt601_luma

    channels = image.pixels.shape[2]
    if channels not in (1, 3):
        raise InputError(f"{image.path}: --luma needs RGB or gray images, this one has "
                         f"{channels} channels; drop alpha with --alpha drop", image.path)
    return LumaImage(pixels=bt601_luma(image.pixels, image.data_range), path=image.path,
                     bits=image.bit_depth)


@dataclass(frozen=True)
class LoadSettings(DecodePolicy):
    """How ``iqa compare`` reads a pair: the decode policy (alpha, EXIF, channels, size
    limit, JPEG warnings; compare's defaults) plus what is done to both images after
    decoding."""

    #: PSNR, SSIM and MS-SSIM on the unrounded BT.601 Y of RGB (see LUMA_METRICS)
    luma: bool = False
    #: pixels removed on each side of both images before every metric
    crop_border: int = 0

    def load(self, path: str) -> Image:
        return _channels(load_image(path, **self.load_kwargs()), self)

    def load_cropped(self, path: str) -> Image:
        """:meth:`load`, then ``crop_border``: the pixels the metrics score (before luma)."""
        return crop_border(self.load(path), self.crop_border, path)


def load_pair(pair: Pair, settings: LoadSettings) -> tuple[Image, Image]:
    ref, dist = settings.load(pair.ref), settings.load(pair.dist)
    if (ref.pixels.shape != dist.pixels.shape or ref.pixels.dtype != dist.pixels.dtype
            or ref.bits != dist.bits):
        hint = "reference and distorted must have the same size, channels and bit depth"
        if (ref.pixels.shape[:2] == dist.pixels.shape[:2] and ref.bits == dist.bits
                and ref.pixels.dtype == dist.pixels.dtype and settings.channels == "as-is"):
            hint += ("; to compare them, convert both with --channels rgb (gray repeated) "
                     "or --channels gray (RGB to BT.601 luma)")
        raise InputError(
            f"{pair.ref} is {ref.shape_text} but {pair.dist} is {dist.shape_text}; {hint}",
            pair.dist,
        )
    return ref, dist


def pair_rate(pair: Pair, dist: Image) -> dict[str, float | int | None]:
    """The rate of a pair: ``bytes``, the distorted file's size, and ``bpp`` = 8·bytes /
    (W·H), W×H the distorted image's decoded size (before any ``crop_border``)."""
    try:
        size = os.path.getsize(pair.dist)
    except OSError:
        return {"bytes": None, "bpp": None}
    h, w = dist.pixels.shape[:2]
    return {"bytes": size, "bpp": 8.0 * size / (w * h)}


def _channels(image: Image, settings: LoadSettings) -> Image:
    if settings.channels == "as-is":
        return image
    pixels = convert_channels(image.pixels, settings.channels, peak=image.data_range)
    return replace(image, pixels=pixels)


def decode_threads() -> int:
    """Threads that decode pairs ahead of the metrics: one per usable core, 2 to 16.

    Decoders (libjpeg, zlib, libwebp) and the pixel metrics' numpy/OpenCV work release
    the GIL, so threads scale until the metrics or the disk are the bottleneck (with
    LPIPS on a GPU, decoding is the whole CPU side).
    """
    from iqa.device import usable_cpus

    return max(2, min(16, usable_cpus()))


def _load_job(pair: Pair, settings: LoadSettings) -> _Loaded | InputError:
    """Decode one pair as the metrics see it, or the pair's error."""
    try:
        ref, dist = load_pair(pair, settings)
        rate = pair_rate(pair, dist)
        ref = crop_border(ref, settings.crop_border, pair.ref)
        dist = crop_border(dist, settings.crop_border, pair.dist)
        luma = (luma_image(ref), luma_image(dist)) if settings.luma else None
    except InputError as exc:
        return exc
    return _Loaded(ref, dist, rate=rate, luma=luma)


def _portable_job(pair: Pair, settings: LoadSettings) -> tuple[Any, ...]:
    """:func:`_load_job` as plain data, to cross a process boundary."""
    loaded = _load_job(pair, settings)
    if isinstance(loaded, InputError):
        return ("error", type(loaded).__name__, str(loaded), loaded.path)
    return ("ok", loaded[0], loaded[1], loaded.rate, loaded.luma)


def _from_portable(item: tuple[Any, ...]) -> _Loaded | InputError:
    if item[0] == "error":
        _, kind, message, path = item
        return (ImageSizeError if kind == "ImageSizeError" else InputError)(message, path)
    _, ref, dist, rate, luma = item
    return _Loaded(ref, dist, rate=rate, luma=luma)


def _prefetched(
    pairs: Sequence[Pair], settings: LoadSettings, ahead: int, processes: bool = False
) -> Iterator[tuple[Pair, tuple[Image, Image] | InputError]]:
    """The pairs with their decoded images (or errors), in order, decoded ``ahead``.

    Threads by default; with ``processes`` (when a metric runs on a GPU and decoding is
    all the CPU does) worker processes, which the interpreter lock does not limit.
    """
    threads = decode_threads()
    ahead = max(ahead, 2 * threads)
    if processes:
        from iqa.decode_workers import prefetch_in_processes

        for pair, item in prefetch_in_processes(
                pairs, partial(_portable_job, settings=settings), ahead=ahead, workers=threads):
            yield pair, _from_portable(item)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="iqa-decode") as pool:
        futures = []
        for index, pair in enumerate(pairs):
            futures.append((pair, pool.submit(_load_job, pair, settings)))
            if index >= ahead:
                done_pair, future = futures.pop(0)
                yield done_pair, future.result()
        for done_pair, future in futures:
            yield done_pair, future.result()
