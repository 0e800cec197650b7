"""Where iqa keeps files, and how it writes them so that a reader never sees half a file.

* Network weights live in torch's hub checkpoint folder, ``$TORCH_HOME/hub/checkpoints``
  (``~/.cache/torch/hub/checkpoints`` by default), so files that torchvision,
  pytorch-fid or lpips already downloaded are reused and nothing is fetched twice.
* iqa's own files (weights metadata, cached FID statistics) live in a per-user cache
  folder: ``$IQA_CACHE_DIR``, else ``$XDG_CACHE_HOME/iqa``, else ``~/.cache/iqa``
  (``%LOCALAPPDATA%\\iqa`` on Windows). Never inside site-packages or /tmp.

Every file is written to a temporary name in its target folder and renamed into place
(``os.replace`` is atomic on one file system), so an interrupted run leaves either the
old file or the new one, never a truncated one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def cache_dir() -> Path:
    """iqa's per-user cache folder (not created here)."""
    env = os.environ.get("IQA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "iqa"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "iqa"


def torch_home() -> Path:
    """``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch`` (torch's rule)."""
    env = os.environ.get("TORCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "torch"


def checkpoints_dir() -> Path:
    """torch hub's checkpoint folder, shared with torchvision, pytorch-fid and lpips."""
    return torch_home() / "hub" / "checkpoints"


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *,
                 file_mode: int | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    The folder is created if needed. On any exception (or Ctrl-C) the temporary file is
    removed and ``path`` is left as it was. The file keeps the temporary file's 0600
    (cache entries are the user's own) unless ``file_mode`` is given.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    from iqa.tempfiles import part_file

    fd, tmp = next(part_file(target.parent, target.name))
    try:
        if file_mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode)
        with os.fdopen(fd, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
