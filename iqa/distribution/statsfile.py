"""Statistics files: ``.npz`` files that stand in for a folder of images.

**Statistics files** (``iqa fid FOLDER --save-stats FILE.npz``) hold pytorch-fid's keys
``mu`` (float64, 2048) and ``sigma`` (float64, 2048×2048), so pytorch-fid, clean-fid and
TTUR load them as they are, plus ``n`` (number of images), ``meta`` (a JSON string:
network, resize mode, weights digest, decoding policies) and, when saved with ``--kid``,
``features`` (float32, n×2048). Any ``.npz`` with ``mu`` and ``sigma`` can stand in for
a folder, including pytorch-fid's own.

Other tools' reference statistics (pytorch-fid, clean-fid and ADM ``.npz``,
torch-fidelity ``.pt``, EDM2 ``.pkl``) are read by :func:`read_stats` too, through
:mod:`iqa.distribution.foreign`; their ``meta`` is ``{"foreign": ...}``: what the format
says and what iqa assumes.

The automatic per-folder cache is :mod:`iqa.distribution.statscache`.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.cache import atomic_write
from iqa.distribution.stats import FeatureStats
from iqa.errors import InputError
from iqa.features.inception import FEATURE_DIM as _DIM

STATS_FORMAT = "iqa-fid-stats/1"


@dataclass
class StatsFile:
    """The content of a statistics file: μ, Σ, and what else it holds."""

    mean: np.ndarray
    cov: np.ndarray
    n: int | None = None
    features: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: Rows of the file's ``features`` (None: it has none), also when they were not read.
    feature_rows: int | None = None


def write_stats(
    path: str | os.PathLike[str],
    stats: FeatureStats,
    meta: dict[str, Any],
    features: np.ndarray | None = None,
) -> None:
    """Write ``mu``, ``sigma``, ``n``, ``meta`` (and ``features``) atomically."""
    arrays: dict[str, np.ndarray] = {
        "mu": stats.mean,
        "sigma": stats.cov,
        "n": np.array(stats.n, np.int64),
        "meta": np.array(json.dumps({"format": STATS_FORMAT, **meta}, sort_keys=True)),
    }
    if features is not None:
        arrays["features"] = np.asarray(features, np.float32)
    target = Path(path)
    if target.suffix.lower() != ".npz":
        from iqa.errors import UsageError

        raise UsageError(f"--save-stats {path}: the file name must end with .npz")
    from iqa.tempfiles import output_mode

    # A file for other people and jobs (array-job parts merged by another user): the
    # mode of the file it replaces, else what the umask gives, as for reports.
    with atomic_write(target, file_mode=output_mode(os.path.realpath(target))) as stream:
        np.savez(stream, **arrays)


def read_stats(path: str | os.PathLike[str], *, extractor: str = "inception",
               features: bool = True) -> StatsFile:
    """Read and check a statistics file; :class:`~iqa.errors.InputError` naming it if unusable.

    ``path`` is iqa's ``.npz`` or another tool's file (:mod:`iqa.distribution.foreign`:
    pytorch-fid / clean-fid / ADM ``.npz``, torch-fidelity ``.pt``, EDM2 ``.pkl``), read
    for the features of ``extractor``. Checks (each failure is refused, never repaired):
    the file is a NumPy ``.npz`` archive of plain numeric arrays (or a pickle of plain
    data, :mod:`iqa.distribution.safepickle`); ``mu`` has shape (2048,) and ``sigma``
    (2048, 2048);
    both are finite; ``sigma`` is symmetric (to 1e-6 of its largest entry) and positive
    semi-definite within a tolerance of 1e-4 of its largest variance (what float32
    storage of a covariance can cost; ``sigma = -I`` is refused); ``n``, when present,
    is an integer of at least 2; ``features``, when present, are finite, N×2048 with
    N ≥ 2, and N equals ``n``.

    Each array's shape and dtype are read from its header inside the archive before the
    array is inflated, so a member that declares more than its key may hold (more values,
    or values that are not numbers, or more bytes per value than any number takes: a
    crafted file whose deflated zeros would fill gigabytes) is refused without allocating
    it. The types of ``meta``'s fields are checked too (:func:`_check_meta`). ``features``
    (N×2048, 8 KiB per image) are read only when asked for (KID, merging); otherwise only
    their header is checked and :attr:`StatsFile.feature_rows` says how many there are.
    """
    name = str(path)
    if Path(name).suffix.lower() == ".npz":
        from iqa.distribution.foreign import clean_fid_sibling

        sibling = clean_fid_sibling(Path(name), extractor)
        name = name if sibling is None else str(sibling)
    if Path(name).suffix.lower() in (".pkl", ".pt"):
        from iqa.distribution.foreign import read_pickled

        mean, cov, n, found = read_pickled(name, extractor)
        _check_moments(name, mean, cov, extractor)
        return StatsFile(mean, cov, n, None, _foreign_meta(found))
    try:
        if not zipfile.is_zipfile(name):
            if not Path(name).exists():
                raise InputError(f"{name}: no such file", name)
            raise InputError(
                f"{name}: is not an .npz of statistics (not a NumPy .npz archive); give a "
                "file written by `iqa fid FOLDER --save-stats FILE.npz` or pytorch-fid",
                name,
            )
        with np.load(name, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"mu", "sigma"} <= keys:
                from iqa.distribution.foreign import refuse_images_only

                if "arr_0" in keys:
                    raise refuse_images_only(name)
                raise InputError(
                    f"{name}: not a statistics file (it needs arrays 'mu' and 'sigma'; it has "
                    f"{', '.join(sorted(keys)) or 'none'})",
                    name,
                )
            dim = _dimension(extractor)
            limits = {"mu": (dim,), "sigma": (dim, dim), "n": (), "meta": ()}
            for key, shape in limits.items():
                if key in keys:
                    _check_declared(data, key, shape, name)
            mean = _numeric(data["mu"], "mu", name)
            cov = _numeric(data["sigma"], "sigma", name)
            n = _count(data["n"], name) if "n" in keys else None
            rows = _feature_rows(data, n, dim, name) if "features" in keys else None
            loaded = (np.asarray(data["features"], np.float32)
                      if rows is not None and features else None)
            meta = _meta(data["meta"], name) if "meta" in keys else {}
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})", name) from None
    except ValueError as exc:
        if "pickle" in str(exc) or "object" in str(exc).lower():
            raise InputError(f"{name}: holds Python objects, not numeric arrays; it is not an "
                             ".npz of statistics", name) from None
        raise InputError(f"{name}: is not an .npz of statistics ({type(exc).__name__})",
                         name) from None
    except Exception as exc:  # zip, CRC or format errors: a damaged file
        raise InputError(f"{name}: is a damaged .npz file ({type(exc).__name__}); write it "
                         "again", name) from None
    if str(meta.get("format", "")).startswith("iqa-fid-stats/"):
        if extractor != "inception":
            raise InputError(f"{name}: holds iqa's FID Inception statistics, and this run "
                             f"needs {extractor} features", name)
    else:
        from iqa.distribution.foreign import classify_npz

        found = classify_npz(name, keys)
        if found["extractor"] != extractor:
            raise InputError(f"{name}: holds {found['tool']} statistics of the "
                             f"{found['extractor']} extractor, and this run needs {extractor} "
                             "features", name)
        meta = _foreign_meta(found)
    _check_moments(name, mean, cov, extractor)
    if loaded is not None:
        _check_features(name, loaded, n)
    return StatsFile(mean, cov, n, loaded, meta, rows)


_META_BYTES = 4 * 2**20  # the JSON text iqa writes is a few hundred bytes
#: Values a member of each rank may declare and still be read, so that another
#: extractor's statistics (up to 4096-d) are named as such after reading, not refused as
#: damaged; past this, the header alone refuses it.
_PLAUSIBLE = {0: 1.0, 1: 4096.0, 2: 4096.0**2}
#: Bytes of the widest number a member may hold (complex128, long double).
_ITEM_BYTES = 16


def _dimension(extractor: str) -> int:
    if extractor == "inception":
        return _DIM
    from iqa.features.registry import load

    return int(load(extractor).info.dim)


def _declared(data: Any, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of member ``key`` of an open ``.npz``, from its ``.npy`` header."""
    with data.zip.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = reader(member)
    return tuple(int(x) for x in shape), dtype


def _check_declared(data: Any, key: str, shape: tuple[int, ...], name: str) -> None:
    """Refuse a member whose header declares more values (or a longer text) than ``key``
    can have, before it is inflated. A smaller one is read, and the checks after reading
    name what is wrong with it (another extractor's statistics, a malformed ``n``)."""
    declared, dtype = _declared(data, key)
    if key == "meta":
        if declared == () and dtype.itemsize <= _META_BYTES:
            return
        raise InputError(f"{name}: meta declares {dtype} of shape {declared}, not one text "
                         f"of at most {_META_BYTES // 2**20} MiB; the file is damaged", name)
    if key != "n":  # n's own check (after reading its few bytes) names a bad one
        _check_numbers(key, dtype, name)
    values = float(np.prod(declared, dtype=np.float64))
    limit = max(float(np.prod(shape, dtype=np.float64)), _PLAUSIBLE[len(shape)])
    if values > limit:
        raise InputError(f"{name}: {key} declares shape {declared}, more than the {shape} "
                         "it can have; the file is damaged", name)
    if values * dtype.itemsize > limit * _ITEM_BYTES:
        raise InputError(f"{name}: {key} declares {dtype} of shape {declared}, "
                         f"{values * dtype.itemsize:.0f} bytes, more than {key} can take; "
                         "the file is damaged", name)


def _check_numbers(key: str, dtype: np.dtype, name: str) -> None:
    """A member of numbers (integers or floating point, at most 16 bytes each)."""
    if dtype.kind not in "fiu" or dtype.itemsize > _ITEM_BYTES:
        raise InputError(f"{name}: {key} is an array of {dtype}, not of numbers", name)


def _feature_rows(data: Any, n: int | None, dim: int, name: str) -> int:
    """The rows ``features`` declares, checked against ``n`` and the dimension first."""
    declared, dtype = _declared(data, "features")
    _check_numbers("features", dtype, name)
    if len(declared) != 2 or declared[1] != dim:
        raise InputError(f"{name}: features have shape {declared}, expected N×{dim}", name)
    rows = declared[0]
    if n is not None and rows != n:
        raise InputError(f"{name}: features hold {rows} rows but n = {n}; the file is "
                         "inconsistent", name)
    return rows


def _foreign_meta(found: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` of another tool's file: what iqa takes it to be (``foreign``)."""
    from iqa.features.inception import NETWORK_ID

    meta: dict[str, Any] = {"foreign": found}
    if found["extractor"] == "inception":
        meta["network"] = NETWORK_ID
    if found["resize"] is not None:
        meta["resize"] = found["resize"]
    return meta


def _numeric(value: np.ndarray, key: str, name: str) -> np.ndarray:
    if value.dtype.kind not in "fiu":
        raise InputError(f"{name}: {key} is an array of {value.dtype}, not of numbers", name)
    return np.asarray(value, np.float64)


def _count(value: np.ndarray, name: str) -> int:
    """``n``: an integer scalar of at least 2."""
    shown = value.item() if value.size == 1 else f"an array of shape {value.shape}"
    ok = (value.ndim == 0 and value.dtype.kind in "iuf" and np.isfinite(value)
          and float(value) == int(value))
    if not ok or int(value) < 2:
        raise InputError(f"{name}: n = {shown}; n, the number of images, must be an integer "
                         "of at least 2", name)
    return int(value)


def _check_moments(name: str, mean: np.ndarray, cov: np.ndarray,
                   extractor: str = "inception") -> None:
    dim, what = _DIM, "FID Inception pool3 statistics"
    if extractor != "inception":
        from iqa.features.registry import load

        dim, what = load(extractor).info.dim, f"{extractor} statistics"
    if mean.shape != (dim,) or cov.shape != (dim, dim):
        raise InputError(
            f"{name}: mu has shape {mean.shape} and sigma {cov.shape}; {what} have "
            f"({dim},) and ({dim}, {dim})",
            name,
        )
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise InputError(f"{name}: mu or sigma holds NaN or infinite values", name)
    scale = float(np.abs(cov).max())
    asymmetry = float(np.abs(cov - cov.T).max())
    if asymmetry > 1e-6 * scale:
        raise InputError(f"{name}: sigma is not symmetric (entries differ from their "
                         f"transpose by up to {asymmetry:.3g}); it is not a covariance", name)
    top = float(np.diag(cov).max())
    try:
        if top < 0:
            raise np.linalg.LinAlgError
        shift = 1e-4 * top + np.finfo(np.float64).tiny
        np.linalg.cholesky(cov + shift * np.eye(len(cov)))
    except np.linalg.LinAlgError:
        raise InputError(f"{name}: sigma is not positive semi-definite (it has negative "
                         "variances along some direction); it is not a covariance", name) from None


def _check_features(name: str, features: np.ndarray, n: int | None) -> None:
    if features.ndim != 2 or features.shape[1] != _DIM:
        raise InputError(f"{name}: features have shape {features.shape}, expected N×{_DIM}", name)
    if len(features) < 2:
        raise InputError(f"{name}: features hold {len(features)} row; KID needs the features of "
                         "at least 2 images", name)
    if n is not None and len(features) != n:
        raise InputError(f"{name}: features hold {len(features)} rows but n = {n}; the file is "
                         "inconsistent", name)
    if not np.isfinite(features).all():
        raise InputError(f"{name}: features hold NaN or infinite values", name)


def _meta(value: np.ndarray, name: str) -> dict[str, Any]:
    """``meta``'s JSON object ({} when it is not one: the file is then taken for another
    tool's); iqa's own is checked by :func:`_check_meta`."""
    try:
        meta = json.loads(str(value))
    except ValueError:
        return {}
    if not isinstance(meta, dict):
        return {}
    if str(meta.get("format", "")).startswith("iqa-fid-stats/"):
        _check_meta(meta, name)
    return meta


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count_of(value: Any, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _weights(value: Any) -> bool:
    return isinstance(value, dict) and all(
        value.get(k) is None or _text(value[k]) for k in ("name", "sha256")) and (
        value.get("verified") is None or _flag(value["verified"]))


def _part(value: Any) -> bool:
    return (isinstance(value, dict) and _text(value.get("file")) and _count_of(value.get("n"), 1)
            and (value.get("stats_sha256") is None or _text(value["stats_sha256"]))
            and (value.get("limit") is None or isinstance(value["limit"], dict)))


#: The fields of iqa's ``meta`` that code reads: (test of a value, what it must be).
#: A field may also be null (not recorded).
_META_FIELDS: dict[str, tuple[Any, str]] = {
    "format": (_text, "a text"), "network": (_text, "a text"), "resize": (_text, "a text"),
    "alpha": (_text, "a text"), "channels": (_text, "a text"), "iqa": (_text, "a text"),
    "exif": (_flag, "true or false"), "accept_jpeg_warnings": (_flag, "true or false"),
    "max_image_mb": (_number, "a number"), "skipped": (_count_of, "a whole number, 0 or more"),
    "weights": (_weights, "an object with name, sha256 and verified"),
    "limit": (lambda v: isinstance(v, dict), "an object"),
    "parts": (lambda v: isinstance(v, list) and all(_part(p) for p in v),
              "a list of objects with file and n"),
}


def _check_meta(meta: dict[str, Any], name: str) -> None:
    """Refuse iqa's ``meta`` whose fields have the wrong types (a crafted or damaged
    file), naming the field: every reader after this may trust them."""
    if "foreign" in meta:
        raise InputError(f"{name}: meta records 'foreign', which only iqa sets for other "
                         "tools' files; the file is damaged", name)
    for key, (test, what) in _META_FIELDS.items():
        value = meta.get(key)
        if value is not None and not test(value):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise InputError(f"{name}: meta's {key} is {shown}, not {what}; the file is "
                             "damaged", name)
