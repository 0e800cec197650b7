"""What the Python API accepts as images and data ranges, and how it refuses the rest.

Policy (README "Python API"): ``uint8`` implies MAX 255 and ``uint16`` MAX 65535, as
scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` both do; every
other type (float, other integer types, Python lists, which numpy turns into int64 or
float64) needs ``data_range=``. ``Image`` objects and file paths are accepted. Every
mistake is an ``IQAError`` that is also a ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import iqa
from iqa.errors import IQAError, UsageError
from tests.images import astronaut, camera, jpeg, noisy

FUNCTIONS = ["psnr", "ssim", "ms_ssim"]
# lpips checks its inputs before it looks for weights, so refusals need no network
REFUSING = [*FUNCTIONS, "lpips"]


def pair():
    ref = camera()[:200, :210]
    return ref, noisy(ref, 6.0)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_python_lists_need_data_range(name):
    """A nested list of ints becomes int64: no range is implied, so none is guessed."""
    ref, dist = pair()
    fn = getattr(iqa, name)
    with pytest.raises(UsageError, match="data_range") as info:
        fn(ref.tolist(), dist.tolist())
    assert isinstance(info.value, ValueError)
    assert fn(ref.tolist(), dist.tolist(), data_range=255) == pytest.approx(
        fn(ref, dist), abs=1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64])
@pytest.mark.parametrize("name", REFUSING)
def test_other_integer_types_need_data_range(name, dtype):
    ref, dist = pair()
    with pytest.raises(UsageError, match=f"data_range.*{np.dtype(dtype).name}"):
        getattr(iqa, name)(ref.astype(dtype), dist.astype(dtype))


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint32])
def test_integer_types_with_data_range_equal_scikit_image(dtype):
    ref, dist = pair()
    a, b = ref.astype(dtype), dist.astype(dtype)
    # skimage: peak_signal_noise_ratio / structural_similarity with data_range given
    assert iqa.psnr(a, b, data_range=255) == pytest.approx(
        peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert iqa.ssim(a, b, data_range=255) == pytest.approx(
        structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=255,
                              gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False), abs=1e-6)


def test_uint8_and_uint16_imply_their_range_as_scikit_image_does():
    ref, dist = pair()
    assert iqa.psnr(ref, dist) == pytest.approx(peak_signal_noise_ratio(ref, dist), abs=1e-10)
    a16, b16 = ref.astype(np.uint16) * 257, dist.astype(np.uint16) * 257
    assert iqa.psnr(a16, b16) == pytest.approx(peak_signal_noise_ratio(a16, b16), abs=1e-10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", REFUSING)
def test_non_finite_pixels_are_refused(name, bad):
    ref, dist = pair()
    a, b = ref / 255.0, dist / 255.0
    b[5, 7] = bad
    with pytest.raises(UsageError, match="not finite") as info:
        getattr(iqa, name)(a, b, data_range=1.0)
    assert isinstance(info.value, ValueError)
    with pytest.raises(UsageError, match="not finite"):
        getattr(iqa, name)(b, a, data_range=1.0)


BAD_RANGES = [
    ("255", TypeError),
    (b"255", TypeError),
    (True, TypeError),
    ([255], TypeError),
    (1e300, ValueError),
    (10**400, ValueError),
    (1e-300, ValueError),
    (0, ValueError),
    (-1.0, ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
]


@pytest.mark.parametrize("value, base", BAD_RANGES, ids=[repr(v)[:12] for v, _ in BAD_RANGES])
@pytest.mark.parametrize("name", REFUSING)
def test_bad_data_range_is_an_iqa_error(name, value, base):
    ref, dist = pair()
    with pytest.raises(IQAError, match="data_range") as info:
        getattr(iqa, name)(ref / 255.0, dist / 255.0, data_range=value)
    assert isinstance(info.value, base)


def test_numpy_scalars_and_ints_are_valid_data_ranges():
    ref, dist = pair()
    expected = iqa.psnr(ref, dist)
    for value in (255, 255.0, np.float32(255), np.int64(255), np.uint8(255)):
        assert iqa.psnr(ref, dist, data_range=value) == pytest.approx(expected, abs=1e-12)


BAD_ARRAYS = [
    ("0-d", np.array(3, np.uint8), ValueError),
    ("1-d", np.zeros(300, np.uint8), ValueError),
    ("4-d", np.zeros((1, 200, 200, 3), np.uint8), ValueError),
    ("5-d", np.zeros((1, 1, 200, 200, 3), np.uint8), ValueError),
    ("HxWx0", np.zeros((200, 200, 0), np.uint8), ValueError),
    ("0xW", np.zeros((0, 200), np.uint8), ValueError),
    ("bool", np.zeros((200, 200), bool), TypeError),
    ("complex", np.zeros((200, 200), np.complex128), TypeError),
    ("object", np.zeros((200, 200), object), TypeError),
    ("str", np.full((200, 200), "a"), TypeError),
    ("ragged", [[1, 2, 3], [4, 5]], ValueError),
    ("None", None, TypeError),
]


@pytest.mark.parametrize("label, array, base", BAD_ARRAYS, ids=[c[0] for c in BAD_ARRAYS])
@pytest.mark.parametrize("name", REFUSING)
def test_bad_arrays_are_iqa_errors(name, label, array, base):
    with pytest.raises(IQAError) as info:
        getattr(iqa, name)(array, array, data_range=255)
    assert isinstance(info.value, base), type(info.value).__mro__
    assert "\n" not in str(info.value)


def test_shape_mismatch_is_also_a_value_error():
    with pytest.raises(ValueError, match="10x12.*12x10"):
        iqa.psnr(np.zeros((12, 10), np.uint8), np.zeros((10, 12), np.uint8))


@pytest.mark.parametrize("name", ["ssim", "ms_ssim"])
def test_too_small_is_also_a_value_error(name):
    tiny = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="at least"):
        getattr(iqa, name)(tiny, tiny)


def write(path: Path, pixels: np.ndarray) -> str:
    PILImage.fromarray(pixels).save(path)
    return str(path)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_image_objects_and_paths_are_accepted(name, tmp_path):
    ref = astronaut()[:200, :200]
    dist = jpeg(ref, 30)
    a, b = write(tmp_path / "ref.png", ref), write(tmp_path / "q30.png", dist)
    fn = getattr(iqa, name)
    expected = fn(ref, dist)
    assert fn(iqa.load_image(a), iqa.load_image(b)) == expected
    assert fn(a, b) == expected
    assert fn(Path(a), Path(b)) == expected
    assert fn(iqa.load_image(a), dist) == expected


def test_sixteen_bit_image_objects_use_their_bit_depth(tmp_path):
    ref = (camera()[:200, :200].astype(np.uint16) * 257)
    dist = noisy(ref, 900.0)
    a, b = write(tmp_path / "a.png", ref), write(tmp_path / "b.png", dist)
    assert iqa.load_image(a).pixels.dtype == np.uint16
    assert iqa.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(ref, dist), abs=1e-10)


def test_missing_path_is_an_input_error(tmp_path):
    from iqa.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        iqa.psnr(str(tmp_path / "nope.png"), str(tmp_path / "nope.png"))


@pytest.mark.parametrize("weights, base", [([], ValueError), ([1.0, math.nan], ValueError),
                                           ([-1.0], ValueError), (["a"], TypeError),
                                           ("abc", TypeError), (5, TypeError)])
def test_bad_ms_ssim_weights_are_iqa_errors(weights, base):
    ref, dist = pair()
    with pytest.raises(IQAError, match="weights") as info:
        iqa.ms_ssim(ref, dist, weights=weights)
    assert isinstance(info.value, base)


@pytest.mark.parametrize("args", [{"net": "resnet"}, {"device": "tpu"}])
def test_bad_lpips_options_are_value_errors(args):
    ref, dist = pair()
    with pytest.raises(UsageError) as info:
        iqa.lpips(ref, dist, **args)
    assert isinstance(info.value, ValueError)


def test_lpips_channel_count_is_a_value_error():
    rgba = np.zeros((64, 64, 4), np.uint8)
    with pytest.raises(IQAError, match="RGB or gray") as info:
        iqa.lpips(rgba, rgba)
    assert isinstance(info.value, ValueError)


def test_misused_arguments_are_the_documented_errors():
    import iqa
    from iqa.errors import InvalidArgument, InvalidType

    for bad in (None, 3):
        with pytest.raises(InvalidType, match="path must be a str or os.PathLike"):
            iqa.load_image(bad)
    image = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(InvalidArgument, match="net must be one of"):
        iqa.lpips(image, image, net=["alex"])
