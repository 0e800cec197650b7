"""Statistics files of parts of a set, merged into the statistics of the whole set.

For array jobs on any scheduler: ``iqa fid PART --save-stats part-03.npz`` on each part,
then ``iqa stats merge part-*.npz -o all.npz``. Each file holds ``n``, μ and Σ; the sums
of its part are recovered exactly (up to float64 rounding) as Σx = n·μ and
XᵀX = (n − 1)·Σ + n·μμᵀ (:meth:`FeatureStats.from_moments`), added, and turned back
into μ and Σ of the union, the same arithmetic a single run does over batches
(:mod:`iqa.distribution.stats`).

Merging refuses, naming the file: a file without ``n`` (pytorch-fid's own ``.npz`` holds
only μ and Σ, from which the sums cannot be recovered), a file that does not record how it
was computed, and files whose network, weights (SHA-256) or preprocessing (resize mode,
alpha, EXIF, channel and decoding settings) differ; the same file given twice, or two
files with the same statistics, or a part that is already in a merged file given (a part
counted twice). A merged file records its parts (``parts``: each original part's file
name, count and ``stats_sha256``, a digest of its n and μ), the parts of a merged input
listed in its place, so that a part is recognised however deep it was merged; parts
recorded by older versions, without the digest, are recognised by file name and count.
Features (kept with ``--kid``) are concatenated in the order the files are given when
every part has them, else left out of the result.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from iqa.errors import InputError, UsageError

#: Meta keys that describe a part, not how its features were computed.
_PER_PART = frozenset({"format", "iqa", "skipped", "limit", "weights", "parts", "max_image_mb"})


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``iqa stats show`` prints: a statistics file's count and provenance."""
    from iqa.distribution.foreign import named_extractor
    from iqa.distribution.statsfile import read_stats

    sf = read_stats(path, extractor=named_extractor(Path(path)) or "inception",
                    features=False)
    meta = sf.meta
    weights = meta.get("weights") or {}
    foreign = meta.get("foreign")
    settings = {k: v for k, v in sorted(meta.items())
                if k not in _PER_PART | {"network", "foreign"}}
    if foreign is not None:  # another tool's file: what iqa could learn, and what it assumes
        settings = {"resize": foreign["resize"] or "unknown",
                    "resize_basis": foreign["resize_basis"]}
    return {
        "file": str(path),
        "format": meta.get("format") if foreign is None else foreign["format"],
        "tool": "iqa" if foreign is None else foreign["tool"],
        "entry": None if foreign is None else foreign.get("entry"),
        "entries": None if foreign is None else foreign.get("entries"),
        "weights_assumed": None if foreign is None else foreign["weights"],
        "n": sf.n,
        "network": meta.get("network") or (foreign or {}).get("extractor"),
        "preprocessing": settings,
        "weights": ({"name": weights.get("name"), "sha256": weights.get("sha256"),
                     "verified": weights.get("verified")} if weights else None),
        "features": sf.feature_rows,
        "skipped": meta.get("skipped"),
        "limit": meta.get("limit"),
        "parts": meta.get("parts"),
        "iqa": meta.get("iqa"),
        "trace_sigma": float(np.trace(sf.cov)),
        "bytes": Path(path).stat().st_size,
    }


def _provenance(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for two parts to be one set: network, weights, preprocessing."""
    digest = (meta.get("weights") or {}).get("sha256")
    if not meta.get("network") or not digest or "resize" not in meta:
        raise InputError(f"{name}: records no network, weights digest or resize mode, so it "
                         "cannot be checked against the other parts; merge only files written "
                         "by `iqa fid FOLDER --save-stats FILE.npz`", name)
    return {"weights_sha256": digest,
            **{k: v for k, v in meta.items() if k not in _PER_PART}}


def _difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in keys)


def _digest(n: int, mean: np.ndarray) -> str:
    """``stats_sha256``: what identifies a part's statistics, its n and μ (float64)."""
    data = int(n).to_bytes(8, "little", signed=True)
    return hashlib.sha256(data + np.ascontiguousarray(mean, "<f8").tobytes()).hexdigest()


def _leaves(path: str, sf: Any) -> list[dict[str, Any]]:
    """The original parts a file holds: those a merged file records, else itself."""
    if sf.meta.get("parts"):
        return [dict(p) for p in sf.meta["parts"]]
    leaf = {"file": os.path.basename(path), "n": sf.n, "stats_sha256": _digest(sf.n, sf.mean)}
    if sf.meta.get("limit"):
        leaf["limit"] = sf.meta["limit"]
    return [leaf]


def _same_part(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether two recorded parts are one; None when a record of an earlier version
    (no ``stats_sha256``) cannot tell: a file name and a count are not enough, parts
    of array jobs often share both."""
    if a.get("stats_sha256") and b.get("stats_sha256"):
        return bool(a["stats_sha256"] == b["stats_sha256"])
    return None


def _refuse_overlap(path: str, leaves: list[dict[str, Any]],
                    earlier: list[tuple[str, list[dict[str, Any]]]],
                    warn: Callable[[str], None]) -> None:
    """A part of ``path`` that an earlier file holds too: it would be counted twice. A
    part that may be one, by its name and count, where a record cannot tell: a warning."""
    for other, theirs in earlier:
        for leaf in leaves:
            same = [_same_part(leaf, part) for part in theirs]
            if True in same:
                raise InputError(f"{path} and {other} both hold the part {leaf['file']} "
                                 f"({leaf['n']} images); a part would be counted twice", path)
            if any(s is None and leaf["file"] == part["file"] and leaf["n"] == part["n"]
                   for s, part in zip(same, theirs)):
                warn(f"{path} and {other} both name a part {leaf['file']} of {leaf['n']} "
                     "images, and a file merged by an earlier version records no digest "
                     "to tell whether it is the same part; if it is, it is counted twice")


def merge_files(paths: list[str], target: str,
                warn: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Merge the statistics files ``paths`` into ``target`` (written atomically).

    Returns :func:`describe` of the written file. Raises :class:`UsageError` or
    :class:`InputError` naming the file and what differs.
    """
    from iqa.distribution.stats import FeatureStats, merge
    from iqa.distribution.statsfile import read_stats, write_stats
    from iqa.output.files import check_output_targets

    if len(paths) < 2:
        raise UsageError("iqa stats merge needs at least two statistics files")
    if Path(target).suffix.lower() != ".npz":
        raise UsageError(f"-o {target}: the file name must end with .npz")
    check_output_targets([("-o", target)], paths)
    seen: dict[str, str] = {}
    parts, first = [], None
    held: list[tuple[str, list[dict[str, Any]]]] = []  # each file's original parts
    for path in paths:
        resolved = os.path.realpath(path)
        if resolved in seen:
            raise UsageError(f"{path}: given twice (as {seen[resolved]}); each part is "
                             "merged once")
        seen[resolved] = path
        sf = read_stats(path)
        if sf.n is None:
            raise InputError(f"{path}: holds mu and sigma without n, the number of images, so "
                             "its sums cannot be recovered; save each part with `iqa fid PART "
                             "--save-stats FILE.npz`", path)
        provenance = _provenance(path, sf.meta)
        if first is None:
            first = (path, provenance)
        elif provenance != first[1]:
            raise InputError(f"{path}: computed differently from {first[0]} "
                             f"({_difference(first[1], provenance)}); only statistics of one "
                             "network, weights and preprocessing can be merged", path)
        for other, earlier in parts:
            if sf.n == earlier.n and np.array_equal(sf.mean, earlier.mean):
                raise InputError(f"{path}: holds the same statistics as {other}; a part "
                                 "would be counted twice", path)
        leaves = _leaves(path, sf)
        _refuse_overlap(path, leaves, held, warn)
        held.append((path, leaves))
        parts.append((path, sf))
    total = merge(FeatureStats.from_moments(sf.mean, sf.cov, sf.n) for _, sf in parts)
    features = None
    if all(sf.features is not None for _, sf in parts):
        features = np.concatenate([sf.features for _, sf in parts])
    from iqa import __version__

    base = parts[0][1].meta
    meta = {k: v for k, v in base.items() if k not in ("format", "limit", "parts")}
    meta.update(iqa=__version__, skipped=sum(int(sf.meta.get("skipped") or 0) for _, sf in parts),
                parts=[leaf for _, leaves in held for leaf in leaves])
    write_stats(target, total, meta, features)
    return describe(target)
