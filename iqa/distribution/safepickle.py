"""Reading pickles that other tools wrote, without running anything they name.

EDM2's ``dataset-refs/*.pkl`` and torch-fidelity's cached statistics (a ``torch.save``
archive) are pickles of dicts of NumPy arrays. ``pickle.load`` would call any function
the file names (``os.system`` included), so :func:`load_restricted` uses an unpickler
whose ``find_class`` admits only what those files need:

* NumPy's array and scalar reconstruction (``_reconstruct``, ``_frombuffer``,
  ``scalar``) and the ``ndarray`` and ``dtype`` classes they build, under their NumPy 1
  (``numpy.core``) and NumPy 2 (``numpy._core``) names;
* ``_codecs.encode(text, "latin1")``, how pickle protocol 2 (``torch.save``'s) stores
  ``bytes``, admitted for that one encoding only.

Dicts, lists, tuples, numbers, strings, ``True``/``False``/``None`` need no class.
Anything else (another function or class, a persistent id such as a torch tensor) is
refused before it is called, as is an array of Python objects in the result: the caller
gets :class:`~iqa.errors.InputError` naming the file.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from iqa.errors import InputError

_MAX_DEPTH = 16


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is admitted only for latin1 text")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], Any]:
    """(module, name) -> the object it stands for, under every name NumPy has used."""
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {("_codecs", "encode"): _latin1_encode,
                                           ("numpy", "ndarray"): np.ndarray,
                                           ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class _Restricted(pickle.Unpickler):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"it names {module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("it holds objects stored outside the pickle (torch "
                                     "tensors)")


def load_restricted(data: bytes, name: str) -> Any:
    """Unpickle ``data`` (read from the file ``name``) admitting only plain data.

    Raises :class:`InputError` naming ``name`` for anything else, and for a damaged or
    truncated pickle.
    """
    try:
        value = _Restricted(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        reason = str(exc) if str(exc).startswith("it ") else "it is damaged or truncated"
        raise InputError(f"{name}: refused: {reason}; only pickles of dicts, lists, numbers, "
                         "strings and NumPy arrays are read", name) from None
    except Exception as exc:  # EOFError, ValueError, ... from a damaged or truncated file
        raise InputError(f"{name}: is a damaged or truncated pickle ({type(exc).__name__})",
                         name) from None
    _check_plain(value, name, 0)
    return value


def _check_plain(value: Any, name: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InputError(f"{name}: refused: nested more than {_MAX_DEPTH} levels deep", name)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, name, depth + 1)
            _check_plain(item, name, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_plain(item, name, depth + 1)
    elif isinstance(value, np.ndarray | np.generic):
        if value.dtype.hasobject:
            raise InputError(f"{name}: refused: it holds an array of Python objects; only "
                             "numeric arrays are read", name)
    elif not isinstance(value, str | bytes | int | float | bool | type(None)):
        raise InputError(f"{name}: refused: it holds a {type(value).__name__}", name)
