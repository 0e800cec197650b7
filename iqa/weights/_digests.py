"""SHA-256 digests of weights files, remembered by the files' identity on disk.

Each run that resolves weights needs their digest: to check a cached official file, to
check an imported file, and as part of the FID statistics cache key. Hashing a 95 MB
file takes about 0.07 s, a tenth of a run whose statistics all come from the cache, so
the digest is remembered in ``<iqa cache>/weights-digests.json`` together with the
file's size, modification time, change time, inode and device, the same identity the
statistics cache keys on (``stat`` mode, :mod:`iqa.distribution.statscache`): any
rewrite of the file changes its change time, which no program can set back, so a
remembered digest is used only for the very same bytes.

A file changed within the last :data:`SETTLE_NS` is hashed but not remembered (the
change time ticks coarsely, so a write in the same tick would keep it). The file is
read anew whenever a network is built (:func:`iqa.weights.read_verified` hashes the
bytes it loads), and ``iqa weights list`` always hashes: this memo only spares runs
that check an identity, never the bytes a network is built from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from iqa.weights._verify import sha256_file

SETTLE_NS = 2_000_000_000
_NAME = "weights-digests.json"
_MAX_ENTRIES = 64


def remembered_sha256(path: Path) -> str:
    """``sha256_file(path)``, taken from the memo when the file has not changed."""
    try:
        st = path.stat()
        key = str(path.resolve())
    except OSError:
        return sha256_file(path)  # raises WeightsError naming the file
    identity = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
    memo = _read()
    entry = memo.get(key)
    if isinstance(entry, list) and entry[:-1] == identity and isinstance(entry[-1], str):
        return entry[-1]
    digest = sha256_file(path)
    try:
        after = path.stat()
    except OSError:
        return digest
    settled = time.time_ns() - st.st_ctime_ns > SETTLE_NS
    same = [after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino,
            after.st_dev] == identity
    if settled and same:
        memo.pop(key, None)
        memo[key] = [*identity, digest]
        _write(dict(list(memo.items())[-_MAX_ENTRIES:]))
    return digest


def _path() -> Path:
    from iqa.cache import cache_dir

    return cache_dir() / _NAME


def _read() -> dict[str, object]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: every digest is computed again
    return data if isinstance(data, dict) else {}


def _write(memo: dict[str, object]) -> None:
    from iqa.cache import atomic_write

    try:
        with atomic_write(_path(), "w") as stream:
            json.dump(memo, stream)
    except OSError:
        pass  # a read-only cache only costs the hashing
