"""AVIF, JPEG 2000, JPEG XL and HEIC/HEIF: the pixels iqa reads, their bit depth, their MAX.

Every file is encoded here, in a temporary folder. "Independent decode" means a
decoder other than the one iqa uses for that file (OpenCV's libavif/OpenJPEG for
Pillow's 8-bit AVIF/JPEG 2000, pillow-heif's own 16-bit output for HEIC), or, for
lossless files, the source array itself.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

import iqa
from iqa.errors import InputError, InvalidArgument
from iqa.io.images import Image, load_image
from tests.cli_helpers import ROOT, run_iqa

RNG = np.random.default_rng(2026)
H, W = 24, 20


def _rgb(bits: int) -> np.ndarray:
    dtype = np.uint8 if bits == 8 else np.uint16
    return RNG.integers(0, 2**bits, (H, W, 3)).astype(dtype)


def _cv2_write(path, pixels: np.ndarray, params: list[int]) -> None:
    bgr = pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]] if pixels.ndim == 3 else pixels
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr), params)


def _cv2_read(path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return arr[:, :, None] if arr.ndim == 2 else arr[:, :, ::-1]


def _avif10(path, pixels: np.ndarray) -> None:
    """A lossless 10-bit AVIF (libavif through OpenCV)."""
    _cv2_write(path, pixels, [cv2.IMWRITE_AVIF_DEPTH, 10, cv2.IMWRITE_AVIF_QUALITY, 100])


# --- AVIF ------------------------------------------------------------------------------

def test_avif_8bit_equals_libavif_through_opencv(tmp_path):
    path = tmp_path / "a.avif"
    PILImage.fromarray(_rgb(8)).save(path, quality=70)
    image = load_image(path)
    assert image.bits == 8 and image.data_range == 255 and image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, _cv2_read(path))


@pytest.mark.parametrize("channels", [3, 1])
def test_avif_10bit_keeps_its_stored_values(tmp_path, channels):
    source = _rgb(10)[:, :, :channels]
    path = tmp_path / "a.avif"
    _avif10(path, source[:, :, 0] if channels == 1 else source)
    image = load_image(path)
    assert image.bits == 10 and image.data_range == 1023
    assert image.shape_text.endswith("10-bit")
    np.testing.assert_array_equal(image.pixels, source)  # lossless: the source itself


def _set_pixi(path, bits: int) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(b"pixi")
    data[at + 9:at + 9 + data[at + 8]] = bytes([bits]) * data[at + 8]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("declared", [9, 12])
def test_avif_depth_property_that_contradicts_the_stream_is_one_line_exit_2(tmp_path,
                                                                           declared):
    path = tmp_path / "a.avif"
    _avif10(path, _rgb(10))
    _set_pixi(path, declared)
    done = run_iqa("compare", path, path, "-m", "psnr")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "AVIF" in lines[0], done.stderr


def test_samples_above_the_declared_depth_are_refused():
    from iqa.io.decode import _checked_bits

    pixels = np.array([[[0], [1023]]], np.uint16)
    assert _checked_bits(pixels, 10, "AVIF", "a.avif") == 10
    with pytest.raises(InputError, match="9-bit samples but holds the value 1023"):
        _checked_bits(pixels, 9, "AVIF", "a.avif")
    with pytest.raises(InputError, match="says 10-bit samples but decodes to 8-bit"):
        _checked_bits(pixels.astype(np.uint8), 10, "AVIF", "a.avif")


def test_avif_10bit_alpha_opaque_at_1023_is_dropped_and_kept_on_request(tmp_path):
    rgba = RNG.integers(0, 1024, (H, W, 4)).astype(np.uint16)
    rgba[:, :, 3] = 1023
    _avif10(tmp_path / "opaque.avif", rgba)
    opaque = load_image(tmp_path / "opaque.avif")
    assert opaque.bits == 10
    np.testing.assert_array_equal(opaque.pixels, rgba[:, :, :3])
    rgba[0, 0, 3] = 0
    _avif10(tmp_path / "hole.avif", rgba)
    np.testing.assert_array_equal(load_image(tmp_path / "hole.avif", alpha="keep").pixels,
                                  rgba)


def test_psnr_of_a_10bit_pair_uses_max_1023(tmp_path):
    ref, dist = _rgb(10), _rgb(10)
    _avif10(tmp_path / "ref.avif", ref)
    _avif10(tmp_path / "dist.avif", dist)
    mse = np.mean((ref.astype(np.float64) - dist) ** 2)
    expected = 10 * np.log10(1023.0**2 / mse)
    done = run_iqa("compare", tmp_path / "ref.avif", tmp_path / "dist.avif", "-m", "psnr",
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pairs"][0]["psnr"] == pytest.approx(expected, abs=1e-9)
    api = iqa.psnr(load_image(tmp_path / "ref.avif"), load_image(tmp_path / "dist.avif"))
    assert api == pytest.approx(expected, abs=1e-9)
    assert iqa.psnr(tmp_path / "ref.avif", tmp_path / "dist.avif") == pytest.approx(
        expected, abs=1e-9)


def test_ssim_of_a_10bit_pair_uses_l_1023(tmp_path):
    ref, dist = _rgb(10), _rgb(10)
    _avif10(tmp_path / "ref.avif", ref)
    _avif10(tmp_path / "dist.avif", dist)
    got = iqa.ssim(load_image(tmp_path / "ref.avif"), load_image(tmp_path / "dist.avif"))
    assert got == pytest.approx(iqa.ssim(ref, dist, data_range=1023), abs=1e-12)
    assert got != pytest.approx(iqa.ssim(ref, dist, data_range=65535), abs=1e-6)


def test_images_of_different_bit_depths_are_refused_by_the_api(tmp_path):
    pixels = _rgb(10)
    ten = Image(pixels=pixels, bits=10)
    sixteen = Image(pixels=pixels)
    with pytest.raises(InvalidArgument, match="10-bit.*16-bit"):
        iqa.psnr(ten, sixteen)


# --- JPEG 2000 -------------------------------------------------------------------------

def test_j2k_8bit_equals_openjpeg_through_opencv_and_the_source(tmp_path):
    source = _rgb(8)
    path = tmp_path / "a.jp2"
    PILImage.fromarray(source).save(path)  # reversible 5/3 wavelet: lossless
    image = load_image(path)
    assert image.bits == 8
    np.testing.assert_array_equal(image.pixels, _cv2_read(path))
    np.testing.assert_array_equal(image.pixels, source)


def test_j2k_16bit_gray_is_16_bits(tmp_path):
    source = RNG.integers(0, 65536, (H, W)).astype(np.uint16)
    path = tmp_path / "a.j2k"
    PILImage.fromarray(source).save(path)
    image = load_image(path)
    assert image.bits == 16 and image.data_range == 65535
    np.testing.assert_array_equal(image.pixels[:, :, 0], source)


def test_j2k_with_signed_samples_is_one_line_exit_2(tmp_path):
    path = tmp_path / "signed.j2k"
    PILImage.fromarray(_rgb(8)).save(path)
    data = bytearray(path.read_bytes())
    siz = data.find(b"\xff\x51")
    data[siz + 40] |= 0x80  # the first component's Ssiz: signed
    path.write_bytes(bytes(data))
    done = run_iqa("compare", path, path, "-m", "psnr")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "signed samples" in lines[0] and str(path) in lines[0]


# --- HEIC ------------------------------------------------------------------------------

def _heic(path, pixels: np.ndarray, bits: int) -> None:
    import pillow_heif

    if bits == 8:
        heif = pillow_heif.from_bytes(mode="RGB", size=(W, H), data=pixels.tobytes())
    else:  # pillow-heif takes 16-bit samples and keeps the top `bits` of them
        heif = pillow_heif.from_bytes(mode="RGB;16", size=(W, H),
                                      data=(pixels.astype(np.uint16) << (16 - bits)).tobytes())
    saved = pillow_heif.options.SAVE_HDR_TO_12_BIT
    pillow_heif.options.SAVE_HDR_TO_12_BIT = bits == 12
    try:
        heif.save(str(path), quality=90)
    finally:
        pillow_heif.options.SAVE_HDR_TO_12_BIT = saved


def _heif_direct(path, bits: int) -> np.ndarray:
    import pillow_heif

    arr = np.asarray(pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False))
    return arr if bits == 8 else arr >> (16 - bits)  # pillow-heif's own 16-bit scaling


@pytest.mark.parametrize("bits", [8, 10, 12])
def test_heic_equals_pillow_heif_and_keeps_its_bits(tmp_path, bits):
    path = tmp_path / "a.heic"
    _heic(path, _rgb(bits), bits)
    image = load_image(path)
    assert image.bits == bits and image.data_range == 2**bits - 1
    np.testing.assert_array_equal(image.pixels, _heif_direct(path, bits))


# --- JPEG XL ---------------------------------------------------------------------------

def test_jxl_lossless_8bit_rgb_and_16bit_gray(tmp_path):
    import pillow_jxl  # noqa: F401  (registers the encoder)

    rgb, gray = _rgb(8), RNG.integers(0, 65536, (H, W)).astype(np.uint16)
    PILImage.fromarray(rgb).save(tmp_path / "rgb.jxl", lossless=True)
    PILImage.fromarray(gray).save(tmp_path / "gray.jxl", lossless=True)
    a, b = load_image(tmp_path / "rgb.jxl"), load_image(tmp_path / "gray.jxl")
    assert (a.bits, b.bits) == (8, 16)
    np.testing.assert_array_equal(a.pixels, rgb)
    np.testing.assert_array_equal(b.pixels[:, :, 0], gray)


def _set_bits(data: bytearray, offset: int, count: int, value: int) -> None:
    """Write ``value`` into ``count`` bits at bit ``offset`` (least-significant first)."""
    for i in range(count):
        byte, bit = divmod(offset + i, 8)
        data[byte] = (data[byte] & ~(1 << bit)) | (((value >> i) & 1) << bit)


def test_jxl_10bit_gray_keeps_its_stored_values(tmp_path):
    """A lossless 16-bit gray file whose header is rewritten to say 10 bits (the same
    6-bit field, so nothing else moves): libjxl decodes it scaled to 0 .. 65535 and
    iqa must give back the stored 10-bit values."""
    import pillow_jxl  # noqa: F401

    from iqa.io.jxl_header import read_depth

    source = RNG.integers(0, 1024, (H, W)).astype(np.uint16)
    path = tmp_path / "gray.jxl"
    PILImage.fromarray(source).save(path, lossless=True)
    data = bytearray(path.read_bytes())
    depth = read_depth(bytes(data))
    assert (depth.bits, depth.floating) == (16, False)
    _set_bits(data, depth.selector_offset + 2, 6, 10 - 1)  # BitsOffset(6, 1): 10 bits
    path.write_bytes(bytes(data))
    assert read_depth(bytes(data)).bits == 10
    scaled = np.asarray(PILImage.open(path))  # the plugin directly: libjxl's 16-bit scale
    assert int(scaled.max()) > 1023
    image = load_image(path)
    assert image.bits == 10 and image.data_range == 1023
    np.testing.assert_array_equal(image.pixels[:, :, 0], source)


def test_jxl_colour_above_8_bits_is_one_line_exit_2(tmp_path):
    """The plugin truncates colour above 8 bits to 8: refused, with what to do."""
    import pillow_jxl  # noqa: F401

    from iqa.io.jxl_header import read_depth

    path = tmp_path / "rgb.jxl"
    PILImage.fromarray(_rgb(8)).save(path, lossless=True)
    data = bytearray(path.read_bytes())
    depth = read_depth(bytes(data))
    assert depth.bits == 8 and depth.selector_offset >= 0
    _set_bits(data, depth.selector_offset, 2, 1)  # U32 selector 1: Val(10)
    path.write_bytes(bytes(data))
    done = run_iqa("compare", path, path, "-m", "psnr")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "10-bit JPEG XL" in lines[0] and "16-bit PNG" in lines[0]


@pytest.mark.parametrize("suffix", ["avif", "heic", "jxl"])
def test_truncated_deep_files_are_one_line_exit_2(tmp_path, suffix):
    import pillow_jxl  # noqa: F401

    path = tmp_path / f"a.{suffix}"
    if suffix == "avif":
        _avif10(path, _rgb(10))
    elif suffix == "heic":
        _heic(path, _rgb(10), 10)
    else:
        gray = RNG.integers(0, 65536, (H, W)).astype(np.uint16)
        PILImage.fromarray(gray).save(path, lossless=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    done = run_iqa("compare", path, path, "-m", "psnr")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in done.stderr


# --- missing plugins -------------------------------------------------------------------

def _run_without(module: str, *args) -> subprocess.CompletedProcess:
    prelude = (f"import sys\nsys.modules[{module!r}] = None\n"
               "from iqa.cli import main\nmain(sys.argv[1:])\n")
    return subprocess.run([sys.executable, "-c", prelude, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("module, extra, suffix", [("pillow_jxl", "jxl", "jxl"),
                                                   ("pillow_heif", "heif", "heic")])
def test_missing_plugin_is_one_line_naming_the_extra(tmp_path, module, extra, suffix):
    path = tmp_path / f"a.{suffix}"
    if suffix == "jxl":
        import pillow_jxl  # noqa: F401

        PILImage.fromarray(_rgb(8)).save(path, lossless=True)
    else:
        _heic(path, _rgb(8), 8)
    done = _run_without(module, "compare", path, path, "-m", "psnr")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f'pip install "iqa[{extra}]"' in lines[0] and str(path) in lines[0]
    assert "Traceback" not in done.stderr


def test_plugins_are_not_imported_for_other_formats():
    code = ("import sys\nfrom iqa.io.images import load_image\n"
            "load_image('sample_images/reference.png')\n"
            "print(any(m in sys.modules for m in ('pillow_jxl', 'pillow_heif')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.stdout.strip() == "False", done.stderr


# --- bit depth as a property of the image ----------------------------------------------

def test_image_bits_must_fit_the_array_type():
    assert Image(pixels=np.zeros((2, 2, 1), np.uint8)).data_range == 255
    assert Image(pixels=np.zeros((2, 2, 1), np.uint16)).data_range == 65535
    assert Image(pixels=np.zeros((2, 2, 1), np.uint16), bits=12).data_range == 4095
    with pytest.raises(ValueError, match="bits=10"):
        Image(pixels=np.zeros((2, 2, 1), np.uint8), bits=10)
    with pytest.raises(ValueError, match="bits=8"):
        Image(pixels=np.zeros((2, 2, 1), np.uint16), bits=8)


def test_16bit_png_with_sbit_is_still_16_bits(tmp_path):
    """``sBIT`` records the source's precision; the samples still span 0 .. 65535."""
    source = RNG.integers(0, 1024, (H, W, 3)).astype(np.uint16) << 6
    path = tmp_path / "a.png"
    _cv2_write(path, source, [])
    data = path.read_bytes()
    body = b"sBIT" + bytes([10, 10, 10])
    chunk = struct.pack(">I", 3) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    path.write_bytes(data[:33] + chunk + data[33:])  # after IHDR
    image = load_image(path)
    assert image.bits == 16 and image.data_range == 65535
    np.testing.assert_array_equal(image.pixels, source)


def test_opaque_10bit_alpha_is_dropped_and_transparency_refused(tmp_path):
    import pillow_heif

    rgba = RNG.integers(0, 1024, (H, W, 4)).astype(np.uint16)
    rgba[:, :, 3] = 1023
    path = tmp_path / "opaque.heic"
    pillow_heif.from_bytes(mode="RGBA;16", size=(W, H),
                           data=(rgba << 6).tobytes()).save(str(path), quality=90)
    image = load_image(path)
    assert image.bits == 10 and image.pixels.shape == (H, W, 3)
    rgba[0, 0, 3] = 0
    path = tmp_path / "transparent.heic"
    pillow_heif.from_bytes(mode="RGBA;16", size=(W, H),
                           data=(rgba << 6).tobytes()).save(str(path), quality=-1)
    with pytest.raises(InputError, match="transparent"):
        load_image(path)
    white = load_image(path, alpha="white")
    assert white.bits == 10 and int(white.pixels.max()) <= 1023


def test_avif_with_a_pillow_that_cannot_decode_it_names_the_upgrade(tmp_path):
    """Pillow before 11.3 (or built without libavif) has no AVIF opener: one line naming
    the upgrade, exit 2 (simulated by removing the opener that Pillow registered)."""
    import PIL

    avif = tmp_path / "x.avif"
    PILImage.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(avif, quality=90)
    prelude = ("import sys, PIL.Image, PIL.AvifImagePlugin\n"
               "del PIL.Image.OPEN['AVIF']\n"
               "from iqa.cli import main\nmain(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", prelude, "compare", str(avif), str(avif)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"iqa: {avif}: the installed Pillow {PIL.__version__} cannot decode AVIF; iqa needs "
        'Pillow 11.3 or later with AVIF support: pip install --upgrade "pillow>=11.3"')
