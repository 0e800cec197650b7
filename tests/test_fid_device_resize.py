"""The GPU pipeline's shape, run on the CPU: workers send uint8 pixels, the resize runs
batched where the network runs, and the sums stay as torch tensors.

The numbers must not change: batched resizing equals the per-image resize bit for bit,
and the whole extraction equals the per-image path (same batches, same features).
"""

import numpy as np
import pytest
import torch
from PIL import Image

from iqa.distribution.data import DecodeSettings, ImageFiles, _Sums, collate, extract
from iqa.distribution.preprocess import (
    resize_pytorch_fid,
    resize_pytorch_fid_batch,
    resize_tf,
    resize_tf_batch,
)
from iqa.distribution.stats import FeatureStats
from tests.images import random_image


@pytest.mark.parametrize("single, batched", [(resize_tf, resize_tf_batch),
                                             (resize_pytorch_fid, resize_pytorch_fid_batch)])
@pytest.mark.parametrize("shape", [(256, 256, 3), (300, 451, 3), (17, 900, 3)])
def test_batched_resize_equals_per_image_bit_for_bit(single, batched, shape):
    images = [random_image(shape, seed=s) for s in range(4)]
    stacked = torch.stack([torch.from_numpy(i.transpose(2, 0, 1).copy()) for i in images])
    out = batched(stacked)
    assert out.dtype == torch.float32 and out.shape == (4, 3, 299, 299)
    for img, got in zip(images, out):
        assert torch.equal(got, single(img))


def test_the_resize_makes_its_index_tensors_once_per_size_and_device(monkeypatch):
    """Made per batch, the host-to-device copies of the index tensors would wait for the
    device's queue: they are made once and reused, and the result stays the same."""
    from iqa.distribution import preprocess

    preprocess._tf_axis_on.cache_clear()
    made = []
    original = preprocess._tf_axis
    monkeypatch.setattr(preprocess, "_tf_axis",
                        lambda i, o: made.append((i, o)) or original(i, o))
    images = torch.from_numpy(random_image((4, 3, 37, 52), seed=1))
    with torch.inference_mode():
        first = resize_tf_batch(images)
    second = resize_tf_batch(images)
    assert torch.equal(first, second)
    assert sorted(made) == [(37, 299), (52, 299)]
    # Made inside inference mode, still usable where gradients are recorded.
    x = images.float().requires_grad_(True)
    preprocess.tf_bilinear(x, 299).sum().backward()
    assert x.grad is not None and made == [(37, 299), (52, 299)]


def test_raw_items_are_uint8_pixels(tmp_path):
    img = random_image((40, 30, 3), seed=3)
    Image.fromarray(img).save(tmp_path / "a.png")
    index, tensor, error = ImageFiles([tmp_path / "a.png"], DecodeSettings(), raw=True)[0]
    assert (index, error) == (0, None)
    assert tensor.dtype == torch.uint8 and np.array_equal(tensor.numpy(), img.transpose(2, 0, 1))


def test_collate_keeps_mixed_sizes_as_a_list_in_order():
    a, b = torch.zeros(3, 4, 5, dtype=torch.uint8), torch.ones(3, 6, 5, dtype=torch.uint8)
    batch, errors, count = collate([(0, a, None), (1, None, "bad"), (2, b, None)])
    assert isinstance(batch, list) and [t.shape for t in batch] == [a.shape, b.shape]
    assert errors == [(1, "bad")] and count == 3
    stacked, _, _ = collate([(0, a, None), (1, a + 1, None)])
    assert stacked.shape == (2, 3, 4, 5)


def _network(x):
    """A cheap deterministic stand-in for the Inception: 2048 numbers per image."""
    flat = x.reshape(x.shape[0], -1)
    return torch.cat([flat[:, :1024], flat[:, -1024:]], dim=1) * 1.5


@pytest.mark.parametrize("resize", ["tf", "pytorch-fid", "clean"])
def test_extraction_is_the_same_with_the_resize_on_the_device(tmp_path, resize):
    paths = []
    for i, shape in enumerate([(64, 64, 3), (64, 64, 3), (50, 70, 3), (64, 64, 3),
                               (64, 64, 3), (31, 33, 3), (64, 64, 3)]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(random_image(shape, seed=i)).save(path)
        paths.append(str(path))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    paths.insert(3, str(tmp_path / "bad.png"))
    settings = DecodeSettings(resize=resize)
    runs = [extract(paths, _network, settings, batch_size=3, workers=0, keep_features=True,
                    skip_bad=True, resize_on_device=flag) for flag in (False, True)]
    per_image, on_device = runs
    assert per_image.stats.n == on_device.stats.n == 7
    assert np.array_equal(per_image.features, on_device.features)
    assert np.array_equal(per_image.stats.outer, on_device.stats.outer)
    assert [f for f, _ in on_device.skipped] == [str(tmp_path / "bad.png")]


def test_torch_sums_equal_the_numpy_sums():
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(n, 2048)).astype(np.float32) for n in (5, 1, 9)]
    sums = _Sums(on_torch=True, keep=True)
    for b in batches:
        sums.add(torch.from_numpy(b))
    stats, kept = sums.result()
    want = FeatureStats.from_features(np.concatenate(batches))
    assert stats.n == want.n == 15
    np.testing.assert_allclose(stats.total, want.total, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.outer, want.outer, rtol=1e-12, atol=1e-10)
    assert np.array_equal(kept, np.concatenate(batches))


@pytest.mark.parametrize("suffix, mode", [(".tif", "RGB"), (".tif", "L"), (".jpg", "RGB"),
                                          (".png", "RGB")])
def test_fid_pixels_are_what_pillow_open_gives_with_an_orientation(tmp_path, suffix, mode):
    """pytorch-fid, clean-fid and torch-fidelity decode with ``Image.open(f).convert("RGB")``:
    Pillow turns a TIFF by its Orientation tag while loading and leaves a JPEG's or PNG's
    EXIF alone. iqa fid's default decode gives the same pixels."""
    from PIL import TiffImagePlugin

    img = random_image((20, 30, 3), seed=5)
    img[:4, :6] = 255  # a corner that shows the turn
    path = tmp_path / f"o6{suffix}"
    picture = Image.fromarray(img).convert(mode)
    if suffix == ".tif":
        tags = TiffImagePlugin.ImageFileDirectory_v2()
        tags[0x0112] = 6
        picture.save(path, tiffinfo=tags)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6
        picture.save(path, exif=exif, **({"quality": 95} if suffix == ".jpg" else {}))
    # Opened from a file object: given a name, Pillow memory-maps an uncompressed gray
    # TIFF and its turn scrambles the rows (a Pillow bug iqa does not reproduce).
    with open(path, "rb") as stream, Image.open(stream) as opened:
        expected = np.asarray(opened.convert("RGB"))
    assert expected.shape[:2] == ((30, 20) if suffix == ".tif" else (20, 30))
    _, tensor, error = ImageFiles([path], DecodeSettings(), raw=True)[0]
    assert error is None
    assert np.array_equal(tensor.numpy().transpose(1, 2, 0), expected)
