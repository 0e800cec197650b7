"""The SSIM engine on its worst cases: cancellation, strip and block edges, buffer reuse.

References: scikit-image ``structural_similarity`` (float64 path) for SSIM, and the
float64 translation of Wang's ``msssim.m`` in ``tests/reference_impl.py`` for MS-SSIM.
Every test runs on both engines: BLAS and the compiled kernels (``IQA_SSIM_ENGINE``).
"""

import subprocess
import sys

import numpy as np
import pytest
from skimage.metrics import structural_similarity

import iqa
from iqa.metrics import _ssim_core
from iqa.metrics._ssim_core import half_size, split_channels, ssim_cs_means
from iqa.metrics._ssim_engine import compiled
from tests.images import noisy, random_image
from tests.reference_impl import downsample_msssim_m, msssim, per_channel


@pytest.fixture(autouse=True, params=["blas", "numba"])
def engine(request, monkeypatch):
    monkeypatch.setenv("IQA_SSIM_ENGINE", request.param)
    return request.param


def skimage_ssim(ref, dist, data_range):
    return structural_similarity(
        ref, dist, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range, channel_axis=-1 if ref.ndim == 3 else None,
    )


def bright_flat(shape, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return np.full(shape, top, dtype), np.full(shape, top - 1, dtype)


def edge_next_to_flat(shape):
    ref = np.zeros(shape, np.uint8)
    ref[:, shape[1] // 2 :] = 255
    dist = ref.copy()
    dist[:, shape[1] // 2 :] = 254
    dist[: shape[0] // 3] = 0
    return ref, dist


def checkerboard_vs_grey(shape):
    board = (np.indices(shape[:2]).sum(axis=0) % 2 * 255).astype(np.uint8)
    if len(shape) == 3:
        board = np.repeat(board[..., None], shape[2], axis=-1)
    return board, np.full(shape, 128, np.uint8)


def bright_noise(shape):
    # E[x²] - μ² cancels on ~252² with variances ~0.6: float32 statistics miss by ~1e-6.
    grey = np.full(shape, 252, np.uint8)
    return noisy(grey, 0.8, 1), noisy(grey, 0.8, 2)


def pure_noise(shape):
    return random_image(shape, seed=5), random_image(shape, seed=6)


# Heights and widths around the strip height (64 rows at 1920), the 8-column and
# 4-row blocks, the 1920-column limit of one vertical product, and the 11x11 minimum.
SHAPES = [
    (11, 11), (11, 12), (12, 19), (13, 29, 3), (85, 1931), (20, 1939, 3), (301, 17), (1081, 27)
]
CONTENT = {
    "bright-flat": bright_flat,
    "edge-next-to-flat": edge_next_to_flat,
    "checkerboard": checkerboard_vs_grey,
    "bright-noise": bright_noise,
    "pure-noise": pure_noise,
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("content", CONTENT)
def test_adversarial_8bit_equals_scikit_image(content, shape):
    ref, dist = CONTENT[content](shape)
    assert iqa.ssim(ref, dist) == pytest.approx(skimage_ssim(ref, dist, 255), abs=1e-9)


@pytest.mark.parametrize("shape", [(11, 11), (70, 1925), (40, 33, 3)], ids=str)
def test_sixteen_bit_worst_cases_equal_scikit_image(shape):
    ref, dist = bright_flat(shape, np.uint16)
    assert iqa.ssim(ref, dist) == pytest.approx(skimage_ssim(ref, dist, 65535), abs=1e-9)
    edge = np.zeros(shape, np.uint16)
    edge[shape[0] // 2 :] = 65535
    near = np.clip(edge.astype(np.int64) - 1, 0, 65535).astype(np.uint16)
    assert iqa.ssim(edge, near) == pytest.approx(skimage_ssim(edge, near, 65535), abs=1e-9)


def test_float_images_near_the_top_of_the_range():
    rng = np.random.default_rng(3)
    ref = np.clip(0.99 + rng.normal(0, 0.003, (120, 90)), 0, 1)
    dist = np.clip(0.99 + rng.normal(0, 0.003, (120, 90)), 0, 1)
    expected = skimage_ssim(ref, dist, 1.0)
    assert iqa.ssim(ref, dist, data_range=1.0) == pytest.approx(expected, abs=1e-9)


def test_identical_images_score_exactly_one():
    img = random_image((97, 131, 3), seed=9)
    assert iqa.ssim(img, img) == 1.0


@pytest.mark.parametrize("pixels", [4_000, 128_000, 10**7])
def test_strip_height_does_not_change_the_value(monkeypatch, pixels):
    ref, dist = bright_noise((301, 257))
    expected = skimage_ssim(ref, dist, 255)
    monkeypatch.setattr(_ssim_core, "_STRIP_PIXELS", pixels)
    assert iqa.ssim(ref, dist) == pytest.approx(expected, abs=1e-9)


def test_stale_buffers_do_not_leak_into_the_next_image():
    # NaN images fill the reused buffers with NaN; a later image whose last strip runs
    # past its bottom row (or its last row past the end of a buffer) must not read any.
    images = [pure_noise(shape) for shape in [(15, 150), (203, 150), (13, 149), (16, 21)]]
    clean = [iqa.ssim(ref, dist) for ref, dist in images]
    for shape in [(400, 150), (300, 149), (64, 300)]:
        # the public API refuses NaN pixels, so the engine is poisoned directly
        poisoned = np.full(shape, np.nan)
        assert np.isnan(ssim_cs_means([(poisoned, poisoned)], 1.0, want_cs=False)[0][0])
        assert [iqa.ssim(ref, dist) for ref, dist in images] == clean


def test_cs_and_ssim_only_when_asked():
    ref, dist = pure_noise((40, 50))
    both = ssim_cs_means([(ref, dist)], 255.0, want_cs=True)[0]
    assert ssim_cs_means([(ref, dist)], 255.0, want_cs=False)[0] == (both[0], 0.0)
    assert ssim_cs_means([(ref, dist)], 255.0, want_cs=True, want_ssim=False)[0] == (0.0, both[1])


@pytest.mark.parametrize("shape", [(161, 171), (175, 162, 3)], ids=str)
@pytest.mark.parametrize("content", ["bright-flat", "edge-next-to-flat", "bright-noise"])
def test_ms_ssim_worst_cases_equal_msssim_m(content, shape):
    ref, dist = CONTENT[content](shape)
    expected = per_channel(msssim, ref, dist, 255.0)
    assert iqa.ms_ssim(ref, dist) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("shape", [(7, 9), (8, 10), (1, 3), (161, 175)], ids=str)
def test_half_size_of_integers_is_exact_in_float32(dtype, shape, engine):
    info = np.iinfo(dtype)
    a = np.random.default_rng(2).integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    kernel = compiled(a.size)
    assert (kernel is None) == (engine == "blas")
    half = half_size(a, kernel)
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half.astype(np.float64), downsample_msssim_m(a))
    for extreme in (info.min, info.max):  # the integer sums must not overflow
        flat = np.full(shape, extreme, dtype)
        np.testing.assert_array_equal(half_size(flat, kernel),
                                      np.full(half.shape, extreme, np.float32))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.int64])
def test_split_channels_gives_each_plane(dtype, engine):
    a = np.arange(5 * 6 * 3).reshape(5, 6, 3).astype(dtype)
    planes = split_channels(a)
    assert len(planes) == 3
    for c, plane in enumerate(planes):
        # BLAS copies each plane out; the kernels read strided planes in place
        assert plane.dtype == a.dtype and (plane.flags.c_contiguous or engine == "numba")
        np.testing.assert_array_equal(plane, a[:, :, c])
    np.testing.assert_array_equal(split_channels(a[:, :, :1])[0], a[:, :, 0])


def test_ssim_path_does_not_import_torch():
    code = (
        "import sys, numpy as np, iqa; a = np.zeros((170, 170, 3), np.uint8); "
        "iqa.ssim(a, a); iqa.ms_ssim(a, a); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _count_full_resolution_passes(monkeypatch, shape):
    calls = []
    real = _ssim_core.ssim_cs_means

    def counting(channels, *args, **kwargs):
        if channels[0][0].shape == shape[:2]:
            calls.append(kwargs)
        return real(channels, *args, **kwargs)

    monkeypatch.setattr(_ssim_core, "ssim_cs_means", counting)
    monkeypatch.setattr("iqa.metrics.ms_ssim.ssim_cs_means", counting)
    monkeypatch.setattr("iqa.metrics.ssim.ssim_cs_means", counting)
    return calls


@pytest.mark.parametrize("order", [("ssim", "ms_ssim"), ("ms_ssim", "ssim")])
def test_ssim_and_ms_ssim_metrics_filter_a_pair_at_full_resolution_once(monkeypatch, order):
    from iqa.io.images import Image
    from iqa.metrics.ms_ssim import MSSSIM
    from iqa.metrics.ssim import SSIM

    shape = (200, 230, 3)
    ref = random_image(shape, seed=11)
    dist = noisy(ref, 12.0, seed=12)
    expected = {"ssim": iqa.ssim(ref, dist), "ms_ssim": iqa.ms_ssim(ref, dist)}
    calls = _count_full_resolution_passes(monkeypatch, shape)
    pairs = [(Image(ref.copy()), Image(dist.copy()))]
    metrics = {"ssim": SSIM(), "ms_ssim": MSSSIM()}
    for name in order:
        assert metrics[name].score(pairs) == [expected[name]]  # bit-identical to standalone
    assert len(calls) == 1


def test_shared_full_resolution_means_belong_to_one_pair_of_arrays(monkeypatch):
    from iqa.io.images import Image
    from iqa.metrics.ms_ssim import MSSSIM
    from iqa.metrics.ssim import SSIM

    shape = (170, 180)
    ref = random_image(shape, seed=21)
    near, far = noisy(ref, 3, seed=3), noisy(ref, 30, seed=30)
    expected = iqa.ssim(ref, near), iqa.ms_ssim(ref, far)
    calls = _count_full_resolution_passes(monkeypatch, shape)
    reference = Image(ref[:, :, None].copy())
    pairs = [(reference, Image(near[:, :, None].copy())), (reference, Image(far[:, :, None]))]
    assert SSIM().score(pairs[:1]) == [expected[0]]
    # The same reference object with another distorted image: computed anew.
    assert MSSSIM().score(pairs[1:]) == [expected[1]]
    assert len(calls) == 2
    # Freed arrays take their entry with them: equal new arrays are computed again.
    del pairs, reference
    fresh = [(Image(ref[:, :, None].copy()), Image(near[:, :, None].copy()))]
    assert SSIM().score(fresh) == [expected[0]]
    assert len(calls) == 3
