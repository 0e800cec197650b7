"""Pair a reference and a distorted input: two files, or two folders matched by name."""

from __future__ import annotations

import os
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


def pair_inputs(ref: str, dist: str, *, pair_by: str = "path") -> Pairing:
    """Pair two files, or two folders by relative path (or by relative path without suffix)."""
    if pair_by not in PAIR_BY:
        raise UsageError(f"--pair-by must be one of {', '.join(PAIR_BY)}, not {pair_by!r}")
    ref_p, dist_p = Path(ref), Path(dist)
    for p in (ref_p, dist_p):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder", str(p))
    if ref_p.is_dir() != dist_p.is_dir():
        raise UsageError(
            f"{ref} and {dist}: give two files or two folders, not a file and a folder"
        )
    if not ref_p.is_dir():
        return Pairing([Pair(key=ref_p.name, ref=ref, dist=dist)])
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
