import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from iqa.errors import InputError
from iqa.io.images import load_image
from tests.images import astronaut, camera, random_image


def save(path, array, fmt=None, **kw):
    Image.fromarray(array).save(path, fmt, **kw)
    return path


def test_png_8bit_rgb_and_gray(tmp_path):
    rgb = astronaut()
    img = load_image(save(tmp_path / "a.png", rgb))
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == (512, 512, 3)
    np.testing.assert_array_equal(img.pixels, rgb)
    gray = load_image(save(tmp_path / "g.png", camera()))
    assert gray.pixels.shape == (512, 512, 1)
    np.testing.assert_array_equal(gray.pixels[..., 0], camera())


def test_jpeg_decodes_like_pillow(tmp_path):
    path = save(tmp_path / "a.jpg", astronaut(), quality=35)
    np.testing.assert_array_equal(load_image(path).pixels, np.asarray(Image.open(path)))


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".tif"])
def test_other_formats(tmp_path, suffix):
    rgb = astronaut()[:64, :80].copy()
    kw = {"lossless": True} if suffix == ".webp" else {}
    img = load_image(save(tmp_path / f"a{suffix}", rgb, **kw))
    np.testing.assert_array_equal(img.pixels, rgb)


def test_sixteen_bit_gray_png(tmp_path):
    arr = random_image((20, 30), np.uint16, 3)
    path = tmp_path / "g16.png"
    cv2.imwrite(str(path), arr)
    img = load_image(path)
    assert img.pixels.dtype == np.uint16 and img.data_range == 65535
    np.testing.assert_array_equal(img.pixels[..., 0], arr)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_rgb_keeps_all_bits(tmp_path, suffix):
    rgb = random_image((20, 30, 3), np.uint16, 4)
    path = tmp_path / f"c16{suffix}"
    cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV writes BGR
    img = load_image(path)
    assert img.pixels.dtype == np.uint16
    np.testing.assert_array_equal(img.pixels, rgb)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_a_viewer(tmp_path, orientation):
    arr = astronaut()[:40, :64].copy()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    Image.fromarray(arr).save(path, exif=exif)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(load_image(path).pixels, shown)
    np.testing.assert_array_equal(load_image(path, exif=False).pixels, arr)


def rgba(alpha_value):
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2] = 200, 100, 50
    arr[..., 3] = alpha_value
    return arr


def test_opaque_alpha_is_dropped(tmp_path):
    img = load_image(save(tmp_path / "o.png", rgba(255)))
    assert img.pixels.shape == (8, 8, 3)


def test_transparent_alpha_policies(tmp_path):
    path = save(tmp_path / "t.png", rgba(51))  # alpha 0.2
    with pytest.raises(InputError, match="t.png: has transparent pixels.*--alpha"):
        load_image(path)
    assert load_image(path, alpha="drop").pixels[0, 0].tolist() == [200, 100, 50]
    assert load_image(path, alpha="black").pixels[0, 0].tolist() == [40, 20, 10]
    # white: 0.2 * c + 0.8 * 255
    assert load_image(path, alpha="white").pixels[0, 0].tolist() == [244, 224, 214]
    assert load_image(path, alpha="keep").pixels.shape == (8, 8, 4)


def test_palette_and_one_bit(tmp_path):
    pal = Image.fromarray(astronaut()[:16, :16].copy()).convert("P")
    pal.save(tmp_path / "p.png")
    np.testing.assert_array_equal(
        load_image(tmp_path / "p.png").pixels, np.asarray(pal.convert("RGB"))
    )
    Image.fromarray(camera()[:8, :8] > 128).save(tmp_path / "b.png")
    assert set(np.unique(load_image(tmp_path / "b.png").pixels)) <= {0, 255}


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_truncated_files_are_refused(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    save(full, astronaut(), quality=90) if suffix != ".png" else save(full, astronaut())
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match=f"cut{suffix}"):
        load_image(cut)


def test_not_an_image_missing_and_empty(tmp_path):
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(InputError, match="x.png: not a supported image"):
        load_image(tmp_path / "x.png")
    with pytest.raises(InputError, match="nope.png: no such file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(InputError, match="e.png: file is empty"):
        load_image(tmp_path / "e.png")
    buf = io.BytesIO()
    Image.fromarray(camera()[:8, :8]).save(buf, "GIF")
    (tmp_path / "g.png").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="GIF images are not supported"):
        load_image(tmp_path / "g.png")


def png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(60000, 60000))
    with pytest.raises(InputError, match=r"bomb.png: 60000x60000 .* over the budget"):
        load_image(path)
    path.write_bytes(png_header_only(3000, 3000))
    with pytest.raises(InputError, match=r"3000x3000 .* 26 MiB decoded, over the budget of 10 MiB"):
        load_image(path, max_image_mb=10)
