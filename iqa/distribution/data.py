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

import itertools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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
    #: Features of the same images from the companion extractors, by name (N×dim float32).
    companions: dict[str, np.ndarray] = field(default_factory=dict)


class ImageFiles:
    """A map-style dataset of image files: item i is (i, 3×299×299 tensor or None, error).

    With ``raw`` the tensor is the decoded uint8 3×H×W pixels (resized later, where the
    network runs); with ``also_raw`` it is the pair (3×299×299 input, uint8 pixels), for
    extractors that embed the same decoded image (:mod:`iqa.distribution.companions`).
    A plain class (DataLoader needs only ``__len__`` and ``__getitem__``), so importing
    this module does not import torch; it pickles for spawned worker processes.
    """

    def __init__(self, paths: Sequence[str], settings: DecodeSettings, *,
                 raw: bool = False, also_raw: bool = False) -> None:
        self.paths = [str(p) for p in paths]
        self.settings = settings
        self.raw = raw  # items are uint8 3×H×W tensors, resized later on the device
        self.also_raw = also_raw and not raw
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
        resized = None if self.raw else resize_mode(self.settings.resize).fn(pixels)
        if not (self.raw or self.also_raw):
            return index, resized, None
        import torch

        chw = torch.from_numpy(pixels.transpose(2, 0, 1).copy())
        return index, chw if self.raw else (resized, chw), None


def _decode(path: str, settings: DecodeSettings) -> np.ndarray:
    """Decoded pixels by ``settings``; ``alpha="error"`` refuses transparent pixels with
    advice naming only the policies that ``iqa fid`` takes."""
    from iqa.io.images import load_image

    kwargs = settings.load_kwargs()
    if not kwargs["exif"]:  # as the reference tools' Pillow decodes: TIFFs turned, not JPEGs
        kwargs["exif"] = "pillow"
    if settings.alpha != "error":
        return _full_range(load_image(path, **kwargs))
    image = load_image(path, **{**kwargs, "alpha": "keep"})
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
    """(the good items' tensors or None, [(index, error)], number of items).

    Tensors of one shape are stacked; images of several sizes (sent undecimated, to be
    resized on the device) stay a list, in order. Items that are tuples of tensors
    (``also_raw``) give a tuple of such batches.
    """
    good = [tensor for _, tensor, error in items if error is None]
    errors = [(index, error) for index, _, error in items if error is not None]
    if not good:
        return None, errors, len(items)
    if isinstance(good[0], tuple):
        return tuple(_stack([g[i] for g in good]) for i in range(len(good[0]))), errors, len(
            items)
    return _stack(good), errors, len(items)


def batches(dataset: ImageFiles, batch_size: int, workers: int | None,
            pin_memory: bool = False) -> Iterator[tuple[Any, list[tuple[int, str]], int]]:
    """Batches of ``dataset`` in order, as :func:`collate` makes them.

    ``workers`` processes (a DataLoader; 0: in this process, one image after another)
    decode ahead while the network runs. With None each batch is decoded on threads of
    this process, one per usable core, before the network runs it: on the CPU, where the
    network uses every core, decoding beside it only slows both (see
    :func:`iqa.device.default_workers`).
    """
    if workers is not None:
        from torch.utils.data import DataLoader

        yield from DataLoader(dataset, batch_size=batch_size,  # type: ignore[arg-type]
                              shuffle=False, num_workers=workers, collate_fn=collate,
                              pin_memory=pin_memory)
        return
    from concurrent.futures import ThreadPoolExecutor

    from iqa.device import usable_cpus

    with ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="iqa-decode") as pool:
        for start in range(0, len(dataset), batch_size):
            stop = min(start + batch_size, len(dataset))
            yield collate(list(pool.map(dataset.__getitem__, range(start, stop))))


def _stack(tensors: list[Any]) -> Any:
    import torch

    if all(t.shape == tensors[0].shape for t in tensors):
        return torch.stack(tensors)
    return tensors


class _Sums:
    """n, Σx and XᵀX of feature batches, in float64, where the features are.

    On a GPU the sums stay there (no copy or wait per batch, so the next batch's work
    is queued while this one runs) and come back once, at the end; float64 matrix
    products on the device differ from numpy's only in summation order (~1e-16).
    """

    #: On the CPU, rows wait until this many have come and are added in one product:
    #: each update reads and writes the whole 2048×2048 float64 XᵀX (32 MB), which took
    #: 45 ms per batch of 16 (3 % of the network's time); 256 rows make it 0.3 %.
    CHUNK = 256

    def __init__(self, *, on_torch: bool, keep: bool) -> None:
        self.on_torch = on_torch  # sums as torch tensors where the features are
        self.keep = keep
        self.kept: list[Any] = []
        self.pending: list[np.ndarray] = []
        self.n = 0
        self.total: Any = None
        self.outer: Any = None
        self.stats = FeatureStats.empty(FEATURE_DIM)

    def add(self, features: Any) -> None:
        if self.keep:
            self.kept.append(features)
        if not self.on_torch:
            self.pending.append(features.numpy().astype(np.float64))  # a copy: ours
            if sum(len(p) for p in self.pending) >= self.CHUNK:
                self._flush()
            return
        import torch

        x = features.to(torch.float64)
        self.n += x.shape[0]
        total, outer = x.sum(dim=0), x.T @ x
        self.total = total if self.total is None else self.total + total
        self.outer = outer if self.outer is None else self.outer + outer

    def _flush(self) -> None:
        if self.pending:
            self.stats.update(np.concatenate(self.pending))
            self.pending = []

    def result(self) -> tuple[FeatureStats, np.ndarray | None]:
        self._flush()
        if self.total is not None:
            self.stats = FeatureStats(self.n, self.total.cpu().numpy(), self.outer.cpu().numpy())
        if not self.keep:
            return self.stats, None
        if not self.kept:
            return self.stats, np.zeros((0, FEATURE_DIM), np.float32)
        import torch

        return self.stats, torch.cat(self.kept).cpu().numpy().astype(np.float32, copy=False)


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
    calls = itertools.count(1)
    # A trim walks every arena (about 12 ms); once every 8 batches keeps the resident
    # size flat at an eighth of the cost.
    return lambda: next(calls) % 8 == 0 and trim(0)


def extract(
    paths: Sequence[str],
    network: Callable[[Any], Any],
    settings: DecodeSettings,
    *,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int | None = None,
    keep_features: bool = False,
    skip_bad: bool = False,
    advance: Callable[[int], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    resize_on_device: bool | None = None,
    companions: Any = None,
) -> Extraction:
    """Run ``network`` over ``paths`` and return the statistics of the features.

    ``workers``: decoding processes, or None to decode each batch on threads of this
    process before the network runs it (:func:`batches`). ``advance(k)`` is called
    after each batch of k files; ``on_skip(file, reason)`` for
    each file left out (only with ``skip_bad``; otherwise the first bad file raises
    :class:`~iqa.errors.InputError`). ``resize_on_device`` (default: on any device but
    the CPU) sends uint8 pixels from the workers and resizes batches where the network
    runs; the numbers are the same either way. ``companions``
    (:class:`~iqa.distribution.companions.Companions`) embed the same decoded pixels of
    each batch, so their features come from this one decode pass
    (:attr:`Extraction.companions`).
    """
    import torch

    # On a GPU, workers only decode and send uint8 pixels (5x less to move than float
    # 299×299 input); the resize runs batched on the device, as torch-fidelity and
    # pytorch-fid themselves resize there. Pillow's bicubic (clean) stays in the workers.
    if resize_on_device is None:
        resize_on_device = device != "cpu"
    on_device = resize_mode(settings.resize).batch_fn if resize_on_device else None
    dataset = ImageFiles(paths, settings, raw=on_device is not None,
                         also_raw=bool(companions))
    loader = batches(dataset, batch_size, workers, pin_memory=device == "cuda")
    result = Extraction(FeatureStats.empty(FEATURE_DIM))
    sums = _Sums(on_torch=device != "cpu", keep=keep_features)
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
            if dataset.also_raw:
                batch, pixels = batch
                companions.add(pixels)
            elif companions:
                companions.add(batch)
            if on_device is not None:
                if isinstance(batch, list):  # mixed sizes: each image resized on its own
                    batch = torch.cat([on_device(t[None].to(device)) for t in batch])
                else:
                    batch = on_device(batch.to(device, non_blocking=True))
            features = network(batch)
            sums.add(features if device != "cpu" else features.cpu())
            del batch, features
            trim()
        if advance is not None:
            advance(count)
    result.stats, result.features = sums.result()
    if companions:
        result.companions = companions.features()
    result.seconds = time.perf_counter() - start
    return result
