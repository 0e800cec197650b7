"""Reference statistics written by other tools, read as statistics files.

=========================  ==============================================================
file                       what iqa reads, and what it takes it to be
=========================  ==============================================================
pytorch-fid / clean-fid    ``mu`` (pytorch-fid: float64; clean-fid: float32) and ``sigma``
``.npz``                   (float64) of 2048-d Inception pool3 features (pytorch-fid's
                           default ``--dims 2048``; other dims are refused). Resize mode:
                           unknown, except in clean-fid's own file names
                           ``NAME_MODE[_clip_vit_b_32]_SPLIT_RES.npz`` (``clean`` → clean,
                           ``legacy_tensorflow`` → tf, ``legacy_pytorch`` → pytorch-fid).
                           ``_clip_vit_b_32`` files hold iqa's ``clip-vit-b-32`` features
                           (512-d; mode ``clean``: its ``clean-fid`` preprocessing), read
                           for ``fd``; given one, FID reads the Inception's file of the same
                           NAME, MODE, SPLIT and RES beside it (and the other way round).
ADM evaluator reference    ``mu``, ``sigma`` (pool3, 2048-d) beside ``mu_s``/``sigma_s``
batch (``.npz``)           (sFID's spatial features, not used) and ``arr_0`` (the images,
                           never loaded). Resize: tf (the evaluator's TF graph resizes
                           bilinearly, as TF1 does). A *sample* batch (``arr_0`` only) is
                           a set of images (:mod:`iqa.distribution.npzimages`).
torch-fidelity cache       ``NAME-EXTRACTOR-stat-fid-LAYER.pt``: a ``torch.save`` archive of
(``.pt``)                  ``{"mu", "sigma"}``. ``inception-v3-compat`` with layer ``2048`` is
                           the FID Inception, resize tf (torch-fidelity's own);
                           ``vgg16`` (``fc2_relu``), ``dinov2-vit-l-14`` (``dinov2``) and
                           ``clip-vit-b-32`` (``clip``) are iqa's extractors of those
                           names with their ``torch-fidelity`` preprocessing (read when
                           the run asks for their features); other extractors or layers
                           are refused. torch-fidelity keeps one file per extractor, all
                           named after the input: given one of them, the statistics of
                           another extractor of the run (the Inception's for FID, DINOv2's
                           for ``fd``) are read from the file beside it with the same
                           NAME, and a missing one is refused naming it.
EDM2 ``dataset-refs``      a pickle of ``{"num_images": n, "fid": {"mu", "sigma"},
(``.pkl``)                 "fd_dinov2": {"mu", "sigma"}}``; the entry is chosen by the
                           run's extractor (``fid`` for the Inception). The Inception is
                           the StyleGAN3 port of the TF graph: resize tf.
=========================  ==============================================================

None of these files records its weights: iqa takes them to be the FID Inception
(``inception-2015-12-05``), the network every one of these tools uses for FID, and says
so ("assumed"). Pickles are read by :mod:`iqa.distribution.safepickle`, never by
``pickle.load`` or ``torch.load``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from iqa.errors import InputError

#: Extractor name -> EDM2 pickle entry.
EDM2_ENTRIES = {"inception": "fid", "dinov2-vit-l-14": "fd_dinov2"}
#: torch-fidelity extractor name -> (iqa extractor, the layer its FID uses, iqa's
#: preprocessing mode that reproduces torch-fidelity's).
TORCH_FIDELITY = {"inception-v3-compat": ("inception", "2048", "tf"),
                  "vgg16": ("vgg16", "fc2_relu", "tf"),
                  "dinov2-vit-l-14": ("dinov2-vit-l-14", "dinov2", "torch-fidelity"),
                  "clip-vit-b-32": ("clip-vit-b-32", "clip", "torch-fidelity")}
_CLEAN_FID_MODES = {"clean": "clean", "legacy_tensorflow": "tf", "legacy_pytorch": "pytorch-fid"}
_CLEAN_FID_NAME = re.compile(
    r"^.+_(?P<mode>clean|legacy_tensorflow|legacy_pytorch)(?P<model>_[a-z0-9_]+?)?"
    r"_(?P<split>[a-z0-9]+)_(?P<res>[a-z0-9]+)\.npz$")
_TORCH_FIDELITY_NAME = re.compile(
    r"^.+-(?P<extractor>inception-v3-compat|vgg16|clip-[a-z0-9-]+?|dinov2-vit-[sblg]-14)"
    r"-stat-fid-(?P<layer>[^-]+)\.pt$")
ASSUMED_WEIGHTS = ("inception-2015-12-05 (not recorded; the FID Inception every one of "
                   "these tools uses)")


def origin(tool: str, fmt: str, *, extractor: str | None, resize: str | None, basis: str,
           entry: str | None = None) -> dict[str, Any]:
    """What a foreign file's ``meta`` says about it (see the module table)."""
    record: dict[str, Any] = {"tool": tool, "format": fmt, "extractor": extractor,
                              "resize": resize, "resize_basis": basis,
                              "weights": ASSUMED_WEIGHTS if extractor == "inception" else None}
    if entry is not None:
        record["entry"] = entry
    return record


def classify_npz(name: str, keys: set[str]) -> dict[str, Any]:
    """The origin of an ``.npz`` of ``mu``/``sigma`` that iqa did not write."""
    if keys & {"mu_s", "sigma_s", "arr_0"}:
        return origin("ADM evaluator (guided-diffusion)", "reference batch .npz",
                      extractor="inception", resize="tf",
                      basis="the ADM evaluator's TF Inception graph resizes bilinearly as TF1")
    match = _CLEAN_FID_NAME.match(Path(name).name.lower())
    if match:
        model = (match["model"] or "").lstrip("_") or None
        extractor = "inception" if model is None else model.replace("_", "-")
        if extractor == "inception":
            return origin("clean-fid", ".npz (mu, sigma)", extractor=extractor,
                          resize=_CLEAN_FID_MODES[match["mode"]],
                          basis=f"clean-fid's file name records mode={match['mode']}")
        # clean-fid's CLIP features: its own CLIP preprocessing (iqa's clean-fid mode of
        # clip-vit-b-32) in the default mode=clean; other modes are not vouched for.
        known = extractor == "clip-vit-b-32" and match["mode"] == "clean"
        return origin("clean-fid", ".npz (mu, sigma)", extractor=extractor,
                      resize="clean-fid" if known else None,
                      basis=(f"clean-fid's file name records model_name={model}, mode=clean"
                             if known else f"clean-fid's file name records model_name={model}, "
                             f"mode={match['mode']}, whose preprocessing iqa does not know"))
    return origin("pytorch-fid or clean-fid", ".npz (mu, sigma)", extractor="inception",
                  resize=None, basis="not recorded in the file; state it with --stats-resize")


def refuse_images_only(name: str) -> InputError:
    return InputError(f"{name}: holds images (arr_0) but no mu and sigma, like an ADM sample "
                      "batch: no statistics to show (`iqa fid` reads its images)", name)


def read_pickled(name: str, extractor: str) -> tuple[np.ndarray, np.ndarray, int | None,
                                                     dict[str, Any]]:
    """(mu, sigma, n, meta) of an EDM2 ``.pkl`` or a torch-fidelity ``.pt`` file."""
    from iqa.distribution.safepickle import load_restricted

    path = Path(name)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", name) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})", name) from None
    if path.suffix.lower() == ".pt":
        sibling = torch_fidelity_sibling(path, extractor)
        if sibling is not None:
            name, raw = str(sibling), _read(sibling)
        value = load_restricted(_torch_archive_pickle(raw, name), name)
        return _torch_fidelity(name, value, extractor)
    return _edm2(name, load_restricted(raw, name), extractor)


def clean_fid_sibling(path: Path, extractor: str) -> Path | None:
    """The clean-fid file of ``extractor``'s statistics beside ``path`` (same dataset
    name, mode, split and resolution; clean-fid names CLIP files with ``_clip_vit_b_32``
    after the mode) when ``path`` holds another extractor's; None when ``path`` is already
    ``extractor``'s or does not follow clean-fid's names. InputError when the sibling
    should exist and does not."""
    match = _CLEAN_FID_NAME.match(path.name.lower())
    models = {"inception": "", "clip-vit-b-32": "_clip_vit_b_32"}
    if match is None or extractor not in models:
        return None
    theirs = (match["model"] or "").lstrip("_").replace("_", "-") or "inception"
    if theirs == extractor or theirs not in models:
        return None  # one iqa does not read is refused naming its extractor
    lowered = path.name.lower()  # clean-fid writes lowercase names
    stem = (path.name if len(path.name) == len(lowered) else lowered)[:match.start("mode")]
    sibling = path.with_name(f"{stem}{match['mode']}{models[extractor]}_{match['split']}_"
                             f"{match['res']}.npz")
    if not sibling.is_file():
        raise InputError(f"{path}: holds clean-fid statistics of {theirs}, and this run also "
                         f"needs {extractor}'s, which clean-fid names {sibling.name}: not "
                         "found beside it; compute them with clean-fid's make_custom_stats "
                         "or give the image folder", str(path))
    return sibling


def named_extractor(path: Path) -> str | None:
    """The iqa extractor whose statistics a torch-fidelity or clean-fid file holds, by
    the file's name; None when the name follows neither tool's or names an extractor
    iqa does not read."""
    match = _TORCH_FIDELITY_NAME.match(path.name)
    if match is not None:
        found = TORCH_FIDELITY.get(match["extractor"])
        return None if found is None else found[0]
    match = _CLEAN_FID_NAME.match(path.name.lower())
    if match is None:
        return None
    model = (match["model"] or "").lstrip("_").replace("_", "-") or "inception"
    return model if model in ("inception", "clip-vit-b-32") else None


def torch_fidelity_sibling(path: Path, extractor: str) -> Path | None:
    """The file of ``extractor``'s statistics that torch-fidelity keeps beside ``path``
    (same input name, same cache folder) when ``path`` holds another extractor's; None
    when ``path`` is already ``extractor``'s, or does not follow torch-fidelity's names.
    InputError when the sibling should exist and does not."""
    match = _TORCH_FIDELITY_NAME.match(path.name)
    if match is None:
        return None
    theirs = match["extractor"]
    if theirs not in TORCH_FIDELITY or TORCH_FIDELITY[theirs][0] == extractor:
        return None  # one iqa does not read is refused by _same_extractor, naming it
    wanted = [(name, layer) for name, (ours, layer, _) in TORCH_FIDELITY.items()
              if ours == extractor]
    if not wanted:
        return None  # refused by _same_extractor, naming both extractors
    name, layer = wanted[0]
    prefix = path.name[:match.start("extractor") - 1]
    sibling = path.with_name(f"{prefix}-{name}-stat-fid-{layer}.pt")
    if not sibling.is_file():
        raise InputError(f"{path}: holds torch-fidelity statistics of {theirs}, and this run "
                         f"also needs {extractor}'s, which torch-fidelity keeps beside it as "
                         f"{sibling.name}: not found; compute them with torch-fidelity "
                         f"(feature_extractor={name!r}) or give the image folder", str(path))
    return sibling


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})", str(path)) from None


def _torch_archive_pickle(raw: bytes, name: str) -> bytes:
    """The ``data.pkl`` member of a ``torch.save`` zip archive."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [m for m in archive.namelist() if m.endswith("/data.pkl")
                       or m == "data.pkl"]
            if len(members) != 1:
                raise InputError(f"{name}: is not a torch.save archive of statistics (no "
                                 "data.pkl in it)", name)
            return archive.read(members[0])
    except zipfile.BadZipFile:
        raise InputError(f"{name}: is not a torch.save zip archive (damaged, truncated, or "
                         "written by torch older than 1.6); give the statistics file "
                         "torch-fidelity wrote (NAME-EXTRACTOR-stat-fid-LAYER.pt)", name
                         ) from None
    except InputError:
        raise
    except Exception as exc:  # CRC errors and other damage
        raise InputError(f"{name}: is a damaged torch.save archive ({type(exc).__name__})",
                         name) from None


def _moments(name: str, value: Any, where: str) -> tuple[Any, Any]:
    if not isinstance(value, dict) or not {"mu", "sigma"} <= set(value):
        held = ", ".join(sorted(map(str, value))) if isinstance(value, dict) else \
            type(value).__name__
        raise InputError(f"{name}: {where} needs 'mu' and 'sigma' (it has {held or 'none'})",
                         name)
    return _array(name, value["mu"], "mu"), _array(name, value["sigma"], "sigma")


def _array(name: str, value: Any, key: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        what = (f"an array of {value.dtype}" if isinstance(value, np.ndarray) else
                f"a {type(value).__name__}")
        raise InputError(f"{name}: {key} is {what}, not an array of numbers", name)
    return np.asarray(value, np.float64)


def _torch_fidelity(name: str, value: Any, extractor: str
                    ) -> tuple[np.ndarray, np.ndarray, int | None, dict[str, Any]]:
    match = _TORCH_FIDELITY_NAME.match(Path(name).name)
    resize = None
    if match is None:
        found, layer, basis = "inception", None, "the file name does not follow torch-fidelity's"
    else:
        theirs, layer = match["extractor"], match["layer"]
        found, want_layer, resize = TORCH_FIDELITY.get(theirs, (theirs, None, None))
        if want_layer is not None and layer != want_layer:
            raise InputError(f"{name}: holds torch-fidelity statistics of layer {layer}; its "
                             f"FID uses layer {want_layer} of {theirs}", name)
        basis = f"torch-fidelity's {theirs} preprocessing, which iqa's {resize} mode reproduces"
    _same_extractor(name, found, extractor, "torch-fidelity")
    mean, cov = _moments(name, value, "a torch-fidelity statistics file")
    meta = origin("torch-fidelity", "cached statistics .pt", extractor=found, resize=resize,
                  basis=basis if resize else f"{basis}; state it with --stats-resize",
                  entry=None if layer is None else f"stat-fid-{layer}")
    return mean, cov, None, meta


def _edm2(name: str, value: Any, extractor: str
          ) -> tuple[np.ndarray, np.ndarray, int | None, dict[str, Any]]:
    entries = [k for k in EDM2_ENTRIES.values() if isinstance(value, dict) and k in value]
    if not entries:
        held = ", ".join(sorted(map(str, value))) if isinstance(value, dict) else \
            type(value).__name__
        raise InputError(f"{name}: not an EDM2 reference pickle (it needs 'fid' or "
                         f"'fd_dinov2' entries; it has {held or 'none'})", name)
    entry = EDM2_ENTRIES.get(extractor)
    if entry not in entries:
        raise InputError(f"{name}: holds EDM2 statistics for {', '.join(entries)} only, and "
                         f"this run needs {extractor} features "
                         f"({entry or 'EDM2 has no entry for them'})", name)
    mean, cov = _moments(name, value[entry], f"its {entry!r} entry")
    n = value.get("num_images")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2):
        raise InputError(f"{name}: num_images = {n!r}; it must be an integer of at least 2",
                         name)
    resize = "tf" if entry == "fid" else None
    basis = ("EDM2's Inception (the StyleGAN3 port of the TF graph) resizes as TF1 does"
             if entry == "fid" else "EDM2 resizes for DINOv2 with torch or PIL bicubic, "
             "not recorded")
    meta = origin("EDM2 (calculate_metrics.py ref)", "dataset-refs .pkl", extractor=extractor,
                  resize=resize, basis=basis, entry=entry)
    meta["entries"] = entries
    return mean, cov, None if n is None else int(n), meta


def _same_extractor(name: str, found: str, wanted: str, tool: str) -> None:
    if found != wanted:
        raise InputError(f"{name}: holds {tool} statistics of the {found} extractor, and this "
                         f"run needs {wanted} features; statistics of one network cannot "
                         "stand in for another's", name)
