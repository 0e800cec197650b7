"""The SSIM engine against its arithmetic written out plainly, and the pass it shares.

``plain_ssim_cs`` is the engine's definition in direct float64 NumPy: the valid
11×11 Gaussian (σ = 1.5) of x, y, x·y and (x − y)², then the four terms as the module
docstring of ``iqa.metrics._ssim_core`` writes them (P = 2 μx μy, D = (μx − μy)²). The
engine (banded BLAS products, strips, threads, fused steps) must equal it to rounding:
1e-12 on the means and the maps, for odd sizes, the 11×11 minimum, gray, 16-bit and
float images. Every test runs on both engines (``IQA_SSIM_ENGINE``): BLAS and the
compiled kernels of the ``fast`` extra.
"""

import numpy as np
import pytest

import iqa
from iqa.compare import build_metrics
from iqa.io.images import Image
from iqa.metrics import _ssim_core
from iqa.metrics._ssim_core import (
    half_planes,
    half_size,
    shared_squared_error,
    split_channels,
    ssim_cs_means,
)
from iqa.metrics._ssim_filter import gaussian_kernel
from iqa.metrics.ms_ssim import MSSSIM
from iqa.metrics.psnr import PSNR
from iqa.metrics.ssim import SSIM
from tests.images import noisy, random_image


@pytest.fixture(autouse=True, params=["blas", "numba"])
def engine(request, monkeypatch):
    monkeypatch.setenv("IQA_SSIM_ENGINE", request.param)
    return request.param


def valid_gaussian(a: np.ndarray) -> np.ndarray:
    g = gaussian_kernel()
    windows = np.lib.stride_tricks.sliding_window_view
    rows = windows(a, 11, axis=0) @ g
    return windows(rows, 11, axis=1) @ g


def plain_ssim_cs(x: np.ndarray, y: np.ndarray, data_range: float):
    """(SSIM map, contrast-structure map) of one channel, float64 throughout."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = valid_gaussian(x), valid_gaussian(y)
    sxy, dd = 2 * valid_gaussian(x * y), valid_gaussian((x - y) ** 2)
    p, d = 2 * mx * my, (mx - my) ** 2
    cs = (sxy - p + c2) / (sxy - p + c2 + dd - d)
    return (p + c1) / (p + d + c1) * cs, cs


CASES = {
    "11x11": ((11, 11), np.uint8),
    "12x13": ((12, 13), np.uint8),
    "odd-rgb": ((67, 131, 3), np.uint8),
    "wide-odd": ((29, 2003), np.uint8),
    "gray-tall": ((301, 45), np.uint8),
    "16-bit": ((53, 77, 3), np.uint16),
    "float": ((40, 57), np.float64),
}


def case(name):
    shape, dtype = CASES[name]
    if dtype is np.float64:
        ref = random_image(shape, seed=1) / 255.0
        dist = np.clip(ref + np.random.default_rng(2).normal(0, 0.05, shape), 0, 1)
        return ref, dist, 1.0
    ref = random_image(shape, dtype, seed=1)
    sigma = np.iinfo(dtype).max / 25
    return ref, noisy(ref, sigma, seed=2), float(np.iinfo(dtype).max)


@pytest.mark.parametrize("name", CASES)
def test_engine_equals_its_plain_arithmetic(name):
    ref, dist, data_range = case(name)
    if ref.ndim == 2:
        ref, dist = ref[:, :, None], dist[:, :, None]
    channels = list(zip(split_channels(ref), split_channels(dist)))
    maps = [np.empty((ref.shape[0] - 10, ref.shape[1] - 10)) for _ in channels]
    means = ssim_cs_means(channels, data_range, want_cs=True, maps=maps)
    for (x, y), (s, cs), engine_map in zip(channels, means, maps):
        plain_map, plain_cs = plain_ssim_cs(x, y, data_range)
        assert abs(s - plain_map.mean()) < 1e-12
        assert abs(cs - plain_cs.mean()) < 1e-12
        assert np.abs(engine_map - plain_map).max() < 1e-12


@pytest.mark.parametrize("name", ["odd-rgb", "16-bit", "float"])
def test_public_ssim_equals_the_plain_arithmetic(name):
    ref, dist, data_range = case(name)
    kwargs = {"data_range": data_range} if ref.dtype.kind == "f" else {}
    channels = zip(split_channels(ref[..., None] if ref.ndim == 2 else ref),
                   split_channels(dist[..., None] if dist.ndim == 2 else dist))
    expected = np.mean([plain_ssim_cs(x, y, data_range)[0].mean() for x, y in channels])
    assert abs(iqa.ssim(ref, dist, **kwargs) - expected) < 1e-12


def metric_values(metrics, ref, dist):
    """Values of the metric classes on one decoded pair, in the order compare runs them."""
    pair = [(Image(ref), Image(dist))]
    return {m.info.name: m.score(pair)[0]
            for m in sorted(metrics, key=lambda m: m.run_late)}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(170, 181, 3), (171, 200)], ids=str)
def test_psnr_ssim_ms_ssim_together_equal_each_alone(dtype, shape, monkeypatch):
    ref = random_image(shape, dtype, seed=3)
    dist = noisy(ref, np.iinfo(dtype).max / 20, seed=4)
    alone = {"psnr": iqa.psnr(ref, dist), "ssim": iqa.ssim(ref, dist),
             "ms_ssim": iqa.ms_ssim(ref, dist)}
    own_passes = []
    real = iqa.metrics.psnr.mean_squared_error
    monkeypatch.setattr(iqa.metrics.psnr, "mean_squared_error",
                        lambda *a, **k: own_passes.append(1) or real(*a, **k))
    together = metric_values([PSNR(), SSIM(), MSSSIM()], ref.copy(), dist.copy())
    assert together == alone  # exactly: the shared squared error is the same integer
    assert own_passes == []  # PSNR took the squared error of SSIM's strips
    assert metric_values([PSNR()], ref.copy(), dist.copy()) == {"psnr": alone["psnr"]}
    assert len(own_passes) == 1


@pytest.mark.parametrize("name", [*CASES, "int8", "float32-tall"])
def test_the_pass_makes_the_same_half_size_planes_as_half_size(name):
    """MS-SSIM's second scale, made by the strips of the full-resolution pass from the
    rows they read (odd sides, several strips, the last one odd), is bit-identical to
    :func:`half_size` of the channels, in its dtype."""
    if name == "int8":
        ref = random_image((131, 37, 2), seed=7).astype(np.int16) - 128
        ref, dist, data_range = ref.astype(np.int8), (ref // 2).astype(np.int8), 255.0
    elif name == "float32-tall":
        ref = (random_image((403, 23), seed=8) / 255.0).astype(np.float32)
        dist, data_range = (ref * np.float32(0.9)).astype(np.float32), 1.0
    else:
        ref, dist, data_range = case(name)
    if ref.ndim == 2:
        ref, dist = ref[:, :, None], dist[:, :, None]
    channels = list(zip(split_channels(ref), split_channels(dist)))
    planes = half_planes(channels)
    fused = ssim_cs_means(channels, data_range, want_cs=True, halves=planes)
    assert fused == ssim_cs_means(channels, data_range, want_cs=True)
    for (x, y), (hx, hy) in zip(channels, planes):
        for image, plane in ((x, hx), (y, hy)):
            expected = half_size(np.ascontiguousarray(image))
            assert plane.dtype == expected.dtype
            np.testing.assert_array_equal(plane, expected)


@pytest.mark.parametrize("names", [["psnr", "ssim", "ms_ssim"], ["ms_ssim", "ssim"]])
def test_ms_ssim_takes_its_second_scale_from_the_shared_pass(names, monkeypatch):
    ref = random_image((203, 171, 3), seed=9)
    dist = noisy(ref, 12, seed=10)
    alone = {name: getattr(iqa, name)(ref, dist) for name in names}
    taken = []
    real = iqa.metrics.ms_ssim.take_half_scale
    monkeypatch.setattr(iqa.metrics.ms_ssim, "take_half_scale",
                        lambda *a: (lambda planes: taken.append(planes) or planes)(real(*a)))
    together = metric_values(build_metrics(names, iqa.metrics.base.MetricOptions()),
                             ref.copy(), dist.copy())
    assert together == alone  # exactly
    assert len(taken) == 1 and taken[0] is not None and len(taken[0]) == 3
    assert taken[0][0][0].shape == (102, 86) and taken[0][0][0].dtype == np.float32
    # SSIM alone (not told of MS-SSIM) makes no half-size planes
    taken.clear()
    ssim_only = build_metrics(["ssim"], iqa.metrics.base.MetricOptions())[0]
    pair = Image(ref.copy()), Image(dist.copy())
    ssim_only.score([pair])
    assert _ssim_core.take_half_scale(pair[0].pixels, pair[1].pixels, 255.0) is None


@pytest.mark.parametrize("names", [["ms_ssim", "ssim"], ["ssim", "ms_ssim"]])
def test_with_maps_the_shared_pass_still_gives_each_metric_its_own_value(names):
    """SSIM's map asks for the full-resolution pass again (to fill the map): in either
    order the values equal the standalone ones, and no half-size planes are left over."""
    from iqa.compare import _score_batch
    from iqa.io.pairing import Pair

    ref = random_image((190, 177, 3), seed=11)
    dist = noisy(ref, 15, seed=12)
    images = Image(ref.copy()), Image(dist.copy())
    seen = []
    records = list(_score_batch([(Pair("k", "r", "d"), images)],
                                build_metrics(names, iqa.metrics.base.MetricOptions()),
                                on_map=lambda *args: seen.append(args[2])))
    assert records[0]["ssim"] == iqa.ssim(ref, dist)
    assert records[0]["ms_ssim"] == iqa.ms_ssim(ref, dist)
    assert seen == ["ssim"]
    assert _ssim_core.take_half_scale(images[0].pixels, images[1].pixels, 255.0) is None


def test_half_size_planes_are_held_for_a_few_pairs_only():
    ssim = build_metrics(["ssim", "ms_ssim"], iqa.metrics.base.MetricOptions())[0]
    pairs = []
    for i in range(_ssim_core._HALVES_MAX + 2):
        img = random_image((30, 31), seed=20 + i)
        pairs.append((Image(img), Image(noisy(img, 9, seed=i))))
        ssim.score([pairs[-1]])
    held = [_ssim_core.take_half_scale(r.pixels, d.pixels, 255.0) is not None
            for r, d in pairs]
    assert held == [False, False] + [True] * _ssim_core._HALVES_MAX
    # handed over once
    assert _ssim_core.take_half_scale(pairs[-1][0].pixels, pairs[-1][1].pixels, 255.0) is None


def test_identical_images_share_a_zero_squared_error():
    img = random_image((40, 41, 3), seed=5)
    assert metric_values([SSIM(), PSNR()], img.copy(), img.copy()) == {
        "ssim": 1.0, "psnr": float("inf")}


def test_squared_error_is_shared_only_when_exact():
    # float pixels: not integers; 16-bit beyond 2**53 / 65535**2 pixels a channel: may
    # round. Neither is shared; PSNR then computes its own exact sum.
    for ref in (random_image((60, 70), seed=6) / 255.0, random_image((60, 70), seed=6)):
        pair = Image(ref), Image(np.clip(ref + 1, 0, 255).astype(ref.dtype))
        SSIM().score([pair])
        shared = shared_squared_error(pair[0].pixels, pair[1].pixels, pair[0].data_range)
        assert (shared is None) == (ref.dtype.kind == "f")
    big = np.zeros((2**53 // 65535**2 + 1, 1), np.uint16)
    assert not _ssim_core._exact_sse([(big, big)])
    assert _ssim_core._exact_sse([(big[1:], big[1:])])


def test_blas_runs_on_one_thread_inside_the_engine_and_is_restored(monkeypatch, engine):
    if engine != "blas":
        monkeypatch.setenv("IQA_SSIM_ENGINE", "blas")  # the BLAS engine's own rule
    from threadpoolctl import threadpool_limits

    from iqa.metrics._ssim_filter import _blas_controller

    # NumPy's BLAS (loaded with NumPy, so known to the engine's controller); a BLAS that
    # another package loads later (SciPy's own) never runs the engine's products.
    controlled = _blas_controller().lib_controllers
    assert controlled

    def blas_threads():
        return {lib.num_threads for lib in controlled}

    seen = []
    real = _ssim_core._strip_sums

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(_ssim_core, "_strip_sums", recording)
    ref = random_image((300, 400, 3), seed=7)
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        iqa.ssim(ref, noisy(ref, 10, seed=8))
        assert blas_threads() == {2}
    assert seen and all(threads == {1} for threads in seen)
