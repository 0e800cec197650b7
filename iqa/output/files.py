"""Where reports go: stdout, regular files (replaced atomically), and everything else.

Policy (the README's "Output formats" section says the same):

* A **regular file**, or a name that does not exist yet, is written to a temporary file
  beside it (``.NAME.XXXXXX.part``) and renamed onto it at the end, so a run that stops
  half-way (an error, Ctrl-C, SIGTERM) leaves the old file untouched. A **symbolic link**
  is followed: the file it names is replaced, the link stays. The new file keeps the
  mode of the file it replaces; a new file gets ``0666`` minus the umask, like ``>``.
* Anything else — a **character device** (``/dev/null``, a terminal), a **named pipe**,
  a process substitution (``/dev/fd/N``), and every path under ``/dev`` or ``/proc``
  (``/dev/stdout``) — is opened and written directly: never replaced, never renamed.
* Before any work, :func:`check_output_targets` refuses (``UsageError``, exit 2) an
  output that is a folder, that cannot be written, whose folder is missing or not
  writable, that is one of the inputs (the same file after following links: same
  device and inode), or that another output of the same run names too.
* A report that cannot be written (a full disk, a read-only mount, a loop of symbolic
  links) is one line, :class:`~iqa.errors.OutputError` (exit 2) — stdout included
  (``> /dev/full``): :func:`stdout_stream` turns the errors of writing stdout into the
  same line, naming ``stdout``. A reader that went away (EPIPE) stays
  ``BrokenPipeError``, which the command line turns into exit code 141.
* Text is UTF-8. Machine formats on stdout are UTF-8 whatever the locale; a file name
  that is not valid UTF-8 (Python keeps its bytes as lone surrogates) is written with
  ``backslashreplace`` (``\\udcff`` for the raw byte 0xff) instead of crashing.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from iqa.errors import OutputError, UsageError
from iqa.tempfiles import part_file, signals_held, umask

_DIRECT_PREFIXES = ("/dev/", "/proc/")
#: Errors of writing a report that the user can fix (space, quota, permissions, mounts).
#: ELOOP: a link loop made after the check before any work (that check refuses one).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG,
                           errno.EACCES, errno.EPERM, errno.ELOOP})
#: How a report on stdout is named in messages.
STDOUT_NAME = "stdout"


def is_stdout(path: str | None) -> bool:
    return path is None or path == "-"


def _writes_directly(path: str) -> bool:
    """True for devices, pipes, sockets and /dev, /proc paths: written, never replaced."""
    absolute = os.path.abspath(path)
    if absolute.startswith(_DIRECT_PREFIXES):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_output_targets(
    outputs: Sequence[tuple[str, str | None]], inputs: Iterable[str] = (),
    *, input_folders: Iterable[str] = (), maps_dir: str | None = None,
) -> None:
    """Refuse, before any work, outputs that cannot be written or would destroy an input.

    ``outputs`` are ``(option, path)`` pairs such as ``("-o", "scores.json")``; ``"-"``
    is standard output, and so is ``("-o", None)`` (the main report without ``-o``);
    ``None`` for any other option means it was not given. Two outputs on standard output
    are refused. ``inputs`` are the files the run reads (images,
    baselines, statistics); an output that is the same file as one of them (same
    ``st_dev``/``st_ino`` after following links, so hard links count too) is refused.
    ``maps_dir`` is the ``--maps`` folder, whose ``.png`` names are the maps'.
    ``input_folders`` are folders read as a whole (``iqa fid`` sets): an output with an
    image suffix anywhere inside one is refused too, existing or not, since it would
    replace an image of the set or join it. Raises :class:`~iqa.errors.UsageError`
    naming the option and the path.
    """
    # Standard output: "-", or no -o at all (the main report goes there then).
    on_stdout = [option for option, path in outputs
                 if path == "-" or (option == "-o" and path is None)]
    if len(on_stdout) > 1:
        first, second = on_stdout[:2]
        first = "the report" if first == "-o" else first
        raise UsageError(f"{second} -: {first} is written to standard output too, and the "
                         "two would be mixed; give one of them a file")
    named = [(option, str(path)) for option, path in outputs if not is_stdout(path)]
    _check_not_in_sets(named, input_folders)
    if maps_dir is not None:
        _check_not_a_map(named, maps_dir)
    seen: dict[tuple[int, int] | str, str] = {}
    for option, path in named:
        _check_writable(option, path)
        key = _identity(path) or os.path.realpath(path)
        if key in seen:
            raise UsageError(
                f"{option} {_shown(path)}: {seen[key]} writes to the same file; "
                "give each report its own file"
            )
        seen[key] = option
    if not seen:
        return
    by_identity = {k: o for k, o in seen.items() if isinstance(k, tuple)}
    if not by_identity:
        return
    for source in inputs:
        ident = _identity(source)
        if ident is not None and ident in by_identity:
            option = by_identity[ident]
            path = next(p for o, p in named if o == option)
            raise UsageError(
                f"{option} {_shown(path)}: is the input {_shown(source)}; writing the report "
                "there would destroy it. Choose another output file"
            )


def _check_not_a_map(named: list[tuple[str, str]], maps_dir: str) -> None:
    """Every map and colour legend ``--maps DIR`` writes is a ``.png`` directly in DIR:
    a report given such a name would replace a map, or be replaced by one."""
    folder = os.path.realpath(maps_dir)
    for option, path in named:
        target = os.path.realpath(path)
        if os.path.dirname(target) == folder and target.lower().endswith(".png"):
            raise UsageError(f"{option} {_shown(path)}: is in the --maps folder, where every "
                             ".png is a map or a colour legend; write it elsewhere")


def _check_not_in_sets(named: list[tuple[str, str]], folders: Iterable[str]) -> None:
    from iqa.io.images import is_image_file

    roots = [Path(os.path.realpath(f)) for f in folders if os.path.isdir(f)]
    for option, path in named:
        target = Path(os.path.realpath(path))
        for root in roots:
            if target.is_relative_to(root) and is_image_file(target):
                raise UsageError(
                    f"{option} {_shown(path)}: is one of the inputs (an image file in the "
                    f"set {_shown(str(root))}); write the result elsewhere")


def _check_writable(option: str, path: str) -> None:
    where = f"{option} {_shown(path)}"
    if os.path.isdir(path):
        raise UsageError(f"{where}: is a folder; give a file name")
    if is_link_loop(path):
        raise UsageError(f"{where}: is a loop of symbolic links (it names no file); remove "
                         "the link or choose another file")
    if _writes_directly(path):
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise UsageError(f"{where}: cannot be written (permission denied)")
        if not os.path.exists(path):
            raise UsageError(f"{where}: does not exist (under /dev or /proc nothing is created)")
        return
    target = Path(os.path.realpath(path))
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"{where}: folder {_shown(str(folder))} does not exist; create it first")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{where}: cannot be written (permission denied)")
    try:  # the one test that tells the truth (read-only mounts, /sys, ACLs, quotas)
        with signals_held():  # Ctrl-C or SIGTERM never leaves the probe behind
            fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                         dir=folder)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"{where}: cannot write in folder {_shown(str(folder))} ({reason}); "
            "choose a writable place"
        ) from None


def is_link_loop(path: str) -> bool:
    """True when following ``path``'s links never ends (ELOOP). ``os.path`` and
    ``pathlib`` take such a path for a missing file, which would pass every other check
    and fail only when the report is written, after the work."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    except ValueError:  # a NUL in the name: refused elsewhere
        return False
    return False


def _shown(path: str) -> str:
    from iqa.output.values import one_line

    return one_line(path)


class _StdoutStream:
    """A text stream on stdout whose write errors are one line (see :func:`stdout_stream`);
    everything else (``isatty``, ``fileno``, ``encoding`` ...) is the stream's own."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with _stdout_errors():
            return self._stream.write(text)

    def writelines(self, lines) -> None:
        with _stdout_errors():
            self._stream.writelines(lines)

    def flush(self) -> None:
        with _stdout_errors():
            self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def stdout_stream(stream: IO[str]) -> IO[str]:
    """``stream`` (stdout) with its write errors turned into :class:`OutputError`.

    Only the writes to stdout are wrapped, not the run around them, so a full disk met by
    another file (a cache, a map) is never blamed on stdout."""
    if isinstance(stream, _StdoutStream):
        return stream
    return _StdoutStream(stream)  # type: ignore[return-value]


@contextmanager
def _stdout_errors() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:  # the reader left: exit code 141, not an error line
        raise
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        raise OutputError(
            f"{STDOUT_NAME}: cannot be written ({exc.strerror or exc}); the report is lost, "
            "other outputs are kept", stdout=True,
        ) from None


@contextmanager
def _stdout(machine: bool) -> Iterator[IO[str]]:
    """stdout as text: UTF-8 for machine formats, the terminal's encoding for tables;
    characters it cannot carry are backslash-escaped instead of crashing the run."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # replaced by a test harness or an embedding program
        yield stdout_stream(sys.stdout)
        return
    with _stdout_errors():
        sys.stdout.flush()
    encoding = "utf-8" if machine else (sys.stdout.encoding or "utf-8")
    stream = io.TextIOWrapper(buffer, encoding=encoding, errors="backslashreplace",
                              newline="", write_through=True)
    try:
        wrapped = stdout_stream(stream)
        yield wrapped
        wrapped.flush()
    finally:
        try:
            stream.detach()
        except ValueError:  # already detached or closed
            pass


@contextmanager
def open_output(path: str | None, *, machine: bool = True) -> Iterator[IO[str]]:
    """A text stream for a report: stdout, a file replaced atomically, or a device/pipe.

    See the module docstring for the policy. ``machine`` (JSON, CSV, XML) makes stdout
    UTF-8 whatever the locale; a table (``machine=False``) uses the terminal's encoding.
    """
    if is_stdout(path):
        with _stdout(machine) as stream:
            yield stream
        return
    path = str(path)  # not stdout, so a path
    if _writes_directly(path):
        try:
            stream = open(path, "w", encoding="utf-8", errors="backslashreplace", newline="")
        except OSError as exc:
            raise UsageError(f"{_shown(path)}: cannot be written ({exc.strerror or exc})") from None
        with _write_errors(path), stream:
            yield stream
        return
    with _write_errors(path):
        yield from _atomic(path)


@contextmanager
def _write_errors(path: str) -> Iterator[None]:
    """A report that cannot be written (disk full, read-only) is a one-line error."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        raise OutputError(
            f"{_shown(path)}: cannot be written ({exc.strerror or exc}); the report is lost, "
            "other outputs are kept"
        ) from None


def _atomic(path: str) -> Iterator[IO[str]]:
    target = Path(os.path.realpath(path))  # a link is followed: its target is replaced
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"{_shown(path)}: folder {_shown(str(folder))} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    try:
        part = part_file(folder, target.name)
        fd, tmp = next(part)
    except OSError as exc:
        raise UsageError(f"{_shown(path)}: cannot be written ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace",
                       newline="") as stream:
            yield stream
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_file_bytes(path: str, data: bytes, protected: set[tuple[int, int]] = frozenset()) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed at the end (an error,
    Ctrl-C or SIGTERM leaves no half-written file), creating its folder. A path that is
    one of ``protected`` (``(st_dev, st_ino)`` of the run's inputs) is refused
    (``UsageError``): an input is never overwritten."""
    target = Path(path)
    ident = _identity(path)
    if ident is not None and ident in protected:
        raise UsageError(f"{_shown(path)}: is one of the inputs; writing there would destroy "
                         "it. Choose another folder for the maps")
    with _write_errors(path):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = next(part_file(target.parent, target.name))
        try:
            os.fchmod(fd, 0o666 & ~umask())
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
