"""Whether a statistics file was computed as this run computes: checked, and refused.

A statistics file says (or its format implies, :mod:`iqa.distribution.foreign`) which
network, resize mode and weights made it. Before any image is decoded, each statistics
file given to ``iqa fid`` is compared with the run:

* another network or extractor than the FID Inception: refused;
* a resize mode other than ``--resize`` (the result is labelled with it), or two
  statistics files with different resize modes: refused;
* an alpha policy or EXIF choice other than this run's (iqa's files record them):
  refused, except ``--alpha error``, which any policy matches;
* weights whose SHA-256 differs from the run's weights, or from the other file's: refused.

Files that do not record their resize mode (pytorch-fid's ``.npz``, most clean-fid files)
take the one the user states with ``--stats-resize MODE`` (``stats_resize=``), which is
then checked like a recorded one, and which a file's own record must not contradict;
unstated, the resize mode is reported as unknown and a warning says what was assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iqa.errors import InputError, UsageError


def file_resize(meta: dict[str, Any], stated: str | None, name: str) -> tuple[str | None, str]:
    """(resize mode, where it comes from) of one statistics file."""
    recorded = meta.get("resize")
    foreign = meta.get("foreign")
    if recorded is not None:
        if stated is not None and stated != recorded:
            basis = foreign["resize_basis"] if foreign else "the file records it"
            raise InputError(f"{name}: was computed with --resize {recorded} ({basis}), and "
                             f"--stats-resize says {stated}", name)
        return recorded, foreign["resize_basis"] if foreign else "recorded by iqa"
    if stated is not None:
        return stated, "stated with --stats-resize"
    return None, "unknown: not recorded in the file; state it with --stats-resize"


def check_plans(plans: list[Any], engine: Any, warn: Callable[[str], None]) -> None:
    """Refuse statistics files computed otherwise than this run (see the module)."""
    from iqa.features.inception import NETWORK_ID

    options = engine.options
    files = [p.summary for p in plans if p.summary is not None]
    if options.stats_resize is not None and not files:
        raise UsageError(f"--stats-resize {options.stats_resize}: states how statistics files "
                         "were resized, and no set here is a statistics file")
    computed = len(files) < len(plans)
    resizes: list[tuple[str, str]] = []
    for side in files:
        network = side.meta.get("network")
        if network is not None and network != NETWORK_ID:
            raise InputError(f"{side.path}: holds statistics of {network}, and FID needs "
                             f"{NETWORK_ID}", side.path)
        resize, basis = file_resize(side.meta, options.stats_resize, side.path)
        if resize is None:
            if computed:
                warn(f"{side.path}: does not record how its images were resized; taken as "
                     f"--resize {options.resize}, as this run's images: state it with "
                     "--stats-resize MODE to have it checked")
            continue
        if computed and resize != options.resize:
            raise InputError(f"{side.path}: was computed with --resize {resize} ({basis}), and "
                             f"this run resizes images with --resize {options.resize}; give "
                             f"--resize {resize}, or statistics made with --resize "
                             f"{options.resize}", side.path)
        resizes.append((side.path, resize))
    if len(resizes) == 2 and resizes[0][1] != resizes[1][1]:
        (a, ra), (b, rb) = resizes
        raise InputError(f"{b}: was computed with --resize {rb} and {a} with --resize {ra}; "
                         "the two sets were preprocessed differently", b)
    if not computed and resizes and resizes[0][1] != options.resize:
        path, resize = resizes[0]
        raise InputError(f"{path}: was computed with --resize {resize}, and this run's result "
                         f"would be labelled --resize {options.resize}; give --resize "
                         f"{resize}", path)
    _check_decoding(files, options)
    _check_weights(files, engine, computed)


def _said(key: str, value: Any) -> str:
    if key == "alpha":
        return f"with --alpha {value}"
    return "with --exif" if value else "without --exif"


def _check_decoding(files: list[Any], options: Any) -> None:
    """The alpha policy and EXIF choice iqa's files record must be this run's: its folders
    are decoded so, and its result is labelled so. ``--alpha error`` is compatible with
    every policy: a set it read had no transparent pixel, so every policy gives the same
    pixels."""
    for key in ("alpha", "exif"):
        ours = getattr(options.decode, key)
        for side in files:
            theirs = side.meta.get(key)
            if theirs is None or theirs == ours or (key == "alpha" and "error" in (theirs,
                                                                                  ours)):
                continue
            advice = (f"give --alpha {theirs}" if key == "alpha" else
                      "give --exif" if theirs else "leave out --exif")
            raise InputError(f"{side.path}: was computed {_said(key, theirs)}, and this run "
                             f"decodes {_said(key, ours)}; {advice}, or use statistics made "
                             "with this run's setting", side.path)


def _check_weights(files: list[Any], engine: Any, computed: bool) -> None:
    digests = [(s.path, (s.meta.get("weights") or {}).get("sha256")) for s in files]
    digests = [(path, d) for path, d in digests if d]
    if computed and digests:
        ours = engine.weights.sha256
        for path, digest in digests:
            if digest != ours:
                raise InputError(f"{path}: was computed with other weights (sha256 "
                                 f"{digest[:16]}…) than this run's ({ours[:16]}…); give "
                                 "--weights with the file it was computed with", path)
    if len(digests) == 2 and digests[0][1] != digests[1][1]:
        raise InputError(f"{digests[1][0]}: was computed with other weights (sha256 "
                         f"{digests[1][1][:16]}…) than {digests[0][0]} "
                         f"({digests[0][1][:16]}…)", digests[1][0])


def describe_file(meta: dict[str, Any], stated: str | None, name: str) -> dict[str, Any]:
    """What a result record says about one statistics file: its tool, format, resize mode
    (and where that comes from) and weights."""
    foreign = meta.get("foreign")
    resize, basis = file_resize(meta, stated, name)
    weights = meta.get("weights") or {}
    if foreign is None:
        return {"tool": "iqa", "format": meta.get("format"), "resize": resize,
                "resize_basis": basis, "weights_sha256": weights.get("sha256")}
    out = {"tool": foreign["tool"], "format": foreign["format"], "resize": resize,
           "resize_basis": basis, "weights": foreign["weights"]}
    if foreign.get("entry"):
        out["entry"] = foreign["entry"]
    return out
