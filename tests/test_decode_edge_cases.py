"""Decoding and pair-loading edge cases, each against a reference computed here:
scikit-image on the arrays written, Pillow's own decode, ``csv.reader``, or a hand
computation written next to the test.

Deep images keep their bit depth through ``--crop-border`` and ``--luma``; CSV cells with
line breaks survive a round trip; short PNG pixel data, 32-bit TIFFs and truncated TIFF
directories are refused with one line; ``--ignore-exif`` keeps a TIFF's stored grid; a
16-bit gray + alpha PNG is gray.
"""

from __future__ import annotations

import csv
import io
import math
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import TiffImagePlugin
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from iqa.compare import compare_files
from iqa.errors import InputError, InvalidArgument
from iqa.io.images import Image, load_image
from iqa.output.csv_writer import CSVWriter
from iqa.pair_loading import crop_border, luma_image
from tests.cli_helpers import run_iqa

RNG = np.random.default_rng(77)


def skimage_ssim(ref: np.ndarray, dist: np.ndarray, data_range: float) -> float:
    """Wang et al. 2004 SSIM as scikit-image computes it with the paper's settings."""
    return structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=data_range,
                                 channel_axis=-1)


def cv2_write(path, rgb: np.ndarray, params: tuple[int, ...] = ()) -> None:
    bgr = rgb[:, :, ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr), list(params))


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(samples: np.ndarray, colour: int, *, raw: bytes | None = None,
        interlace: int = 0) -> bytes:
    """A PNG (16-bit when ``samples`` is uint16) of H×W×C ``samples``, unfiltered; ``raw``
    replaces the filtered scanlines (a stream shorter than the header declares)."""
    h, w = samples.shape[:2]
    depth = 16 if samples.dtype == np.uint16 else 8
    if raw is None:
        big = samples.astype(">u2" if depth == 16 else np.uint8)
        raw = b"".join(b"\x00" + row.tobytes() for row in big.reshape(h, -1))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


# --- 1. --crop-border keeps the bit depth ------------------------------------------------

def test_crop_border_of_a_10bit_pair_scores_with_max_1023(tmp_path):
    ref = RNG.integers(0, 1024, (40, 48, 3)).astype(np.uint16)
    dist = np.clip(ref.astype(int) + RNG.integers(-20, 21, ref.shape), 0, 1023).astype(np.uint16)
    for name, pixels in (("ref.avif", ref), ("dist.avif", dist)):  # lossless 10-bit AVIF
        cv2_write(tmp_path / name, pixels, (cv2.IMWRITE_AVIF_DEPTH, 10,
                                            cv2.IMWRITE_AVIF_QUALITY, 100))
    assert (load_image(tmp_path / "dist.avif").pixels == dist).all()
    doc = compare_files(str(tmp_path / "ref.avif"), str(tmp_path / "dist.avif"),
                        metrics="psnr,ssim", crop_border=3)
    pair = doc["pairs"][0]
    a, b = ref[3:-3, 3:-3], dist[3:-3, 3:-3]
    assert pair["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1023),
                                         abs=1e-9)
    assert pair["ssim"] == pytest.approx(skimage_ssim(a, b, 1023), abs=1e-9)


def test_every_derived_image_keeps_its_bits():
    image = Image(pixels=RNG.integers(0, 4096, (9, 9, 3)).astype(np.uint16), path="x", bits=12)
    cropped = crop_border(image, 2, "x")
    assert cropped.bits == 12 and cropped.data_range == 4095 and cropped.pixels.shape == (5, 5, 3)
    y = crop_border(luma_image(image), 1, "x")
    assert type(y).__name__ == "LumaImage" and y.bits == 12 and y.data_range == 4095


# --- 2. --luma on deep images ------------------------------------------------------------

def hand_y(rgb: np.ndarray, peak: float) -> np.ndarray:
    """BasicSR's Y on [0, 1]-normalised pixels (16 + 65.481 r + 128.553 g + 24.966 b)/255,
    times the image's MAX: README, "Definitions", PSNR with --luma."""
    r, g, b = (rgb[..., i].astype(np.float64) / peak for i in range(3))
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0 * peak


def hand_psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    return 10 * math.log10(peak**2 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.mark.parametrize("channels", [3, 1])
def test_luma_of_16bit_images_uses_max_65535(tmp_path, channels):
    ref = RNG.integers(0, 65536, (32, 36, 3)).astype(np.uint16)[:, :, :channels]
    dist = (ref // 2).astype(np.uint16)
    cv2_write(tmp_path / "ref.png", ref[:, :, 0] if channels == 1 else ref)
    cv2_write(tmp_path / "dist.png", dist[:, :, 0] if channels == 1 else dist)
    doc = compare_files(str(tmp_path / "ref.png"), str(tmp_path / "dist.png"),
                        metrics="psnr,ssim", luma=True)
    pair = doc["pairs"][0]
    assert pair["error"] is None
    if channels == 3:
        y_ref, y_dist = hand_y(ref, 65535.0), hand_y(dist, 65535.0)
    else:  # gray is used as it is
        y_ref, y_dist = ref[:, :, 0].astype(np.float64), dist[:, :, 0].astype(np.float64)
    assert pair["psnr"] == pytest.approx(hand_psnr(y_ref, y_dist, 65535.0), abs=1e-9)
    assert pair["ssim"] == pytest.approx(
        skimage_ssim(y_ref[..., None], y_dist[..., None], 65535.0), abs=1e-9)


def test_luma_of_a_10bit_image_has_its_range():
    image = Image(pixels=RNG.integers(0, 1024, (6, 7, 3)).astype(np.uint16), path="t", bits=10)
    y = luma_image(image)
    assert y.bits == 10 and y.data_range == 1023
    np.testing.assert_allclose(y.pixels[..., 0], hand_y(image.pixels, 1023.0), rtol=1e-12)


# --- 3. CSV cells with line breaks, commas and quotes ------------------------------------

NAMES = ["cr\rx.png", "lf\nx.png", "crlf\r\nx.png", "comma,x.png", 'quote"x.png', "plain.png"]


def test_csv_reads_back_every_cell_written():
    stream = io.StringIO()
    writer = CSVWriter(stream)
    writer.begin(["pair", "psnr", "error"], {})
    for name in NAMES:
        writer.row({"pair": name, "psnr": 31.5, "error": f"{name}: bad, \"really\"\r\n"})
    writer.end({})
    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert rows == [["pair", "psnr", "error"]] + [
        [name, "31.5", f"{name}: bad, \"really\"\r\n"] for name in NAMES]
    # ordinary cells are written as csv.writer writes them (unquoted), one "\n" per row
    assert stream.getvalue().endswith('plain.png,31.5,"plain.png: bad, ""really""\r\n"\n')


def test_compare_csv_with_a_carriage_return_in_a_file_name(tmp_path):
    pixels = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for folder, image in (("ref", pixels), ("dist", 255 - pixels)):
        (tmp_path / folder).mkdir()
        for name in NAMES[:3]:
            PILImage.fromarray(image).save(tmp_path / folder / name)
    out = tmp_path / "out.csv"  # a file: text-mode stdout would turn "\r" into "\n"
    done = run_iqa("compare", tmp_path / "ref", tmp_path / "dist", "-m", "psnr",
                   "--format", "csv", "-o", out)
    assert done.returncode == 0, done.stderr
    with open(out, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert len(rows) == 4 and sorted(r[0] for r in rows[1:]) == sorted(NAMES[:3])
    expected = peak_signal_noise_ratio(pixels, 255 - pixels)
    assert all(float(r[rows[0].index("psnr")]) == pytest.approx(expected) for r in rows[1:])


# --- 4. PNG pixel data shorter than the header declares ----------------------------------

def test_png_with_fewer_rows_than_declared_is_refused(tmp_path):
    rgb = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    short = b"".join(b"\x00" + row.tobytes() for row in rgb[:40])  # complete zlib, 40 rows
    path = tmp_path / "short.png"
    path.write_bytes(png(rgb, 2, raw=short))
    assert cv2.imread(str(path)) is None  # libpng: "Not enough image data"
    with pytest.raises(InputError, match=r"short\.png: corrupt image \(truncated") as info:
        load_image(path)
    assert "\n" not in str(info.value)


def adam7(samples: np.ndarray) -> bytes:
    """Filtered scanlines of an interlaced PNG, pass by pass (PNG spec, section 8.2)."""
    out = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                           (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = samples[y0::dy, x0::dx]
        if sub.size:
            out += b"".join(b"\x00" + row.tobytes() for row in sub.reshape(sub.shape[0], -1))
    return out


def test_interlaced_png_is_read_whole_and_refused_short(tmp_path):
    rgb = RNG.integers(0, 256, (13, 11, 3), dtype=np.uint8)
    raw = adam7(rgb)
    (tmp_path / "i.png").write_bytes(png(rgb, 2, raw=raw, interlace=1))
    np.testing.assert_array_equal(load_image(tmp_path / "i.png").pixels, rgb)
    (tmp_path / "s.png").write_bytes(png(rgb, 2, raw=raw[:-1], interlace=1))
    with pytest.raises(InputError, match="truncated"):
        load_image(tmp_path / "s.png")


@pytest.mark.parametrize("interlace", [0, 1])
@pytest.mark.parametrize("height", [1, 2, 7, 8])
def test_short_or_complete_pngs_whatever_their_last_row(tmp_path, interlace, height):
    """The short-data check inflates the stream again only when the last row the decoder
    fills is all zeros: a complete image with a black bottom edge is still read, and a
    short 16-bit one, or a palette image whose index 0 is not black, is still refused."""
    rgb = RNG.integers(1, 256, (height, 9, 3), dtype=np.uint8)
    rgb[-1] = 0  # black bottom row (and, interlaced, the last odd row when it is that)
    if height > 1:
        rgb[height - 1 if height % 2 == 0 else height - 2] = 0
    raw = adam7(rgb) if interlace else None
    (tmp_path / "black.png").write_bytes(png(rgb, 2, raw=raw, interlace=interlace))
    np.testing.assert_array_equal(load_image(tmp_path / "black.png").pixels, rgb)
    deep = RNG.integers(1, 65536, (height, 9, 3)).astype(np.uint16)
    full = adam7(deep.astype(">u2")) if interlace else b"".join(
        b"\x00" + r.astype(">u2").tobytes() for r in deep)
    (tmp_path / "deep.png").write_bytes(png(deep, 2, raw=full[:-1], interlace=interlace))
    with pytest.raises(InputError, match="truncated"):
        load_image(tmp_path / "deep.png")
    index = RNG.integers(0, 4, (height, 9, 1), dtype=np.uint8)
    rows = adam7(index) if interlace else b"".join(b"\x00" + r.tobytes() for r in index)
    palette = chunk(b"PLTE", bytes([200, 10, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    data = png(index, 3, raw=rows[:-1], interlace=interlace)
    data = data[:33] + palette + data[33:]  # PLTE after IHDR
    (tmp_path / "pal.png").write_bytes(data)
    with pytest.raises(InputError, match="truncated"):
        load_image(tmp_path / "pal.png")


@pytest.mark.parametrize("mode, options", [("1", {}), ("P", {"bits": 2}), ("P", {}),
                                           ("L", {}), ("LA", {}), ("RGB", {}),
                                           ("RGBA", {}), ("I;16", {})])
def test_complete_pngs_of_every_packing_are_accepted(tmp_path, mode, options):
    top = 65536 if mode == "I;16" else 256
    values = RNG.integers(0, top, (9, 13, len(mode) if mode in ("LA", "RGB", "RGBA") else 1))
    if mode in ("1", "P"):
        values = values % (2 if mode == "1" else 4)
    dtype = np.uint16 if mode == "I;16" else np.uint8
    source = PILImage.fromarray(values.astype(dtype).squeeze(-1) if values.shape[2] == 1
                                else values.astype(dtype), None if mode != "1" else "L")
    source = source.convert(mode) if mode in ("1", "P") else source
    if mode in ("LA", "RGBA"):
        source.putalpha(255)
    source.save(tmp_path / "c.png", **options)
    expected = PILImage.open(tmp_path / "c.png")
    expected = expected.convert("L" if mode == "1" else "RGB" if mode == "P" else mode)
    want = np.asarray(expected)
    got = load_image(tmp_path / "c.png").pixels
    if mode in ("LA", "RGBA"):
        want = want[:, :, :-1]  # the opaque alpha is dropped
    np.testing.assert_array_equal(got, want.reshape(got.shape))


# --- 5. 32-bit integer TIFFs -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_32bit_integer_tiff_is_refused_whatever_its_values(tmp_path, dtype):
    import tifffile

    tifffile.imwrite(tmp_path / "i.tif", RNG.integers(0, 256, (8, 9)).astype(dtype))
    with pytest.raises(InputError, match=r"i\.tif: TIFF with 32-bit .*integer samples is not "
                                         r"supported; 8- or 16-bit integer"):
        load_image(tmp_path / "i.tif")


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_16bit_gray_tiff_is_still_read(tmp_path, byteorder):
    import tifffile

    gray = RNG.integers(0, 65536, (8, 9)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", gray, byteorder=byteorder)
    assert PILImage.open(tmp_path / "g.tif").mode.startswith("I;16")
    image = load_image(tmp_path / "g.tif")
    assert image.bits == 16
    np.testing.assert_array_equal(image.pixels[..., 0], gray)


# --- 6. --max-image-mb inf ---------------------------------------------------------------

@pytest.mark.parametrize("value", [math.inf, 1e308, math.nan])
def test_max_image_mb_must_be_finite(tmp_path, value):
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "z.png")
    with pytest.raises(InvalidArgument, match="max_image_mb=.*finite positive number"):
        load_image(tmp_path / "z.png", max_image_mb=value)
    assert load_image(tmp_path / "z.png", max_image_mb=1e9).pixels.shape == (4, 4, 1)


def test_max_image_mb_inf_on_the_command_line_is_one_line_exit_2(tmp_path):
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "z.png")
    done = run_iqa("compare", tmp_path / "z.png", tmp_path / "z.png", "--max-image-mb", "inf",
                   "-m", "psnr")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "finite" in done.stderr


# --- 7. TIFF orientation and --ignore-exif ----------------------------------------------

def tiff_or6(tmp_path, pixels: np.ndarray, compression: str | None = None):
    """``pixels`` saved as a TIFF whose Orientation tag is 6 (display: turn 90° clockwise)."""
    path = tmp_path / f"o6-{pixels.dtype}-{pixels.shape[-1]}-{compression}.tif"
    if pixels.dtype == np.uint8:
        info = TiffImagePlugin.ImageFileDirectory_v2()
        info[0x0112] = 6
        PILImage.fromarray(pixels.squeeze(-1) if pixels.shape[2] == 1 else pixels).save(
            path, tiffinfo=info, compression=compression)
    else:
        import tifffile

        tifffile.imwrite(path, pixels.squeeze(-1) if pixels.shape[2] == 1 else pixels,
                         photometric="rgb" if pixels.shape[2] == 3 else "minisblack",
                         extratags=[(0x0112, 3, 1, 6, True)])
    return path


@pytest.mark.parametrize("dtype, channels, compression", [
    (np.uint8, 3, None), (np.uint8, 3, "tiff_lzw"), (np.uint8, 1, None),
    (np.uint16, 3, None), (np.uint16, 1, None)])
def test_ignore_exif_keeps_a_tiffs_stored_grid(tmp_path, dtype, channels, compression):
    stored = RNG.integers(0, np.iinfo(dtype).max + 1, (20, 30, channels)).astype(dtype)
    path = tiff_or6(tmp_path, stored, compression)
    np.testing.assert_array_equal(load_image(path, exif=False).pixels, stored)
    # orientation 6 displays the stored grid turned 90° clockwise, once
    np.testing.assert_array_equal(load_image(path).pixels, np.rot90(stored, -1))
    if dtype == np.uint8:  # and that is what Pillow shows for it
        shown = np.asarray(PILImage.open(io.BytesIO(path.read_bytes())))
        np.testing.assert_array_equal(load_image(path).pixels, shown.reshape(30, 20, channels))


# --- 8. 16-bit gray + alpha PNG ----------------------------------------------------------

def test_16bit_gray_alpha_png_is_gray(tmp_path):
    gray = RNG.integers(0, 65536, (24, 24)).astype(np.uint16)
    (tmp_path / "g.png").write_bytes(png(gray[..., None], 0))
    opaque = np.dstack([gray, np.full_like(gray, 65535)])
    (tmp_path / "la.png").write_bytes(png(opaque, 4))
    image = load_image(tmp_path / "la.png")
    assert image.shape_text == "24x24 gray 16-bit"
    np.testing.assert_array_equal(image.pixels[..., 0], gray)
    doc = compare_files(str(tmp_path / "g.png"), str(tmp_path / "la.png"), metrics="psnr")
    assert doc["pairs"][0]["psnr"] == math.inf
    holes = np.dstack([gray, RNG.integers(0, 65536, gray.shape).astype(np.uint16)])
    (tmp_path / "holes.png").write_bytes(png(holes, 4))
    np.testing.assert_array_equal(load_image(tmp_path / "holes.png", alpha="keep").pixels,
                                  holes)


# --- 9. a truncated compressed TIFF ------------------------------------------------------

@pytest.mark.parametrize("compression", ["tiff_lzw", "tiff_adobe_deflate"])
@pytest.mark.parametrize("keep", [0.5, -10])
def test_truncated_compressed_tiff_says_truncated(tmp_path, capfd, compression, keep):
    buffer = io.BytesIO()
    PILImage.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buffer, "TIFF", compression=compression)
    data = buffer.getvalue()
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep
    (tmp_path / "t.tif").write_bytes(data[:cut])
    with pytest.raises(InputError) as info:
        load_image(tmp_path / "t.tif")
    text = str(info.value)
    assert text.startswith(f"{tmp_path / 't.tif'}: corrupt or truncated TIFF"), text
    assert "layout not supported" not in text and "\n" not in text
    assert capfd.readouterr().err == ""  # Pillow's warnings are not reached
