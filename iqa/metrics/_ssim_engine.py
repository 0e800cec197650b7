"""Which SSIM engine runs: the compiled kernels (numba, the ``fast`` extra) or BLAS.

``IQA_SSIM_ENGINE`` chooses: ``auto`` (the default) takes the compiled kernels where
numba is installed, for images of at least :data:`AUTO_MIN_PIXELS` pixels, else BLAS;
``numba`` insists on them for every size; ``blas`` never uses them. Both engines give
the same SSIM and MS-SSIM to ~1e-15 (float64 throughout, the same taps and formulas;
the sums run in another order) and bit-identical 2×2 means.

Why a size: loading the compiled kernels costs a process about 0.5 s (numba's import
and the cached machine code), once; they save about 11 ns per pixel and channel on two
cores. Under 1280×720 an image saves too little to be worth that in a short run (a
512×512 compare would take three times as long), and above it a run of a few images
gains. The choice depends on the image's size only, never on what ran before, so a
pair gets the same value alone or in a batch.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType

from iqa.environment import SSIM_ENGINES as ENGINES  # noqa: F401 - re-exported
from iqa.errors import UsageError

#: under ``auto``, the smallest image (pixels per channel, at full resolution) that
#: runs on the compiled kernels: 1280×720
AUTO_MIN_PIXELS = 1280 * 720


def choice() -> str:
    """``IQA_SSIM_ENGINE``, checked without importing numba (metrics call this when they
    are built, so that a bad setting stops a run before its first pair)."""
    from iqa.environment import ssim_engine

    return ssim_engine()


_sized = threading.local()


@contextmanager
def sized_as(pixels: int) -> Iterator[None]:
    """Within it, on this thread, choose the engine as for an image of at least
    ``pixels`` pixels per channel: the chroma planes of a video frame follow its luma."""
    previous = getattr(_sized, "pixels", 0)
    _sized.pixels = max(previous, pixels)
    try:
        yield
    finally:
        _sized.pixels = previous


def compiled(pixels: int) -> ModuleType | None:
    """The kernel module (:mod:`iqa.metrics._ssim_kernel`), compiled and loaded, or None
    for the BLAS engine, as ``IQA_SSIM_ENGINE`` asks for an image of ``pixels`` pixels
    per channel at full resolution (MS-SSIM's lower scales follow their full scale, the
    planes of a frame its largest: :func:`sized_as`)."""
    value = choice()
    if value == "auto" and max(pixels, getattr(_sized, "pixels", 0)) < AUTO_MIN_PIXELS:
        return None
    return _load(value)


@cache
def _load(choice: str) -> ModuleType | None:
    if choice == "blas":
        return None
    try:
        from iqa.metrics import _ssim_kernel

        _ssim_kernel.warm()
    except ImportError as exc:
        if choice == "numba":
            raise UsageError(f"IQA_SSIM_ENGINE=numba needs numba ({exc}): "
                             'pip install "iqa[fast]"') from None
        return None
    except Exception as exc:  # a numba that cannot compile here: BLAS gives the same values
        if choice == "numba":
            raise UsageError(f"IQA_SSIM_ENGINE=numba: numba cannot compile the SSIM kernel "
                             f"here ({type(exc).__name__}: {exc})") from None
        warnings.warn(f"numba cannot compile the SSIM kernel ({type(exc).__name__}: {exc}); "
                      "SSIM runs on the BLAS engine", RuntimeWarning, stacklevel=3)
        return None
    return _ssim_kernel
