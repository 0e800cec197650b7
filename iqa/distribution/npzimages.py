"""Images stored in an ``.npz`` as the ADM evaluator stores them: ``arr_0``, uint8 N×H×W×3.

An ADM *sample batch* (``samples_50000x256x256x3.npz``) holds only ``arr_0``; ``iqa fid``
reads it as a set of images, streamed from the archive in batches (never loaded whole:
50,000 images of 256² are 9.8 GB), resized with the run's ``--resize`` like decoded
files, and not cached. Reference batches that also hold ``mu`` and ``sigma`` are read as
statistics instead (:mod:`iqa.distribution.foreign`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from iqa.errors import InputError

BATCH = 64


def images_only(path: Path) -> bool:
    """Whether ``path`` is an ``.npz`` holding ``arr_0`` and no ``mu``/``sigma``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return "arr_0.npy" in names and not names & {"mu.npy", "sigma.npy"}


class NpzImages:
    """The images of ``arr_0``, as an iterable of uint8 N×H×W×3 batches (re-iterable)."""

    source = "images"  # what a result's ``sources`` says of this set

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shape = self._header()

    def _open(self) -> tuple[zipfile.ZipFile, object, tuple[int, ...]]:
        archive = zipfile.ZipFile(self.path)
        stream = archive.open("arr_0.npy")
        try:
            version = np.lib.format.read_magic(stream)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                    np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(stream)
        except ValueError as exc:
            archive.close()
            raise InputError(f"{self.path}: arr_0 is not a NumPy array ({exc})",
                             str(self.path)) from None
        name = str(self.path)
        if dtype != np.uint8 or fortran or len(shape) != 4 or shape[3] != 3:
            archive.close()
            raise InputError(f"{name}: arr_0 is {dtype} of shape {shape}; images in an .npz "
                             "must be uint8 N×H×W×3 (as the ADM evaluator's batches)", name)
        return archive, stream, shape

    def _header(self) -> tuple[int, ...]:
        try:
            archive, _, shape = self._open()
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise InputError(f"{self.path}: cannot be read as an .npz of images "
                             f"({type(exc).__name__})", str(self.path)) from None
        archive.close()
        return shape

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._read(0, self.shape[0])

    def window(self, start: int, stop: int) -> NpzWindow:
        """Images ``[start, stop)`` (one rank's share under torchrun), re-iterable."""
        return NpzWindow(self, start, stop)

    def _read(self, first: int, stop: int) -> Iterator[np.ndarray]:
        archive, stream, shape = self._open()
        per_image = int(np.prod(shape[1:]))
        with archive:
            self._skip(stream, first * per_image)
            for start in range(first, stop, BATCH):
                count = min(BATCH, stop - start)
                try:
                    data = stream.read(count * per_image)  # type: ignore[attr-defined]
                except (OSError, zipfile.BadZipFile, EOFError) as exc:
                    raise InputError(f"{self.path}: is damaged ({type(exc).__name__})",
                                     str(self.path)) from None
                if len(data) != count * per_image:
                    raise InputError(f"{self.path}: arr_0 ends after {start} images of "
                                     f"{shape[0]}; the file is truncated", str(self.path))
                yield np.frombuffer(data, np.uint8).reshape(count, *shape[1:])

    def _skip(self, stream: object, size: int) -> None:
        """Move past ``size`` bytes of ``arr_0`` (zipfile reads a deflated member through;
        newer Pythons seek in a stored one)."""
        if size <= 0:
            return
        try:
            stream.seek(size, io.SEEK_CUR)  # type: ignore[attr-defined]
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"{self.path}: is damaged ({type(exc).__name__})",
                             str(self.path)) from None


class NpzWindow:
    """Images ``[start, stop)`` of an :class:`NpzImages`, as its batches (re-iterable)."""

    def __init__(self, images: NpzImages, start: int, stop: int) -> None:
        self.images, self.start, self.stop = images, start, stop

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.images._read(self.start, self.stop)
