"""Y4M reading: header parameters, chroma layouts and bit depths, streaming, bad files."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from iqa.errors import InputError
from iqa.video import Frame, FrameFormat, open_source, write_y4m


def clip_bytes(header: str, fmt: FrameFormat, frames: int, seed: int = 0,
               marker: bytes = b"FRAME\n") -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    data = [header.encode() + b"\n"]
    raw = []
    for _ in range(frames):
        samples = rng.integers(0, fmt.max_value + 1, fmt.frame_bytes // fmt.dtype.itemsize)
        body = samples.astype(fmt.dtype).tobytes()
        raw.append(body)
        data += [marker, body]
    return b"".join(data), raw


@pytest.mark.parametrize(
    "chroma, layout, bits",
    [
        ("", "420", 8),  # no C: 420jpeg
        ("C420jpeg", "420", 8),
        ("C420paldv", "420", 8),
        ("C420mpeg2", "420", 8),
        ("C420", "420", 8),
        ("C422", "422", 8),
        ("C444", "444", 8),
        ("Cmono", "mono", 8),
        ("C420p10 XYSCSS=420P10", "420", 10),
        ("C422p12", "422", 12),
        ("C444p16", "444", 16),
        ("C420p9", "420", 9),
        ("Cmono10", "mono", 10),
        ("Cmono16", "mono", 16),
    ],
)
def test_chroma_layouts_and_depths(tmp_path, chroma, layout, bits):
    fmt = FrameFormat(5, 3, layout, bits)  # odd size: chroma planes round up
    data, raw = clip_bytes(f"YUV4MPEG2 W5 H3 F30000:1001 I? A1:1 {chroma}".strip(), fmt, 3)
    path = tmp_path / "clip.y4m"
    path.write_bytes(data)
    with open_source(path) as clip:
        assert clip.format == fmt
        assert clip.frame_count == 3
        frames = [(f.index, b"".join(p.tobytes() for p in f.planes)) for f in clip]
    assert frames == list(enumerate(raw))
    sizes = {"420": (3, 2), "422": (3, 3), "444": (5, 3)}
    if layout != "mono":
        assert fmt.plane_sizes[1] == sizes[layout]
    assert fmt.max_value == 2**bits - 1


def test_frame_parameters_are_ignored(tmp_path):
    fmt = FrameFormat(4, 2, "420")
    data, raw = clip_bytes("YUV4MPEG2 W4 H2 C420", fmt, 2, marker=b"FRAME Ip XFOO=1\n")
    path = tmp_path / "clip.y4m"
    path.write_bytes(data)
    with open_source(path) as clip:
        assert clip.frame_count == 2
        assert [f.planes[0].tobytes() for f in clip] == [r[:8] for r in raw]


def test_ten_bit_values_are_little_endian_and_keep_their_depth(tmp_path):
    y = np.array([[0, 1023], [512, 3]], np.uint16)
    frame = Frame.from_planes(y, np.array([[7]], np.uint16), np.array([[1000]], np.uint16),
                              bits=10)
    path = tmp_path / "ten.y4m"
    write_y4m(path, [frame])
    raw = path.read_bytes()
    assert raw.startswith(b"YUV4MPEG2 W2 H2 F25:1 Ip A1:1 C420p10\nFRAME\n")
    assert raw.endswith(b"\x00\x00\xff\x03\x00\x02\x03\x00\x07\x00\xe8\x03")
    with open_source(path) as clip:
        (read,) = [f.copy() for f in clip]
    assert read.bits == 10 and read.max_value == 1023
    assert np.array_equal(read.planes[0], y)


def test_frames_reuse_their_buffers(tmp_path):
    fmt = FrameFormat(16, 8, "420")
    data, raw = clip_bytes("YUV4MPEG2 W16 H8", fmt, 5)
    path = tmp_path / "clip.y4m"
    path.write_bytes(data)
    with open_source(path) as clip:
        # one buffer without read-ahead
        seen = [(f, f.planes[0], f.planes[0].tobytes()) for f in clip.frames(read_ahead=False)]
        assert all(f is seen[0][0] and np.shares_memory(p, seen[0][1]) for f, p, _ in seen)
        # two with it (the next frame is read while the current one is used), in turn
        ahead = [(f, f.planes[0].tobytes()) for f in clip]
    assert ahead[0][0] is ahead[2][0] is ahead[4][0] and ahead[1][0] is ahead[3][0]
    assert ahead[0][0] is not ahead[1][0]
    assert [b for _, b in ahead] == [b for _, _, b in seen] == [r[:128] for r in raw]


def test_stopping_early_leaves_the_clip_readable(tmp_path):
    fmt = FrameFormat(16, 8, "444")
    data, raw = clip_bytes("YUV4MPEG2 W16 H8 C444", fmt, 6)
    path = tmp_path / "clip.y4m"
    path.write_bytes(data)
    with open_source(path) as clip:
        for _ in range(3):
            frames = clip.frames()
            first = next(frames).planes[2].tobytes()
            frames.close()  # a read of frame 1 may be in flight: waited for, not raced
            assert first == raw[0][256:]
        assert [f.planes[1].tobytes() for f in clip] == [r[128:256] for r in raw]


def test_memory_does_not_grow_with_clip_length(tmp_path):
    fmt = FrameFormat(64, 64, "420")
    peaks = []
    for frames in (4, 64):
        data, _ = clip_bytes("YUV4MPEG2 W64 H64", fmt, frames)
        path = tmp_path / f"clip{frames}.y4m"
        path.write_bytes(data)
        tracemalloc.start()
        with open_source(path) as clip:
            assert sum(1 for _ in clip) == frames
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # one frame is 6,144 bytes; 60 more frames would be 368,640 more
    assert peaks[1] - peaks[0] < fmt.frame_bytes


def test_iterating_twice_starts_again(tmp_path):
    fmt = FrameFormat(4, 4, "444")
    data, raw = clip_bytes("YUV4MPEG2 W4 H4 C444", fmt, 2)
    path = tmp_path / "clip.y4m"
    path.write_bytes(data)
    with open_source(path) as clip:
        first = [f.planes[2].tobytes() for f in clip]
        second = [f.planes[2].tobytes() for f in clip]
    assert first == second == [r[32:] for r in raw]


def error_of(path) -> str:
    with pytest.raises(InputError) as info:
        with open_source(path) as clip:
            for _ in clip:
                pass
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    "header, expected",
    [
        (b"GARBAGE W4 H4\n", "not a Y4M clip"),
        (b"YUV4MPEG2W4 H4\n", "not a Y4M clip"),
        (b"\x89PNG\r\n\x1a\n", "not a Y4M clip"),
        (b"YUV4MPEG2 W4 H4 \xff\xfe\n", "garbage"),
        (b"YUV4MPEG2 W4 H4 C420" + b" X" * 3000, "damaged"),
        (b"YUV4MPEG2 H4 C420\n", "no W (width)"),
        (b"YUV4MPEG2 W4 C420\n", "no H (height)"),
        (b"YUV4MPEG2 Wfour H4\n", "width Wfour"),
        (b"YUV4MPEG2 W0 H4\n", "width W0"),
        (b"YUV4MPEG2 W4 H4 C411\n", "chroma C411 is not supported"),
        (b"YUV4MPEG2 W4 H4 C444alpha\n", "chroma C444alpha is not supported"),
        (b"YUV4MPEG2 W4 H4 C420p7\n", "chroma C420p7 is not supported"),
        (b"YUV4MPEG2 W4 H4 C420p32\n", "chroma C420p32 is not supported"),
        (b"YUV4MPEG2 W4 H4 It\n", "interlaced Y4M (It, top field first)"),
        (b"YUV4MPEG2 W4 H4 Ib\n", "interlaced Y4M (Ib, bottom field first)"),
        (b"YUV4MPEG2 W4 H4 Im\n", "interlaced Y4M (Im, mixed fields)"),
        (b"", "not a Y4M clip"),
        (b"YUV4MPEG2 W4 H4 W8\n", "gives the width twice (W4 and W8)"),
        (b"YUV4MPEG2 W4 H4 C420 C444\n", "gives the chroma layout twice"),
    ],
)
def test_bad_headers_are_one_line_naming_file_and_problem(tmp_path, header, expected):
    path = tmp_path / "bad.y4m"
    path.write_bytes(header + b"FRAME\n" + bytes(24))
    assert expected in error_of(path)


@pytest.mark.parametrize("cut", [1, 23, 24, 27, 29])
def test_truncated_last_frame_names_it(tmp_path, cut):
    fmt = FrameFormat(4, 4, "420")
    data, _ = clip_bytes("YUV4MPEG2 W4 H4", fmt, 3)
    path = tmp_path / "cut.y4m"
    path.write_bytes(data[:-cut])  # frame 2 (0-based) loses `cut` bytes of its 30
    assert "frame 2 is truncated" in error_of(path)
    with open_source(path) as clip, pytest.raises(InputError, match="frame 2 is truncated"):
        clip.frame_count  # noqa: B018 - checked before any frame is scored
    # the whole frames before it can be read
    with open_source(path) as clip:
        assert clip.whole_frames == 2
        assert [f.index for f in clip.frames(2)] == [0, 1]
        with pytest.raises(InputError, match="frame 2 is truncated"):
            clip.frames(3).__next__()


def test_damaged_frame_marker(tmp_path):
    fmt = FrameFormat(4, 4, "420")
    data, _ = clip_bytes("YUV4MPEG2 W4 H4", fmt, 2)
    path = tmp_path / "bad.y4m"
    path.write_bytes(data.replace(b"FRAME", b"FRAMX", 2).replace(b"FRAMX", b"FRAME", 1))
    assert "frame 1 does not start with a FRAME line" in error_of(path)


def test_samples_over_the_bit_depth_are_refused(tmp_path):
    y = np.array([[0, 1023], [2000, 3]], np.uint16)
    frame = Frame(FrameFormat(2, 2, "mono", 16), (y,))
    path = tmp_path / "wide.y4m"
    write_y4m(path, [frame])
    path.write_bytes(path.read_bytes().replace(b"Cmono16", b"Cmono10"))
    message = error_of(path)
    assert "frame 0 has a Y sample of 2000, over the 10-bit maximum 1023" in message


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in error_of(tmp_path / "nope.y4m")
    folder = tmp_path / "dir.y4m"
    folder.mkdir()
    assert "is a folder" in error_of(folder)


def test_first_frame_truncated_or_header_too_large(tmp_path):
    path = tmp_path / "big.y4m"
    path.write_bytes(b"YUV4MPEG2 W100000 H100000 C444p16\nFRAME\n" + bytes(100))
    message = error_of(path)
    assert "frame 0 is truncated (100 of 60,000,000,000 bytes)" in message
    assert "no whole frame" in message


@pytest.mark.parametrize("tags, expected", [(b"", None), (b" XCOLORRANGE=FULL", "full"),
                                            (b" XCOLORRANGE=LIMITED", "limited"),
                                            (b" XYSCSS=420JPEG Xcolorrange=full", "full")])
def test_colour_range_is_read_from_the_header(tmp_path, tags, expected):
    path = tmp_path / "a.y4m"
    path.write_bytes(b"YUV4MPEG2 W4 H4 C420" + tags + b"\nFRAME\n" + bytes(24))
    with open_source(path) as clip:
        assert clip.color_range == expected


def test_clips_of_different_colour_ranges_are_not_compared(tmp_path):
    """A full-range clip against a limited one (or one that gives no range, which ffmpeg
    takes as limited) is refused: the same picture has other samples in each range."""
    from iqa.video.sources import check_pair

    def clip(name, tags):
        path = tmp_path / name
        path.write_bytes(b"YUV4MPEG2 W4 H4 C420" + tags + b"\n" + (b"FRAME\n" + bytes(24)) * 2)
        return path

    full = clip("full.y4m", b" XCOLORRANGE=FULL")
    for other in (clip("limited.y4m", b" XCOLORRANGE=LIMITED"), clip("none.y4m", b"")):
        with open_source(full) as a, open_source(other) as b:
            with pytest.raises(InputError) as info:
                check_pair(a, b)
        message = str(info.value)
        assert "full-range" in message and "limited-range" in message
        assert "scale=out_range=limited" in message and "\n" not in message
    with open_source(full) as a, open_source(clip("full2.y4m", b" XCOLORRANGE=FULL")) as b:
        assert check_pair(a, b) == 2
    with open_source(tmp_path / "limited.y4m") as a, open_source(tmp_path / "none.y4m") as b:
        assert check_pair(a, b) == 2


def test_a_frame_line_longer_than_the_limit_is_not_called_the_end_of_the_file(tmp_path):
    path = tmp_path / "long.y4m"
    frame = b"FRAME" + b" Xa" * 2000 + b"\n" + bytes(24)
    path.write_bytes(b"YUV4MPEG2 W4 H4 C420\n" + frame + b"FRAME\n" + bytes(24))
    message = error_of(path)
    assert "frame 0 has a FRAME line longer than 4096 bytes" in message
