"""Downloading a weights file: streamed, hashed on the way, renamed into place at the end.

The body is written to a temporary file in the target folder while its SHA-256 is
computed. Only a body of exactly the catalog's size whose full digest is the official
one is renamed to the final name; anything else leaves the cache as it was, the
temporary file removed:

* an HTTP error, a refused connection, a timeout, a truncated body, a wrong digest;
* a server that announces a ``Content-Length`` other than the catalog's size (refused
  before a byte of the body is read), or that sends more bytes than that size (stopped
  at the first extra byte: a hostile mirror cannot fill the disk);
* a mirror that trickles: fewer than ``IQA_DOWNLOAD_MIN_RATE`` KiB/s (default 10,
  ``0`` turns the rule off) received over each successive :data:`STALL_WINDOW_S`-second
  window (checked as bytes arrive; a body that stops altogether is ended by the read
  timeout);
* any exception in the process, ``KeyboardInterrupt`` and ``SystemExit`` included (a
  signal handler that raises is enough), and :func:`cancel_downloads`, which stops
  downloads running in other threads (signal handlers run in the main thread only).

``IQA_WEIGHTS_MIRROR`` replaces the origin of every URL by a mirror that serves the
same file names (``$IQA_WEIGHTS_MIRROR/<file name>``); ``IQA_DOWNLOAD_TIMEOUT`` sets the
network timeout in seconds (default 60) for connecting and for each read. Invalid
values of these settings are usage errors (exit code 2) naming the variable.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from iqa import __version__
from iqa.errors import UsageError, WeightsError
from iqa.weights._files import place
from iqa.weights.catalog import UNKNOWN_SIZE_CAP, KnownFile

Progress = Callable[[int, "int | None"], None]
_CHUNK = 1 << 20

#: Length in seconds of the windows over which the minimum throughput is required.
STALL_WINDOW_S = 30.0
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MIN_RATE_KIB = 10.0

_active: set[threading.Event] = set()
_active_lock = threading.Lock()


def cancel_downloads() -> None:
    """Stop every download running now, in any thread (each raises WeightsError and
    removes its temporary file). Downloads started later are not affected."""
    with _active_lock:
        for event in _active:
            event.set()


def source_url(entry: KnownFile) -> str:
    from iqa.environment import mirror

    origin = mirror()
    return f"{origin}/{entry.filename}" if origin else entry.url


def _setting(variable: str, default: float, *, zero_ok: bool, valid: str) -> float:
    from iqa.environment import number

    return number(variable, default, zero_ok=zero_ok, valid=valid)


def timeout_s() -> float:
    """``IQA_DOWNLOAD_TIMEOUT``: seconds, finite and > 0 (default 60)."""
    return _setting("IQA_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT_S, zero_ok=False,
                    valid=f"a number of seconds greater than 0 (default {DEFAULT_TIMEOUT_S:g})")


def min_rate_bytes() -> float:
    """``IQA_DOWNLOAD_MIN_RATE`` in bytes/s: KiB/s, finite and >= 0 (default 10; 0 = off)."""
    kib = _setting("IQA_DOWNLOAD_MIN_RATE", DEFAULT_MIN_RATE_KIB, zero_ok=True,
                   valid=f"a number of KiB/s, 0 or more (default {DEFAULT_MIN_RATE_KIB:g}; "
                   "0 turns the rule off)")
    return kib * 1024


def fetch(entry: KnownFile, target: Path, progress: Progress | None = None) -> str:
    """Download ``entry`` to ``target`` (atomically); return the verified SHA-256."""
    url = source_url(entry)
    timeout = timeout_s()
    min_rate = min_rate_bytes()
    request = urllib.request.Request(url, headers={"User-Agent": f"iqa/{__version__}"})
    cancelled = threading.Event()
    with _active_lock:
        _active.add(cancelled)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            total = _content_length(response)
            if total is not None and not entry.size_ok(total):
                official = (f"{entry.size:,} bytes" if entry.size is not None else
                            f"at most {UNKNOWN_SIZE_CAP:,} bytes (its size is not published)")
                raise WeightsError(
                    f"download of {url} refused: the server announces {total:,} bytes, the "
                    f"official {entry.filename} is {official}; nothing was saved"
                )
            cap = entry.size if entry.size is not None else UNKNOWN_SIZE_CAP
            with place(target) as stream:
                copy = _Copy(url, cap, min_rate, cancelled, exact=entry.size is not None)
                digest = copy.run(response, stream, progress)
                if not entry.matches(digest):
                    raise WeightsError(
                        f"download of {url} failed verification: sha256 {digest}, "
                        f"expected {entry.expected_digest}; nothing was saved"
                    )
    except (WeightsError, UsageError):
        raise
    except urllib.error.HTTPError as exc:
        raise WeightsError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise WeightsError(f"download of {url} timed out after {timeout:g} s") from None
        raise WeightsError(f"download of {url} failed: cannot connect ({reason})") from None
    except TimeoutError:
        raise WeightsError(f"download of {url} timed out after {timeout:g} s") from None
    except http.client.IncompleteRead as exc:
        raise WeightsError(
            f"download of {url} was cut off after {len(exc.partial):,} more bytes; "
            "nothing was saved, try again"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise WeightsError(f"download of {url} failed: {exc}") from None
    finally:
        with _active_lock:
            _active.discard(cancelled)
    return digest


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


class _Copy:
    """Copy a response body to a file: at most ``size`` bytes, at least ``min_rate``."""

    def __init__(self, url: str, size: int, min_rate: float, cancelled: threading.Event,
                 exact: bool = True):
        self.url, self.size, self.min_rate, self.cancelled = url, size, min_rate, cancelled
        self.exact = exact  # size is the official size (else only a cap)

    def run(self, response, stream, progress: Progress | None) -> str:
        # read1 returns what has arrived (at least one byte) instead of waiting for a
        # full chunk, so the checks below run while a slow body trickles in.
        read = getattr(response, "read1", response.read)
        digest = hashlib.sha256()
        done = 0
        window_start, window_done = time.monotonic(), 0
        if progress:
            progress(0, self.size if self.exact else None)
        while chunk := read(min(_CHUNK, self.size - done + 1)):
            if self.cancelled.is_set():
                raise WeightsError(f"download of {self.url} cancelled; nothing was saved")
            if done + len(chunk) > self.size:
                raise WeightsError(
                    f"download of {self.url} refused: the server sent more than the "
                    f"{self.size:,} bytes {'of the official file' if self.exact else 'allowed'}"
                    "; nothing was saved"
                )
            stream.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            now = time.monotonic()
            if now - window_start >= STALL_WINDOW_S:
                self._check_rate(done - window_done, now - window_start)
                window_start, window_done = now, done
            if progress:
                progress(done, self.size if self.exact else None)
        if self.exact and done != self.size:
            raise WeightsError(
                f"download of {self.url} was cut off: got {done:,} of {self.size:,} bytes; "
                "nothing was saved, try again"
            )
        return digest.hexdigest()

    def _check_rate(self, received: int, seconds: float) -> None:
        if self.min_rate and received < self.min_rate * seconds:
            raise WeightsError(
                f"download of {self.url} abandoned: too slow ({received / 1024 / seconds:.2g} "
                f"KiB/s over {seconds:.3g} s, below IQA_DOWNLOAD_MIN_RATE="
                f"{self.min_rate / 1024:g} KiB/s); nothing was saved"
            )
