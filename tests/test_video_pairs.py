"""Pairing two clips: size, chroma layout, bit depth and frame count must match."""

from __future__ import annotations

import os

import numpy as np
import pytest

from iqa.errors import ImageSizeError, InputError, UsageError
from iqa.video import Frame, FrameFormat, iter_frame_pairs, open_source, write_y4m


def make_clip(path, fmt: FrameFormat, frames: int, value: int = 0):
    planes = tuple(np.full((h, w), value, fmt.dtype) for w, h in fmt.plane_sizes)
    write_y4m(path, [Frame(fmt, planes, i) for i in range(frames)])
    return path


def pair_error(tmp_path, ref_fmt, dist_fmt, ref_frames=2, dist_frames=2, frames=None,
               error=InputError) -> str:
    ref = make_clip(tmp_path / "ref.y4m", ref_fmt, ref_frames)
    dist = make_clip(tmp_path / "dist.y4m", dist_fmt, dist_frames)
    with open_source(ref) as r, open_source(dist) as d, pytest.raises(error) as info:
        list(iter_frame_pairs(r, d, frames=frames))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_size_mismatch_names_both_files_and_sizes(tmp_path):
    message = pair_error(tmp_path, FrameFormat(16, 8, "420"), FrameFormat(8, 16, "420"),
                         error=ImageSizeError)
    assert message == (f"{tmp_path}/ref.y4m is 16x8 but {tmp_path}/dist.y4m is 8x16; "
                       "both clips must have the same frame size")


def test_layout_mismatch(tmp_path):
    message = pair_error(tmp_path, FrameFormat(16, 8, "420"), FrameFormat(16, 8, "444"))
    assert f"{tmp_path}/ref.y4m is 4:2:0 but {tmp_path}/dist.y4m is 4:4:4" in message
    assert "same chroma layout" in message


def test_bit_depth_mismatch(tmp_path):
    message = pair_error(tmp_path, FrameFormat(16, 8, "420", 10), FrameFormat(16, 8, "420"))
    assert f"{tmp_path}/ref.y4m is 10-bit but {tmp_path}/dist.y4m is 8-bit" in message


def test_frame_count_mismatch_and_frames_option(tmp_path):
    fmt = FrameFormat(16, 8, "420")
    message = pair_error(tmp_path, fmt, fmt, ref_frames=5, dist_frames=3)
    assert f"{tmp_path}/ref.y4m has 5 frames but {tmp_path}/dist.y4m has 3" in message
    assert "--frames 3" in message
    # frames=N scores the first N of each
    with open_source(tmp_path / "ref.y4m") as r, open_source(tmp_path / "dist.y4m") as d:
        assert [i for i, _, _ in iter_frame_pairs(r, d, frames=3)] == [0, 1, 2]
    message = pair_error(tmp_path, fmt, fmt, ref_frames=5, dist_frames=3, frames=4)
    assert message == f"{tmp_path}/dist.y4m: has 3 frames, fewer than the 4 asked for (--frames)"
    pair_error(tmp_path, fmt, fmt, frames=0, error=UsageError)


def test_mismatch_is_found_before_any_frame_is_read(tmp_path):
    fmt = FrameFormat(16, 8, "420")
    ref = make_clip(tmp_path / "ref.y4m", fmt, 3)
    dist = make_clip(tmp_path / "dist.y4m", fmt, 3)
    dist.write_bytes(dist.read_bytes()[:-1])  # its last frame is cut: found up front
    with open_source(ref) as r, open_source(dist) as d:
        pairs = iter_frame_pairs(r, d)
        with pytest.raises(InputError, match="dist.y4m: frame 2 is truncated"):
            next(pairs)


def test_pairs_walk_both_clips_in_step(tmp_path):
    fmt = FrameFormat(4, 4, "mono")
    rng = np.random.default_rng(0)
    frames = {role: [Frame(fmt, (rng.integers(0, 256, (4, 4)).astype(np.uint8),), i)
                     for i in range(4)] for role in ("ref", "dist")}
    for role, fs in frames.items():
        write_y4m(tmp_path / f"{role}.y4m", fs)
    with open_source(tmp_path / "ref.y4m") as r, open_source(tmp_path / "dist.y4m") as d:
        for i, a, b in iter_frame_pairs(r, d):
            assert a.index == b.index == i
            assert np.array_equal(a.planes[0], frames["ref"][i].planes[0])
            assert np.array_equal(b.planes[0], frames["dist"][i].planes[0])


def test_empty_clip_is_refused(tmp_path):
    fmt = FrameFormat(4, 4, "420")
    make_clip(tmp_path / "ref.y4m", fmt, 0)
    (tmp_path / "ref.y4m").write_bytes(b"YUV4MPEG2 W4 H4\n")
    make_clip(tmp_path / "dist.y4m", fmt, 1)
    with open_source(tmp_path / "ref.y4m") as r, open_source(tmp_path / "dist.y4m") as d:
        with pytest.raises(InputError, match="ref.y4m: has no frames"):
            list(iter_frame_pairs(r, d))


def test_frames_option_scores_the_whole_frames_of_a_truncated_clip(tmp_path):
    fmt = FrameFormat(16, 8, "420")
    ref = make_clip(tmp_path / "ref.y4m", fmt, 3)
    dist = make_clip(tmp_path / "dist.y4m", fmt, 3, value=3)
    dist.write_bytes(dist.read_bytes()[:-5])
    with open_source(ref) as r, open_source(dist) as d:
        assert [i for i, _, _ in iter_frame_pairs(r, d, frames=2)] == [0, 1]
        with pytest.raises(InputError, match="dist.y4m: frame 2 is truncated .* --frames 2"):
            list(iter_frame_pairs(r, d, frames=3))
        with pytest.raises(InputError, match="dist.y4m: frame 2 is truncated"):
            list(iter_frame_pairs(r, d))


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "stream.y4m"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="stream.y4m: is not a regular file"):
        open_source(fifo)
