"""The three resize modes and the decoding policies, against the references' own code.

No network here: these compare the 299×299 network inputs, bit for bit.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from iqa.distribution.data import DecodeSettings, ImageFiles, batches, collate
from iqa.distribution.preprocess import (
    resize_clean,
    resize_mode,
    resize_pytorch_fid,
    resize_tf,
    to_rgb8,
)
from iqa.errors import UsageError
from tests.images import random_image

SHAPES = [(256, 256, 3), (300, 451, 3), (64, 80, 3), (299, 299, 3), (900, 37, 3), (1, 1, 3),
          (2, 600, 3), (298, 300, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_tf_mode_is_torch_fidelity_bit_for_bit(shape):
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    img = random_image(shape, seed=shape[0])
    x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].float()
    # torch-fidelity's FeatureExtractorInceptionV3.forward, up to the network.
    expected = (interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299),
                                                          align_corners=False) - 128) / 128
    assert torch.equal(resize_tf(img), expected[0])


def test_pytorch_fid_mode_is_pytorch_fid_bit_for_bit():
    import torch.nn.functional as F
    import torchvision.transforms as TF

    images = [random_image((300, 451, 3), seed=s) for s in range(3)]
    # pytorch-fid: ToTensor() in the dataset, then bilinear resize and 2x-1 on the batch.
    batch = torch.stack([TF.ToTensor()(Image.fromarray(i)) for i in images])
    expected = 2 * F.interpolate(batch, size=(299, 299), mode="bilinear",
                                 align_corners=False) - 1
    for img, want in zip(images, expected):
        assert torch.equal(resize_pytorch_fid(img), want)


@pytest.mark.parametrize("shape", SHAPES)
def test_clean_mode_is_clean_fid_bit_for_bit(shape):
    from cleanfid.resize import build_resizer

    img = random_image(shape, seed=shape[1])
    # clean-fid: float32 0..255 from its resizer; its Inception wrapper does (x-128)/128.
    expected = (torch.from_numpy(build_resizer("clean")(img).transpose(2, 0, 1).copy())
                - 128) / 128
    assert torch.equal(resize_clean(img), expected)


def test_modes_have_names_and_unknown_modes_are_refused():
    assert resize_mode("tf").reference.startswith("torch-fidelity")
    with pytest.raises(UsageError, match="^resize=.*must be one of tf, pytorch-fid, clean"):
        resize_mode("bicubic")


def _decoded(path, **settings) -> np.ndarray:
    """What the FID pipeline feeds the resizer: the 8-bit RGB of one file."""
    item = ImageFiles([path], DecodeSettings(**settings))[0]
    assert item[2] is None, item[2]
    # Undo the tf mode's (x-128)/128 at 299x299: a 299x299 file is not resized.
    return np.rint(item[1].numpy() * 128 + 128).astype(np.uint8).transpose(1, 2, 0)


def _pil_rgb(path) -> np.ndarray:
    """What pytorch-fid, torch-fidelity and clean-fid decode: Image.open().convert('RGB')."""
    return np.asarray(Image.open(path).convert("RGB"))


def test_16bit_colour_is_reduced_as_pillow_does(tmp_path):
    import cv2

    rgb16 = random_image((299, 299, 3), np.uint16, seed=1)
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), rgb16[:, :, ::-1].copy())
    assert np.array_equal(_decoded(path), _pil_rgb(path))
    assert np.array_equal(to_rgb8(rgb16), (rgb16 >> 8).astype(np.uint8))


def test_16bit_gray_keeps_its_high_byte():
    # Pillow's convert("RGB") clips 16-bit gray at 255; iqa takes the high byte instead.
    gray16 = random_image((8, 9, 1), np.uint16, seed=2)
    out = to_rgb8(gray16)
    assert out.shape == (8, 9, 3)
    assert np.array_equal(out, np.repeat((gray16 >> 8).astype(np.uint8), 3, axis=2))


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "1"])
def test_gray_palette_and_alpha_decode_like_the_references(tmp_path, mode):
    rgb = random_image((299, 299, 3), seed=3)
    if mode == "RGBA":
        alpha = random_image((299, 299, 1), seed=4)
        img = Image.fromarray(np.concatenate([rgb, alpha], axis=2))
    elif mode == "LA":
        img = Image.fromarray(rgb).convert("L").convert("LA")
        img.putalpha(Image.fromarray(random_image((299, 299), seed=5)))
    else:
        img = Image.fromarray(rgb).convert(mode)
    path = tmp_path / f"{mode}.png"
    img.save(path)
    assert np.array_equal(_decoded(path, alpha="drop"), _pil_rgb(path))


def test_alpha_policies_and_bad_files_are_reported_per_item(tmp_path):
    rgba = np.concatenate([random_image((20, 20, 3)), np.full((20, 20, 1), 7, np.uint8)], 2)
    Image.fromarray(rgba).save(tmp_path / "t.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    refused = ImageFiles([tmp_path / "t.png"], DecodeSettings(alpha="error"))[0]
    assert refused[1] is None and "transparent" in refused[2]
    black = ImageFiles([tmp_path / "t.png"], DecodeSettings(alpha="black"))[0][1]
    white = ImageFiles([tmp_path / "t.png"], DecodeSettings(alpha="white"))[0][1]
    assert black.mean() < white.mean()
    items = [ImageFiles([tmp_path / "t.png", tmp_path / "bad.png"], DecodeSettings())[i]
             for i in (0, 1)]
    batch, errors, count = collate(items)
    assert batch.shape == (1, 3, 299, 299) and count == 2
    assert errors[0][0] == 1 and "bad.png" in errors[0][1]


@pytest.mark.parametrize("also_raw", [False, True])
def test_batches_on_threads_equal_a_dataloader_in_order_with_errors_in_place(tmp_path,
                                                                              also_raw):
    paths = []
    for i, shape in enumerate([(40, 50, 3), (33, 33, 3), (70, 20, 3), (64, 64, 3), (9, 90, 3),
                               (50, 40, 3), (21, 22, 3)]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(random_image(shape, seed=i)).save(path)
        paths.append(path)
    paths[3].write_bytes(b"\x89PNG\r\n\x1a\n not really")  # a bad file mid-batch
    dataset = ImageFiles(paths, DecodeSettings(), also_raw=also_raw)
    threads = list(batches(dataset, 3, None))  # threads of this process, batch by batch
    loader = list(batches(dataset, 3, 0))  # a DataLoader in this process
    assert [count for *_, count in threads] == [3, 3, 1]
    for (t_batch, t_errors, t_count), (l_batch, l_errors, l_count) in zip(threads, loader):
        assert (t_errors, t_count) == (l_errors, l_count)
        t_parts = t_batch if also_raw else [t_batch]
        l_parts = l_batch if also_raw else [l_batch]
        for t_part, l_part in zip(t_parts, l_parts):
            if isinstance(t_part, list):  # raw pixels of several sizes stay a list
                assert all(torch.equal(a, b) for a, b in zip(t_part, l_part))
            else:
                assert torch.equal(t_part, l_part)
    assert threads[1][1] == [(3, threads[1][1][0][1])] and "3.png" in threads[1][1][0][1]
