"""Pair a reference and a distorted input: two files, or two folders matched by name.

Policies (also in the README, "How images are read"):

* **Listing a folder** takes every file with an image suffix, recursively, in sorted
  order; names starting with ``.`` (files and folders) are skipped.
* **Symbolic links** to files and to folders are followed, but no folder is visited
  twice: each real folder (its device and inode) is listed once, under the first path
  that reaches it in sorted order. A link loop (``loop -> ..``) therefore adds nothing,
  and a folder linked twice is counted once, so neither ``compare`` nor ``fid`` sees
  an image more than once.
* **Unreadable folders** are errors, never silently empty: a sub-folder that cannot be
  listed (permissions, I/O error) is reported as such, naming it, instead of its files
  turning up as "no distorted image with this name".
* **Pairing** is by relative path (``--pair-by path``) or by relative path without
  suffix (``--pair-by stem``). For rate–distortion runs, ``--pair-by subfolders`` pairs
  each reference with several encodings of it: every sub-folder of the distorted folder
  (one per quality or bitrate: ``out/q30/``, ``out/q50/``, ...) mirrors the reference
  folder, paired by relative path without suffix (``refs/a/x.png`` ↔ ``out/q30/a/x.avif``,
  ``out/q50/a/x.avif``); pair keys are ``q30/a/x``, and the pairs are ordered by reference,
  then sub-folder, so the rows of one reference (one RD curve) are consecutive.
  Files without a partner are listed in
  :attr:`Pairing.ref_only` / :attr:`Pairing.dist_only`; when some of them would pair
  by stem, :attr:`Pairing.hint` says so in one line, and
  :meth:`Pairing.summary_lines` summarises the unmatched files in a few lines. When
  nothing pairs at all, :func:`pair_inputs` raises one :class:`~iqa.errors.InputError`
  saying so (with the ``--pair-by stem`` hint when that would pair them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from iqa.errors import InputError, UsageError
from iqa.io.images import is_image_file

PAIR_BY = ("path", "stem", "subfolders")
_EXAMPLES = 3  # unmatched files named per side in summaries


@dataclass(frozen=True)
class Pair:
    """One reference/distorted pair; ``key`` names it in reports and baselines."""

    key: str
    ref: str
    dist: str


@dataclass
class Pairing:
    """The pairs, and the files of each folder that have no partner in the other."""

    pairs: list[Pair]
    ref_only: list[str] = field(default_factory=list)
    dist_only: list[str] = field(default_factory=list)
    folders: bool = False
    ref_root: str = ""
    dist_root: str = ""
    #: One line when some unmatched files would pair with ``--pair-by stem``.
    hint: str | None = None
    #: How the pairs were made (one of :data:`PAIR_BY`).
    pair_by: str = "path"

    def summary_lines(self, examples: int = _EXAMPLES) -> list[str]:
        """The unmatched files in at most ``2 * examples + 3`` one-line messages.

        Each side lists up to ``examples`` files by name and then counts the rest; the
        :attr:`hint`, if any, comes first. Empty when every file has a partner.
        """
        lines = [self.hint] if self.hint else []
        sides = (
            (self.ref_only, "reference", "distorted", self.dist_root),
            (self.dist_only, "distorted", "reference", self.ref_root),
        )
        for paths, kind, other, where in sides:
            shown = paths if len(paths) <= examples + 1 else paths[:examples]
            lines += [f"{p}: no {other} image with this name in {where}" for p in shown]
            if len(paths) > len(shown):
                lines.append(f"... and {len(paths) - len(shown)} more {kind} image(s) "
                             f"without a {other} image of the same name in {where}")
        return lines


def list_images(folder: Path, select: Callable[[Path], bool] = is_image_file) -> list[Path]:
    """All image files under ``folder``, recursively, sorted; hidden names are skipped.

    Links are followed, but each real folder is visited once (see the module docstring);
    a folder that cannot be listed raises :class:`InputError` naming it.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [Path(folder)]
    while stack:
        directory = stack.pop()
        entries = _entries(directory, seen)
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:  # e.g. a link loop on a name: reported when read, if an image
                is_dir = False
            if is_dir:
                subdirs.append(Path(entry.path))
            elif select(Path(entry.name)):
                found.append(Path(entry.path))
        stack.extend(reversed(subdirs))  # depth first, in sorted order
    return sorted(found)


def _entries(directory: Path, seen: set[tuple[int, int]]) -> list[os.DirEntry[str]]:
    """The sorted entries of ``directory``, or ``[]`` when it was visited already."""
    try:
        info = os.stat(directory)
        key = (info.st_dev, info.st_ino)
        if key in seen:
            return []
        seen.add(key)
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise InputError(
            f"{directory}: folder cannot be read ({exc.strerror or exc}); fix its "
            "permissions, or move it out of the folder being compared",
            str(directory),
        ) from None


def pair_inputs(
    ref: str, dist: str | Sequence[str], *, pair_by: str = "path",
    select: Callable[[Path], bool] = is_image_file,
) -> Pairing:
    """Pair inputs: a reference file with one or more distorted files, or two folders.

    Folders are paired by relative path, or with ``pair_by="stem"`` by relative path
    without its suffix (``a/x.png`` ↔ ``a/x.jpg``). ``select`` says which files of a
    folder take part (images by default; :func:`iqa.video.is_clip` for clips).
    """
    if pair_by not in PAIR_BY:
        raise UsageError(f"--pair-by must be one of {', '.join(PAIR_BY)}, not {pair_by!r}")
    dists = [dist] if isinstance(dist, str) else list(dist)
    if not dists:
        raise UsageError("give a distorted image or folder after the reference")
    ref_p = Path(ref)
    if ref_p.is_dir():
        if len(dists) == 1 and not os.path.lexists(dists[0]):
            raise InputError(f"{dists[0]}: no such file or folder", dists[0])
        if len(dists) != 1 or not Path(dists[0]).is_dir():
            raise UsageError(
                f"{ref} is a folder: give exactly one distorted folder to pair it with"
            )
        if pair_by == "subfolders":
            return _pair_subfolders(ref_p, Path(dists[0]), select)
        return _pair_folders(ref_p, Path(dists[0]), pair_by, select)
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


def _none_in(folder: str, select: Callable[[Path], bool]) -> InputError:
    what = ("images (PNG, JPEG, WebP, TIFF, BMP)" if select is is_image_file
            else "files of the kind being compared")
    return InputError(f"{folder}: folder holds no {what}", folder)


def _pair_folders(ref_p: Path, dist_p: Path, pair_by: str,
                  select: Callable[[Path], bool] = is_image_file) -> Pairing:
    ref, dist = str(ref_p), str(dist_p)
    ref_map = _keyed(ref_p, pair_by, select)
    dist_map = _keyed(dist_p, pair_by, select)
    if not ref_map:
        raise _none_in(ref, select)
    if not dist_map:
        raise _none_in(dist, select)
    common = sorted(ref_map.keys() & dist_map.keys())
    ref_only = sorted(ref_map.keys() - dist_map.keys())
    dist_only = sorted(dist_map.keys() - ref_map.keys())
    hint = _stem_hint(ref_only, dist_only) if pair_by == "path" else None
    if not common:
        what = "relative path" if pair_by == "path" else "relative path without suffix"
        raise InputError(
            f"{ref} and {dist}: no image pairs by {what} ({len(ref_map)} reference, "
            f"{len(dist_map)} distorted images, e.g. {ref_only[0]} and {dist_only[0]})"
            + (f"; {hint}" if hint else "; check the two folders"),
            dist,
        )
    return Pairing(
        pairs=[Pair(key=k, ref=str(ref_map[k]), dist=str(dist_map[k])) for k in common],
        ref_only=[str(ref_map[k]) for k in ref_only],
        dist_only=[str(dist_map[k]) for k in dist_only],
        folders=True,
        ref_root=ref,
        dist_root=dist,
        hint=hint,
    )


def _pair_subfolders(ref_p: Path, dist_p: Path,
                     select: Callable[[Path], bool] = is_image_file) -> Pairing:
    """Each sub-folder of ``dist_p`` mirrors ``ref_p`` (by relative path without suffix)."""
    ref, dist = str(ref_p), str(dist_p)
    ref_map = _keyed(ref_p, "stem", select)
    if not ref_map:
        raise _none_in(ref, select)
    subfolders = sorted(p for p in _listing(dist_p) if not p.name.startswith(".") and p.is_dir())
    if not subfolders:
        raise InputError(
            f"{dist}: has no sub-folders; --pair-by subfolders expects one sub-folder per "
            f"encoding (e.g. {dist}/q30/, {dist}/q50/), each mirroring {ref}", dist)
    pairs: list[tuple[str, str, Pair]] = []
    missing: set[str] = set()
    dist_only = [str(p) for p in sorted(_listing(dist_p)) if p.is_file() and select(p)]
    for sub in subfolders:
        dist_map = _keyed(sub, "stem", select)
        for key in sorted(ref_map.keys() & dist_map.keys()):
            pairs.append((key, sub.name, Pair(key=f"{sub.name}/{key}", ref=str(ref_map[key]),
                                               dist=str(dist_map[key]))))
        missing.update(ref_map.keys() - dist_map.keys())
        dist_only += [str(dist_map[k]) for k in sorted(dist_map.keys() - ref_map.keys())]
    if not pairs:
        raise InputError(
            f"{ref} and {dist}: no image of {ref} has a namesake (without suffix) in any "
            f"sub-folder of {dist} ({', '.join(s.name for s in subfolders[:3])}"
            f"{', ...' if len(subfolders) > 3 else ''}); check the two folders", dist)
    pairs.sort(key=lambda item: (item[0], item[1]))
    return Pairing(
        pairs=[p for _, _, p in pairs],
        ref_only=[str(ref_map[k]) for k in sorted(missing)],
        dist_only=dist_only,
        folders=True,
        ref_root=ref,
        dist_root=dist,
        pair_by="subfolders",
    )


def missing_encodings(pairing: Pairing) -> dict[str, list[str]]:
    """For ``--pair-by subfolders``: each reference in ``ref_only`` → the sub-folders of
    the distorted folder that have no encoding of it (empty for other pairings)."""
    if not pairing.ref_only or pairing.pair_by != "subfolders":
        return {}
    subs = sorted({p.key.split("/", 1)[0] for p in pairing.pairs})
    have: dict[str, set[str]] = {}
    for p in pairing.pairs:
        have.setdefault(p.ref, set()).add(p.key.split("/", 1)[0])
    return {r: [s for s in subs if s not in have.get(r, set())] for r in pairing.ref_only}


def _listing(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(f"{folder}: folder cannot be read ({exc.strerror or exc})",
                         str(folder)) from None


def _stem_hint(ref_only: list[str], dist_only: list[str]) -> str | None:
    """One line when unmatched files (relative paths) would pair without their suffix."""
    def stems(keys: list[str]) -> dict[str, str]:
        counts: dict[str, list[str]] = {}
        for key in keys:
            counts.setdefault(PurePosixPath(key).with_suffix("").as_posix(), []).append(key)
        return {stem: found[0] for stem, found in counts.items() if len(found) == 1}

    ref_stems, dist_stems = stems(ref_only), stems(dist_only)
    matches = sorted(ref_stems.keys() & dist_stems.keys())
    if not matches:
        return None
    first = matches[0]
    return (f"{len(matches)} of the {len(ref_only)} unmatched reference images have a "
            f"distorted image of the same name with another suffix (e.g. "
            f"{ref_stems[first]} and {dist_stems[first]}): pair them with --pair-by stem")


def _keyed(folder: Path, pair_by: str,
           select: Callable[[Path], bool] = is_image_file) -> dict[str, Path]:
    keyed: dict[str, Path] = {}
    for path in list_images(folder, select):
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
