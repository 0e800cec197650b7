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
files with the same statistics (a part counted twice). Features (kept with ``--kid``)
are concatenated in the order the files are given when every part has them, else left
out of the result.
"""

from __future__ import annotations

import os
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


def merge_files(paths: list[str], target: str) -> dict[str, Any]:
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
        parts.append((path, sf))
    total = merge(FeatureStats.from_moments(sf.mean, sf.cov, sf.n) for _, sf in parts)
    features = None
    if all(sf.features is not None for _, sf in parts):
        features = np.concatenate([sf.features for _, sf in parts])
    from iqa import __version__

    base = parts[0][1].meta
    meta = {k: v for k, v in base.items() if k not in ("format", "limit", "parts")}
    meta.update(iqa=__version__, skipped=sum(int(sf.meta.get("skipped") or 0) for _, sf in parts),
                parts=[{"file": os.path.basename(p), "n": sf.n,
                        **({"limit": sf.meta["limit"]} if sf.meta.get("limit") else {})}
                       for p, sf in parts])
    write_stats(target, total, meta, features)
    return describe(target)
