"""Decode image files into arrays, with explicit policies for every decoding choice.

Policies (also in the README, "How images are read"):

* **Formats**: PNG, JPEG, WebP, TIFF, BMP, AVIF and JPEG 2000, recognised by content;
  JPEG XL and HEIC/HEIF with the optional extras ``jxl`` and ``heif``
  (:mod:`iqa.io.codecs`). 8-bit files are decoded by Pillow (the decoder
  scikit-image, pytorch-fid and clean-fid use), 16-bit colour PNG/TIFF files by
  OpenCV, because Pillow reduces them to 8 bits (a 16-bit gray + alpha PNG stays gray
  + alpha). Floating-point and 32-bit TIFFs are refused, naming their sample format,
  whatever their values.
* **Bit depth is a property of the image** (:attr:`Image.bits`, 8 to 16), read from
  the file: 8-bit images give ``uint8``; deeper ones give ``uint16`` holding their
  stored values 0 .. 2^bits − 1 (a 10-bit AVIF/HEIC/JPEG 2000 image keeps 10 bits), and
  the data range (MAX of PSNR, SSIM, LPIPS) is 2^bits − 1: 1023 for 10 bits, 65535
  for 16. A sample above 2^bits − 1 is refused. A 16-bit PNG or TIFF is 16 bits even
  with a PNG ``sBIT`` chunk: its samples are scaled to span 0 .. 65535, so 65535 is
  their peak. 1-bit images become 8-bit 0/255.
* **EXIF orientation** is applied by default, so images are compared as a viewer shows
  them; ``exif=False`` compares the stored pixel grid. The TIFF decoders' own rotation
  by the Orientation tag is undone first (:mod:`iqa.io.tiff`), so a TIFF follows the
  same policy and is never turned twice.
* **Alpha**: a PNG ``tRNS`` colour key counts as an alpha channel (0 where a pixel has
  the key colour). An alpha channel that is fully opaque is dropped (it carries
  nothing). A transparent one is handled by ``alpha``: ``"error"`` (default) refuses
  the file, ``"drop"`` ignores alpha, ``"black"``/``"white"`` composite over that
  background (rounded to the image's integer type) and ``"keep"`` scores alpha as a
  fourth channel.
* **Several pages or frames** (multi-page TIFF, animated PNG or WebP) are refused,
  naming the count: there is no single image to score. A camera MPO file is its
  primary image (what every viewer shows).
* **Memory budget**: an image whose decoded pixels (width × height × channels × bytes
  per sample) exceed ``max_image_mb`` MiB (default :data:`DEFAULT_MAX_IMAGE_MB`, a
  16384×16384 8-bit RGB photo is 768 MiB) is refused from its header, before any pixel
  is decoded; the error names the budget and the option that raises it
  (``--max-image-mb``), a finite number (infinity is refused: name a large budget).
  Pillow's own decompression-bomb limit is replaced by this budget.
* **Only regular files** are read; pipes, devices and sockets are refused before
  reading (:mod:`iqa.io.files`).
* **Damaged files** are refused; nothing is padded or guessed. Every decoder error is
  an error (the pixels are decoded before EXIF is read, which used to swallow it);
  every PNG chunk's checksum is verified (Pillow skips those of the pixel data), and
  its pixel data must hold every row its header declares (Pillow zero-fills the
  missing ones, :mod:`iqa.io.png_check`); a TIFF whose directory is cut off is named
  as truncated (:mod:`iqa.io.tiff`); a JPEG on which libjpeg reports corrupt data
  ("Corrupt JPEG data: bad Huffman code", "Premature end of JPEG file", ...) is
  refused, because libjpeg fills what it cannot decode with invented pixels
  (:mod:`iqa.io.jpeg_check`); ``accept_jpeg_warnings=True`` (``--accept-jpeg-warnings``)
  accepts libjpeg's recovery.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqa.errors import InputError
from iqa.io.decode import ORIENT, check_header, decode_pixels, open_header
from iqa.io.files import read_regular_file
from iqa.io.jpeg_check import libjpeg_warning
from iqa.io.png_check import check_png, check_png_rows
from iqa.io.policy import (  # noqa: F401 - re-exported: the decoder's policies
    ALPHA_POLICIES,
    DEFAULT_MAX_IMAGE_MB,
    check_alpha,
    check_max_image_mb,
)

_FILE_SLACK = 64 * 2**20  # metadata a file may carry beyond its decoded pixels
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".tif", ".tiff", ".bmp", ".avif",
     ".jp2", ".j2k", ".j2c", ".jpx", ".jxl", ".heic", ".heif", ".hif"}
)


@dataclass(frozen=True)
class Image:
    """A decoded image: ``pixels`` is H×W×C (C = 1, 3 or 4), ``uint8`` or ``uint16``.

    ``bits`` is the bit depth of its samples (8 for ``uint8``; 9 to 16 for ``uint16``,
    default 16), so every value is at most ``data_range`` = 2^bits − 1.
    """

    pixels: np.ndarray
    path: str = ""
    bits: int = 0

    def __post_init__(self) -> None:
        dtype = np.asarray(self.pixels).dtype
        wide = dtype == np.uint16
        bits = self.bits or (16 if wide else 8)
        if not ((wide and 9 <= bits <= 16) or (not wide and bits == 8)):
            raise ValueError(f"Image.bits={self.bits} does not fit {dtype} pixels "
                             "(8 for uint8, 9 to 16 for uint16)")
        object.__setattr__(self, "bits", bits)

    @property
    def data_range(self) -> int:
        """MAX: 2^bits − 1 (255, 1023, 4095, 65535 ...)."""
        return 2**self.bits - 1

    @property
    def bit_depth(self) -> int:
        return self.bits

    @property
    def shape_text(self) -> str:
        h, w, c = self.pixels.shape
        kind = {1: "gray", 3: "RGB", 4: "RGBA"}.get(c, f"{c}-channel")
        return f"{w}x{h} {kind} {self.bit_depth}-bit"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def load_image(
    path: str | os.PathLike[str],
    *,
    alpha: str = "error",
    exif: bool | str = True,
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    accept_jpeg_warnings: bool = False,
) -> Image:
    """Decode one file into an :class:`Image`, or raise :class:`InputError` naming it.

    Parameters
    ----------
    path
        A regular file (symbolic links are followed); pipes and devices are refused.
    alpha
        What to do with transparent pixels: ``"error"`` (default), ``"drop"``,
        ``"black"``, ``"white"`` or ``"keep"`` (see the module docstring).
    exif
        Apply the EXIF orientation, as a viewer does (default), or keep the stored grid.
        ``"pillow"``: as ``PIL.Image.open`` gives the image, which applies a TIFF's
        Orientation tag while loading and no other format's EXIF (what pytorch-fid,
        clean-fid and torch-fidelity decode, so ``iqa fid``'s default).
    max_image_mb
        Budget for the decoded pixels of one image, in MiB (2**20 bytes) of
        width × height × channels × bytes per sample; larger images are refused from
        their header, before decoding. The file itself may be at most this size plus
        64 MiB. A finite positive number; infinity and NaN raise
        :class:`~iqa.errors.InvalidArgument`.
    accept_jpeg_warnings
        Accept JPEGs on which libjpeg reports corrupt data and invents the pixels it
        could not decode (refused by default).
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        from iqa.errors import InvalidType

        raise InvalidType(f"load_image: path must be a str or os.PathLike, got {path!r} "
                          "(open files and descriptors are not read)")
    check_alpha(alpha)  # the same errors (parameter named) as iqa.fid() and compare
    check_max_image_mb(max_image_mb)
    name = str(path)
    budget = int(max_image_mb * 2**20)
    data = read_regular_file(
        path, max_bytes=budget + _FILE_SLACK,
        too_big=" (decoded-size budget plus 64 MiB); raise it with --max-image-mb "
        "(max_image_mb= in Python)",
    )
    pixels, bits, orientation, fmt = _decode(data, name, budget, accept_jpeg_warnings)
    if exif == "pillow":
        exif = fmt == "TIFF"
    if exif and orientation in ORIENT:
        pixels = np.ascontiguousarray(ORIENT[orientation](pixels))
    return Image(pixels=_apply_alpha_policy(pixels, alpha, name, 2**bits - 1), path=name,
                 bits=bits)


def _decode(data: bytes, name: str, budget: int, accept_jpeg_warnings: bool
            ) -> tuple[np.ndarray, int, int, str]:
    im = open_header(data, name)  # header only: nothing decoded yet
    check_header(im, data, name, budget)
    if im.format == "PNG":
        check_png(data, name)  # every chunk's checksum
    pixels, bits, orientation = decode_pixels(im, data, name)  # decodes, then reads EXIF
    if im.format == "PNG":
        check_png_rows(im, data, name)  # pixel data for every declared row
    if im.format in ("JPEG", "MPO") and not accept_jpeg_warnings:
        warning = libjpeg_warning(data)
        if warning:
            raise InputError(
                f"{name}: corrupt JPEG data (libjpeg: {warning.rstrip('.')}); its decoder "
                "would invent the pixels it cannot read; re-export the file, or accept "
                "libjpeg's recovery with --accept-jpeg-warnings (accept_jpeg_warnings=True "
                "in Python)",
                name,
            )
    return pixels, bits, orientation, im.format


def _apply_alpha_policy(pixels: np.ndarray, alpha: str, name: str, top: int) -> np.ndarray:
    """``top`` is the image's MAX (2^bits − 1): full opacity and the white background."""
    channels = pixels.shape[2]
    if channels not in (2, 4):
        return pixels
    colour, a = pixels[:, :, :-1], pixels[:, :, -1]
    if alpha == "keep":
        return pixels
    if alpha == "drop" or bool((a == top).all()):
        return np.ascontiguousarray(colour)
    if alpha == "error":
        raise InputError(
            f"{name}: has transparent pixels; choose how to score them with "
            "--alpha drop|black|white|keep",
            name,
        )
    background = 0.0 if alpha == "black" else float(top)
    weight = a.astype(np.float64)[:, :, None] / top
    mixed = colour * weight + background * (1.0 - weight)
    return np.rint(mixed).astype(pixels.dtype)
