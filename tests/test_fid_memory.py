"""FID/KID from in-memory inputs: numpy arrays, torch tensors, iterables of batches.

The same numbers as from the same images written as PNG files (lossless), to 1e-6.
"""

import numpy as np
import pytest

import iqa
from iqa.errors import InputError
from tests.fid_helpers import natural_crops, reconstruct, write_set


@pytest.fixture(scope="module")
def images():
    real = np.stack(natural_crops(4, seed=21, square=40))
    fake = np.stack([reconstruct(x) for x in real])
    return real, fake


@pytest.fixture(scope="module")
def from_files(images, tmp_path_factory, fid_weights):
    root = tmp_path_factory.mktemp("mem")
    real, fake = images
    write_set(root / "real", list(real))
    write_set(root / "fake", list(fake))
    return iqa.fid(root / "real", root / "fake", weights=fid_weights, cache=False)


def test_numpy_and_torch_inputs_equal_png_files(images, from_files, fid_weights):
    import torch

    real, fake = images
    as_numpy = iqa.fid(real, fake, weights=fid_weights)
    assert as_numpy == pytest.approx(from_files, rel=1e-6, abs=1e-6)
    real_t = torch.from_numpy(real).permute(0, 3, 1, 2).contiguous()  # uint8 N×3×H×W
    fake_t = torch.from_numpy(fake).permute(0, 3, 1, 2).float() / 255  # float in [0, 1]
    as_torch = iqa.fid(real_t, fake_t, weights=fid_weights)
    assert as_torch == pytest.approx(from_files, rel=1e-6, abs=1e-6)


def test_an_iterable_of_batches_equals_png_files(images, from_files, fid_weights):
    real, fake = images

    def batches(x):
        yield x[:3]
        yield x[3:]

    value = iqa.fid(batches(real), iter([fake[:1], fake[1:]]), weights=fid_weights)
    assert value == pytest.approx(from_files, rel=1e-6, abs=1e-6)


def test_kid_from_arrays(images, fid_weights):
    real, fake = images
    value = iqa.kid(real, fake, weights=fid_weights, subsets=3)
    assert np.isfinite(value.mean)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (np.zeros((4, 8, 8), np.uint8), "N×H×W×3"),
        (np.full((4, 8, 8, 3), 2.0, np.float32), "[0, 1]"),
        (np.zeros((1, 8, 8, 3), np.uint8), "at least 2"),
        (np.zeros((4, 8, 8, 3), np.int32), "uint8"),
    ],
)
def test_bad_arrays_are_input_errors(images, fid_weights, bad, needle):
    real, _ = images
    with pytest.raises(InputError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        iqa.fid(real, bad, weights=fid_weights)
