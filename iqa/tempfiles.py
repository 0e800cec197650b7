"""Temporary files beside a target, which an interrupted run never leaves behind.

A writer creates ``.NAME.XXXXXX.part`` beside its target, writes it, and renames it onto
the target; on any exception it removes the file. Ctrl-C and SIGTERM arrive as
exceptions, and one that lands after the file is created but before the writer holds its
path would leave it behind: :func:`part_file` holds them back across that gap.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while a temporary file is created and its cleanup is
    not yet in place: their handlers are swapped for one that only notes the signal, and
    a noted signal is raised again, to the real handler, when the block ends. (Python
    runs handlers in the main thread whichever thread the signal reached, so this also
    holds while decoding threads run; elsewhere than the main thread it does nothing.)
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is not None:  # None: set outside Python, which could not be restored
            previous[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])


def part_file(folder: str | os.PathLike[str], name: str, suffix: str = ".part"
              ) -> Iterator[tuple[int, str]]:
    """Create ``.NAME.XXXXXX.part`` (or ``suffix``) in ``folder``; yield ``(fd, path)`` once.

    Ctrl-C and SIGTERM are held back from before the file exists until the caller holds
    its path; one that arrived meanwhile is raised at the caller's ``next`` — after the
    file was removed again. So an interrupted run never leaves a ``.part`` file.
    """
    held = signals_held()
    held.__enter__()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    except BaseException:
        held.__exit__(None, None, None)
        raise
    try:
        held.__exit__(None, None, None)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    yield fd, tmp


def umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way (briefly process-wide)
    os.umask(mask)
    return mask


def output_mode(target: str | os.PathLike[str]) -> int:
    """The mode a file written to ``target`` gets: that of the file it replaces, else
    ``0666 & ~umask`` (0644 under umask 022), as a shell's ``>`` gives; not the 0600 of
    the temporary file it is written through."""
    import stat

    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~umask()
