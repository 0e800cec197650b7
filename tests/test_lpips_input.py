"""LPIPS network input: 8-bit images go through a byte table that must equal the float
expression float32(v) / float32(range / 2) − 1 for every code, on every path."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from iqa.metrics.lpips import to_tensor  # noqa: E402


def _expected(images, data_range):
    batch = np.stack([a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2)
                      for a in images]).astype(np.float32)
    batch /= np.float32(data_range / 2.0)
    batch -= np.float32(1.0)
    return batch.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("data_range", [255.0, 100.0, 1.0])
def test_every_byte_code_maps_as_the_float_expression(data_range):
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    images = [np.stack([codes, codes.T, codes[::-1]], axis=2), codes]  # RGB and gray
    got = to_tensor(images, data_range, "cpu")
    assert got.dtype == torch.float32 and tuple(got.shape) == (2, 3, 16, 16)
    assert np.array_equal(got.numpy(), _expected(images, data_range))


def test_wider_types_keep_the_float_path():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 65536, (9, 7, 3), dtype=np.uint16) for _ in range(2)]
    got = to_tensor(images, 65535.0)
    assert np.array_equal(got.numpy(), _expected(images, 65535.0))
    floats = [rng.random((5, 6, 3)).astype(np.float32)]
    assert np.array_equal(to_tensor(floats, 1.0).numpy(), _expected(floats, 1.0))
