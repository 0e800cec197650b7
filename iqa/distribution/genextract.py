"""Features of both sets from extractors other than the FID Inception, for the
generative metrics (:mod:`iqa.distribution.generative`).

Each extractor is built once per run (weights from the weights manager, checked and
loaded with ``weights_only=True``). A folder whose Inception statistics are computed in
the run is decoded once for the Inception and all of them together
(:class:`~iqa.distribution.companions.Companions` in the FID pass); a folder whose
Inception statistics come from the cache is decoded once for all of them
(:func:`iqa.distribution.feature_pass.extract_features`). These features are not cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from iqa.errors import InputError


def build(name: str, engine: Any) -> tuple[Any, list[Any]]:
    """The extractor ``name`` on the run's device, and the weights it was built from."""
    from iqa.extras import require
    from iqa.features.registry import load, split_features
    from iqa.weights import load_state_dict, resolve

    cls = load(name)
    if cls.info.extra:
        require(cls.info.extra, f"the {name} feature extractor")
    hooks, states, resolved = engine.hooks, {}, []
    for weights_name in cls.info.weights:
        if hooks.download is None:
            weights = resolve(weights_name)
        else:
            with hooks.download(f"{weights_name} weights") as callback:
                weights = resolve(weights_name, progress=callback)
        if weights.warning:
            hooks.warn(weights.warning)
        states[weights_name] = load_state_dict(weights)
        resolved.append(weights)
    chosen, mode = split_features(engine.options.features)
    return cls(states, device=engine.device, preprocessing=mode if chosen == name else None
               ), resolved


def build_all(names: Sequence[str], engine: Any
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Each extractor in ``names`` built (:func:`build`), and what each is (for the
    definitions block)."""
    built, described = {}, {}
    for name in names:
        extractor, weights = build(name, engine)
        built[name] = extractor
        described[name] = {**extractor.info.describe(extractor.preprocessing),
                           "weights_sha256": weights[0].sha256 if len(weights) == 1 else
                           [w.sha256 for w in weights],
                           "weights": [w.describe() for w in weights]}
    return built, described


def batch_size(engine: Any) -> int:
    """Images per forward pass of these extractors: ``--batch-size``, else 16 on a CPU
    and 64 on a GPU."""
    from iqa.device import default_batch_size

    return engine.options.batch_size or default_batch_size(engine.device,
                                                           {"cpu": 16, "cuda": 64}, 16)


def extract_sets(names: list[str], plans: list[Any], sides: list[Any], engine: Any
                 ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, dict[str, Any]]]:
    """Features of the two sets (``plans``: folders) from each extractor in ``names``, and
    what each is (for the definitions block).

    A side whose Inception statistics were computed in this run already holds these
    features (``side.companions``: the same decode pass fed every extractor); a side
    whose statistics came from the cache is decoded once more here, for all the
    extractors at once. A plan may be a statistics file (only ``fd`` takes one, checked by
    :func:`iqa.distribution.gencompute.precheck`): its side is ``None``."""
    from iqa.device import default_workers
    from iqa.distribution.feature_pass import extract_features

    options, hooks = engine.options, engine.hooks
    built, described = engine.companions()
    built = {name: built[name] for name in names}
    workers = default_workers(engine.device) if options.workers is None else options.workers
    progress = hooks.progress or (lambda label, total: nullcontext(None))
    out: list[dict[str, np.ndarray]] = []
    for plan, side, label in zip(plans, sides, ("real", "fake")):
        if plan.files is None:  # a statistics file: fd reads its mu and sigma (genstats)
            out.append({})
            continue
        features = side.companions if all(n in side.companions for n in names) else None
        seconds = None
        if features is None:
            with progress(f"{label} ({', '.join(names)}): {plan.path}",
                          len(plan.files)) as advance:
                result = extract_features([str(f) for f in plan.files], built, options.decode,
                                          batch_size=batch_size(engine), workers=workers,
                                          skip_bad=options.skip_bad, advance=advance)
            features, seconds = result.features, result.seconds
        n = len(next(iter(features.values())))
        if n < 2:
            raise InputError(f"{plan.path}: only {n} images could be read; the k-NN metrics "
                             "need at least 2 images per set", str(plan.path))
        kept = sum(features[name].nbytes for name in names)
        size = f"{kept / 2**20:.1f} MiB" if kept >= 2**20 else f"{kept / 1024:.1f} KiB"
        how = ("from the Inception pass" if seconds is None else
               f"in {seconds:.1f} s")
        hooks.info(f"{plan.path}: {', '.join(names)} features of {n} images {how} "
                   f"(kept in memory: {size} float32)")
        out.append(features)
    return {name: (out[0].get(name), out[1].get(name)) for name in names}, {
        name: described[name] for name in names}
