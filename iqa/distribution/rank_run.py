"""A command run on every rank of a torchrun job: :func:`distributed` wraps the click
commands ``compare`` and ``fid``, runs them on this rank, and ends every rank together
with the run's exit code and one line per shared error (the protocol is
:mod:`iqa.distribution.ranks`'s).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from iqa.distribution.ranks import (
    Finished,
    GroupError,
    RankFailed,
    Ranks,
    outcome,
    start,
)


def _finish(group: Ranks, code: int) -> int:
    """At exit: wait for every rank (so torchrun stops none early), leave the group, and
    return the run's exit code: rank 0's when it is not 0 (rank 0 alone scores gates and
    writes), else the largest of the ranks' (a shared :class:`RankFailed` code is the
    same on all). A rank that has made no collective yet first makes :meth:`Ranks.begin`
    (where an early error of another rank reaches it). If rank 0 is gone, a rank that
    succeeded cannot know the run's outcome: it says so and exits 2; rank 0 keeps
    ``code`` when another rank is gone."""
    import torch.distributed as dist

    try:
        group.begin()
    except RankFailed as exc:
        _tell_shared(group, exc)
        code = exc.exit_code
    except GroupError as exc:
        return _lost(group, exc, code)
    try:
        codes = group.all_gather(code)
    except GroupError as exc:
        return _lost(group, exc, code)
    try:
        dist.destroy_process_group()
    except Exception:  # noqa: S110 - leaving: every rank has its code already
        pass
    return codes[0] or max(codes)


def _lost(group: Ranks, exc: GroupError, code: int) -> int:
    """The other ranks are gone at exit: rank 0 (or a rank with its own error) keeps its
    code; another rank that succeeded says it lost them (exit 2)."""
    if group.main or code != 0:
        return code
    _say(f"rank {group.rank} of {group.world}: {exc}")
    return exc.exit_code


def _say(message: str) -> None:
    import click

    from iqa.output.values import one_line

    click.echo(f"iqa: {one_line(message)}", err=True)


def _tell_shared(group: Ranks, exc: RankFailed) -> None:
    """A shared error: one line per machine, from ``LOCAL_RANK`` 0."""
    if group.local_rank == 0:
        _say(str(exc))


def distributed(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click command that takes ``device``: under torchrun it joins the run
    first, and every rank ends here once all ranks are done, with the run's exit code
    (:func:`_leave`); ranks other than 0 end at :class:`Finished`, and a shared error
    is printed by ``LOCAL_RANK`` 0 alone (one line per machine). Outside torchrun the
    command runs as it is.

    Reports, HTML pages and JUnit files are rank 0's alone: the other ranks run without
    them (so no rank but 0 has two reports on standard output to refuse), and
    rank 0's refusal of a target reaches them at their first collective
    (:meth:`Ranks.begin`), so every rank exits 2 with that one line."""
    import functools

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        group = start(kwargs.get("device", "auto"))
        if isinstance(group, Ranks):
            if not group.main:
                kwargs.update({k: None for k in ("output", "junit", "html") if k in kwargs})
            return _run_rank(group, command, args, kwargs)
        return command(*args, **kwargs)

    return run


def _run_rank(group: Ranks, command: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """Run the command on this rank and end the process with its exit code.

    Success, :class:`Finished` and :class:`RankFailed` (which every rank raises
    together) end after a barrier, all ranks at once, with the run's exit code
    (:func:`_finish`). So does an error on rank 0 once the others have left
    (:attr:`Ranks.alone`): they wait for it in that barrier, and an error met before
    any collective, which every rank learns at its first (:func:`_command`). Any other
    error is this rank's alone, where the others may be waiting in a collective: it is
    printed with the rank's number and the process exits at once; torchrun then stops
    the others. A lost rank (:class:`GroupError`) ends this one at once too."""
    try:
        code = _command(group, command, args, kwargs)
    except Finished:
        code = 0
    except RankFailed as exc:
        _tell_shared(group, exc)
        code = exc.exit_code
    except BrokenPipeError:  # `... | head`: the command line's own exit code (141)
        raise
    except Exception as exc:  # this rank's own error (3: a bug outside the shared steps)
        exit_code, message = outcome(exc)
        _say(f"rank {group.rank} of {group.world}: {message}")
        _leave(group, exit_code, wait=group.alone and not isinstance(exc, GroupError))
    _leave(group, code if isinstance(code, int) else 0)


def _command(group: Ranks, command: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """The command; an error before this rank's first collective goes to every rank
    through :meth:`Ranks.begin` (raised here as :class:`RankFailed`)."""
    try:
        return command(*args, **kwargs)
    except (Finished, RankFailed, BrokenPipeError):
        raise
    except Exception as exc:
        if group.begun:
            raise
        try:
            group.begin(outcome(exc))
        except GroupError:  # nobody to tell: this rank's own error is the one to print
            raise exc from None
        raise  # pragma: no cover - begin raises this rank's error, or an earlier rank's


def _leave(group: Ranks, code: int, *, wait: bool = True) -> None:
    """Wait for every rank, then exit at once with the run's code (``wait``, see
    :func:`_finish`) or with ``code``.

    torchrun stops the other ranks (SIGTERM) as soon as one exits with an error, so the
    ranks leave together: after the barrier each exits immediately (``os._exit``, after
    flushing its output) instead of spending seconds in interpreter teardown."""
    import sys

    if wait:
        code = _finish(group, code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
