"""``iqa fid`` over several processes, GPUs or machines with torch.distributed (``torchrun``).

Under ``torchrun`` (the ``env://`` variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT`` are set and ``WORLD_SIZE`` > 1), :func:`start` joins the
process group: NCCL when the run's device is CUDA (each rank on ``cuda:LOCAL_RANK``),
gloo on the CPU (``IQA_DIST_BACKEND=gloo`` with CUDA: collectives through the CPU and
rank r on GPU ``LOCAL_RANK mod count``, so several ranks may share one), with a
timeout of ``$IQA_DIST_TIMEOUT`` seconds (default 1800) on every collective, so a rank
that stops answering ends the run instead of hanging it.

How one image folder is computed (:func:`iqa.distribution.sets._folder`):

1. Rank 0 alone looks up the statistics cache and tells the others whether the folder
   is cached.
2. The folder's sorted file list is cut into ``WORLD_SIZE`` contiguous shards made of
   whole batches (:meth:`Ranks.span`), so every image goes through the network in the
   same batch as in a single process, whatever the number of ranks.
3. Each rank extracts its shard. Then every rank learns whether any rank failed
   (:meth:`Ranks.collect`); if one did, every rank stops with the same one-line error
   naming that rank and the file (exit 2, or 3 for a bug) instead of waiting for data
   that will not come.
4. The float64 sums (n, Σx, XᵀX) of each rank are gathered on rank 0 and added there in
   rank order; features (for KID, and those of the other extractors a run needs, which
   each rank computes from the same decode pass) and skipped files are gathered in rank
   order, which is the global file order (:meth:`Ranks.combine`). No ``all_reduce``: its order of
   additions depends on the number of ranks and the topology, and results would too.
5. Rank 0 alone checks the result, stores it in the cache, computes FID, KID and the
   rest, prints and writes files. The other ranks leave once the data is gathered
   (:class:`Finished`), print nothing on stdout (it is sent to ``/dev/null``), and wait
   until every rank is done before exiting, so that ``torchrun`` stops none of them
   early (:mod:`iqa.distribution.rank_run`). At that last meeting rank 0 gives its exit
   code, and every rank exits with it: a failed quality gate (1) or an error on rank 0
   after the others left (2, or 3 for a bug) ends every rank with the same code, not
   rank 0 alone.

An error shared by every rank (:class:`RankFailed`) is printed by ``LOCAL_RANK`` 0
alone, one line per machine; an error one rank meets outside the shared steps is
printed by that rank, which exits at once (torchrun then stops the others). An error met
before any shared step (an empty folder, a bad ``-o`` that only rank 0 checks) is shared
too: the first collective of every rank exchanges such errors (:meth:`Ranks.begin`).
Failures between ranks (the group cannot be joined, a rank stops answering or is gone)
are environment problems, not bugs: one line naming the rank (:class:`GroupError`,
exit 2), and torch's C++ log lines are turned off (``TORCH_CPP_LOG_LEVEL=FATAL`` unless
the user set it), so no C++ stack frames reach stderr. Outside ``torchrun``
:func:`current` is a single-process :class:`Solo` and nothing here changes a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from iqa.environment import DIST_TIMEOUT_S as DEFAULT_TIMEOUT_S
from iqa.errors import EXIT_INTERNAL, IQAError, UsageError

T = TypeVar("T")


class RankFailed(IQAError):
    """An error on one rank, raised on every rank (the line names the rank)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class GroupError(IQAError):
    """The ranks cannot reach each other: the group cannot be joined, or a rank stopped
    answering or is gone (exit 2: the environment, not a bug)."""


class Finished(Exception):
    """A rank other than 0 has given its part of the data; it has nothing left to do."""


class Solo:
    """One process: every method is the identity."""

    rank = 0
    world = 1
    local_rank = 0
    main = True

    def span(self, count: int, batch: int) -> tuple[int, int]:
        return 0, count

    def collect(self, fn: Callable[[], T]) -> T:
        return fn()

    def broadcast(self, value: T) -> T:
        return value

    def combine(self, result: Any) -> Any:
        return result

    def leave_if_follower(self) -> None:
        pass


class Ranks(Solo):
    """This process's place in a torch.distributed run, and the collectives ``iqa`` uses."""

    def __init__(self, rank: int, world: int, local_rank: int, device: Any,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.main = rank == 0
        #: rank 0 is past :meth:`leave_if_follower`: the others wait in the last barrier
        self.alone = False
        #: this rank has made its first collective (:meth:`begin`)
        self.begun = False
        self.device = device  # where collective tensors live (cuda:LOCAL_RANK for NCCL)
        self.timeout = timeout

    def begin(self, failure: tuple[int, str] | None = None) -> None:
        """The first collective of every rank: the errors ranks met before it (``failure``:
        exit code and message) are exchanged, and the first in rank order is raised on
        every rank as :class:`RankFailed`. Every collective starts here, so a rank that
        fails early meets the others wherever they first wait for it."""
        if self.begun:
            return
        self.begun = True
        self._raise_first(self.all_gather(failure))

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (small, picklable), in rank order."""
        import torch.distributed as dist

        values: list[Any] = [None] * self.world
        with self.talking():
            dist.all_gather_object(values, value)
        return values

    @contextmanager
    def talking(self) -> Iterator[None]:
        """Around a collective: a failure of the transport (a rank gone or silent past the
        timeout) is :class:`GroupError`, one line, instead of gloo's or NCCL's message."""
        try:
            yield
        except RuntimeError as exc:
            if not _transport_error(exc):
                raise  # a bug: an internal error
            detail = _detail(exc)
            if _timed_out(detail):
                detail += f"; IQA_DIST_TIMEOUT is {self.timeout:g} s"
            raise GroupError(f"lost contact with the other ranks ({detail}); see the error of "
                             "the rank that stopped first") from None

    def _raise_first(self, outcomes: list[Any]) -> None:
        for rank, outcome in enumerate(outcomes):
            if outcome is not None:
                code, message = outcome
                raise RankFailed(f"rank {rank} of {self.world}: {message}", code)

    def span(self, count: int, batch: int) -> tuple[int, int]:
        """This rank's files ``[start, stop)`` of ``count``: contiguous, whole batches of
        ``batch`` files, the batches shared out as evenly as possible (rank r gets
        batches ``r·B//W`` to ``(r+1)·B//W`` of the B batches)."""
        batches = -(-count // batch)
        first = self.rank * batches // self.world
        last = (self.rank + 1) * batches // self.world
        return min(first * batch, count), min(last * batch, count)

    def collect(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` here; if it failed on any rank, raise that failure on every rank.

        Each rank's outcome (ok, or the message and exit code of its error) is exchanged
        with ``all_gather_object``; the first failure in rank order is raised everywhere
        as :class:`RankFailed`: ``rank R of W: <message>``.
        """
        self.begin()
        value: Any = None
        failure: tuple[int, str] | None = None
        try:
            value = fn()
        except Exception as exc:
            failure = outcome(exc)
        self._raise_first(self.all_gather(failure))
        return value

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` (small, picklable) on every rank."""
        import torch.distributed as dist

        self.begin()
        box = [value]
        with self.talking():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def combine(self, result: Any) -> Any:
        """Rank 0: one :class:`~iqa.distribution.data.Extraction` of all ranks' results
        (sums added in rank order, features and skipped files in global file order);
        other ranks: ``None``."""
        import numpy as np
        import torch
        import torch.distributed as dist

        from iqa.distribution.data import Extraction
        from iqa.distribution.stats import FeatureStats, merge

        self.begin()
        stats = result.stats
        packed = torch.from_numpy(np.concatenate(
            [[float(stats.n)], stats.total, stats.outer.ravel()])).to(self.device)
        parts = [torch.empty_like(packed) for _ in range(self.world)] if self.main else None
        with self.talking():
            dist.gather(packed, parts, dst=0)
        rows = None if result.features is None else len(result.features)
        kept = {name: len(f) for name, f in result.companions.items()}
        shapes = self.all_gather((rows, result.skipped, result.seconds, kept))
        features = self._gather_rows(result.features, [s[0] for s in shapes])
        companions = {name: self._gather_rows(result.companions[name],
                                              [s[3][name] for s in shapes])
                      for name in sorted(kept)}  # the same names, in the same order, on all
        if not self.main:
            return None
        d = stats.dim
        sums = [p.cpu().numpy() for p in parts or []]
        total = merge(FeatureStats(int(s[0]), s[1:1 + d].copy(), s[1 + d:].reshape(d, d).copy())
                      for s in sums)
        skipped = [item for s in shapes for item in s[1]]
        return Extraction(total, features, skipped, max(s[2] for s in shapes), companions)

    def _gather_rows(self, array: Any, counts: list[int | None]) -> Any:
        """N×dim float32 arrays of every rank, concatenated in rank order on rank 0."""
        import numpy as np
        import torch
        import torch.distributed as dist

        if array is None:
            return None
        top = max(1, *(c or 0 for c in counts))
        padded = torch.zeros((top, array.shape[1]), dtype=torch.float32)
        padded[:len(array)] = torch.from_numpy(np.ascontiguousarray(array, np.float32))
        padded = padded.to(self.device)
        parts = [torch.empty_like(padded) for _ in range(self.world)] if self.main else None
        with self.talking():
            dist.gather(padded, parts, dst=0)
        if not self.main:
            return None
        return np.concatenate([p[:c].cpu().numpy() for p, c in zip(parts or [], counts)])

    def leave_if_follower(self) -> None:
        """Ranks other than 0 stop here (:class:`Finished`): the data is on rank 0."""
        self.begin()
        if not self.main:
            raise Finished()
        self.alone = True


def in_input_order(items: Sequence[Any], score: Callable[[Sequence[Any]], Iterable[T]],
                   chunk: int = 32) -> Iterator[T]:
    """``score(items)`` on every rank's share, the results yielded on rank 0 in input order.

    Items are dealt in chunks of ``chunk``: in round j rank r scores chunk j·W + r; after
    each round the results of every rank reach rank 0 (``gather_object``) and are yielded
    there, in order, so rank 0 writes rows as they come and nobody holds them all. Any
    rank's exception ends every rank (:meth:`Ranks.collect`). Ranks other than 0 yield
    nothing and end with :class:`Finished` after the last round. One process: ``score(items)``.
    """
    group = current()
    if not isinstance(group, Ranks):
        yield from score(items)
        return
    import torch.distributed as dist

    rounds = -(-len(items) // (chunk * group.world))
    for j in range(rounds):
        k = j * group.world + group.rank
        mine = items[k * chunk:(k + 1) * chunk]
        results = group.collect(lambda part=mine: list(score(part)) if part else [])
        gathered: list[Any] | None = [None] * group.world if group.main else None
        with group.talking():
            dist.gather_object(results, gathered, dst=0)
        for part in gathered or []:
            yield from part
    group.leave_if_follower()


def outcome(exc: Exception) -> tuple[int, str]:
    """(exit code, message) of an error, as every rank is told it: an
    :class:`~iqa.errors.IQAError`'s own, else an internal error (exit 3, a bug)."""
    if isinstance(exc, IQAError):
        return exc.exit_code, str(exc)
    if os.environ.get("IQA_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    return EXIT_INTERNAL, (f"internal error ({type(exc).__name__}: {exc}); rerun with "
                           "IQA_DEBUG=1 for the traceback and please report it")


#: Sentences of gloo's messages that say nothing about this failure.
_BOILERPLATE = ("This is typically", "Check the logs", "GLHF")


def _detail(exc: BaseException) -> str:
    """The useful part of torch's, gloo's or NCCL's message: its first line, without the
    C++ source location (``[/path/pair.cc:545] ``) and gloo's advice."""
    text = (str(exc).strip().splitlines() or [""])[0]
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    sentences = [x for x in text.split(". ") if not x.startswith(_BOILERPLATE)]
    return ". ".join(sentences).strip().rstrip(".") or type(exc).__name__


def _transport_error(exc: RuntimeError) -> bool:
    """torch's ``DistError`` (NCCL, the store, ...) or gloo's own RuntimeError, whose
    message starts with its source file (``[.../gloo/transport/tcp/pair.cc:545]``)."""
    import torch.distributed as dist

    dist_error = getattr(dist, "DistError", ())
    return isinstance(exc, dist_error) or "gloo" in str(exc).split("]")[0]


def _timed_out(detail: str) -> bool:
    return "timed out" in detail.lower() or "timeout" in detail.lower()


_CURRENT: Solo = Solo()


def current() -> Solo:
    """The run's ranks: a :class:`Ranks` after :func:`start` under torchrun, else Solo."""
    return _CURRENT


def under_torchrun() -> bool:
    """True when the ``env://`` variables of a multi-process torch.distributed run are set."""
    from iqa.environment import distributed_run

    return distributed_run()


def start(device: str) -> Solo:
    """Join the torch.distributed run this process belongs to (see the module docstring);
    a :class:`Solo` outside torchrun. ``device`` is the run's ``--device``."""
    global _CURRENT
    if not under_torchrun():
        return _CURRENT
    from iqa.device import resolve_device
    from iqa.environment import dist_backend, dist_timeout
    from iqa.extras import require

    rank, world, local_rank = _place()
    timeout = dist_timeout()
    require("torch", "iqa fid under torchrun")
    _quiet_cpp_logs()
    import torch

    cuda = resolve_device(device) == "cuda"
    backend = dist_backend() or ("nccl" if cuda else "gloo")
    if backend == "nccl" and not cuda:
        raise UsageError(f"IQA_DIST_BACKEND={backend}: use gloo, or nccl with CUDA devices")
    count = 0
    if cuda:
        count = torch.cuda.device_count()
        if backend == "nccl" and local_rank >= count:
            raise UsageError(f"LOCAL_RANK {local_rank}: this machine has {count} CUDA "
                             "devices; start at most that many processes per node "
                             "(torchrun --nproc-per-node), or share them with "
                             "IQA_DIST_BACKEND=gloo")
        torch.cuda.set_device(local_rank % count)  # gloo: several ranks may share a GPU
    _join(backend, rank, world, timeout)
    _CURRENT = Ranks(rank, world, local_rank, torch.device("cuda", local_rank % count)
                     if backend == "nccl" else torch.device("cpu"), timeout)
    if rank != 0:
        _silence_stdout()
    return _CURRENT


def _place() -> tuple[int, int, int]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) and the rendezvous address, checked before joining:
    UsageError naming what torchrun would have set."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    try:
        rank, world, local_rank = (int(os.environ.get(name, "0")) for name in names)
    except ValueError:
        shown = ", ".join(f"{n}={os.environ.get(n, '')!r}" for n in names)
        raise UsageError(f"torch.distributed variables {shown}: not whole numbers; launch "
                         "with torchrun") from None
    if not 0 <= rank < world or local_rank < 0:
        raise UsageError(f"RANK={rank} with WORLD_SIZE={world}: a rank is from 0 to "
                         "WORLD_SIZE - 1; launch with torchrun")
    missing = [n for n in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(n, "").strip()]
    if missing:
        raise UsageError(f"RANK and WORLD_SIZE are set, and {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not: launch with torchrun, "
                         "or set MASTER_ADDR and MASTER_PORT (the address of rank 0)")
    port = os.environ["MASTER_PORT"].strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"MASTER_PORT={port!r} is not a port number (1 to 65535); launch "
                         "with torchrun")
    return rank, world, local_rank


def _quiet_cpp_logs() -> None:
    """No C++ log lines (with their stack frames) from c10d on stderr: the failures they
    describe reach the user as one line. Read once, when torch is imported, so set
    before; a value the user set is kept."""
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")


def _join(backend: str, rank: int, world: int, timeout: float) -> None:
    """``init_process_group``; a failure (the port taken, rank 0 unreachable or never
    started) is :class:`GroupError` naming this rank and the address."""
    from datetime import timedelta

    import torch.distributed as dist

    if dist.is_initialized():
        return
    try:
        dist.init_process_group(backend, init_method="env://",
                                timeout=timedelta(seconds=timeout))
    except (RuntimeError, ValueError) as exc:
        where = f"{os.environ['MASTER_ADDR'].strip()}:{os.environ['MASTER_PORT'].strip()}"
        detail = _detail(exc)
        if _timed_out(detail):
            detail += f"; IQA_DIST_TIMEOUT is {timeout:g} s"
        raise GroupError(f"rank {rank} of {world}: cannot join the process group at {where} "
                         f"({detail})") from None


def _silence_stdout() -> None:
    import sys

    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
