"""Downloads against hostile or broken mirrors (a real HTTP server on 127.0.0.1).

The catalog entry under test is pointed at a small body made here (its digest and size),
except where the real entry's size is what is being tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from iqa.errors import WeightsError
from iqa.weights import _download, catalog
from tests.cli_helpers import ROOT, run_iqa
from tests.http_server import refused_url, serve

NAME = "squeezenet1_1"
BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def small(monkeypatch) -> catalog.KnownFile:
    """The squeezenet entry pinned to BODY's digest and size."""
    entry = dataclasses.replace(catalog.KNOWN[NAME], sha256=hashlib.sha256(BODY).hexdigest(),
                                size=len(BODY))
    monkeypatch.setitem(catalog.KNOWN, NAME, entry)
    return entry


def cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_small_body_downloads(caches, small, monkeypatch):
    from iqa import weights

    with serve({small.filename: BODY}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
        result = weights.resolve(NAME)
    assert result.verified and result.path.read_bytes() == BODY


def test_announced_size_other_than_catalog_is_refused_before_the_body(caches, small,
                                                                       monkeypatch):
    from iqa import weights

    with serve({small.filename: BODY}) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/huge")
        with pytest.raises(WeightsError, match=r"announces 53,687,091,200 bytes.*10,240"):
            weights.resolve(NAME)
    assert cache_files(caches) == []


def test_body_longer_than_catalog_is_stopped_at_once(caches, small, monkeypatch):
    from iqa import weights

    seen = []
    with serve({small.filename: BODY}, repeat=100_000) as base:  # ~1 GB if read to the end
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/endless")
        with pytest.raises(WeightsError, match=r"more than the 10,240 bytes"):
            weights.resolve(NAME, progress=lambda done, total: seen.append(done))
    assert max(seen) <= len(BODY)
    assert cache_files(caches) == []


def test_trickling_mirror_is_abandoned(caches, small, monkeypatch):
    """1 byte every 20 ms never trips the socket timeout; the throughput rule stops it."""
    from iqa import weights

    monkeypatch.setattr(_download, "STALL_WINDOW_S", 0.5)
    monkeypatch.setenv("IQA_DOWNLOAD_MIN_RATE", "1")  # KiB/s: 512 bytes per 0.5 s window
    with serve({small.filename: BODY}, head=10, step=1, interval=0.02) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/trickle")
        with pytest.raises(WeightsError, match=r"too slow.*IQA_DOWNLOAD_MIN_RATE") as info:
            weights.resolve(NAME)
    assert f"iqa weights import {NAME}" in str(info.value)
    assert cache_files(caches) == []


def test_min_rate_zero_turns_the_rule_off(caches, small, monkeypatch):
    from iqa import weights

    body = BODY[:300]
    entry = dataclasses.replace(small, sha256=hashlib.sha256(body).hexdigest(), size=300)
    monkeypatch.setitem(catalog.KNOWN, NAME, entry)
    monkeypatch.setattr(_download, "STALL_WINDOW_S", 0.2)
    monkeypatch.setenv("IQA_DOWNLOAD_MIN_RATE", "0")
    with serve({entry.filename: body}, head=0, step=50, interval=0.1) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/trickle")
        assert weights.resolve(NAME).verified


@pytest.mark.parametrize("variable", ["IQA_DOWNLOAD_TIMEOUT", "IQA_DOWNLOAD_MIN_RATE"])
@pytest.mark.parametrize("value", ["-5", "nan", "inf", "abc"])
def test_bad_download_settings_are_one_line_usage_errors(caches, variable, value):
    env = {"TORCH_HOME": str(caches / "torch"), "IQA_CACHE_DIR": str(caches / "iqa"),
           "IQA_OFFLINE": "", "IQA_WEIGHTS_MIRROR": refused_url(), "IQA_DOWNLOAD_TIMEOUT": "2",
           variable: value}
    result = run_iqa("weights", "download", NAME, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"iqa: {variable}={value!r}")
    assert "unset it" in result.stderr
    assert cache_files(caches) == []


@pytest.mark.parametrize("value", ["2", "maybe"])
def test_unknown_offline_value_is_a_usage_error(caches, value):
    env = {"TORCH_HOME": str(caches / "torch"), "IQA_CACHE_DIR": str(caches / "iqa"),
           "IQA_OFFLINE": value, "IQA_WEIGHTS_MIRROR": refused_url()}
    result = run_iqa("weights", "download", NAME, env=env)
    assert result.returncode == 2
    assert result.stderr == f"iqa: IQA_OFFLINE={value!r} is not valid; set it to 1 (no " \
        "downloads) or 0, or unset it\n"


def test_failed_mirror_names_the_official_origin(caches, small, monkeypatch):
    from iqa import weights

    with serve({}) as base:
        mirror = base + "/missing"
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", mirror)
        with pytest.raises(WeightsError) as info:
            weights.resolve(NAME)
    text = str(info.value)
    assert f"download of {mirror}/{small.filename} failed: HTTP 404" in text
    assert f"fetch {small.url} " in text
    assert f"fetch {mirror}" not in text


def test_downloaded_file_respects_the_umask(caches, small, monkeypatch):
    from iqa import weights

    old = os.umask(0o022)
    try:
        with serve({small.filename: BODY}) as base:
            monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/good")
            result = weights.resolve(NAME)
    finally:
        os.umask(old)
    assert result.path.stat().st_mode & 0o777 == 0o644


# --- interruptions ---------------------------------------------------------------------


def test_interrupt_during_download_leaves_nothing(caches, small, monkeypatch):
    from iqa import weights

    def interrupt(done, total):
        if done:
            raise KeyboardInterrupt

    with serve({small.filename: BODY}, head=100, step=100, interval=0.01) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/trickle")
        with pytest.raises(KeyboardInterrupt):
            weights.resolve(NAME, progress=interrupt)
    assert cache_files(caches) == []


def test_cancel_downloads_stops_a_download_in_another_thread(caches, small, monkeypatch):
    """What a signal handler calls when the download runs in a worker thread."""
    from iqa import weights

    errors = []

    def work():
        try:
            weights.resolve(NAME)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    with serve({small.filename: BODY}, head=100, step=10, interval=0.02) as base:
        monkeypatch.setenv("IQA_WEIGHTS_MIRROR", base + "/trickle")
        thread = threading.Thread(target=work)
        thread.start()
        folder = caches / "torch" / "hub" / "checkpoints"
        deadline = time.monotonic() + 60
        while not (folder.is_dir() and any(folder.iterdir())) and thread.is_alive():
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.01)
        weights.cancel_downloads()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(errors) == 1 and "cancelled" in str(errors[0])
    assert cache_files(caches) == []


# What the command line's SIGTERM handler must do (raise an exception in the main thread
# and cancel downloads in worker threads); installed here so the test does not depend on it.
_WRAPPER = """
import signal, sys
from iqa.weights import cancel_downloads
def on_term(signum, frame):
    cancel_downloads()
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
from iqa.cli import main
main(["weights", "download", "squeezenet1_1"])
"""


def test_sigterm_during_download_leaves_no_part_file(caches):
    size = catalog.KNOWN[NAME].size  # the real entry, in a subprocess
    body = b"\0" * size
    folder = caches / "torch" / "hub" / "checkpoints"
    with serve({catalog.KNOWN[NAME].filename: body}, head=256 * 1024, step=1024,
               interval=0.05) as base:
        env = {**os.environ, "TORCH_HOME": str(caches / "torch"),
               "IQA_CACHE_DIR": str(caches / "iqa"), "IQA_WEIGHTS_MIRROR": base + "/trickle",
               "IQA_DOWNLOAD_TIMEOUT": "10"}
        env.pop("IQA_OFFLINE", None)
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not any(p.stat().st_size for p in folder.glob(".*.part")):
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    assert cache_files(caches) == []
