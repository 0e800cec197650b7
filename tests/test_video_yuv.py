"""Raw .yuv clips: ffmpeg pixel-format names, frame sizes, bad sizes and options."""

from __future__ import annotations

import numpy as np
import pytest

from iqa.errors import InputError, UsageError
from iqa.video import Frame, frame_psnr, iter_frame_pairs, open_source, write_y4m
from iqa.video.yuv import parse_pix_fmt

# ffmpeg -pix_fmts: name -> (layout, bits); bytes of a 4x2 frame (planes Y, U, V)
PIX_FMTS = {
    "gray": ("mono", 8, 8),
    "gray10le": ("mono", 10, 16),
    "gray12le": ("mono", 12, 16),
    "gray16le": ("mono", 16, 16),
    "yuv420p": ("420", 8, 8 + 2 + 2),
    "yuv422p": ("422", 8, 8 + 4 + 4),
    "yuv444p": ("444", 8, 24),
    "yuv420p10le": ("420", 10, 24),
    "yuv420p12le": ("420", 12, 24),
    "yuv420p16le": ("420", 16, 24),
    "yuv422p10le": ("422", 10, 32),
    "yuv422p12le": ("422", 12, 32),
    "yuv422p16le": ("422", 16, 32),
    "yuv444p10le": ("444", 10, 48),
    "yuv444p12le": ("444", 12, 48),
    "yuv444p16le": ("444", 16, 48),
    "yuvj420p": ("420", 8, 12),
}


@pytest.mark.parametrize("name", PIX_FMTS)
def test_pixel_formats(tmp_path, name):
    layout, bits, frame_bytes = PIX_FMTS[name]
    assert parse_pix_fmt(name) == (layout, bits)
    rng = np.random.default_rng(1)
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    samples = rng.integers(0, 2**bits, 3 * frame_bytes // np.dtype(dtype).itemsize)
    data = samples.astype(dtype).tobytes()
    path = tmp_path / "clip.yuv"
    path.write_bytes(data)
    with open_source(path, size="4x2", pix_fmt=name) as clip:
        assert (clip.format.layout, clip.format.bits) == (layout, bits)
        assert clip.format.frame_bytes == frame_bytes
        assert clip.format.pix_fmt == name.replace("yuvj", "yuv")
        assert clip.frame_count == 3
        read = b"".join(b"".join(p.tobytes() for p in f.planes) for f in clip)
    assert read == data


@pytest.mark.parametrize("name", ["rgb24", "nv12", "yuv420p10be", "yuv411p", "yuvj420p10le", ""])
def test_unsupported_pixel_formats(tmp_path, name):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(12))
    with pytest.raises(UsageError, match="is not supported for raw .yuv"):
        open_source(path, size="4x2", pix_fmt=name)


def test_size_not_a_whole_number_of_frames_names_the_remainder(tmp_path):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(3 * 12 + 5))  # 4x2 yuv420p: 12 bytes a frame
    with pytest.raises(InputError) as info:
        open_source(path, size="4x2", pix_fmt="yuv420p")
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "41 bytes is not a whole number of 4x2 yuv420p frames (12 bytes each)" in message
    assert "3 frames and 5 bytes left over" in message


@pytest.mark.parametrize(
    "size, pix_fmt, expected",
    [
        (None, "yuv420p", "give --size WxH"),
        ("4x2", None, "give --pix-fmt NAME"),
        (None, None, "give --size WxH and --pix-fmt NAME"),
        ("4by2", "yuv420p", "is not WxH"),
        ("0x2", "yuv420p", "must be positive"),
    ],
)
def test_raw_yuv_needs_size_and_pix_fmt(tmp_path, size, pix_fmt, expected):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(12))
    with pytest.raises(UsageError, match=expected):
        open_source(path, size=size, pix_fmt=pix_fmt)


def test_empty_and_y4m_named_yuv_and_other_extensions(tmp_path):
    empty = tmp_path / "empty.yuv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.yuv: file is empty"):
        open_source(empty, size="4x2", pix_fmt="yuv420p")
    y4m = tmp_path / "clip.yuv"
    write_y4m(y4m, [Frame.from_planes(np.zeros((2, 4), np.uint8))])
    with pytest.raises(InputError, match="is a Y4M clip, not raw YUV"):
        open_source(y4m, size="4x2", pix_fmt="gray")
    with pytest.raises(InputError, match=r"clip.gif: not a video clip .*\.y4m, \.yuv or "
                       r"\.mp4, .*\.webm"):
        open_source(tmp_path / "clip.gif")


def test_raw_and_y4m_of_the_same_frames_give_identical_numbers(tmp_path):
    rng = np.random.default_rng(5)
    clips = {}
    for role in ("ref", "dist"):
        frames = [
            Frame.from_planes(*(rng.integers(0, 1024, s).astype(np.uint16)
                                for s in ((33, 45), (17, 23), (17, 23))), bits=10)
            for _ in range(3)
        ]
        write_y4m(tmp_path / f"{role}.y4m", frames)
        (tmp_path / f"{role}.yuv").write_bytes(
            b"".join(p.astype("<u2").tobytes() for f in frames for p in f.planes))
        clips[role] = frames
    results = []
    for ext, opts in ((".y4m", {}), (".yuv", {"size": "45x33", "pix_fmt": "yuv420p10le"})):
        with open_source(tmp_path / f"ref{ext}", **opts) as r, \
                open_source(tmp_path / f"dist{ext}", **opts) as d:
            results.append([frame_psnr(a, b) for _, a, b in iter_frame_pairs(r, d)])
    assert results[0] == results[1]
    assert len(results[0]) == 3
