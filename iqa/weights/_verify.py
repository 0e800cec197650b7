"""Hashing and safe loading of weights files.

A file is read into memory once, hashed, and loaded from those same bytes, so the
file that was verified is the file that is used (no window in which it can change).
Loading is always ``torch.load(..., weights_only=True)``: a file whose pickle would run
code is refused. The loaded mapping is checked key by key and shape by shape against the
architecture before any network sees it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from iqa.errors import WeightsError

Shapes = dict[str, tuple[int, ...]]
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The whole file and its hex SHA-256."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return data, hashlib.sha256(data).hexdigest()


def safe_load(data: bytes, source: str) -> dict[str, Any]:
    """A state dict from file bytes with ``weights_only=True``; anything else is refused."""
    import pickle

    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise WeightsError(
            f"{source}: refused: not a plain tensor file (weights_only load failed: {first})"
        ) from None
    except Exception as exc:  # zip errors, truncated files, wrong format
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{source}: not a readable PyTorch weights file ({text})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(f"{source}: expected a state dict (a mapping of names to tensors)")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{source}: expected a state dict whose values are all tensors")
    return state


def check_shapes(state: dict[str, Any], required: Shapes, optional: Shapes, source: str) -> None:
    """Every key known with the right shape, every required key present."""
    problems = []
    known = {**optional, **required}
    unknown = sorted(k for k in state if k not in known)
    if unknown:
        problems.append(f"{len(unknown)} unknown key(s), e.g. {unknown[0]!r}")
    missing = sorted(k for k in required if k not in state)
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {missing[0]!r}")
    for key, tensor in state.items():
        want = known.get(key)
        if want is not None and tuple(tensor.shape) != tuple(want):
            problems.append(f"{key!r} has shape {tuple(tensor.shape)}, expected {tuple(want)}")
            break
    if problems:
        raise WeightsError(
            f"{source}: does not fit the architecture: " + "; ".join(problems)
        )
