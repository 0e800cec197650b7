"""Where reports go (iqa.output.files): files replaced atomically, devices and pipes
written through, links followed, modes kept, inputs and unwritable targets refused."""

import csv
import io
import json
import os
import stat
import threading

import pytest

from iqa.errors import UsageError
from iqa.output import check_output_targets, open_output
from iqa.output.csv_writer import CSVWriter
from iqa.output.values import csv_cell, dumps, one_line


def _write(path, text="report\n"):
    with open_output(str(path)) as stream:
        stream.write(text)


def test_new_report_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        _write(tmp_path / "new.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


def test_replaced_report_keeps_its_mode(tmp_path):
    target = tmp_path / "old.json"
    target.write_text("old")
    target.chmod(0o664)
    _write(target)
    assert target.read_text() == "report\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o664


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    _write(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_a_dangling_link_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "made.csv")
    _write(link)
    assert link.is_symlink() and (tmp_path / "made.csv").read_text() == "report\n"


def test_a_named_pipe_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    _write(fifo)
    reader.join(timeout=30)
    assert received == ["report\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_fd_is_written_directly():
    read_end, write_end = os.pipe()
    try:
        _write(f"/dev/fd/{write_end}")
        os.close(write_end)
        with os.fdopen(read_end) as stream:
            assert stream.read() == "report\n"
    finally:
        for fd in (read_end, write_end):
            try:
                os.close(fd)
            except OSError:
                pass


def test_a_failed_write_leaves_the_old_file_and_no_part(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with open_output(str(target)) as stream:
            stream.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_full_device_is_a_one_line_error(tmp_path):
    link = tmp_path / "full.xml"
    link.symlink_to("/dev/full")
    with pytest.raises(UsageError, match="No space left on device"):
        _write(link, "x" * 100_000)
    assert link.is_symlink()


def test_outputs_that_are_inputs_are_refused(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    link = tmp_path / "link.png"
    link.symlink_to(image)
    hard = tmp_path / "hard.png"
    os.link(image, hard)
    for target in (image, link, hard):
        with pytest.raises(UsageError, match="is the input"):
            check_output_targets([("-o", str(target))], [str(image)])
    assert image.read_bytes() == b"png"
    check_output_targets([("-o", str(tmp_path / "new.json"))], [str(image)])


def test_two_outputs_on_one_file_are_refused(tmp_path):
    out = str(tmp_path / "r.json")
    with pytest.raises(UsageError, match="--junit .* -o writes to the same file|same file"):
        check_output_targets([("-o", out), ("--junit", out)])


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p), "is a folder"),
    (lambda p: str(p / "missing" / "x.json"), "does not exist"),
    (lambda p: "/proc/iqa-report.json", "does not exist"),
    (lambda p: "/sys/iqa-report.json", "cannot write in folder /sys"),
])
def test_unusable_targets_are_refused_before_work(tmp_path, make, message):
    with pytest.raises(UsageError, match=message):
        check_output_targets([("--junit", make(tmp_path))])


def test_stdout_and_devices_pass_the_check():
    check_output_targets([("-o", None), ("--junit", "/dev/null"), ("--html", None)])
    check_output_targets([("-o", "-"), ("--junit", "/dev/null")])
    check_output_targets([("-o", "out.json"), ("--junit", "-")])


@pytest.mark.parametrize("outputs", [
    [("-o", None), ("--junit", "-")],
    [("-o", "-"), ("--html", "-")],
    [("-o", "a.json"), ("--junit", "-"), ("--html", "-")],
])
def test_two_reports_on_standard_output_are_refused(outputs):
    with pytest.raises(UsageError, match="standard output too"):
        check_output_targets(outputs)


def test_undecodable_names_give_valid_utf8_json_and_stay_recoverable():
    raw = b"/data/caf\xe9-\xff.png"
    name = os.fsdecode(raw)
    text = dumps({"dist": name, "note": "ok\u00e9"})
    encoded = text.encode("utf-8")  # no surrogates left: this must not raise
    assert b"\\udce9" in encoded and b"\\udcff" in encoded
    assert os.fsencode(json.loads(encoded)["dist"]) == raw


def test_csv_writes_booleans_as_json_does():
    assert csv_cell(True) == "true" and csv_cell(False) == "false"
    stream = io.StringIO()
    writer = CSVWriter(stream)
    writer.begin(["pair", "weights_verified"], {})
    writer.row({"pair": "a.png", "weights_verified": False})
    assert list(csv.reader(io.StringIO(stream.getvalue())))[1] == ["a.png", "false"]


def test_one_line_escapes_control_characters():
    assert one_line("a\nb\rc\td\x1b[31m\u2028e") == "a\\nb\\rc\\td\\x1b[31m\\u2028e"
    assert one_line(os.fsdecode(b"x\xff")) == "x\\udcff"
