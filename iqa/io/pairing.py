"""Pair a reference and a distorted input: two files, or two folders matched by name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iqa.errors import InputError, UsageError
from iqa.io.images import is_image_file

PAIR_BY = ("path", "stem")


@dataclass(frozen=True)
class Pair:
    """One reference/distorted pair; ``key`` names it in reports and baselines."""

    key: str
    ref: str
    dist: str


@dataclass
class Pairing:
    pairs: list[Pair]
    ref_only: list[str] = field(default_factory=list)
    dist_only: list[str] = field(default_factory=list)
    folders: bool = False


def list_images(folder: Path) -> list[Path]:
    """All image files under ``folder``, recursively, sorted; hidden files are skipped."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root, f) for f in files if is_image_file(Path(f)))
    return sorted(found)


def pair_inputs(ref: str, dist: str | Sequence[str], *, pair_by: str = "path") -> Pairing:
    """Pair inputs: a reference file with one or more distorted files, or two folders.

    Folders are paired by relative path, or with ``pair_by="stem"`` by relative path
    without its suffix (``a/x.png`` ↔ ``a/x.jpg``).
    """
    if pair_by not in PAIR_BY:
        raise UsageError(f"--pair-by must be one of {', '.join(PAIR_BY)}, not {pair_by!r}")
    dists = [dist] if isinstance(dist, str) else list(dist)
    if not dists:
        raise UsageError("give a distorted image or folder after the reference")
    ref_p = Path(ref)
    if ref_p.is_dir():
        if len(dists) != 1 or not Path(dists[0]).is_dir():
            raise UsageError(
                f"{ref} is a folder: give exactly one distorted folder to pair it with"
            )
        return _pair_folders(ref_p, Path(dists[0]), pair_by)
    if not ref_p.exists():
        raise InputError(f"{ref}: no such file or folder", ref)
    for d in dists:
        if Path(d).is_dir():
            raise UsageError(f"{ref} is a file but {d} is a folder: give two files or two folders")
    # Missing distorted files are reported per pair, so the other pairs are still scored.
    keys = [Path(d).name for d in dists]
    if len(set(keys)) != len(keys):
        keys = list(dists)
    return Pairing([Pair(key=k, ref=ref, dist=d) for k, d in zip(keys, dists)])


def _pair_folders(ref_p: Path, dist_p: Path, pair_by: str) -> Pairing:
    ref, dist = str(ref_p), str(dist_p)
    ref_map = _keyed(ref_p, pair_by)
    dist_map = _keyed(dist_p, pair_by)
    if not ref_map:
        raise InputError(f"{ref}: folder holds no images (PNG, JPEG, WebP, TIFF, BMP)", ref)
    if not dist_map:
        raise InputError(f"{dist}: folder holds no images (PNG, JPEG, WebP, TIFF, BMP)", dist)
    pairs = [
        Pair(key=k, ref=str(ref_map[k]), dist=str(dist_map[k]))
        for k in sorted(ref_map.keys() & dist_map.keys())
    ]
    return Pairing(
        pairs=pairs,
        ref_only=[str(ref_map[k]) for k in sorted(ref_map.keys() - dist_map.keys())],
        dist_only=[str(dist_map[k]) for k in sorted(dist_map.keys() - ref_map.keys())],
        folders=True,
    )


def _keyed(folder: Path, pair_by: str) -> dict[str, Path]:
    keyed: dict[str, Path] = {}
    for path in list_images(folder):
        rel = path.relative_to(folder)
        key = (rel.with_suffix("") if pair_by == "stem" else rel).as_posix()
        if key in keyed:
            raise InputError(
                f"{folder}: {keyed[key].name} and {path.name} have the same name without "
                "suffix; pair by path instead (--pair-by path) or remove one",
                str(path),
            )
        keyed[key] = path
    return keyed
