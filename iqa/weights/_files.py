"""Writing files into the caches: atomically, with the mode the user's umask asks for.

:func:`iqa.cache.atomic_write` creates its temporary file with ``mkstemp`` (mode 0600).
A weights file or iqa's metadata placed in a cache is an ordinary file that other tools
(torchvision, pytorch-fid, a second user sharing ``TORCH_HOME``) read, so it gets the mode
``open()`` would give it: ``0666 & ~umask`` (0644 under the usual umask 022). The
temporary file is removed on *any* exception, ``KeyboardInterrupt`` and ``SystemExit``
included, so an interrupted download leaves no ``.NAME.XXXX.part`` file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from iqa.cache import atomic_write
from iqa.tempfiles import umask


@contextmanager
def place(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """:func:`~iqa.cache.atomic_write` whose result has mode ``0666 & ~umask``."""
    with atomic_write(Path(path), mode) as stream:
        if hasattr(os, "fchmod"):
            os.fchmod(stream.fileno(), 0o666 & ~umask())
        yield stream
