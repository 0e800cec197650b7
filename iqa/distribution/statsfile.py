"""Statistics on disk: ``.npz`` files that stand in for a folder, and the automatic cache.

**Statistics files** (``iqa fid FOLDER --save-stats FILE.npz``) hold pytorch-fid's keys
``mu`` (float64, 2048) and ``sigma`` (float64, 2048×2048), so pytorch-fid, clean-fid and
TTUR load them as they are, plus ``n`` (number of images), ``meta`` (a JSON string:
network, resize mode, weights digest, decoding policies) and, when saved with ``--kid``,
``features`` (float32, n×2048). Any ``.npz`` with ``mu`` and ``sigma`` can stand in for
a folder, including pytorch-fid's own.

**The cache** keeps the statistics of each folder under ``<iqa cache>/fid-stats/``. An
entry is used only if its key equals the current one: the folder, the list of its image
files with their sizes and modification times (ns), the weights' SHA-256, the network,
the resize mode, the decoding policies and the device type. Adding, removing, touching
or rewriting a file makes the entry stale; it is then recomputed and replaced. Entries
are written atomically (temporary file + rename) and carry a SHA-256 of their content;
an entry that cannot be read or fails that check is reported, never used, and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.cache import atomic_write, cache_dir
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError

STATS_FORMAT = "iqa-fid-stats/1"
CACHE_FORMAT = 1
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


# ---- the automatic cache ------------------------------------------------------------


@dataclass
class CacheEntry:
    stats: FeatureStats
    features: np.ndarray | None
    skipped: list[tuple[str, str]]


def fingerprint(folder: Path, files: list[Path]) -> str:
    """SHA-256 of the relative paths, sizes and modification times (ns) of ``files``."""
    digest = hashlib.sha256()
    for path in files:
        try:
            st = path.stat()
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})", str(path)) from None
        rel = path.relative_to(folder).as_posix()
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class StatsCache:
    """Cached statistics of one folder under one set of settings (see the module)."""

    def __init__(self, folder: Path, files: list[Path], settings: dict[str, Any]) -> None:
        self.folder = folder
        where = {"format": CACHE_FORMAT, "folder": str(folder.resolve()), "settings": settings}
        name = hashlib.sha256(json.dumps(where, sort_keys=True).encode()).hexdigest()[:40]
        self.path = cache_dir() / "fid-stats" / f"{name}.npz"
        self.key = json.dumps(
            {**where, "files": fingerprint(folder, files), "count": len(files)}, sort_keys=True
        )

    def load(self, need_features: bool) -> tuple[CacheEntry | None, str]:
        """(entry, "") on a hit; (None, why) otherwise: "missing", "stale", "corrupt: ..."."""
        if not self.path.is_file():
            return None, "missing"
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:
            return None, f"corrupt: {type(exc).__name__}"
        try:
            if str(arrays["key"]) != self.key:
                return None, "stale"
            if arrays["checksum"].tobytes() != _checksum(arrays):
                return None, "corrupt: checksum mismatch"
            stats = FeatureStats(int(arrays["n"]), arrays["total"], arrays["outer"])
            skipped = [tuple(x) for x in json.loads(str(arrays["skipped"]))]
            valid = stats.total.shape == (_DIM,) and stats.outer.shape == (_DIM, _DIM)
        except (KeyError, ValueError, TypeError) as exc:
            return None, f"corrupt: {type(exc).__name__}"
        if not valid or not np.isfinite(stats.outer).all():
            return None, "corrupt: bad arrays"
        features = arrays.get("features")
        if need_features and features is None:
            return None, "no features (computed without --kid)"
        return CacheEntry(stats, features, skipped), ""  # type: ignore[arg-type]

    def store(self, stats: FeatureStats, features: np.ndarray | None,
              skipped: list[tuple[str, str]]) -> None:
        arrays: dict[str, np.ndarray] = {
            "key": np.array(self.key),
            "n": np.array(stats.n, np.int64),
            "total": stats.total,
            "outer": stats.outer,
            "skipped": np.array(json.dumps(skipped)),
        }
        if features is not None:
            arrays["features"] = np.asarray(features, np.float32)
        arrays["checksum"] = np.frombuffer(_checksum(arrays), np.uint8)
        with atomic_write(self.path) as stream:
            np.savez(stream, **arrays)


def _checksum(arrays: dict[str, np.ndarray]) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "checksum":
            continue
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}\n".encode())
        digest.update(value.tobytes())
    return digest.digest()
