"""Tensors of a TorchScript archive (OpenAI's CLIP ``.pt`` files), read without running it.

OpenAI publishes CLIP as TorchScript archives (``torch.jit.save``): a zip holding
``<top>/data.pkl`` (a pickle of the module tree), ``<top>/data/<key>`` (one raw storage per
tensor) and ``<top>/code/`` (the model's TorchScript source). ``torch.load(...,
weights_only=True)`` refuses such archives, and ``torch.jit.load`` compiles and keeps the
archive's code. Here neither happens: ``data.pkl`` is read by a restricted unpickler that
admits only

* ``torch._utils._rebuild_tensor_v2`` (rebuilt by a local function from a storage read out
  of ``data/<key>`` with :func:`torch.frombuffer`), storage type markers ``torch.*Storage``,
  ``collections.OrderedDict``;
* classes named ``__torch__.*`` (the archive's own module classes), each replaced by an
  inert record of its attributes — no method of the archive is ever looked up or called;
* ``torch.jit._pickle`` list/type helpers, replaced by pass-through functions.

Anything else (``os.system``, ``builtins.eval``, any other global) is refused with one line,
before it is imported. The module tree is then walked: every tensor attribute becomes a
state-dict entry under its dotted path (``visual.conv1.weight``), as
``torch.jit.load(f).state_dict()`` names it. The tensors are those of the verified bytes
(the caller hashed them first).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from typing import Any

from iqa.errors import WeightsError

_STORAGE_DTYPES = {
    "HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}


class _Record:
    """An archive's module object: its attributes, nothing else."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


def is_torchscript(data: bytes) -> bool:
    """A zip whose members include ``<top>/code/`` and ``<top>/data.pkl``."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False
    return any("/code/" in n for n in names) and any(n.endswith("/data.pkl") for n in names)


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, *_: Any) -> Any:
    return storage.as_strided(tuple(size), tuple(stride), offset).clone()


def _passthrough(value: Any, *_: Any) -> Any:
    return value


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, top: str, source: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.top, self.source = archive, top, source

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch.jit._pickle" and (name.startswith("build_")
                                               or name == "restore_type_tag"):
            return _passthrough
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (_Record,), {})
        raise WeightsError(f"{self.source}: refused: the archive's pickle names {module}.{name} "
                           "(only tensors and module records are read; nothing was run)")

    def persistent_load(self, pid: Any) -> Any:
        import torch

        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise WeightsError(f"{self.source}: refused: unexpected storage record {pid!r:.80}")
        _, kind, key, _location, numel = pid
        try:
            raw = self.archive.read(f"{self.top}/data/{key}")
        except KeyError:
            raise WeightsError(f"{self.source}: damaged archive (storage {key} is missing)"
                               ) from None
        dtype = getattr(torch, kind.dtype)
        flat = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if flat.numel() < numel:
            raise WeightsError(f"{self.source}: damaged archive (storage {key} is truncated)")
        return flat


def _walk(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    import torch

    state = getattr(obj, "state", None)
    if not isinstance(state, dict):
        return
    for name, value in state.items():
        if not isinstance(name, str):
            continue
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, _Record):
            _walk(value, f"{prefix}{name}.", out)


def read_torchscript(data: bytes, source: str) -> dict[str, Any]:
    """Every tensor of the archive's module tree by dotted name (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise WeightsError(f"{source}: not a TorchScript archive (no single data.pkl)")
        top = pickles[0].split("/")[0]
        root = _Unpickler(archive.read(pickles[0]), archive, top, source).load()
    except WeightsError:
        raise
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, RuntimeError) as exc:
        raise WeightsError(f"{source}: unreadable TorchScript archive ({type(exc).__name__}: "
                           f"{str(exc)[:80]})") from None
    out: dict[str, Any] = {}
    _walk(root, "", out)
    if not out:
        raise WeightsError(f"{source}: the TorchScript archive holds no module tensors")
    return out
