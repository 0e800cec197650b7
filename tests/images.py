"""Deterministic test images: natural photos from scikit-image and seeded distortions."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def camera() -> np.ndarray:
    import skimage.data

    return skimage.data.camera()


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(img.dtype).max
    out = img.astype(np.float64) + rng.normal(0, sigma, img.shape)
    return np.clip(np.rint(out), 0, top).astype(img.dtype)


def random_image(shape, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=np.int64).astype(dtype)
