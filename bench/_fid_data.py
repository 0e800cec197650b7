"""Benchmark image folders for the FID benchmarks (written under bench/_data/, git-ignored).

"real": JPEG photos, 500x375; "fake": PNG images, 256x256, as a generator writes them.
Each folder has one size because pytorch-fid stacks a folder's images into batches
(``iqa fid`` resizes each image on its own and takes mixed sizes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "_data"


def _photos() -> list[np.ndarray]:
    import skimage.data as data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
            data.hubble_deep_field(), data.immunohistochemistry(), data.retina()]


def make_folder(name: str, count: int, size: tuple[int, int], fmt: str, seed: int) -> Path:
    """``count`` crops of scikit-image photos resized to ``size`` (w, h); reused if present."""
    from PIL import Image

    folder = DATA / f"{name}_{count}"
    if folder.is_dir() and len(list(folder.glob(f"*.{fmt}"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _photos()
    for i in range(count):
        src = photos[i % len(photos)]
        h = int(rng.integers(src.shape[0] // 3, src.shape[0] + 1))
        w = int(rng.integers(src.shape[1] // 3, src.shape[1] + 1))
        y = int(rng.integers(0, src.shape[0] - h + 1))
        x = int(rng.integers(0, src.shape[1] - w + 1))
        img = Image.fromarray(src[y:y + h, x:x + w]).resize(size, Image.Resampling.BICUBIC)
        options = {"quality": 90} if fmt == "jpg" else {}
        img.save(folder / f"{i:05d}.{fmt}", **options)
    return folder


def make_pair(count: int) -> tuple[Path, Path]:
    return (make_folder("real", count, (500, 375), "jpg", seed=1),
            make_folder("fake", count, (256, 256), "png", seed=2))
