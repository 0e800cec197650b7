"""Hostile and unusual image files: each is refused with one message, never scored wrongly."""

import io
import os
import stat
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iqa.errors import InputError
from iqa.io.images import DEFAULT_MAX_IMAGE_MB, load_image
from tests.cli_helpers import ROOT, run_iqa

REFERENCE = ROOT / "sample_images" / "reference.png"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
    )


def png(width, height, rows: bytes, *, depth=8, colour=2, extra=b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def corrupt_png(tmp_path, *, fix_crc=True) -> Path:
    """The sample photo with 16 bytes flipped in the middle of its first IDAT chunk.

    With ``fix_crc`` the chunk's checksum is recomputed, so only the decoder can notice.
    """
    data = bytearray(REFERENCE.read_bytes())
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4:at])[0]
    middle = at + 4 + length // 2
    for k in range(middle, middle + 16):
        data[k] ^= 0xFF
    if fix_crc:
        crc = zlib.crc32(bytes(data[at:at + 4 + length])) & 0xFFFFFFFF
        data[at + 4 + length:at + 8 + length] = struct.pack(">I", crc)
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    return path


def corrupt_jpeg(tmp_path) -> tuple[Path, bytes]:
    """The sample photo as JPEG with 8 bytes of its entropy-coded scan data altered."""
    buf = io.BytesIO()
    Image.open(REFERENCE).convert("RGB").save(buf, "JPEG", quality=90)
    good = buf.getvalue()
    data = bytearray(good)
    sos = data.find(b"\xff\xda")
    middle = sos + (len(data) - sos) // 2
    for k in range(middle, middle + 8):
        if data[k] != 0xFF and data[k] ^ 0x55 != 0xFF:
            data[k] ^= 0x55
    path = tmp_path / "bad.jpg"
    path.write_bytes(bytes(data))
    return path, good


# --- item 1: decode errors are never swallowed ------------------------------------------


@pytest.mark.parametrize("exif", [True, False])
def test_png_with_corrupt_pixel_data_is_refused(tmp_path, exif):
    bad = corrupt_png(tmp_path)
    with pytest.raises(InputError, match=r"bad.png: corrupt image"):
        load_image(bad, exif=exif)


def test_png_pixel_damage_that_zlib_accepts_is_refused(tmp_path):
    data = bytearray(REFERENCE.read_bytes())
    last = data.rfind(b"IEND") - 4 - 4 - 4 - 20  # 20 bytes before the zlib checksum
    for k in range(last, last + 4):
        data[k] ^= 0x01  # the decoder accepts this and returns wrong pixels
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    assert not np.array_equal(np.asarray(Image.open(bad)), np.asarray(Image.open(REFERENCE)))
    with pytest.raises(InputError, match=r"bad.png: corrupt image \(checksum mismatch in "
                                         r"its IDAT chunk"):
        load_image(bad)


def test_fid_loader_refuses_corrupt_png(tmp_path):
    from iqa.distribution.data import DecodeSettings, ImageFiles

    bad = corrupt_png(tmp_path)
    _, tensor, error = ImageFiles([str(bad)], DecodeSettings())[0]
    assert tensor is None and "corrupt image" in error


def test_cli_compare_refuses_corrupt_png(tmp_path):
    bad = corrupt_png(tmp_path)
    result = run_iqa("compare", REFERENCE, bad, "-m", "psnr")
    assert result.returncode == 2, result.stderr
    assert "bad.png: corrupt image" in result.stderr
    assert "Traceback" not in result.stderr


def test_jpeg_with_corrupt_scan_data_is_refused_unless_accepted(tmp_path):
    bad, _ = corrupt_jpeg(tmp_path)
    with pytest.raises(InputError, match=r"bad.jpg: corrupt JPEG data.*accept_jpeg_warnings"):
        load_image(bad)
    accepted = load_image(bad, accept_jpeg_warnings=True)
    np.testing.assert_array_equal(accepted.pixels, np.asarray(Image.open(bad)))


def test_jpeg_check_leaves_stderr_alone_for_good_files(tmp_path, capfd):
    _, good = corrupt_jpeg(tmp_path)
    path = tmp_path / "good.jpg"
    path.write_bytes(good)
    np.testing.assert_array_equal(load_image(path).pixels, np.asarray(Image.open(path)))
    bad, _ = corrupt_jpeg(tmp_path)
    with pytest.raises(InputError):
        load_image(bad)
    assert capfd.readouterr().err == ""  # libjpeg's warning went into the error, not stderr


# --- item 9: tRNS transparency and multi-page files -----------------------------------


def test_png_trns_colour_key_is_alpha(tmp_path):
    arr = np.zeros((4, 6, 3), np.uint8)
    arr[...] = (200, 100, 50)
    arr[0, 0] = (7, 7, 7)  # the transparent colour
    path = tmp_path / "key.png"
    Image.fromarray(arr).save(path, transparency=(7, 7, 7))
    with pytest.raises(InputError, match="key.png: has transparent pixels"):
        load_image(path)
    assert load_image(path, alpha="black").pixels[0, 0].tolist() == [0, 0, 0]
    assert load_image(path, alpha="white").pixels[0, 1].tolist() == [200, 100, 50]
    assert load_image(path, alpha="keep").pixels[:, :, 3].tolist()[0][:2] == [0, 255]
    assert load_image(path, alpha="drop").pixels.shape == (4, 6, 3)


def test_png_trns_matching_no_pixel_is_opaque(tmp_path):
    path = tmp_path / "opaque.png"
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(path, transparency=(7, 7, 7))
    assert load_image(path).pixels.shape == (4, 4, 3)


def test_png_trns_gray_8_and_16_bit(tmp_path):
    gray = np.full((4, 4), 30, np.uint8)
    gray[1, 1] = 7
    Image.fromarray(gray).save(tmp_path / "g.png", transparency=7)
    with pytest.raises(InputError, match="transparent"):
        load_image(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png", alpha="white").pixels[1, 1, 0] == 255
    rows = b"".join(b"\0" + struct.pack(">4H", 500, 600, 600, 600) for _ in range(4))
    (tmp_path / "g16.png").write_bytes(
        png(4, 4, rows, depth=16, colour=0, extra=chunk(b"tRNS", struct.pack(">H", 500))))
    with pytest.raises(InputError, match="transparent"):
        load_image(tmp_path / "g16.png")
    img = load_image(tmp_path / "g16.png", alpha="black")
    assert img.pixels.dtype == np.uint16 and img.pixels[:, :, 0].tolist()[0] == [0, 600, 600, 600]


def test_png_trns_16_bit_colour(tmp_path):
    rows = b"".join(b"\0" + struct.pack(">6H", 1000, 2000, 3000, 4000, 5000, 6000)
                    for _ in range(3))
    trns = chunk(b"tRNS", struct.pack(">3H", 1000, 2000, 3000))
    (tmp_path / "c16.png").write_bytes(png(2, 3, rows, depth=16, colour=2, extra=trns))
    with pytest.raises(InputError, match="transparent"):
        load_image(tmp_path / "c16.png")
    img = load_image(tmp_path / "c16.png", alpha="black")
    assert img.pixels.dtype == np.uint16
    assert img.pixels[0].tolist() == [[0, 0, 0], [4000, 5000, 6000]]


@pytest.mark.parametrize("suffix, kind", [(".tif", "pages"), (".png", "frames"),
                                          (".webp", "frames")])
def test_multi_page_files_are_refused(tmp_path, suffix, kind):
    frames = [Image.fromarray(np.full((4, 4, 3), 50 * i, np.uint8)) for i in range(3)]
    path = tmp_path / f"multi{suffix}"
    kw = {"lossless": True} if suffix == ".webp" else {}
    frames[0].save(path, save_all=True, append_images=frames[1:], **kw)
    with pytest.raises(InputError, match=f"multi{suffix}: .*3 {kind}"):
        load_image(path)


def test_float_tiff_names_the_sample_format(tmp_path):
    import tifffile

    rgb = np.random.default_rng(0).random((4, 4, 3), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "g.tif", np.zeros((4, 4), np.float32))
    for name in ("f.tif", "g.tif"):
        with pytest.raises(InputError) as info:
            load_image(tmp_path / name)
        text = str(info.value)
        assert f"{name}: " in text and "32-bit floating-point" in text, text
        assert "8- or 16-bit integer" in text and "not a supported image" not in text


# --- item 17: a memory budget checked from the header ----------------------------------


def test_decoded_size_budget_is_checked_from_the_header(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png(20000, 20000, b"\0" * 64))  # 1,144 MiB as 8-bit RGB
    with pytest.raises(InputError) as info:
        load_image(path)
    text = str(info.value)
    assert "20000x20000" in text and f"{DEFAULT_MAX_IMAGE_MB:,} MiB" in text
    assert "max_image_mb" in text and "corrupt" not in text
    # 16-bit samples count twice: 10000x10000 RGB 16-bit is 572 MiB
    path.write_bytes(png(10000, 10000, b"\0" * 64, depth=16))
    with pytest.raises(InputError, match=r"572 MiB.*budget of 500 MiB"):
        load_image(path, max_image_mb=500)
    # within the budget, the same header reaches the decoder (which finds it truncated)
    with pytest.raises(InputError, match="corrupt image"):
        load_image(path, max_image_mb=600)


def test_default_budget_keeps_a_16k_photo(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png(16384, 16384, b"\0" * 64))
    with pytest.raises(InputError, match="corrupt image"):  # checked, then decoded
        load_image(path)


# --- item 18: only regular files are read ---------------------------------------------


def test_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/null")
    with pytest.raises(InputError, match=r"zero.png: not a regular file \(character device\)"):
        load_image(link)


def test_fifo_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    tiny = io.BytesIO()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tiny, "PNG")

    def writer():  # blocks until a reader opens the pipe
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, tiny.getvalue())
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(InputError, match=r"pipe.png: not a regular file \(named pipe\)"):
            load_image(fifo)
    finally:  # let the writer finish in any case
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(timeout=10)
        os.close(fd)


def test_unreadable_file_is_one_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(path)
    real_open = os.open

    def deny(p, flags, *args, **kw):
        if str(p) == str(path):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(p, flags, *args, **kw)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(InputError, match=r"secret.png: cannot be read \(Permission denied\)"):
        load_image(path)
    assert stat.S_ISREG(path.stat().st_mode)


def test_jpeg_check_gives_back_other_output_on_stderr(capfd, monkeypatch):
    import cv2

    from iqa.io.jpeg_check import libjpeg_warning

    def decode(buffer, flags):  # another thread's line lands in the capture window
        os.write(2, b"progress photos/IMG_1.JPEG 50%\n")
        os.write(2, b"Corrupt JPEG data: bad Huffman code\n")

    monkeypatch.setattr(cv2, "imdecode", decode)
    assert libjpeg_warning(b"\xff\xd8") == "Corrupt JPEG data: bad Huffman code"
    assert capfd.readouterr().err == "progress photos/IMG_1.JPEG 50%\n"
