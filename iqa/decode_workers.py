"""Decoding ``iqa compare``'s pairs in worker processes.

When a metric runs on a GPU (LPIPS with ``--device cuda``) the CPU only decodes, and
decoding threads stop scaling at a few cores: each image also spends Python time
(opening, checks, conversions) under the interpreter lock. Worker processes have no
such limit. Pairs travel to the workers in small chunks, decoded images come back as
plain data (pickled), and the caller sees them in input order, as from the threads.
Workers start from a fork server where the platform has one, spawned elsewhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Pairs per task: enough to amortise the inter-process round trip, small enough to
#: keep every worker busy near the end of a run.
CHUNK = 4


def _run_chunk(job: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    return [job(pair) for pair in chunk]


def prefetch_in_processes(pairs: Sequence[Any], job: Callable[[Any], Any], *, ahead: int,
                          workers: int) -> Iterator[tuple[Any, Any]]:
    """Yield ``(pair, job(pair))`` in order, with about ``ahead`` pairs decoding ahead.

    ``job`` and what it returns must be picklable (a module-level function or a
    ``functools.partial`` of one, returning plain data).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # A fork server where there is one: workers start from a clean single-threaded
    # process (forking this one, which may hold a CUDA context and running threads,
    # could deadlock a child); the server imports iqa.pair_loading once for all of them.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["iqa.pair_loading"])
    else:
        context = multiprocessing.get_context("spawn")
    chunks = [pairs[i:i + CHUNK] for i in range(0, len(pairs), CHUNK)]
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        pending: deque[tuple[Sequence[Any], Any]] = deque()
        for chunk in chunks:
            pending.append((chunk, pool.submit(_run_chunk, job, chunk)))
            while len(pending) * CHUNK > ahead:
                yield from _ready(*pending.popleft())
        while pending:
            yield from _ready(*pending.popleft())


def _ready(chunk: Sequence[Any], future: Any) -> Iterator[tuple[Any, Any]]:
    yield from zip(chunk, future.result())
