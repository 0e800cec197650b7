"""Per-plane PSNR and SSIM of frames, and pooling over frames, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from iqa.errors import UsageError
from iqa.metrics.ms_ssim import ms_ssim
from iqa.video import (
    ClipPSNR,
    Frame,
    FrameFormat,
    frame_ms_ssim,
    frame_psnr,
    frame_ssim,
    mse_pooled_psnr,
    open_source,
    pool,
    score_clips,
    write_y4m,
)
from iqa.video.pooling import harmonic_mean, percentile
from iqa.video.sse import frame_sse, plane_sse


def tiny(scale: int = 1, bits: int = 8, u_dist: int = 110) -> tuple[Frame, Frame]:
    """A 2x2 4:2:0 frame pair: Y planes 2x2, U and V 1x1."""
    dt = np.uint8 if bits == 8 else np.uint16
    ref = Frame.from_planes(np.array([[10, 20], [30, 40]], dt) * scale,
                            np.array([[100]], dt) * scale, np.array([[50]], dt) * scale,
                            bits=bits)
    dist = Frame.from_planes(np.array([[12, 20], [30, 37]], dt) * scale,
                             np.array([[u_dist]], dt) * scale, np.array([[50]], dt) * scale,
                             bits=bits)
    return ref, dist


def test_two_by_two_frame_by_hand():
    result = frame_psnr(*tiny())
    # Y: (2² + 3²) / 4 = 3.25; U: 10² = 100; V: 0
    assert result.sse == (13, 100, 0)
    assert result.mse_planes == (3.25, 100.0, 0.0)
    assert result.psnr_planes[0] == pytest.approx(10 * math.log10(255**2 / 3.25), abs=1e-12)
    assert result.psnr_planes[1] == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-12)
    assert result.psnr_planes[2] == math.inf
    # all 6 samples: (13 + 100 + 0) / 6
    assert result.mse == pytest.approx(113 / 6, rel=1e-15)
    assert result.psnr == pytest.approx(10 * math.log10(255**2 * 6 / 113), abs=1e-12)
    assert set(result.as_dict()) == {"psnr_y", "psnr_u", "psnr_v", "psnr",
                                     "mse_y", "mse_u", "mse_v", "mse"}


def test_ten_bit_peak_is_1023_and_reduced_peak_is_1020():
    ref, dist = tiny(scale=4, bits=10)
    result = frame_psnr(ref, dist)
    assert result.mse_planes == (52.0, 1600.0, 0.0)  # 16x the 8-bit errors
    assert result.psnr_planes[0] == pytest.approx(10 * math.log10(1023**2 / 52), abs=1e-12)
    assert result.psnr == pytest.approx(10 * math.log10(1023**2 * 6 / (113 * 16)), abs=1e-12)
    reduced = frame_psnr(ref, dist, peak="reduced")
    assert reduced.psnr_planes[0] == pytest.approx(10 * math.log10(1020**2 / 52), abs=1e-12)
    assert reduced.psnr == pytest.approx(10 * math.log10(1020**2 * 6 / (113 * 16)), abs=1e-12)
    # 8-bit: both peaks are 255
    assert frame_psnr(*tiny(), peak="reduced") == frame_psnr(*tiny())
    with pytest.raises(UsageError, match="peak must be one of max, reduced"):
        frame_psnr(ref, dist, peak="65535")


def test_clip_pools_the_mean_mse_as_ffmpeg():
    clip = ClipPSNR(tiny()[0].format)
    a = frame_psnr(*tiny(u_dist=110))
    b = frame_psnr(*tiny(u_dist=120))  # U error 20: mse_u 400
    clip.add(a)
    clip.add(b)
    s = clip.summary()
    assert s["psnr_u"] == pytest.approx(10 * math.log10(255**2 / 250), abs=1e-12)
    assert s["psnr_y"] == pytest.approx(10 * math.log10(255**2 / 3.25), abs=1e-12)
    assert s["psnr_v"] == math.inf
    mean_mse = (113 / 6 + 413 / 6) / 2
    assert s["psnr"] == pytest.approx(10 * math.log10(255**2 / mean_mse), abs=1e-12)
    assert s["psnr_min"] == b.psnr and s["psnr_max"] == a.psnr
    assert clip.ffmpeg_line() == (
        f"PSNR y:{s['psnr_y']:f} u:{s['psnr_u']:f} v:inf average:{s['psnr']:f} "
        f"min:{b.psnr:f} max:{a.psnr:f}")
    assert s["psnr"] == mse_pooled_psnr([a.mse, b.mse], 255)


@pytest.mark.parametrize("bits, width", [(8, 1920), (8, 40000), (10, 1920), (10, 3000),
                                         (12, 700), (14, 300), (16, 1920)])
def test_plane_sse_is_exact(bits, width):
    rng = np.random.default_rng(bits)
    dt = np.uint8 if bits == 8 else np.uint16
    top = 2**bits - 1
    # worst case rows (all differences at the maximum) and random ones
    a = rng.integers(0, top + 1, (5, width)).astype(dt)
    b = rng.integers(0, top + 1, (5, width)).astype(dt)
    a[0], b[0] = top, 0
    expected = sum(int(x) ** 2 for x in (a.astype(np.int64) - b).ravel())
    assert plane_sse(a, b, bits) == expected


def test_per_plane_ssim_equals_scikit_image_with_the_bit_depth_range():
    rng = np.random.default_rng(3)
    shapes = ((33, 45), (17, 23), (17, 23))  # odd 4:2:0 chroma planes
    ref = Frame.from_planes(*(rng.integers(0, 1024, s).astype(np.uint16) for s in shapes),
                            bits=10)
    noise = [rng.integers(-40, 41, s) for s in shapes]
    dist = Frame.from_planes(
        *(np.clip(p.astype(int) + n, 0, 1023).astype(np.uint16)
          for p, n in zip(ref.planes, noise)), bits=10)
    result = frame_ssim(ref, dist)
    expected = [structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, data_range=1023)
                for a, b in zip(ref.planes, dist.planes)]
    assert result.planes == pytest.approx(expected, abs=1e-6, rel=0)
    n = [45 * 33, 23 * 17, 23 * 17]
    weighted = sum(v * k for v, k in zip(expected, n)) / sum(n)
    assert result.ssim == pytest.approx(weighted, abs=1e-6, rel=0)
    assert set(result.as_dict()) == {"ssim_y", "ssim_u", "ssim_v", "ssim"}


@pytest.mark.parametrize("shapes", [((240, 320), (120, 160), (120, 160)),
                                    ((143, 175), (72, 88), (72, 88)),
                                    ((37, 41), (37, 21), (37, 21))])
def test_identical_frames_have_ssim_exactly_one(shapes):
    """Σ v·n / Σ n, not Σ v·(n / N): equal plane values give that value exactly (the
    float shares of 4:2:0 add up to 1 − 2⁻⁵³·k, which made identical clips 0.9999…)."""
    rng = np.random.default_rng(1)
    frame = Frame.from_planes(*(rng.integers(0, 256, s).astype(np.uint8) for s in shapes))
    result = frame_ssim(frame, frame)
    assert result.planes == (1.0, 1.0, 1.0)
    assert result.ssim == 1.0


def test_ssim_of_planes_smaller_than_the_window_is_none_with_a_reason():
    y = np.zeros((16, 16), np.uint8)
    c = np.zeros((8, 8), np.uint8)
    frame = Frame.from_planes(y, c, c)
    result = frame_ssim(frame, frame)
    assert result.planes == (1.0, None, None)
    assert result.ssim is None
    assert result.reasons["ssim_u"] == "plane U is 8x8, smaller than the 11x11 window"


def test_pooling_definitions():
    x = [30.0, 40.0, 35.0, 20.0, 50.0]
    p = pool(x)
    assert p["mean"] == 35.0 and p["min"] == 20.0 and p["max"] == 50.0
    # libvmaf: n / sum(1 / (x + 1)) - 1
    assert p["harmonic_mean"] == pytest.approx(5 / sum(1 / (v + 1) for v in x) - 1, rel=1e-15)
    # numpy linear: position q/100 * (n - 1) in the sorted scores
    assert p["p1"] == pytest.approx(20 + 0.04 * 10, rel=1e-15)
    assert p["p5"] == pytest.approx(20 + 0.2 * 10, rel=1e-15)
    assert p["p5"] == float(np.percentile(x, 5))


def test_pooling_with_identical_frames_and_missing_scores():
    x = [math.inf, 30.0, 40.0]
    p = pool(x)
    assert p["mean"] == math.inf and p["max"] == math.inf and p["min"] == 30.0
    assert p["harmonic_mean"] == pytest.approx(3 / (1 / 31 + 1 / 41) - 1, rel=1e-15)
    assert p["p1"] == pytest.approx(30.2, rel=1e-15)
    assert percentile(x, 75) == math.inf  # interpolates towards the identical frame
    assert percentile([math.inf] * 4, 5) == math.inf
    assert harmonic_mean([math.inf, math.inf]) == math.inf
    assert pool([0.9, None]) == dict.fromkeys(["mean", "min", "max", "harmonic_mean",
                                               "p1", "p5"])
    with pytest.raises(UsageError):
        pool([])


@pytest.mark.parametrize("threads", ["1", "3"])
def test_frame_sse_on_threads_is_exact(monkeypatch, threads):
    monkeypatch.setenv("IQA_THREADS", threads)
    rng = np.random.default_rng(7)
    shapes = ((1000, 1100), (500, 550), (500, 550))  # over a million samples: banded
    ref = [rng.integers(0, 1024, s).astype(np.uint16) for s in shapes]
    dist = [rng.integers(0, 1024, s).astype(np.uint16) for s in shapes]
    expected = tuple(int(((a.astype(np.int64) - b) ** 2).sum()) for a, b in zip(ref, dist))
    assert frame_sse(ref, dist, 10) == expected


def random_clip(path, fmt, frames, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        planes = tuple(rng.integers(0, fmt.max_value + 1, (h, w)).astype(fmt.dtype)
                       for w, h in fmt.plane_sizes)
        out.append(Frame(fmt, planes, i))
    write_y4m(path, out)
    return out


def test_score_clips_rows_and_summary(tmp_path):
    fmt = FrameFormat(24, 16, "420", 10)
    refs = random_clip(tmp_path / "ref.y4m", fmt, 4, seed=1)
    dists = random_clip(tmp_path / "dist.y4m", fmt, 4, seed=2)
    rows_seen = []
    with open_source(tmp_path / "ref.y4m") as r, open_source(tmp_path / "dist.y4m") as d:
        scores = score_clips(r, d, metrics=("psnr", "ssim"), on_frame=rows_seen.append)
    assert scores.frames == 4 and rows_seen == scores.rows
    assert list(scores.rows[0]) == ["frame", "psnr_y", "psnr_u", "psnr_v", "psnr",
                                    "ssim_y", "ssim_u", "ssim_v", "ssim"]
    for row, a, b in zip(scores.rows, refs, dists):
        assert row["psnr_y"] == frame_psnr(a, b).psnr_planes[0]
        assert row["ssim_y"] == frame_ssim(a, b).planes[0]
        assert row["ssim_u"] is None  # 12x8 chroma: smaller than the window
    assert scores.reasons["ssim_u"] == "plane U is 12x8, smaller than the 11x11 window"
    psnr_y = [row["psnr_y"] for row in scores.rows]
    assert scores.summary["psnr_y"]["mean"] == pytest.approx(np.mean(psnr_y), rel=1e-15)
    assert scores.summary["psnr_y"]["p5"] == float(np.percentile(psnr_y, 5))
    mses = [frame_psnr(a, b).mse for a, b in zip(refs, dists)]
    assert scores.summary["psnr"]["mse_pooled"] == mse_pooled_psnr(mses, 1023)
    assert "mse_pooled" not in scores.summary["ssim_y"]
    assert scores.summary["ssim"]["mean"] is None
    with pytest.raises(UsageError, match="video metrics must be among"):
        score_clips(r, d, metrics=("lpips",))


def test_ms_ssim_per_plane_and_too_small_chroma():
    rng = np.random.default_rng(4)
    shapes = ((170, 330), (85, 165), (85, 165))
    ref = Frame.from_planes(*(rng.integers(0, 256, s).astype(np.uint8) for s in shapes))
    dist = Frame.from_planes(*(np.clip(p.astype(int) + rng.integers(-9, 10, p.shape), 0, 255)
                               .astype(np.uint8) for p in ref.planes))
    result = frame_ms_ssim(ref, dist)
    assert result.planes[0] == ms_ssim(ref.planes[0], dist.planes[0], data_range=255)
    assert result.planes[1:] == (None, None)
    assert result.reasons["ms_ssim_v"] == (
        "plane V is 165x85; MS-SSIM needs 161x161 (5 scales of an 11x11 window)")
    assert set(result.as_dict()) == {"ms_ssim_y", "ms_ssim_u", "ms_ssim_v"}


@pytest.mark.parametrize(
    "planes, bits, message",
    [
        ((np.zeros((2, 2), np.uint16),), None, "uint16 planes need bits="),
        ((np.zeros((2, 2), np.float64),), 8, "must be uint8 or uint16 arrays, not float64"),
        ((np.zeros((2, 2), np.uint16),), 8, "8-bit planes must be uint8, not uint16"),
        ((np.zeros((4, 4), np.uint8), np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8)),
         8, "a 3x3 chroma plane fits no layout of 4x4"),
        ((np.zeros((2, 2), np.uint8),), 17, "bit depth must be 8 to 16, not 17"),
    ],
)
def test_frames_from_planes_refuse_what_they_cannot_be(planes, bits, message):
    with pytest.raises(UsageError, match=message):
        Frame.from_planes(*planes, bits=bits)
