"""Which files of a folder each reference tool reads, and a warning when iqa reads others.

iqa lists a set as :func:`iqa.io.pairing.list_images` does: recursively, any case of
suffix, hidden names skipped. The tools whose FID each ``--resize`` mode reproduces list
folders otherwise, and on a folder where the lists differ their FID differs from iqa's
(the values are of other images), so :func:`listing_note` says so, in one line:

* ``tf``, torch-fidelity 0.4 (``utils.glob_samples_paths``, its defaults): the top
  folder only, suffixes ``png``, ``jpg``, ``jpeg`` in any case, hidden names included;
  files sorted by their real path (links resolved).
* ``pytorch-fid`` 0.3 (``fid_score.compute_statistics_of_path``): the top folder only,
  ``Path.glob('*.EXT')`` for ``bmp jpg jpeg pgm png ppm tif tiff webp`` (lower case, as
  the file system compares them), hidden names included.
* ``clean``, clean-fid 0.1.35 (``fid.get_folder_features``): ``glob('**/*.EXT',
  recursive=True)`` for the same suffixes plus ``npy``, ``JPEG``, ``JPG``, ``PNG``:
  every sub-folder, hidden names skipped.

Files are compared by their real paths, so links and ``..`` do not count as a difference.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path

PathLike = str | os.PathLike[str]

_PYTORCH_FID = ("bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp")
_CLEAN_FID = (*_PYTORCH_FID, "npy", "JPEG", "JPG", "PNG")

#: --resize mode: (the tool, its listing in a few words)
TOOLS = {
    "tf": ("torch-fidelity", "the top folder only; .png, .jpg, .jpeg"),
    "pytorch-fid": ("pytorch-fid", "the top folder only; lower-case .png, .jpg, .jpeg, "
                    ".bmp, .pgm, .ppm, .tif, .tiff, .webp"),
    "clean": ("clean-fid", "every sub-folder; .png, .jpg, .jpeg, .bmp, .pgm, .ppm, .tif, "
              ".tiff, .webp, .npy"),
}


def real_paths(files: Iterable[PathLike]) -> list[str]:
    """``os.path.realpath`` of each file, cheaply: each folder's real path is resolved
    once, and a file that is not a link is its folder's real path plus its name (one
    ``lstat``, where ``realpath`` makes one per component of the path)."""
    folders: dict[str, str] = {}
    out = []
    for f in files:
        path = os.fspath(f)
        head, name = os.path.split(path)
        real_head = folders.get(head)
        if real_head is None:
            real_head = folders[head] = os.path.realpath(head or ".")
        if name in ("", ".", "..") or os.path.islink(path):
            out.append(os.path.realpath(path))
        else:
            out.append(os.path.join(real_head, name))
    return out


def reference_files(folder: Path, mode: str) -> set[str] | None:
    """The files the reference tool of ``mode`` reads in ``folder``, as real paths; None
    for a mode without one. One pass over the folder (the tools' own globs, one per
    suffix, would walk it a dozen times)."""
    if mode == "tf":
        return set(real_paths(e.path for e in _top(folder)
                              if os.path.splitext(e.name)[1].lower().removeprefix(".")
                              in ("png", "jpg", "jpeg")))
    if mode == "pytorch-fid":
        return set(real_paths(e.path for e in _top(folder, files_only=False)
                              if _matches(e.name, _PYTORCH_FID)))
    if mode == "clean":
        return _glob_recursive(str(folder), _CLEAN_FID)
    return None


def _matches(name: str, suffixes: tuple[str, ...]) -> bool:
    """``fnmatch.fnmatchcase(name, "*.EXT")`` for any of ``suffixes`` (what ``glob``
    and ``Path.glob`` do on a POSIX system), as one compiled pattern."""
    return _pattern(suffixes).match(name) is not None


@functools.lru_cache(maxsize=4)
def _pattern(suffixes: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(f"*.{x}") for x in suffixes))


def _glob_recursive(root: str, suffixes: tuple[str, ...]) -> set[str]:
    """``glob(ROOT/**/*.EXT, recursive=True)`` for each suffix, in one walk: names
    starting with "." are neither matched nor entered, links to folders are followed
    (each real folder once), and a folder whose name matches is listed too."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _matches(entry.name, suffixes):
                found.add(entry.path)
            try:
                if entry.is_dir():
                    stack.append(entry.path)
            except OSError:
                pass
    return set(real_paths(found))


def listing_note(label: str, folder: Path, files: Iterable[Path], mode: str,
                 real: Iterable[str] | None = None) -> str | None:
    """One line when the reference tool of ``mode`` would read other files of ``folder``
    than ``files`` (what iqa reads; ``real``: their real paths, if known already); None
    when both read the same."""
    if mode not in TOOLS:
        return None
    try:
        theirs = reference_files(folder, mode)
    except OSError:  # a folder iqa could list and the reference could not: iqa's error rules
        return None
    ours = set(real if real is not None else real_paths(files))
    if theirs is None or theirs == ours:
        return None
    tool, rule = TOOLS[mode]
    only_ours = sorted(ours - theirs)
    only_theirs = sorted(theirs - ours)
    parts = []
    if only_ours:
        parts.append(f"{len(only_ours)} only iqa reads (e.g. {_shown(only_ours[0], folder)})")
    if only_theirs:
        parts.append(f"{len(only_theirs)} only {tool} reads "
                     f"(e.g. {_shown(only_theirs[0], folder)})")
    return (f"{label} {folder}: iqa reads {len(ours)} files (every sub-folder, hidden names "
            f"skipped); {tool}, whose FID --resize {mode} reproduces, would read "
            f"{len(theirs)} ({rule}): {'; '.join(parts)}. Its values on this folder would "
            "differ from these; give both a folder they read alike")


def _top(folder: Path, files_only: bool = True) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        entries = list(it)
    if not files_only:
        return entries
    out = []
    for entry in entries:
        try:
            if not entry.is_dir():
                out.append(entry)
        except OSError:
            out.append(entry)
    return out


def _shown(path: str, folder: Path) -> str:
    from iqa.output.values import one_line

    root = os.path.realpath(folder)
    rel = os.path.relpath(path, root) if path.startswith(root + os.sep) else path
    return one_line(rel)
