"""Image sets and reference networks for the FID / KID tests.

Images are crops of scikit-image's colour photographs at seeded random positions and
sizes ("real"), and the same crops JPEG-compressed and slightly blurred ("fake", as a
reconstruction would be), so FID values are realistic rFID-like numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def _sources() -> list[np.ndarray]:
    import skimage.data as data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
            data.hubble_deep_field(), data.immunohistochemistry(), data.retina()[200:1200,
                                                                                  200:1200]]


def natural_crops(count: int, *, seed: int = 0, sizes: tuple[int, int] = (96, 320),
                  square: int | None = None) -> list[np.ndarray]:
    """``count`` RGB uint8 crops; side lengths drawn from ``sizes`` unless ``square``."""
    rng = np.random.default_rng(seed)
    sources = _sources()
    crops = []
    for i in range(count):
        src = sources[i % len(sources)]
        h = square or int(rng.integers(*sizes))
        w = square or int(rng.integers(*sizes))
        h, w = min(h, src.shape[0]), min(w, src.shape[1])
        y = int(rng.integers(0, src.shape[0] - h + 1))
        x = int(rng.integers(0, src.shape[1] - w + 1))
        crops.append(np.ascontiguousarray(src[y:y + h, x:x + w]))
    return crops


def reconstruct(img: np.ndarray, quality: int = 12) -> np.ndarray:
    """A lossy "reconstruction": slight blur, then strong JPEG compression."""
    pil = Image.fromarray(img).filter(ImageFilter.GaussianBlur(0.8))
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def write_set(folder: Path, images: list[np.ndarray], fmt: str = "png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"img_{i:03d}.{fmt}"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def make_pair(root: Path, count: int, *, seed: int = 0, square: int | None = None
              ) -> tuple[Path, Path]:
    real = natural_crops(count, seed=seed, square=square)
    write_set(root / "real", real)
    write_set(root / "fake", [reconstruct(x) for x in real])
    return root / "real", root / "fake"


@contextmanager
def pytorch_fid_weights(weights: Path) -> Iterator[None]:
    """Make pytorch-fid build its InceptionV3 from ``weights`` instead of downloading."""
    import pytorch_fid.inception as pfi
    import torch

    state = torch.load(weights, map_location="cpu", weights_only=True)
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        yield
    finally:
        pfi.load_state_dict_from_url = original


@contextmanager
def scipy_sqrtm_with_disp() -> Iterator[None]:
    """Let pytorch-fid 0.3 and clean-fid run on SciPy ≥ 1.18.

    Both call ``scipy.linalg.sqrtm(..., disp=False)``; SciPy 1.18 removed ``disp``. Where
    it is gone, this puts back a ``sqrtm`` with the old signature (same root, and the
    old error estimate) so that they can still serve as references.
    """
    import inspect

    import scipy.linalg

    original = scipy.linalg.sqrtm
    if "disp" in inspect.signature(original).parameters:
        yield
        return

    def sqrtm(a, disp=True, blocksize=64):
        root = original(a)
        if disp:
            return root
        return root, np.linalg.norm(root @ root - a, "fro") ** 2 / np.linalg.norm(a, "fro")

    scipy.linalg.sqrtm = sqrtm
    try:
        yield
    finally:
        scipy.linalg.sqrtm = original


def pytorch_fid_network(weights: Path):
    """pytorch-fid's InceptionV3 (pool3, no resizing or scaling inside) on ``weights``."""
    from pytorch_fid.inception import InceptionV3

    with pytorch_fid_weights(weights):
        return InceptionV3([3], resize_input=False, normalize_input=False).eval()
