"""The page of an ``iqa fid`` run: the numbers with their definitions, sample grids.

Each set that is a folder is shown by a grid of :data:`GRID` images chosen with a fixed
seed (:data:`SEED`) among its files, sorted by path, so two runs on the same folders
show the same images. A set given as ``.npz`` statistics has no images to show.
"""

from __future__ import annotations

import datetime as _dt
import os
import random
from typing import Any

from iqa.output.html import data_uri, render

GRID = 32
SEED = 0
CELL_SIDE = 160
#: Record fields that are results (the rest is run description).
_RESULT_SUFFIXES = ("", "_mean", "_std")


def sample_paths(folder: str, count: int = GRID, seed: int = SEED) -> list[str]:
    """``count`` image files of ``folder`` (recursive), a seeded choice in path order."""
    from pathlib import Path

    from iqa.io.pairing import list_images

    files = sorted(str(p) for p in list_images(Path(folder)))
    if len(files) <= count:
        return files
    chosen = random.Random(seed).sample(range(len(files)), count)
    return [files[i] for i in sorted(chosen)]


def _grid(source: str) -> list[tuple[str, str]]:
    from iqa.io.images import load_image
    from iqa.output.visuals import display_rgb, jpeg_bytes, reduce

    if not os.path.isdir(source):
        return []
    out = []
    for path in sample_paths(source):
        try:
            image = load_image(path, alpha="drop", exif=False)
        except Exception:  # noqa: BLE001 - an unreadable sample is left out of the grid
            continue
        rgb = reduce(display_rgb(image.pixels, image.data_range), CELL_SIDE)
        out.append((os.path.relpath(path, source), data_uri(jpeg_bytes(rgb))))
    return out


def fid_page(record: dict[str, Any]) -> str:
    """The HTML page of an ``iqa fid`` record (as ``--format json`` writes it)."""
    from iqa.distribution.report import header, plugin_keys

    record = {**header(record), **record}
    results = []
    for name in record.get("metrics", []):
        for suffix in _RESULT_SUFFIXES:
            value = record.get(name + suffix)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                results.append((name + suffix, value))
    results += [(k, record[k]) for k in plugin_keys(record) if k not in dict(results)]
    sets = [(side, str(record.get(side, "")), (record.get("sources") or {}).get(side, ""),
             (record.get("counts") or {}).get(side), _grid(str(record.get(side, ""))))
            for side in ("real", "fake")]
    return render(
        "fid.html", tool=record.get("tool", "iqa"), version=record.get("version", ""),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        results=results, definitions=record.get("definitions", {}),
        settings=record.get("settings", {}), counts=record.get("counts", {}),
        warnings=record.get("warnings", []), gates=record.get("gates"), sets=sets,
        grid=GRID, seed=SEED, weights=record.get("weights") or {},
    )


def write_fid_page(path: str, record: dict[str, Any]) -> None:
    from iqa.output.html import write_page

    write_page(path, fid_page(record))
