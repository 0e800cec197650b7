"""Errors about an argument name the library parameter; the command line names its flag.

A library function raises :func:`invalid` (``resize='bilinear': must be one of ...``),
an :class:`~iqa.errors.InvalidArgument` that records the parameter in ``exc.param``.
Each command maps its parameters to flags with :func:`as_flags` (``--resize
'bilinear': ...``), so one check serves both the Python API and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from iqa.errors import InvalidArgument, IQAError


def invalid(param: str, message: str) -> InvalidArgument:
    """An :class:`InvalidArgument` whose message starts with ``param=`` and which
    records ``param`` (``exc.param``)."""
    exc = InvalidArgument(f"{param}={message}")
    exc.param = param  # type: ignore[attr-defined]
    return exc


def renamed(exc: IQAError, names: Mapping[str, str]) -> IQAError:
    """``exc`` with its parameter shown as ``names[param]``: a flag (``--resize``) or
    another parameter name (``subsets`` for ``kid_subsets``). Unchanged otherwise."""
    param = getattr(exc, "param", None)
    text = str(exc)
    if param not in names or not text.startswith(f"{param}="):
        return exc
    shown = names[param]
    rest = text[len(param) + 1:]
    message = f"{shown} {rest}" if shown.startswith("-") else f"{shown}={rest}"
    new = type(exc)(message)
    new.param = param  # type: ignore[attr-defined]
    return new


@contextmanager
def as_flags(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a parameter error from the block with the parameter shown as in ``names``."""
    try:
        yield
    except IQAError as exc:
        new = renamed(exc, names)
        if new is exc:
            raise
        raise new from None
