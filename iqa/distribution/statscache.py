"""The automatic cache of folder statistics, under ``<iqa cache>/fid-stats/``.

An entry is used only if its key equals the current one: the folder, its number of
image files, a fingerprint of those files, the weights' SHA-256, the network, the resize
mode, the decoding policies and the device type. Anything else is a miss, and the
statistics are recomputed and the entry replaced.

**What the fingerprint covers** (the key mode, ``IQA_CACHE_KEY`` or ``--cache-key``):

* ``stat`` (default): for each file, its relative path, size, modification time (ns),
  inode and the kernel's change time ``st_ctime_ns``. A program can restore a file's
  size and modification time after rewriting it (``cp -p``, ``rsync -a``, ``tar x``,
  ``touch -r``), but not its change time, which the kernel sets on every write, rename
  and ``utime``: so any rewrite makes the entry stale. Cheap: one ``stat`` per file.
* ``content``: for each file, its relative path and the SHA-256 of its bytes. For file
  systems that do not keep a stable change time or inode (some network and FUSE file
  systems, copies of a folder to another machine): the entry stays valid as long as the
  bytes are the same, whatever happened to the metadata. Reads every file once per run
  (still much cheaper than decoding and running the network).

Entries are written atomically (temporary file + rename) as ``.npz`` archives, whose
every array carries the zip format's CRC-32, checked as it is read; an entry that cannot
be read or fails that check is reported, never used, and
replaced. Each hit refreshes the entry file's modification time, which is the "last
use" that ``iqa cache list`` shows and ``iqa cache clear --older-than`` reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iqa.cache import atomic_write, cache_dir
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError, UsageError
from iqa.features.inception import FEATURE_DIM as _DIM

CACHE_FORMAT = 1
KEY_MODES = ("stat", "content")
_CHUNK = 1 << 20


def stats_cache_dir() -> Path:
    """The folder holding the entries (not created here)."""
    return cache_dir() / "fid-stats"


def key_mode(value: str | None = None) -> str:
    """``value``, else ``$IQA_CACHE_KEY``, else ``stat``; :class:`UsageError` if unknown."""
    source = "cache_key="
    if value is None:
        value = os.environ.get("IQA_CACHE_KEY") or "stat"
        source = "IQA_CACHE_KEY="
    if value not in KEY_MODES:
        message = f"{value!r}: the cache key mode must be one of {', '.join(KEY_MODES)}"
        if source == "cache_key=":
            from iqa.params import invalid

            raise invalid("cache_key", message)
        raise UsageError(f"{source}{message}")
    return value


@dataclass
class CacheEntry:
    stats: FeatureStats
    features: np.ndarray | None
    skipped: list[tuple[str, str]]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(folder: Path, files: list[Path], mode: str = "stat") -> str:
    """SHA-256 over ``files`` as the key ``mode`` sees them (see the module docstring)."""
    digest = hashlib.sha256()
    for path in files:
        rel = path.relative_to(folder).as_posix()
        try:
            if mode == "content":
                line = f"{rel}\0{_file_digest(path)}\n"
            else:
                st = path.stat()
                line = (f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                        f"{st.st_ino}\n")
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})", str(path)) from None
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class StatsCache:
    """Cached statistics of one folder under one set of settings (see the module)."""

    def __init__(self, folder: Path, files: list[Path], settings: dict[str, Any],
                 mode: str | None = None) -> None:
        self.folder = folder
        self.mode = key_mode(mode)
        where = {"format": CACHE_FORMAT, "folder": str(folder.resolve()), "settings": settings}
        name = hashlib.sha256(json.dumps(where, sort_keys=True).encode()).hexdigest()[:40]
        self.path = stats_cache_dir() / f"{name}.npz"
        self.key = json.dumps(
            {**where, "files": fingerprint(folder, files, self.mode), "count": len(files),
             "key_mode": self.mode},
            sort_keys=True,
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
        try:
            os.utime(self.path)  # last use
        except OSError:
            pass
        return CacheEntry(stats, features, skipped), ""  # type: ignore[arg-type]

    def store(self, stats: FeatureStats, features: np.ndarray | None,
              skipped: list[tuple[str, str]]) -> None:
        arrays: dict[str, np.ndarray] = {
            "key": np.array(self.key),
            "n": np.array(stats.n, np.int64),
            "total": stats.total,
            "outer": stats.outer,
            "skipped": np.array(json.dumps(skipped)),
            "created": np.array(time.time()),
        }
        if features is not None:
            arrays["features"] = np.asarray(features, np.float32)
        with atomic_write(self.path) as stream:
            np.savez(stream, **arrays)


# ---- seeing and cleaning the cache (``iqa cache``) ----------------------------------


@dataclass
class EntryInfo:
    """One cache entry as ``iqa cache list`` shows it."""

    path: Path
    bytes: int
    last_used: float  # the entry file's mtime, refreshed on each hit
    folder: str | None = None
    files: int | None = None
    images: int | None = None
    features: bool = False
    settings: dict[str, Any] | None = None
    key_mode: str | None = None
    created: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        settings = self.settings or {}
        return {
            "path": str(self.path), "bytes": self.bytes, "folder": self.folder,
            "files": self.files, "images": self.images, "features": self.features,
            "resize": settings.get("resize"), "device": settings.get("device"),
            "weights_sha256": settings.get("weights_sha256"), "key_mode": self.key_mode,
            "created": _iso(self.created), "last_used": _iso(self.last_used),
            "error": self.error,
        }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _describe(path: Path) -> EntryInfo:
    st = path.stat()
    info = EntryInfo(path, st.st_size, st.st_mtime)
    try:
        with np.load(path, allow_pickle=False) as data:
            key = json.loads(str(data["key"]))
            info.images = int(data["n"])
            info.features = "features" in data.files
            info.created = float(data["created"]) if "created" in data.files else None
        info.folder, info.files = key["folder"], int(key["count"])
        info.settings, info.key_mode = key.get("settings"), key.get("key_mode")
    except Exception as exc:  # any damage: listed as unreadable, and clearable
        info.error = f"unreadable ({type(exc).__name__})"
    return info


def _listable_folder() -> Path | None:
    """The cache folder, or None when it does not exist yet; :class:`UsageError` when it
    (or a folder above it) is something else than a folder, so that ``iqa cache`` does
    not report an empty cache that ``iqa fid`` could never fill."""
    folder = stats_cache_dir()
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            if path.is_dir():
                return folder if path == folder else None
            raise UsageError(f"{path}: is not a folder, so the statistics cache "
                             f"{folder} cannot exist; set IQA_CACHE_DIR to a folder")
    return None  # pragma: no cover - the root always exists


def list_entries() -> list[EntryInfo]:
    """Every ``.npz`` in the cache folder, most recently used first."""
    folder = _listable_folder()
    if folder is None:
        return []
    entries = [_describe(p) for p in folder.glob("*.npz") if p.is_file()]
    return sorted(entries, key=lambda e: e.last_used, reverse=True)


def clear_entries(older_than_days: float | None = None) -> tuple[int, int]:
    """Remove entries (and leftover temporary files) not used for ``older_than_days``
    days, or all of them; returns (entries removed, bytes freed)."""
    folder = _listable_folder()
    if folder is None:
        return 0, 0
    limit = None if older_than_days is None else time.time() - older_than_days * 86400
    removed = freed = 0
    for path in folder.iterdir():
        if not path.is_file() or not (path.suffix == ".npz" or path.name.endswith(".part")):
            continue
        st = path.stat()
        if limit is not None and st.st_mtime >= limit:
            continue
        path.unlink(missing_ok=True)
        removed += path.suffix == ".npz"
        freed += st.st_size
    return removed, freed
