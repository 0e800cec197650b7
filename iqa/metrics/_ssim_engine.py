"""Which SSIM engine runs: the compiled kernels (numba, the ``fast`` extra) or BLAS.

``IQA_SSIM_ENGINE`` chooses: ``auto`` (the default) takes the compiled kernels where
numba is installed, else BLAS; ``numba`` insists on them; ``blas`` never uses them.
Both engines give the same SSIM and MS-SSIM to ~1e-15 (float64 throughout, the same
taps and formulas; the sums run in another order) and bit-identical 2×2 means.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from functools import cache
from types import ModuleType

from iqa.errors import UsageError

ENGINES = ("auto", "numba", "blas")


def choice() -> str:
    """``IQA_SSIM_ENGINE``, checked without importing numba (metrics call this when they
    are built, so that a bad setting stops a run before its first pair)."""
    value = os.environ.get("IQA_SSIM_ENGINE", "").strip().lower() or "auto"
    if value not in ENGINES:
        raise UsageError(f"IQA_SSIM_ENGINE={value!r} is not an SSIM engine: use one of "
                         f"{', '.join(ENGINES)}")
    if value == "numba" and importlib.util.find_spec("numba") is None:
        raise UsageError('IQA_SSIM_ENGINE=numba needs numba, which is not installed: '
                         'pip install "iqa[fast]"')
    return value


def compiled() -> ModuleType | None:
    """The kernel module (:mod:`iqa.metrics._ssim_kernel`), compiled and loaded, or None
    for the BLAS engine, as ``IQA_SSIM_ENGINE`` asks."""
    return _load(choice())


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
