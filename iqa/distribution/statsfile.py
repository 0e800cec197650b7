"""Statistics files: ``.npz`` files that stand in for a folder of images.

**Statistics files** (``iqa fid FOLDER --save-stats FILE.npz``) hold pytorch-fid's keys
``mu`` (float64, 2048) and ``sigma`` (float64, 2048×2048), so pytorch-fid, clean-fid and
TTUR load them as they are, plus ``n`` (number of images), ``meta`` (a JSON string:
network, resize mode, weights digest, decoding policies) and, when saved with ``--kid``,
``features`` (float32, n×2048). Any ``.npz`` with ``mu`` and ``sigma`` can stand in for
a folder, including pytorch-fid's own.

The automatic per-folder cache is :mod:`iqa.distribution.statscache`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.cache import atomic_write
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError

STATS_FORMAT = "iqa-fid-stats/1"
_DIM = 2048


@dataclass
class StatsFile:
    """The content of a statistics file: μ, Σ, and what else it holds."""

    mean: np.ndarray
    cov: np.ndarray
    n: int | None = None
    features: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def write_stats(
    path: str | os.PathLike[str],
    stats: FeatureStats,
    meta: dict[str, Any],
    features: np.ndarray | None = None,
) -> None:
    """Write ``mu``, ``sigma``, ``n``, ``meta`` (and ``features``) atomically."""
    arrays: dict[str, np.ndarray] = {
        "mu": stats.mean,
        "sigma": stats.cov,
        "n": np.array(stats.n, np.int64),
        "meta": np.array(json.dumps({"format": STATS_FORMAT, **meta}, sort_keys=True)),
    }
    if features is not None:
        arrays["features"] = np.asarray(features, np.float32)
    target = Path(path)
    if target.suffix.lower() != ".npz":
        from iqa.errors import UsageError

        raise UsageError(f"--save-stats {path}: the file name must end with .npz")
    with atomic_write(target) as stream:
        np.savez(stream, **arrays)


def read_stats(path: str | os.PathLike[str]) -> StatsFile:
    """Read a statistics file; :class:`~iqa.errors.InputError` naming it if unusable."""
    name = str(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"mu", "sigma"} <= keys:
                raise InputError(
                    f"{name}: not a statistics file (it needs arrays 'mu' and 'sigma'; it has "
                    f"{', '.join(sorted(keys)) or 'none'})",
                    name,
                )
            mean = np.asarray(data["mu"], np.float64)
            cov = np.asarray(data["sigma"], np.float64)
            n = int(data["n"]) if "n" in keys else None
            features = np.asarray(data["features"], np.float32) if "features" in keys else None
            meta = _meta(data["meta"]) if "meta" in keys else {}
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", name) from None
    except Exception as exc:  # zip, CRC or format errors: a damaged file
        raise InputError(f"{name}: not a readable .npz statistics file ({exc})", name) from None
    if mean.shape != (_DIM,) or cov.shape != (_DIM, _DIM):
        raise InputError(
            f"{name}: mu has shape {mean.shape} and sigma {cov.shape}; FID Inception pool3 "
            f"statistics have ({_DIM},) and ({_DIM}, {_DIM})",
            name,
        )
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise InputError(f"{name}: mu or sigma holds NaN or infinite values", name)
    if features is not None and (features.ndim != 2 or features.shape[1] != _DIM):
        raise InputError(f"{name}: features have shape {features.shape}, expected N×{_DIM}", name)
    return StatsFile(mean, cov, n, features, meta)


def _meta(value: np.ndarray) -> dict[str, Any]:
    try:
        meta = json.loads(str(value))
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}
