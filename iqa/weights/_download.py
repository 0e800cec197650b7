"""Downloading a weights file: streamed, hashed on the way, renamed into place at the end.

The body is written to a temporary file in the target folder while its SHA-256 is
computed. Only a complete body (as long as the server's ``Content-Length``) whose digest
is the expected one is renamed to the final name; anything else (HTTP error, refused
connection, timeout, truncated body, wrong digest, Ctrl-C) removes the temporary file
and leaves the cache as it was.

``IQA_WEIGHTS_MIRROR`` replaces the origin of every URL by a mirror that serves the
same file names (``$IQA_WEIGHTS_MIRROR/<file name>``); ``IQA_DOWNLOAD_TIMEOUT`` sets the
network timeout in seconds (default 60) for connecting and for each read.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from iqa import __version__
from iqa.cache import atomic_write
from iqa.errors import WeightsError
from iqa.weights.catalog import KnownFile

Progress = Callable[[int, "int | None"], None]
_CHUNK = 1 << 20


def source_url(entry: KnownFile) -> str:
    mirror = os.environ.get("IQA_WEIGHTS_MIRROR", "").strip()
    return f"{mirror.rstrip('/')}/{entry.filename}" if mirror else entry.url


def timeout_s() -> float:
    value = os.environ.get("IQA_DOWNLOAD_TIMEOUT", "")
    try:
        return float(value) if value else 60.0
    except ValueError:
        raise WeightsError(f"IQA_DOWNLOAD_TIMEOUT={value!r} is not a number of seconds") from None


def fetch(entry: KnownFile, target: Path, progress: Progress | None = None) -> str:
    """Download ``entry`` to ``target`` (atomically); return the verified SHA-256."""
    url = source_url(entry)
    timeout = timeout_s()
    request = urllib.request.Request(url, headers={"User-Agent": f"iqa/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            total = _content_length(response)
            with atomic_write(target) as stream:
                digest = _copy(response, stream, total, progress)
                if not entry.matches(digest):
                    raise WeightsError(
                        f"download of {url} failed verification: sha256 {digest}, "
                        f"expected {entry.expected_digest}; nothing was saved"
                    )
    except WeightsError:
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
    return digest


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _copy(response, stream, total: int | None, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    if progress:
        progress(0, total)
    while chunk := response.read(_CHUNK):
        stream.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)
    if total is not None and done != total:
        raise WeightsError(
            f"download of {response.geturl()} was cut off: got {done:,} of {total:,} bytes; "
            "nothing was saved, try again"
        )
    return digest.hexdigest()
