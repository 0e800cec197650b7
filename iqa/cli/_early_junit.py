"""The JUnit report of a run that stopped before its command could write one.

A command writes its own report, also for the errors it meets (:mod:`iqa.gates.run`).
An error met before the command's body runs (an unknown option, a bad environment
variable, an option refused by its parser) or an internal error never reaches that
code, and the report of an earlier run would stay at ``--junit FILE`` and tell CI that
this run passed. :func:`remember` notes what is at the target when the command starts;
:func:`report` writes the one-error report there if nothing was written since.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

_COMMANDS = ("compare", "fid", "bdrate")


def target(args: Sequence[str]) -> tuple[str, str, tuple[int, int] | None] | None:
    """``(command, --junit FILE, the file's identity now)`` from the command line, or
    None without a command that takes ``--junit`` or without the option (or with ``-``);
    the last ``--junit`` counts, as for the command."""
    args = list(args)
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in _COMMANDS:
        return None
    path = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--junit" and i + 1 < len(args):
            path = args[i + 1]
        elif arg.startswith("--junit="):
            path = arg.split("=", 1)[1]
    if not path or path == "-":
        return None
    return command, path, _version(path)


def report(planned: tuple[str, str, tuple[int, int] | None] | None, args: Sequence[str],
           message: str) -> None:
    """Write the one-error report of ``message`` to the target of :func:`target`, unless
    the run wrote there already or the target is unusable (an input among ``args``, a
    folder ...): the run's own error is then what the user reads. Rank 0 alone writes
    under torchrun."""
    if planned is None or os.environ.get("RANK", "0") != "0":
        return
    command, path, before = planned
    if _version(path) != before:
        return  # written by the command itself
    if os.path.exists(path) and not os.path.isfile(path):
        return  # a device or pipe is written in place: whether it was, cannot be told
    from iqa import __version__
    from iqa.errors import IQAError
    from iqa.gates import InputProblem
    from iqa.output.files import check_output_targets
    from iqa.output.junit import write_junit

    inputs = _named_files(args)
    suite = f"iqa {command}"
    try:
        check_output_targets([("--junit", path)], inputs,
                             input_folders=[a for a in inputs if os.path.isdir(a)])
        write_junit(path, suite, None, results=[], problems=[InputProblem(suite, message)],
                    properties={"iqa.command": command, "iqa.version": __version__})
    except (IQAError, OSError):
        pass


def _named_files(args: Sequence[str]) -> list[str]:
    """Every existing file or folder the command line may name, but the --junit values:
    the inputs and other outputs, which the report must never replace. Over-counting is
    safe (a file is only protected): plain arguments, ``--option=VALUE`` values, ``-oVALUE``
    short forms, and everything after ``--``."""
    files = []
    after_junit = after_dashes = False
    for arg in args:
        if after_dashes:
            candidates = [arg]
        elif arg == "--":
            after_dashes = True
            continue
        elif arg.startswith("--"):
            name, _, value = arg.partition("=")
            candidates = [value] if value and name != "--junit" else []
        elif arg.startswith("-") and len(arg) > 2:
            candidates = [arg[2:]]
        elif arg.startswith("-"):
            candidates = []
        else:
            candidates = [] if after_junit else [arg]
        after_junit = arg == "--junit" and not after_dashes
        files += [c for c in candidates if os.path.exists(c)]
    return files


def _version(path: str) -> tuple[int, int] | None:
    """Which version of the file is at ``path`` (an atomic write makes a new inode; a
    write in place, as to a named pipe's target, a new modification time)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_ino, st.st_mtime_ns
