"""The weights manager: find, download, import and verify the networks' weights files.

* **Known files** are listed in :mod:`iqa.weights.catalog` (name, file name, URL,
  digest). They are looked for in torch hub's checkpoint folder
  (``$TORCH_HOME/hub/checkpoints``), where torchvision, pytorch-fid and lpips keep
  them too, so a file any of them downloaded is reused.
* **Verification**: a file is the official one only if its size and its full SHA-256
  are the catalog's (the size is compared first, so a wrong file is not hashed). The
  same check applies wherever a file comes from: torch hub's cache, a download, an
  import, ``--weights FILE``. A cached file that fails is never used: the run stops with
  a message saying how to replace it.
* **Looking up** whether a file is present and verified (:func:`status`) never imports
  torch, so a caller can decide before paying for that import; it always hashes the
  file. A run remembers the digest of an unchanged file (:mod:`iqa.weights._digests`)
  and re-hashes the bytes it loads whenever it builds a network.
* **Downloads** happen on first use unless ``IQA_OFFLINE=1``; see
  :mod:`iqa.weights._download` for how they are made safe. A failed download says to
  fetch the file from its official origin (never from the mirror that just failed).
* **Imports**: ``import_file`` copies a file fetched elsewhere into the cache after
  checking its digest; with ``unverified=True`` a file with another digest (converted
  or fine-tuned weights) is accepted if it loads with ``weights_only=True`` and fits the
  architecture key by key and shape by shape. Such a file is reported as unverified by
  every run that uses it, and it takes precedence over the official file until a
  verified import or download of the same name replaces it.
* **Loading** is always ``torch.load(..., weights_only=True)`` on bytes whose digest
  was just checked — or, for OpenAI's CLIP files (TorchScript archives, which
  ``weights_only`` refuses), the restricted reader of :mod:`iqa.weights._torchscript`,
  which admits tensors and inert module records only and never runs the archive; the
  state dict is checked (keys, shapes, finite floating-point
  values) on import and again on every load, see :mod:`iqa.weights._verify`.
* Files placed in the caches get the mode the umask asks for (0644 under umask 022).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iqa.cache import checkpoints_dir
from iqa.errors import WeightsError
from iqa.weights import _store
from iqa.weights._digests import remembered_sha256
from iqa.weights._download import Progress, cancel_downloads, fetch
from iqa.weights._files import place
from iqa.weights._torchscript import is_torchscript, read_torchscript
from iqa.weights._verify import (
    as_float32,
    check_shapes,
    check_values,
    file_size,
    read_bytes,
    safe_load,
    sha256_file,
)
from iqa.weights.catalog import KNOWN, KnownFile, known

__all__ = [
    "KNOWN",
    "ResolvedWeights",
    "cancel_downloads",
    "download",
    "from_file",
    "import_file",
    "load_state_dict",
    "offline",
    "read_verified",
    "resolve",
    "status",
]


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file ready to load: where it is, its digest, and whether it is official."""

    name: str
    path: Path
    sha256: str
    verified: bool
    source: str  # "cache", "download", "import", "unverified import", "file"

    def describe(self) -> dict[str, Any]:
        """What JSON reports say about the weights a result was computed with."""
        return {
            "name": self.name,
            "file": str(self.path),
            "sha256": self.sha256,
            "verified": self.verified,
            "source": self.source,
        }

    @property
    def warning(self) -> str | None:
        """The line to show when the weights are not the official file."""
        if self.verified:
            return None
        return (
            f"using unverified {self.name} weights: {self.path} (sha256 {self.sha256[:16]}…, "
            f"not the official {known(self.name).filename}); results may differ from "
            "published values"
        )


def offline() -> bool:
    """Whether downloads are turned off (``IQA_OFFLINE``): :func:`iqa.environment.offline`."""
    from iqa.environment import offline as parsed

    return parsed()


def official_path(entry: KnownFile) -> Path:
    return checkpoints_dir() / entry.filename


def _manual_hint(entry: KnownFile) -> str:
    """How to install the file by hand: always from its official origin."""
    return (
        f"fetch {entry.url} ({entry.size_text}) on a machine with internet, "
        f"then run: iqa weights import {entry.name} /path/to/{entry.filename}"
    )


def _official_digest(entry: KnownFile, path: Path, *, remembered: bool = False
                     ) -> tuple[str | None, str]:
    """(digest, "") if ``path`` is the official file, else (None, why not).

    The size is compared first: a file of another size is not hashed. With
    ``remembered`` the digest may come from :mod:`iqa.weights._digests`.
    """
    size = file_size(path)
    if not entry.size_ok(size):
        expected = f"{entry.size:,}" if entry.size is not None else "at most 2 GiB"
        return None, f"{size:,} bytes, expected {expected}"
    digest = remembered_sha256(path) if remembered else sha256_file(path)
    if not entry.matches(digest):
        return None, f"sha256 {digest[:16]}…, expected {entry.sha256[:16]}…"
    return digest, ""


def resolve(
    name: str, *, allow_download: bool | None = None, progress: Progress | None = None
) -> ResolvedWeights:
    """The weights file ``name``: an unverified import, the cached file, or a download.

    Raises :class:`~iqa.errors.WeightsError` (exit code 2) when the file is missing and
    cannot be downloaded, or when the cached file fails verification.
    """
    entry = known(name)
    imported = _store.unverified_imports().get(name)
    if imported is not None:
        return _check_unverified(imported)
    path = official_path(entry)
    if path.is_file():
        digest, why = _official_digest(entry, path, remembered=True)
        if digest is None:  # offline, `iqa weights download` is refused: say what works
            downloads = not offline() if allow_download is None else allow_download
            fix = (f"replace it with: iqa weights download {name}" if downloads else
                   f"downloads are off (IQA_OFFLINE=1): {_manual_hint(entry)}")
            raise WeightsError(
                f"{path} fails verification ({why}): it is damaged or not the official "
                f"file; {fix}"
            )
        return ResolvedWeights(name, path, digest, True, "cache")
    if allow_download is None:
        allow_download = not offline()
    if not allow_download:
        raise WeightsError(
            f"{name} weights ({entry.filename}) are not in {path.parent} and downloads are off "
            f"(IQA_OFFLINE=1): {_manual_hint(entry)}"
        )
    return download(name, progress=progress)


def _check_unverified(imported: _store.UnverifiedImport) -> ResolvedWeights:
    path = Path(imported.file)
    if not path.is_file():
        raise WeightsError(
            f"the unverified {imported.name} weights imported from {imported.imported_from} "
            f"are gone ({path}); import them again with: iqa weights import {imported.name} "
            "FILE --unverified"
        )
    digest = remembered_sha256(path)
    if digest != imported.sha256:
        raise WeightsError(
            f"{path} changed since it was imported (sha256 {digest[:16]}…, recorded "
            f"{imported.sha256[:16]}…); import it again with: iqa weights import "
            f"{imported.name} FILE --unverified"
        )
    return ResolvedWeights(imported.name, path, digest, False, "unverified import")


def download(name: str, *, progress: Progress | None = None) -> ResolvedWeights:
    """Download the official file (if missing or failing verification) into the cache."""
    entry = known(name)
    path = official_path(entry)
    if path.is_file():
        digest, _ = _official_digest(entry, path)
        if digest is not None:
            _store.drop_unverified(name)
            return ResolvedWeights(name, path, digest, True, "cache")
    try:
        digest = fetch(entry, path, progress)
    except WeightsError as exc:
        raise WeightsError(f"{exc}; or {_manual_hint(entry)}") from None
    _store.drop_unverified(name)
    return ResolvedWeights(name, path, digest, True, "download")


def from_file(path: str | os.PathLike[str], *, name: str) -> ResolvedWeights:
    """A user-supplied file for ``name`` (``--weights FILE``); verified if it is official."""
    entry = known(name)
    file = Path(path)
    _regular_file(file, "weights file")
    digest = remembered_sha256(file)
    official = entry.size_ok(file_size(file)) and entry.matches(digest)
    return ResolvedWeights(name, file, digest, official, "file")


def read_verified(weights: ResolvedWeights) -> bytes:
    """The file's bytes, re-hashed: exactly the content that was verified."""
    data, digest = read_bytes(weights.path)
    if digest != weights.sha256:
        raise WeightsError(f"{weights.path} changed while it was being used; run again")
    return data


def load_state_dict(weights: ResolvedWeights, data: bytes | None = None) -> dict[str, Any]:
    """The state dict of ``weights``: ``weights_only=True``, keys, shapes and values
    checked (see :mod:`iqa.weights._verify`), floating tensors as float32.

    ``data`` is the file's content from :func:`read_verified` (read here if not given).
    """
    if data is None:
        data = read_verified(weights)
    return _checked_state(data, weights.name, str(weights.path))


def _checked_state(data: bytes, name: str, source: str) -> dict[str, Any]:
    entry = known(name)
    if entry.format == "torchscript" and is_torchscript(data):
        state = read_torchscript(data, source)
    else:
        state = safe_load(data, source)
    prefix = entry.keep_prefix
    if prefix and any(k.startswith(prefix) for k in state):  # the image tower only
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    required, optional = entry.expected_shapes()
    check_shapes(state, required, optional, source)
    check_values(state, source)
    return as_float32(state)


def import_file(name: str, file: str | os.PathLike[str], *, unverified: bool = False
                ) -> ResolvedWeights:
    """Copy a weights file fetched elsewhere into the cache (see the module docstring)."""
    entry = known(name)
    source = Path(file)
    _regular_file(source, "file")
    size = file_size(source)
    if not entry.size_ok(size) and not unverified:  # refused by its size, never read
        raise WeightsError(
            f"{source}: {size:,} bytes is not the official {name} file ({entry.size_text}, "
            f"sha256 {entry.sha256}); if these are converted or fine-tuned weights, "
            f"import them with: iqa weights import {name} {source} --unverified"
        )
    data, digest = read_bytes(source)
    if entry.size_ok(len(data)) and entry.matches(digest):
        target = official_path(entry)
        if not (target.is_file() and _official_digest(entry, target)[0] == digest):
            with place(target) as stream:
                stream.write(data)
        _store.drop_unverified(name)
        return ResolvedWeights(name, target, digest, True, "import")
    if not unverified:
        raise WeightsError(
            f"{source}: {len(data):,} bytes with sha256 {digest[:16]}… is not the official "
            f"{name} file ({entry.size_text}, sha256 {entry.sha256}); if these are "
            "converted or fine-tuned weights, "
            f"import them with: iqa weights import {name} {source} --unverified"
        )
    _checked_state(data, name, str(source))
    target = _store.unverified_dir() / f"{name}-{digest[:12]}.pth"
    with place(target) as stream:
        stream.write(data)
    previous = _store.unverified_imports().get(name)
    _store.record_unverified(
        _store.UnverifiedImport(
            name=name,
            file=str(target),
            sha256=digest,
            imported_from=str(source.resolve()),
            imported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
    )
    if previous is not None and Path(previous.file) != target:
        Path(previous.file).unlink(missing_ok=True)
    return ResolvedWeights(name, target, digest, False, "unverified import")


def _regular_file(path: Path, what: str) -> None:
    """Refuse what is not a regular file, saying what it is: a device such as /dev/zero
    would be read forever, and "no such file" would be wrong."""
    if path.is_file():
        return
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder; give the {what} itself")
    if path.exists():
        raise WeightsError(f"{path}: not a regular file (a device, pipe or socket); give the "
                           f"{what} itself")
    raise WeightsError(f"{path}: no such {what}")


@dataclass(frozen=True)
class Status:
    """One line of ``iqa weights list``."""

    name: str
    status: str  # "missing", "verified", "unverified", "failed verification"
    path: Path
    size_bytes: int | None
    entry: KnownFile


def status(name: str) -> Status:
    """Whether ``name`` is missing, verified, unverified or failing verification.

    Torch-free (only files and hashlib), so a caller can ask before importing torch.
    """
    entry = known(name)
    imported = _store.unverified_imports().get(name)
    if imported is not None:
        path = Path(imported.file)
        ok = path.is_file() and sha256_file(path) == imported.sha256
        return Status(name, "unverified" if ok else "failed verification", path,
                      path.stat().st_size if path.is_file() else None, entry)
    path = official_path(entry)
    if not path.is_file():
        return Status(name, "missing", path, None, entry)
    digest, _ = _official_digest(entry, path)
    verdict = "verified" if digest is not None else "failed verification"
    return Status(name, verdict, path, path.stat().st_size, entry)
