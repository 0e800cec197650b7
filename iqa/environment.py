"""The environment variables iqa reads, each parsed here, and all checked when a command
starts.

A variable is read where it is needed (a download reads ``IQA_DOWNLOAD_TIMEOUT``, the SSIM
engine ``IQA_SSIM_ENGINE``), so a bad value used to pass unnoticed by a command that did
not need it, or to stop a run after some of its work (``IQA_OFFLINE=maybe`` let ``iqa fid``
run). :func:`check` parses every one of them up front: a bad value is one line naming the
variable and what it takes (a usage error, exit code 2), whatever the command. Only the
standard library is imported here, so the check costs a command nothing measurable.
"""

from __future__ import annotations

import math
import os

from iqa.errors import UsageError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def offline() -> bool:
    """Whether downloads are turned off: ``IQA_OFFLINE`` set to 1/true/yes/on.

    Unset, empty or 0/false/no/off allow downloads; any other value is a usage error
    (a typo must not silently allow downloads on a machine meant to be offline).
    """
    raw = os.environ.get("IQA_OFFLINE", "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(
        f"IQA_OFFLINE={raw!r} is not valid; set it to 1 (no downloads) or 0, or unset it"
    )


def threads() -> int | None:
    """``IQA_THREADS``: a whole number of threads, at least 1; None when unset or empty."""
    raw = os.environ.get("IQA_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"IQA_THREADS={raw!r} is not valid; set it to a whole number of "
                         "threads, 1 or more, or unset it (default: the usable CPUs)")
    return int(raw)


def number(variable: str, default: float, *, zero_ok: bool, valid: str) -> float:
    """A finite number ≥ 0 (> 0 unless ``zero_ok``) from ``variable``; ``default`` unset."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise UsageError(f"{variable}={raw!r} is not valid; set it to {valid}, or unset it")
    return value


def mirror() -> str | None:
    """``IQA_WEIGHTS_MIRROR``: the http(s) (or file) URL of a folder serving the weights
    files under their own names; None when unset."""
    raw = os.environ.get("IQA_WEIGHTS_MIRROR", "").strip()
    if not raw:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.path):
        raise UsageError(f"IQA_WEIGHTS_MIRROR={raw!r} is not a URL; set it to the http(s) "
                         "address of a folder serving the weights files, or unset it")
    return raw.rstrip("/")


#: ``IQA_DIST_TIMEOUT``: seconds a collective waits for the other ranks, by default and at
#: most (the upper bound keeps the value a duration torch can hold).
DIST_TIMEOUT_S = 1800.0
DIST_TIMEOUT_MAX_S = 1e9
#: ``IQA_DIST_BACKEND`` values (unset: NCCL on CUDA, gloo on the CPU).
DIST_BACKENDS = ("gloo", "nccl")


def dist_timeout() -> float:
    """``IQA_DIST_TIMEOUT``: seconds, from 1 to 1e9 (default 1800)."""
    valid = "a number of seconds from 1 to 1e9 (default 1800)"
    value = number("IQA_DIST_TIMEOUT", DIST_TIMEOUT_S, zero_ok=False, valid=valid)
    if not 1 <= value <= DIST_TIMEOUT_MAX_S:
        raw = os.environ.get("IQA_DIST_TIMEOUT", "").strip()
        raise UsageError(f"IQA_DIST_TIMEOUT={raw!r} is not valid; set it to {valid}, or "
                         "unset it")
    return value


def dist_backend() -> str | None:
    """``IQA_DIST_BACKEND``: ``gloo`` or ``nccl``; None when unset or empty (the run's
    device decides). Whether NCCL fits the device is checked when the ranks start."""
    raw = os.environ.get("IQA_DIST_BACKEND", "").strip()
    if not raw:
        return None
    if raw.lower() not in DIST_BACKENDS:
        raise UsageError(f"IQA_DIST_BACKEND={raw!r} is not valid; set it to gloo or nccl, or "
                         "unset it (default: NCCL on CUDA, gloo on the CPU)")
    return raw.lower()


#: ``IQA_SSIM_ENGINE`` values (:mod:`iqa.metrics._ssim_engine`).
SSIM_ENGINES = ("auto", "numba", "blas")


def ssim_engine() -> str:
    """``IQA_SSIM_ENGINE`` (default ``auto``), checked without importing numba."""
    import importlib.util

    value = os.environ.get("IQA_SSIM_ENGINE", "").strip().lower() or "auto"
    if value not in SSIM_ENGINES:
        raise UsageError(f"IQA_SSIM_ENGINE={value!r} is not an SSIM engine: use one of "
                         f"{', '.join(SSIM_ENGINES)}")
    if value == "numba" and importlib.util.find_spec("numba") is None:
        raise UsageError('IQA_SSIM_ENGINE=numba needs numba, which is not installed: '
                         'pip install "iqa[fast]"')
    return value


def check() -> None:
    """Parse every variable (see the module docstring); UsageError naming a bad one."""
    offline()
    threads()
    mirror()
    ssim_engine()
    number("IQA_DOWNLOAD_TIMEOUT", 1.0, zero_ok=False, valid="a number of seconds greater "
           "than 0")
    number("IQA_DOWNLOAD_MIN_RATE", 0.0, zero_ok=True, valid="a number of KiB/s, 0 or more "
           "(0 turns the rule off)")
    if distributed_run():  # read only under torchrun: not a reason to stop other runs
        dist_timeout()
        dist_backend()


def distributed_run() -> bool:
    """The ``env://`` variables of a torch.distributed run with more than one process
    are set (``WORLD_SIZE`` > 1 and ``RANK``)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False
