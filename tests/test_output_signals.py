"""Temporary output files are created with Ctrl-C and SIGTERM held back, so that a signal
can never land between the file's creation and the cleanup that removes it."""

import os
import signal
import threading
import time

import pytest

from iqa import tempfiles
from iqa.output import files
from iqa.tempfiles import signals_held


@pytest.mark.parametrize("from_thread", [False, True])
def test_a_signal_waits_for_the_held_block_to_end(from_thread):
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *_: seen.append("handled"))
    try:
        with signals_held():
            if from_thread:  # as while decoding threads run: any thread may receive it
                sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM))
                sender.start()
                sender.join()
            else:
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # time for the handler to run, were it not held
            seen.append("inside")
        seen.append("after")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["inside", "handled", "after"]


class _Stop(BaseException):
    pass


def test_a_signal_during_creation_leaves_no_part_file(tmp_path):
    def stop(*_):
        raise _Stop

    real = tempfiles.tempfile.mkstemp

    def mkstemp_then_signal(*args, **kwargs):
        made = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the file exists
        return made

    previous = signal.signal(signal.SIGTERM, stop)
    tempfiles.tempfile.mkstemp = mkstemp_then_signal
    try:
        for make in (lambda: files._check_writable("-o", str(tmp_path / "r.json")),
                     lambda: files.write_file_bytes(str(tmp_path / "m.png"), b"x")):
            try:
                make()
            except _Stop:
                pass
            else:
                raise AssertionError("the signal was lost")
            assert list(tmp_path.iterdir()) == []
        writer = files._atomic(str(tmp_path / "out.csv"))
        try:
            next(writer)
        except _Stop:
            pass
        else:
            raise AssertionError("the signal was lost")
        assert list(tmp_path.iterdir()) == []
    finally:
        tempfiles.tempfile.mkstemp = real
        signal.signal(signal.SIGTERM, previous)
