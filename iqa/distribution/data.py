"""The streaming feature pipeline: files → decoded, resized tensors → features → statistics.

Decoding and resizing run in DataLoader worker processes (``workers``; 0 decodes in the
calling process), so they overlap with the network. Batches go to the device (pinned
memory on CUDA), the network runs once per batch in inference mode, and each batch of
features is folded into :class:`~iqa.distribution.stats.FeatureStats` and dropped: memory does
not grow with the number of images. Features are kept (float32, 8 KiB per image) only
when KID is asked for, because KID draws random subsets of them.

Each image is decoded by :func:`iqa.io.images.load_image` (alpha and EXIF by the given
policy), reduced to 8-bit RGB by :func:`~iqa.distribution.preprocess.to_rgb8` and resized on its
own, so folders with mixed sizes are fine. A file that cannot be decoded stops the run
with an :class:`~iqa.errors.InputError` naming it, or with ``skip_bad`` is reported and
left out.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqa.distribution.preprocess import resize_mode, to_rgb8
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError
from iqa.features.inception import FEATURE_DIM
from iqa.io.policy import FID_ALPHA_POLICIES, DecodePolicy


@dataclass(frozen=True)
class DecodeSettings(DecodePolicy):
    """How files become network input: the decode policy with ``iqa fid``'s defaults
    (alpha dropped, EXIF ignored, as the reference tools do) plus the resize mode."""

    alpha: str = "drop"
    exif: bool = False
    alpha_choices: tuple[str, ...] = FID_ALPHA_POLICIES
    resize: str = "tf"

    def describe(self) -> dict[str, Any]:
        return {"resize": self.resize, **super().describe()}


@dataclass
class Extraction:
    """What one pass over a list of files produced."""

    stats: FeatureStats
    features: np.ndarray | None = None  # N×2048 float32, only when asked for
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0


class ImageFiles:
    """A map-style dataset of image files: item i is (i, 3×299×299 tensor or None, error).

    A plain class (DataLoader needs only ``__len__`` and ``__getitem__``), so importing
    this module does not import torch; it pickles for spawned worker processes.
    """

    def __init__(self, paths: Sequence[str], settings: DecodeSettings) -> None:
        self.paths = [str(p) for p in paths]
        self.settings = settings
        resize_mode(settings.resize)  # unknown modes fail here, not in a worker

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, Any, str | None]:
        path = self.paths[index]
        try:
            pixels = to_rgb8(_decode(path, self.settings))
        except InputError as exc:
            return index, None, str(exc)
        except ValueError as exc:  # a channel layout the network cannot take
            return index, None, f"{path}: {exc}"
        return index, resize_mode(self.settings.resize).fn(pixels), None


def _decode(path: str, settings: DecodeSettings) -> np.ndarray:
    """Decoded pixels by ``settings``; ``alpha="error"`` refuses transparent pixels with
    advice naming only the policies that ``iqa fid`` takes."""
    from iqa.io.images import load_image

    if settings.alpha != "error":
        return _full_range(load_image(path, **settings.load_kwargs()))
    image = load_image(path, **{**settings.load_kwargs(), "alpha": "keep"})
    pixels = image.pixels
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        if not (pixels[:, :, -1] == image.data_range).all():
            raise InputError(f"{path}: has transparent pixels; choose how to use them with "
                             f"--alpha {'|'.join(a for a in FID_ALPHA_POLICIES if a != 'error')}",
                             path)
        image = type(image)(np.ascontiguousarray(pixels[:, :, :-1]), image.path, image.bits)
    return _full_range(image)


def _full_range(image: Any) -> np.ndarray:
    """The pixels on their type's full range: a 10- or 12-bit image held in ``uint16``
    (values up to 2^bits − 1) is scaled to 0..65535, rounding to nearest, so the 8-bit
    network input is v·255/(2^bits − 1) as for any other image, never v/256."""
    pixels = image.pixels
    if pixels.dtype != np.uint16 or image.bits >= 16:
        return pixels
    peak = int(image.data_range)
    wide = pixels.astype(np.uint32) * 65535 + peak // 2
    return (wide // peak).astype(np.uint16)


def collate(items: list[tuple[int, Any, str | None]]) -> tuple[Any, list[tuple[int, str]], int]:
    """(stacked tensors of the good items or None, [(index, error)], number of items)."""
    import torch

    good = [tensor for _, tensor, error in items if error is None]
    errors = [(index, error) for index, _, error in items if error is not None]
    return (torch.stack(good) if good else None), errors, len(items)


def _heap_trimmer() -> Callable[[], None]:
    """A function that returns freed heap memory to the system (glibc's ``malloc_trim``).

    Each batch allocates and frees buffers of tens of MB (the batch, its channels-last
    copy, activations) from several threads. glibc raises its mmap threshold after such
    frees and then keeps the freed blocks in its arenas, so without trimming the
    resident size creeps up with the number of batches (~50 MB per 200 images measured)
    instead of staying flat. Elsewhere this is a no-op.
    """
    if not sys.platform.startswith("linux"):
        return lambda: None
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl): nothing to do
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


def extract(
    paths: Sequence[str],
    network: Callable[[Any], Any],
    settings: DecodeSettings,
    *,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 1,
    keep_features: bool = False,
    skip_bad: bool = False,
    advance: Callable[[int], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> Extraction:
    """Run ``network`` over ``paths`` and return the statistics of the features.

    ``advance(k)`` is called after each batch of k files; ``on_skip(file, reason)`` for
    each file left out (only with ``skip_bad``; otherwise the first bad file raises
    :class:`~iqa.errors.InputError`).
    """
    from torch.utils.data import DataLoader

    dataset = ImageFiles(paths, settings)
    loader = DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device == "cuda",
    )
    result = Extraction(FeatureStats.empty(FEATURE_DIM))
    kept: list[np.ndarray] = []
    trim = _heap_trimmer()
    start = time.perf_counter()
    for batch, errors, count in loader:
        for index, error in errors:
            if not skip_bad:
                raise InputError(
                    f"{error}; remove or replace the file, or leave unreadable files out "
                    "with --skip-bad",
                    dataset.paths[index],
                )
            result.skipped.append((dataset.paths[index], error))
            if on_skip is not None:
                on_skip(dataset.paths[index], error)
        if batch is not None:
            features = network(batch).cpu().numpy()
            result.stats.update(features)
            if keep_features:
                kept.append(features.astype(np.float32, copy=False))
            del batch
            trim()
        if advance is not None:
            advance(count)
    result.seconds = time.perf_counter() - start
    if keep_features:
        empty = np.zeros((0, result.stats.dim), np.float32)
        result.features = np.concatenate(kept) if kept else empty
    return result
