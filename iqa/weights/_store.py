"""iqa's record of weights imported without verification.

Official files live in torch hub's checkpoint folder under their official names. A file
imported with ``--unverified`` never goes there (torchvision would take it for the
official file); it is copied to ``<iqa cache>/weights/<name>-<sha256[:12]>.pth`` and
recorded in ``<iqa cache>/weights.json`` with its digest, so a later change to it is
detected and refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from iqa.cache import cache_dir
from iqa.weights._files import place

_FORMAT = 1


@dataclass(frozen=True)
class UnverifiedImport:
    name: str
    file: str
    sha256: str
    imported_from: str
    imported_at: str


def _metadata_path() -> Path:
    return cache_dir() / "weights.json"


def unverified_dir() -> Path:
    return cache_dir() / "weights"


def _read() -> dict:
    path = _metadata_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable metadata: behave as if nothing was imported
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        return {}
    return document


def unverified_imports() -> dict[str, UnverifiedImport]:
    found = {}
    for name, record in (_read().get("unverified") or {}).items():
        try:
            found[name] = UnverifiedImport(name=name, **record)
        except TypeError:
            continue  # a record this version does not understand is ignored
    return found


def _write(unverified: dict[str, UnverifiedImport]) -> None:
    document = {
        "format": _FORMAT,
        "unverified": {
            name: {k: v for k, v in asdict(rec).items() if k != "name"}
            for name, rec in sorted(unverified.items())
        },
    }
    with place(_metadata_path(), "w") as stream:
        stream.write(json.dumps(document, indent=2) + "\n")


def record_unverified(record: UnverifiedImport) -> None:
    current = unverified_imports()
    current[record.name] = record
    _write(current)


def drop_unverified(name: str) -> UnverifiedImport | None:
    """Forget the unverified import of ``name`` and delete iqa's copy of it."""
    current = unverified_imports()
    record = current.pop(name, None)
    if record is not None:
        _write(current)
        path = Path(record.file)
        if path.parent == unverified_dir():
            path.unlink(missing_ok=True)
    return record
