"""LPIPS, learned perceptual image patch similarity (Zhang et al. 2018), v0.1.

Definition used: ``lpips.LPIPS(net=..., version="0.1")`` (the linear layers shipped with
the ``lpips`` package) on a torchvision ImageNet trunk: AlexNet (default), VGG-16 or
SqueezeNet 1.1. Images are scaled to [-1, 1] as the reference expects,
x / (MAX/2) − 1 with MAX = 255 for 8-bit and 65535 for 16-bit images (feeding [0, 1] is
the most common LPIPS bug); gray images are repeated to three channels; images with
another channel count are refused. Lower is better; 0 means identical features.

LPIPS is symmetric: the per-layer term is a squared difference of unit-normalised
features, so LPIPS(a, b) = LPIPS(b, a) exactly, and the argument order does not matter.

R. Zhang, P. Isola, A. A. Efros, E. Shechtman and O. Wang, "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from iqa.device import check_device, default_batch_size, resolve_device
from iqa.errors import InputError, InvalidArgument, InvalidImage
from iqa.extras import missing, require
from iqa.io.images import Image
from iqa.metrics._arrays import ImageLike, as_pair
from iqa.metrics.base import PAIR, MetricInfo, MetricOptions, Option, PairMetric
from iqa.metrics.ssim import check_min_size

#: Pairs per forward pass when --batch-size is not given, by device type. Measured with
#: bench/bench_lpips.py (24 pairs of 512x512, AlexNet, 2-core CPU): 1, 2, 4 and 8 pairs
#: per batch ran at 3.98, 4.07, 4.09 and 3.82 pairs/s whole-process; 2 and 4 are equal
#: within noise and 2 holds less memory, so the CPU default is 2 (four images per forward
#: pass: two references, two outputs). The
#: CUDA default follows the usual rule that larger batches fill a GPU; it was not measured.
DEFAULT_BATCH = {"cpu": 2, "cuda": 64}

#: Smallest side each trunk accepts: below it a pooling layer has no output (found by
#: running ``lpips.LPIPS`` on n×n and n×200 inputs: AlexNet needs 31, VGG-16 16,
#: SqueezeNet 1.1 17). Smaller pairs get ``null`` with this size as the reason.
MIN_SIDE = {"alex": 31, "vgg": 16, "squeeze": 17}
_TRUNK_NAME = {"alex": "AlexNet", "vgg": "VGG-16", "squeeze": "SqueezeNet 1.1"}

#: How to get the packages LPIPS imports.
INSTALL_HINT = 'pip install "iqa[torch]"'


def lpips(
    ref: ImageLike,
    dist: ImageLike,
    *,
    net: str = "alex",
    data_range: float | None = None,
    device: str = "auto",
    full: bool = False,
) -> float | tuple[float, np.ndarray]:
    """LPIPS distance of two images (H×W or H×W×C with C = 1 or 3).

    Parameters
    ----------
    ref, dist : ndarray, Image or path
        Same shape, each side at least 31 pixels (AlexNet; VGG-16 16, SqueezeNet 17).
        Arrays, nested lists, ``iqa.Image`` objects and file paths (decoded with
        ``iqa.load_image``'s defaults).
    net : {"alex", "vgg", "squeeze"}
        The trunk. Its weights come from the weights manager (downloaded on first use
        unless ``IQA_OFFLINE=1``; see ``iqa weights``).
    data_range : float, optional
        MAX of the pixel values. Implied only for ``uint8`` (255) and ``uint16`` (65535);
        required for every other type (floats, other integers, Python lists).
    device : {"auto", "cpu", "cuda"}
    full : bool
        Also return the spatial map (H×W float32 as float64), ``lpips.LPIPS(...,
        spatial=True)``: each layer's weighted squared feature difference upsampled
        bilinearly (``align_corners=False``) to the image size, summed over layers.

    Returns
    -------
    float
        LPIPS, ≥ 0; lower is more similar.
    ndarray, only with ``full=True``
        The spatial map. LPIPS is the sum of the layer maps' means at their own
        resolutions; bilinear upsampling moves a mean (at the edges, more on small
        images), so the map's mean is LPIPS only to about 1e-4–1e-3 relative (measured:
        8.5e-4 for alex at 31×31, 2.5e-4 at 33×47), as the lpips package's own map's
        mean is; the map equals ``lpips.LPIPS(spatial=True)``'s to a few 1e-6 relative
        (float32).

    Raises
    ------
    IQAError
        Bad inputs (also ``ValueError``/``TypeError``), an image below the trunk's
        minimum size, missing weights or packages, or a non-finite result (the network
        produced NaN or inf: broken weights), which is never returned as a number.
    """
    ref, dist, data_range = as_pair(ref, dist, data_range, metric="lpips")
    if not isinstance(net, str) or net not in MIN_SIDE:
        raise InvalidArgument(f"lpips: net must be one of {', '.join(MIN_SIDE)}, not {net!r}")
    check_device(device)
    check_size(ref.shape, net)
    _rgb(ref)
    runner = _runner(net, device)
    x, y = (to_tensor([a], data_range, runner.device) for a in (ref, dist))
    if not full:
        return check_finite(runner.distances(x, y)[0], runner)
    values, maps = runner.distances(x, y, spatial=True)
    return check_finite(values[0], runner), maps[0]


def check_size(shape: tuple[int, ...], net: str) -> None:
    """Refuse (``ImageSizeError``, also ``ValueError``) images below the trunk's minimum."""
    others = ", ".join(f"{_TRUNK_NAME[n]} {m}x{m}" for n, m in MIN_SIDE.items() if n != net)
    check_min_size(shape, MIN_SIDE[net], "LPIPS",
                   f"the {_TRUNK_NAME[net]} trunk's pooling layers; other trunks: {others}")


def check_finite(value: float, runner: _Runner) -> float:
    """``value`` if it is a finite number, else an InputError naming the weights."""
    if math.isfinite(value):
        return value
    weights = runner.weights
    kind = "official" if weights.verified else "unverified"
    raise InputError(
        f"LPIPS is {value}, not a finite number: the {runner.net_name} network with the "
        f"{kind} {weights.name} weights {weights.path} produced non-finite features; "
        f"check them with `iqa weights list` or replace them (iqa weights download "
        f"{weights.name})"
    )


def missing_packages() -> list[str]:
    """The packages LPIPS needs that are not installed (found without importing them)."""
    return missing("torch")


def check_can_run(net: str) -> None:
    """Raise now, before torch is imported, if packages or (offline) weights are missing."""
    from iqa.errors import WeightsError

    require("torch", "LPIPS")
    reason = weights_unavailable(net)
    if reason is not None:
        raise WeightsError(reason)


def weights_unavailable(net: str) -> str | None:
    """Why the trunk weights of ``net`` cannot be had here, or None; imports no torch.

    Missing weights count only when downloads are off (``IQA_OFFLINE=1``); the reason
    is the weights manager's own message (what to fetch and how to import it).
    """
    from iqa.errors import WeightsError
    from iqa.features.backbones import LPIPS_BACKBONES
    from iqa.weights import offline, resolve

    if not offline() or _weights_present(LPIPS_BACKBONES[net][0]):
        return None
    try:
        resolve(LPIPS_BACKBONES[net][0], allow_download=False)
    except WeightsError as exc:
        return str(exc)
    return None


def _weights_present(catalog_name: str) -> bool:
    """Whether a weights file for ``catalog_name`` is in the cache (not verified here)."""
    from iqa.weights import _store, official_path
    from iqa.weights.catalog import known

    return (catalog_name in _store.unverified_imports()
            or official_path(known(catalog_name)).is_file())


def to_tensor(images: Sequence[np.ndarray], data_range: float, device: Any = None) -> Any:
    """N×3×H×W float32 in [-1, 1] from H×W×C arrays (C = 1 is repeated to 3).

    Each value is ``float32(v) / float32(data_range / 2) − 1``. 8-bit images travel as
    bytes (4× less to copy to a GPU) and become floats where the network runs, through
    a 256-entry table computed by exactly that numpy expression, so the input is the
    same bit for bit on every device. Other types are converted here.
    """
    import torch

    batch = np.stack([_rgb(a) for a in images])
    if batch.dtype == np.uint8:
        pixels = torch.from_numpy(batch)
        if device is not None:
            pixels = pixels.to(device, non_blocking=True)
        table = _table(float(data_range), pixels.device)
        return table[pixels.to(torch.int64)].permute(0, 3, 1, 2)
    batch = batch.astype(np.float32)
    batch /= np.float32(data_range / 2.0)
    batch -= np.float32(1.0)
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


@lru_cache(maxsize=8)
def _table(data_range: float, device: Any) -> Any:
    """float32 [-1, 1] value of each byte code, as :func:`to_tensor` defines it."""
    import torch

    codes = np.arange(256, dtype=np.float32)
    codes /= np.float32(data_range / 2.0)
    codes -= np.float32(1.0)
    return torch.from_numpy(codes).to(device)


def _rgb(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if a.shape[2] != 3:
        raise InvalidImage(
            f"LPIPS needs RGB or gray images, got {a.shape[2]} channels "
            "(for RGBA choose --alpha drop, black or white)"
        )
    return a


class _Runner:
    """The network for one (net, device), with the weights it was built from."""

    def __init__(self, net: str, device: str, progress: Any = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from iqa.features.backbones import LPIPS_BACKBONES
        from iqa.weights import load_state_dict, read_verified, resolve

        if net not in LPIPS_BACKBONES:
            raise InvalidArgument(
                f"LPIPS net must be one of {', '.join(LPIPS_BACKBONES)}, not {net!r}")
        self.net_name = net
        check_can_run(net)

        def fetch() -> tuple[Any, bytes]:
            weights = resolve(LPIPS_BACKBONES[net][0], progress=progress)
            return weights, read_verified(weights)

        # Finding, reading and hashing the weights (I/O and hashlib, outside the GIL) runs
        # while torch and lpips are imported, which takes seconds of single-core work.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="iqa-weights") as pool:
            pending = pool.submit(fetch)
            try:
                import lpips  # noqa: F401 - imported now, while the weights are read

                from iqa.features.lpips import LPIPSNet, build_lpips

                self.device = resolve_device(device)
                self.weights, data = pending.result()
            except BaseException:  # Ctrl-C, SIGTERM, an error: stop a running download
                from iqa.weights import cancel_downloads

                cancel_downloads()
                raise
        state = load_state_dict(self.weights, data)
        self.net = LPIPSNet(build_lpips(net, state, self.device))

    def distances(self, x: Any, y: Any, spatial: bool = False) -> Any:
        """LPIPS of each pair of the batch; with ``spatial``, also the N×H×W maps."""
        import torch

        with torch.inference_mode():
            f0, f1 = self.net.features(x), self.net.features(y)
            if not spatial:
                return self.net.distance(f0, f1).tolist()
            values, maps = self.net.distance_and_map(f0, f1, tuple(x.shape[2:]))
            return values.tolist(), maps.double().cpu().numpy()


def _runner(net: str, device: str) -> _Runner:
    """The shared network of the array API for (net, device), built on first use."""
    check_can_run(net)
    return _cached_runner(net, resolve_device(device))


@lru_cache(maxsize=4)
def _cached_runner(net: str, device: str) -> _Runner:
    return _Runner(net, device)


class LPIPS(PairMetric):
    info = MetricInfo(
        name="lpips",
        kind=PAIR,
        higher_is_better=False,
        needs="network:lpips",
        extra="torch",
        definition="LPIPS v0.1 (Zhang et al. 2018), inputs scaled to [-1, 1]",
        options=(Option("net", str, "alex", "trunk network (weights: see `iqa weights`)",
                        ("alex", "vgg", "squeeze")),),
    )

    def __init__(self, options: MetricOptions | None = None) -> None:
        super().__init__(options)
        self.net_name = str(self.options.params.get("lpips.net", "alex"))
        progress = self.options.download_progress
        label = f"{self.net_name} weights for LPIPS"
        if progress is None:
            self.runner = _Runner(self.net_name, self.options.device)
        else:
            with progress(label) as callback:
                self.runner = _Runner(self.net_name, self.options.device, callback)
        self.device = self.runner.device
        if self.runner.weights.warning:
            self.options.warn(self.runner.weights.warning)
        self._last_ref: tuple[str, Any] | None = None

    @property
    def preferred_batch(self) -> int:
        return self.options.batch_size or default_batch_size(self.device, DEFAULT_BATCH)

    @classmethod
    def unavailable(cls, options: MetricOptions) -> str | None:
        net = str(options.params.get("lpips.net", "alex"))
        missing = missing_packages()
        if missing:
            return f"LPIPS needs {', '.join(missing)} ({INSTALL_HINT})"
        if net in MIN_SIDE:
            reason = weights_unavailable(net)
            if reason is not None:
                return (f"its {_TRUNK_NAME[net]} weights are not in the cache and downloads "
                        "are off (IQA_OFFLINE=1); see `iqa weights`")
        return None

    def check(self, ref: Image, dist: Image) -> None:
        check_size(ref.pixels.shape, self.net_name)
        _rgb(ref.pixels)

    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        return [v for v, _ in self._score(pairs, spatial=False)]

    def score_maps(self, pairs: Sequence[tuple[Image, Image]]) -> list[tuple[float, Any]]:
        """Each pair's LPIPS and its H×W spatial map (see :func:`lpips`), one pass."""
        return self._score(pairs, spatial=True)

    def _score(self, pairs: Sequence[tuple[Image, Image]], spatial: bool) -> list[Any]:
        import torch

        device = self.runner.device
        results: list[Any] = [(None, None)] * len(pairs)
        groups: dict[tuple, list[int]] = {}
        for i, (ref, _) in enumerate(pairs):
            groups.setdefault((ref.pixels.shape, ref.data_range), []).append(i)
        with torch.inference_mode():
            for (_, data_range), index in groups.items():
                refs = [pairs[i][0] for i in index]
                dists = to_tensor([pairs[i][1].pixels for i in index], data_range, device)
                if all(r.path and r.path == refs[0].path for r in refs):
                    f_ref = self._shared_ref(refs[0], len(refs), data_range)
                    f_dist = self.runner.net.features(dists)
                else:  # references and outputs in one forward pass
                    both = torch.cat([to_tensor([r.pixels for r in refs], data_range, device),
                                      dists])
                    features = self.runner.net.features(both)
                    f_ref = [f[: len(refs)] for f in features]
                    f_dist = [f[len(refs):] for f in features]
                if spatial:
                    size = tuple(dists.shape[2:])
                    values, maps = self.runner.net.distance_and_map(f_ref, f_dist, size)
                    maps = maps.double().cpu().numpy()
                else:
                    values, maps = self.runner.net.distance(f_ref, f_dist), [None] * len(index)
                for i, value, m in zip(index, values.tolist(), maps):
                    results[i] = (check_finite(value, self.runner), m)
        return results

    def _shared_ref(self, ref: Image, count: int, data_range: float) -> list[Any]:
        """Features of one reference scored against many outputs: computed once."""
        if self._last_ref is None or self._last_ref[0] != ref.path:
            features = self.runner.net.features(
                to_tensor([ref.pixels], data_range, self.runner.device))
            self._last_ref = (ref.path, features)
        return [f.expand(count, *f.shape[1:]) for f in self._last_ref[1]]

    def describe(self) -> dict[str, Any]:
        return {
            "definition": self.info.definition,
            "net": self.net_name,
            "version": "0.1",
            "input_scaling": "x / (MAX/2) - 1, MAX = 255 (8-bit) or 65535 (16-bit)",
            "gray": "repeated to 3 channels",
            "weights": self.runner.weights.describe(),
            "device": self.device,
        }
