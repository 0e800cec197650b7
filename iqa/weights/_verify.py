"""Hashing, safe loading and validation of weights files.

A file is read into memory once, hashed, and loaded from those same bytes, so the
file that was verified is the file that is used (no window in which it can change).
Loading is always ``torch.load(..., weights_only=True)``: a file whose pickle would run
code is refused, and torch's advice to retry with ``weights_only=False`` is never passed
on. The loaded mapping is checked before any network sees it:

* key by key and shape by shape against the architecture (:func:`check_shapes`);
* value by value (:func:`check_values`): every tensor is real and finite, and floating
  point except the integer ``num_batches_tracked`` counters of batch norm (an ``int64``
  state dict would crash every run; NaN weights would make every score NaN);
* floating tensors are converted to float32, the dtype the networks compute in
  (:func:`as_float32`), so float16 or float64 conversions of the weights work.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from pathlib import Path
from typing import Any

from iqa.errors import WeightsError

Shapes = dict[str, tuple[int, ...]]
_CHUNK = 1 << 20
_SAVE_HINT = "give the .pth file written by torch.save(model.state_dict(), FILE)"


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


def file_size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The whole file and its hex SHA-256."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return data, hashlib.sha256(data).hexdigest()


def _is_safetensors(data: bytes) -> bool:
    """A safetensors file: 8-byte little-endian header length, then a JSON object."""
    if len(data) < 10:
        return False
    header = int.from_bytes(data[:8], "little")
    return data[8:9] == b"{" and 8 + header <= len(data)


def _format_problem(data: bytes) -> str | None:
    """Why ``data`` cannot be a torch.save file, judged from its first bytes."""
    if not data:
        return "the file is empty"
    if _is_safetensors(data):
        return ("it is a safetensors file; convert it with torch.save("
                "safetensors.torch.load_file(FILE), 'weights.pth') and use that")
    if not (data.startswith(b"PK\x03\x04") or data[:1] == b"\x80"):
        return f"not a zip archive or pickle written by torch.save; {_SAVE_HINT}"
    return None


def safe_load(data: bytes, source: str) -> dict[str, Any]:
    """A state dict from file bytes with ``weights_only=True``; anything else is refused.

    Every refusal is one line that names ``source`` and says what to give instead.
    """
    import pickle

    import torch

    problem = _format_problem(data)
    if problem:
        raise WeightsError(f"{source} is not a PyTorch state dict ({problem})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL [\w.]+", str(exc))
        what = f"it holds {found.group(0)}" if found else "its pickle is not plain tensors"
        raise WeightsError(
            f"{source}: refused: not a plain state dict ({what}; objects other than "
            f"tensors are never loaded); {_SAVE_HINT}"
        ) from None
    except Exception as exc:  # zip errors, truncated files, wrong format
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = text if "weights_only" not in text else type(exc).__name__
        raise WeightsError(
            f"{source} is not a PyTorch state dict (unreadable: {text}); {_SAVE_HINT}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(
            f"{source} is not a PyTorch state dict (not a mapping of names to tensors); "
            f"{_SAVE_HINT}"
        )
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"{source} is not a PyTorch state dict (some values are not tensors); {_SAVE_HINT}"
        )
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


def _is_counter(key: str) -> bool:
    """Batch norm's step counter: the one integer tensor a state dict may hold."""
    return key.endswith("num_batches_tracked")


def check_values(state: dict[str, Any], source: str) -> None:
    """Every tensor finite; floating point except ``num_batches_tracked`` counters."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point():
            # One pass: a float64 sum of float32/16 values is finite exactly when every
            # value is (it cannot overflow); only a failing tensor is counted in detail.
            if tensor.dtype != torch.float64 and bool(
                    torch.isfinite(tensor.sum(dtype=torch.float64))):
                continue
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise WeightsError(
                    f"{source}: refused: tensor {key!r} is not finite ({bad:,} of "
                    f"{tensor.numel():,} values are NaN or infinite); the file is damaged "
                    "or the training diverged: use other weights"
                )
            continue
        integer = not tensor.is_complex() and tensor.dtype != torch.bool
        if not (_is_counter(key) and integer):
            raise WeightsError(
                f"{source}: refused: tensor {key!r} has dtype {tensor.dtype}; network "
                "weights must be floating point (float32, or float16/bfloat16/float64 "
                "converted on load); these are not trained weights of this network"
            )


def as_float32(state: dict[str, Any]) -> dict[str, Any]:
    """Floating tensors as float32 (the networks' dtype); counters unchanged."""
    import torch

    return {
        key: t.to(torch.float32) if t.is_floating_point() and t.dtype != torch.float32 else t
        for key, t in state.items()
    }
