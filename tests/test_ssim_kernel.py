"""The compiled SSIM kernels (the ``fast`` extra) against the BLAS engine, and the
``IQA_SSIM_ENGINE`` switch.

The two engines filter with the same float64 taps and apply the same per-pixel formulas
in the same order; only the order of the multiply-adds and of the sums differs. So SSIM,
MS-SSIM, the contrast-structure means and the SSIM maps agree to rounding (1e-13
absolute), the squared error PSNR takes from the strips is the same integer, and the
2×2 means of MS-SSIM are bit-identical. The values of each engine against scikit-image,
``msssim.m`` and the plain arithmetic are in ``test_ssim_core.py`` and
``test_ssim_engine.py``, which run on both engines.
"""

import subprocess
import sys

import numpy as np
import pytest

import iqa
from iqa.errors import UsageError
from iqa.io.images import Image
from iqa.metrics import _ssim_engine, _ssim_kernel
from iqa.metrics._ssim_core import split_channels, ssim_cs_means
from iqa.metrics._ssim_scales import half_size
from iqa.metrics.ms_ssim import MSSSIM
from iqa.metrics.psnr import PSNR
from iqa.metrics.ssim import SSIM
from tests.images import noisy, random_image


def on(engine, monkeypatch, fn):
    monkeypatch.setenv("IQA_SSIM_ENGINE", engine)
    return fn()


def pair(shape, dtype, seed):
    if np.dtype(dtype).kind == "f":
        ref = random_image(shape, seed=seed).astype(dtype) / 255
        dist = np.clip(ref + np.random.default_rng(seed + 1).normal(0, 0.04, shape), 0, 1)
        return ref, dist.astype(dtype), 1.0
    ref = random_image(shape, dtype, seed=seed)
    return ref, noisy(ref, np.iinfo(dtype).max / 30, seed=seed + 1), None


# The 11×11 minimum, odd heights (an odd last strip), widths past one vertical product
# (1920) and past a 4K row, a tall strip-heavy one, and 16-bit and float pixels.
SHAPES = [
    ((11, 11), np.uint8), ((12, 13, 3), np.uint8), ((97, 131, 3), np.uint8),
    ((41, 3851), np.uint8), ((333, 29), np.uint8), ((64, 200, 3), np.uint16),
    ((53, 70), np.float64), ((45, 61, 3), np.float32),
]


@pytest.mark.parametrize(("shape", "dtype"), SHAPES, ids=str)
def test_ssim_and_its_map_equal_the_blas_engine(shape, dtype, monkeypatch):
    ref, dist, data_range = pair(shape, dtype, seed=3)
    value = {e: on(e, monkeypatch, lambda: iqa.ssim(ref, dist, data_range=data_range,
                                                    full=True))
             for e in ("blas", "numba")}
    assert abs(value["numba"][0] - value["blas"][0]) < 1e-13
    assert np.abs(value["numba"][1] - value["blas"][1]).max() < 1e-12
    assert value["numba"][0] != 0.0  # a real comparison, not two empty results


@pytest.mark.parametrize(("shape", "dtype"), [s for s in SHAPES if min(s[0][:2]) >= 176]
                         + [((190, 260, 3), np.uint8), ((181, 177), np.uint16),
                            ((200, 211), np.float64)], ids=str)
def test_ms_ssim_equals_the_blas_engine(shape, dtype, monkeypatch):
    ref, dist, data_range = pair(shape, dtype, seed=5)
    value = {e: on(e, monkeypatch, lambda: iqa.ms_ssim(ref, dist, data_range=data_range))
             for e in ("blas", "numba")}
    assert abs(value["numba"] - value["blas"]) < 1e-13


@pytest.mark.parametrize("want", [(True, True), (True, False), (False, True)])
def test_cs_and_ssim_means_equal_the_blas_engine(want, monkeypatch):
    want_cs, want_ssim = want
    ref, dist, _ = pair((70, 90, 3), np.uint8, seed=7)
    channels = list(zip(split_channels(ref), split_channels(dist)))

    def means():
        return ssim_cs_means(channels, 255.0, want_cs=want_cs, want_ssim=want_ssim)

    blas, numba = on("blas", monkeypatch, means), on("numba", monkeypatch, means)
    for (s0, c0), (s1, c1) in zip(blas, numba):
        assert abs(s0 - s1) < 1e-13 and abs(c0 - c1) < 1e-13
        assert (s1 == 0.0) != want_ssim and (c1 == 0.0) != want_cs


@pytest.mark.parametrize("shape", [(170, 181, 3), (171, 2001)], ids=str)
def test_compare_metrics_share_the_same_exact_squared_error(shape, monkeypatch):
    ref, dist, _ = pair(shape, np.uint8, seed=9)

    def together():
        pairs = [(Image(ref.copy()), Image(dist.copy()))]
        return {m.info.name: m.score(pairs)[0]
                for m in sorted([PSNR(), SSIM(), MSSSIM()], key=lambda m: m.run_late)}

    blas, numba = on("blas", monkeypatch, together), on("numba", monkeypatch, together)
    assert numba["psnr"] == blas["psnr"] == iqa.psnr(ref, dist)  # the same integer sum
    assert abs(numba["ssim"] - blas["ssim"]) < 1e-13
    assert abs(numba["ms_ssim"] - blas["ms_ssim"]) < 1e-13


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.float32,
                                   np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (5, 1), (7, 9), (8, 10), (31, 64)], ids=str)
def test_half_size_is_bit_identical_to_numpy(dtype, shape):
    rng = np.random.default_rng(11)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        arrays = [rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype),
                  np.full(shape, info.max, dtype), np.full(shape, info.min, dtype)]
    else:  # values whose float sums round, in the float64 order the NumPy code uses
        arrays = [(rng.standard_normal(shape) * 1e3 + 1 / 3).astype(dtype)]
    for a in arrays:
        for view in (a, a[::-1], np.asfortranarray(a)):
            numpy_half, kernel_half = half_size(view), half_size(view, _ssim_kernel)
            assert kernel_half.dtype == numpy_half.dtype
            np.testing.assert_array_equal(kernel_half, numpy_half)


def test_the_kernels_read_an_interleaved_plane_in_place(monkeypatch):
    ref, dist, _ = pair((90, 120, 3), np.uint8, seed=13)
    monkeypatch.setenv("IQA_SSIM_ENGINE", "numba")
    planes = split_channels(ref)
    assert not planes[1].flags.c_contiguous and np.shares_memory(planes[1], ref)
    contiguous = [(np.ascontiguousarray(x), np.ascontiguousarray(y))
                  for x, y in zip(split_channels(ref), split_channels(dist))]
    assert ssim_cs_means(list(zip(planes, split_channels(dist))), 255.0, want_cs=True) == \
        ssim_cs_means(contiguous, 255.0, want_cs=True)


def test_auto_takes_the_kernels_from_1280x720_and_every_scale_follows_the_first(monkeypatch):
    monkeypatch.setenv("IQA_SSIM_ENGINE", "auto")
    assert _ssim_engine.compiled(1280 * 720 - 1) is None
    assert _ssim_engine.compiled(1280 * 720) is _ssim_kernel
    monkeypatch.setenv("IQA_SSIM_ENGINE", "numba")
    assert _ssim_engine.compiled(11 * 11) is _ssim_kernel
    monkeypatch.setenv("IQA_SSIM_ENGINE", "auto")
    widths = []
    real = _ssim_kernel.strip_sums
    monkeypatch.setattr(_ssim_kernel, "strip_sums",
                        lambda src, *a: widths.append(src.shape[2]) or real(src, *a))
    small, large = pair((719, 1280), np.uint8, seed=15)[:2], pair((720, 1280), np.uint8, 17)[:2]
    iqa.ms_ssim(*small)
    assert widths == []  # under 1280x720: BLAS at every scale
    iqa.ms_ssim(*large)
    assert sorted(set(widths)) == [80, 160, 320, 640, 1280]  # all five scales compiled


@pytest.mark.parametrize(("width", "height", "compiled"), [(1280, 720, True),
                                                           (1278, 720, False)])
def test_a_video_frame_s_chroma_planes_follow_its_luma(width, height, compiled, monkeypatch):
    from iqa.video import Frame, frame_ms_ssim, frame_ssim

    rng = np.random.default_rng(21)
    sizes = ((height, width), (height // 2, width // 2), (height // 2, width // 2))
    ref = Frame.from_planes(*(rng.integers(0, 256, s).astype(np.uint8) for s in sizes), bits=8)
    dist = Frame.from_planes(*(noisy(p, 8.0, seed=i) for i, p in enumerate(ref.planes)),
                             bits=8)
    monkeypatch.setenv("IQA_SSIM_ENGINE", "auto")
    widths = []
    real = _ssim_kernel.strip_sums
    monkeypatch.setattr(_ssim_kernel, "strip_sums",
                        lambda src, *a: widths.append(src.shape[2]) or real(src, *a))
    auto = frame_ssim(ref, dist).planes, frame_ms_ssim(ref, dist).planes
    # 640x360 chroma alone is under 1280x720, but a 1280x720 frame's planes all compile
    assert (width // 2 in widths) == compiled and (width in widths) == compiled
    blas = on("blas", monkeypatch, lambda: (frame_ssim(ref, dist).planes,
                                            frame_ms_ssim(ref, dist).planes))
    for a, b in zip(auto[0] + auto[1], blas[0] + blas[1]):
        assert abs(a - b) < 1e-13


def test_a_small_compare_does_not_load_numba(tmp_path):
    from PIL import Image as PILImage

    ref, dist, _ = pair((512, 512, 3), np.uint8, seed=19)
    PILImage.fromarray(ref).save(tmp_path / "ref.png")
    PILImage.fromarray(dist).save(tmp_path / "dist.png")
    code = ("import sys; from iqa.cli import main\n"
            "try:\n    main([sys.argv[1], sys.argv[2], sys.argv[3], '-m', 'psnr,ssim,ms_ssim'])\n"
            "except SystemExit:\n    pass\n"
            "print('numba' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code, "compare", str(tmp_path / "ref.png"),
                          str(tmp_path / "dist.png")], capture_output=True, text=True,
                         env=_env(IQA_SSIM_ENGINE="auto"))
    assert out.stderr.strip().splitlines()[-1] == "False", out.stderr
    assert "ms_ssim" in out.stdout


@pytest.mark.parametrize("value", ["bogus", "cuda", "1"])
def test_a_bad_engine_setting_is_refused_in_one_line(value, monkeypatch, tmp_path):
    monkeypatch.setenv("IQA_SSIM_ENGINE", value)
    a = random_image((20, 20), seed=1)
    with pytest.raises(UsageError, match="IQA_SSIM_ENGINE=.* is not an SSIM engine"):
        iqa.ssim(a, a)
    from PIL import Image as PILImage

    PILImage.fromarray(a).save(tmp_path / "a.png")
    out = subprocess.run([sys.executable, "-m", "iqa", "compare", str(tmp_path / "a.png"),
                          str(tmp_path / "a.png"), "-m", "psnr,ms_ssim"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"iqa: IQA_SSIM_ENGINE={value!r} is not an SSIM engine: use one of auto, numba, blas"]


NO_NUMBA = "import sys; sys.modules['numba'] = None\n"  # as if it were not installed


def test_without_numba_auto_runs_on_blas_and_numba_is_refused():
    code = NO_NUMBA + (
        "import numpy as np, iqa\n"
        "from iqa.metrics import _ssim_engine\n"
        "a = np.arange(40 * 50, dtype=np.uint8).reshape(40, 50); b = a[::-1].copy()\n"
        "print(_ssim_engine.compiled(10**7) is None, iqa.ssim(a, b))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=_env(IQA_SSIM_ENGINE="auto"))
    blas_flag, value = out.stdout.split()
    a = np.arange(40 * 50, dtype=np.uint8).reshape(40, 50)
    assert blas_flag == "True" and float(value) == pytest.approx(iqa.ssim(a, a[::-1].copy()),
                                                                 abs=1e-13)
    refused = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=_env(IQA_SSIM_ENGINE="numba"))
    assert refused.returncode != 0
    assert "IQA_SSIM_ENGINE=numba needs numba" in refused.stderr
    assert 'pip install "iqa[fast]"' in refused.stderr


def test_a_kernel_that_cannot_compile_falls_back_to_blas_with_a_warning(monkeypatch):
    def broken():
        raise RuntimeError("no LLVM target for this CPU")

    monkeypatch.setattr(_ssim_kernel, "warm", broken)
    monkeypatch.setattr(_ssim_engine, "_load", _ssim_engine._load.__wrapped__)
    monkeypatch.setenv("IQA_SSIM_ENGINE", "auto")
    with pytest.warns(RuntimeWarning, match="no LLVM target"):
        assert _ssim_engine.compiled(10**7) is None
    monkeypatch.setenv("IQA_SSIM_ENGINE", "numba")
    with pytest.raises(UsageError, match="numba cannot compile the SSIM kernel"):
        _ssim_engine.compiled(10**7)


def test_no_writable_cache_compiles_in_each_process(monkeypatch):
    calls = []

    def njit(cache, **options):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return lambda fn: ("compiled", fn)

    monkeypatch.setattr(_ssim_kernel.numba, "njit", njit)
    assert _ssim_kernel._jit(len) == ("compiled", len)
    assert calls == [True, False]


def _env(**extra):
    import os

    env = dict(os.environ)
    env.update(extra)
    return env
