"""Reading input files safely: regular files only, bounded in size, one clear error each.

Policy (documented in the README, "How images are read"):

* Only **regular files** are read (after following symbolic links). A named pipe, a
  device (``/dev/zero``, ``/dev/stdin``), a socket or a folder is refused with one
  :class:`~iqa.errors.InputError` before anything is read, so a FIFO cannot hang a run
  and a link to ``/dev/zero`` cannot exhaust memory. The type is checked with
  :func:`os.stat`, the file is opened with ``O_NONBLOCK`` (opening a FIFO never
  blocks) and checked again with :func:`os.fstat` on the open descriptor, so a file
  swapped for a pipe between the two steps is refused too.
* A file larger than the caller's byte limit is refused before it is read.
"""

from __future__ import annotations

import os
import stat

from iqa.errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "named pipe"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISDIR, "folder"),
)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words (``"regular file"``, ``"named pipe"``, ...)."""
    if stat.S_ISREG(mode):
        return "regular file"
    for test, words in _KINDS:
        if test(mode):
            return words
    return "special file"


def _not_regular(name: str, mode: int) -> InputError:
    kind = file_kind(mode)
    if kind == "folder":
        return InputError(f"{name}: is a folder, expected an image file", name)
    return InputError(
        f"{name}: not a regular file ({kind}); give an image file (copy the data to a file "
        "first if it comes from a pipe or a device)",
        name,
    )


def _os_error(name: str, exc: OSError) -> InputError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return InputError(f"{name}: no such file", name)
    return InputError(f"{name}: cannot be read ({exc.strerror or exc})", name)


def read_regular_file(path: str | os.PathLike[str], *, max_bytes: int | None = None,
                      too_big: str = "") -> bytes:
    """All bytes of ``path``, which must be a non-empty regular file of at most ``max_bytes``.

    ``too_big`` completes the message for a file over ``max_bytes`` (what to do about it).
    """
    name = str(path)
    try:
        before = os.stat(path)
    except OSError as exc:
        raise _os_error(name, exc) from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(name, before.st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(name, exc) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(name, info.st_mode)
        if info.st_size == 0:
            raise InputError(f"{name}: file is empty", name)
        if max_bytes is not None and info.st_size > max_bytes:
            raise InputError(
                f"{name}: file is {info.st_size / 2**20:,.0f} MiB, over the limit of "
                f"{max_bytes / 2**20:,.0f} MiB{too_big}",
                name,
            )
        try:  # one byte more than expected, to notice a file that grew meanwhile
            data = handle.read(info.st_size + 1)
        except OSError as exc:
            raise _os_error(name, exc) from None
    if len(data) != info.st_size:
        raise InputError(f"{name}: file changed size while being read; read it again when "
                         "it is complete", name)
    return data
