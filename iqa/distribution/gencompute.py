"""Computing the generative metrics of one ``iqa fid`` run (the table, the extractors
and the options are in :mod:`iqa.distribution.generative`): checks before any image is
decoded, then each metric's value and definition from its extractor's features."""

from __future__ import annotations

from typing import Any

import numpy as np

from iqa.distribution.generative import METRICS, NEAREST_K, extractors, is_params, run_metrics
from iqa.errors import InputError, UsageError


def precheck(plans: list[Any], engine: Any) -> None:
    """Refuse before any image is decoded what would fail after: a non-Inception
    extractor on a set that is not a folder, IS with a zero logits layer."""
    options = engine.options
    assigned = extractors(run_metrics(options), options.features)
    others = sorted({e for e in assigned.values() if e != "inception"})
    for plan in plans if others else []:
        if plan.files is None:
            # fd needs only mu and sigma, which a statistics file may hold (genstats)
            users = ", ".join(m for m, e in assigned.items() if e in others
                              and not (m == "fd" and plan.summary is not None))
            if not users:
                continue
            kind = "a statistics file" if plan.summary is not None else "images in memory"
            raise UsageError(f"{plan.path}: {users} need the features of the "
                             f"{'/'.join(others)} extractor, and this set is {kind}; give "
                             "the folder of images")
    if assigned.get("fd", "inception") != "inception" and any(
            plan.summary is not None for plan in plans):
        from iqa.distribution import genstats

        genstats.check(plans, engine, assigned["fd"])
    if "is" in assigned and any(plan.summary is None for plan in plans):
        _logits_weight(engine)


def _logits_weight(engine: Any) -> np.ndarray:
    """``fc.weight`` of the run's Inception weights; InputError when it is all zeros."""
    from iqa.weights import load_state_dict

    weight = load_state_dict(engine.weights)["fc.weight"]
    weight = weight.numpy() if hasattr(weight, "numpy") else np.asarray(weight)
    if not np.any(weight):
        raise InputError(f"{engine.weights.path}: the Inception's logits layer (fc.weight) is "
                         "all zeros, so no Inception Score can be computed; use the official "
                         "FID Inception weights (iqa weights download fid-inception)",
                         str(engine.weights.path))
    return weight


def add_generative(result: Any, plans: list[Any], engine: Any) -> None:
    """Compute the chosen generative metrics into ``result`` (a
    :class:`~iqa.distribution.run.Comparison`): its ``values`` and ``generative``
    definitions."""
    options = engine.options
    assigned = extractors(run_metrics(options), options.features)
    if not assigned:
        return
    sides = (result.real, result.fake)
    features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    described: dict[str, dict[str, Any]] = {}
    if "inception" in assigned.values():
        from iqa.features.fid_inception import InceptionExtractor

        features["inception"] = (sides[0].features, sides[1].features)
        described["inception"] = {**InceptionExtractor.info.describe(options.resize),
                                  "weights_sha256": result.weights_sha256()}
    others = sorted({e for e in assigned.values() if e != "inception"})
    if others and all(plan.summary is not None for plan in plans):  # fd of two files
        from iqa.distribution.genstats import describe

        described.update({name: describe(name, engine) for name in others})
        features.update({name: (None, None) for name in others})
    elif others:
        from iqa.distribution.genextract import extract_sets

        got, info = extract_sets(others, plans, [result.real, result.fake], engine)
        features.update(got)
        described.update(info)
    for metric, name in assigned.items():
        real, fake = features[name]
        if metric == "fd" and name == "inception":  # FID itself, from the FID statistics
            values, extra = {"fd": result.fid}, {}
        elif metric == "fd" and any(
                plan.summary is not None for plan in plans):
            from iqa.distribution.genstats import frechet

            values, extra = frechet((real, fake), plans, engine, name)
        else:
            values, extra = _compute(metric, real, fake, engine, result)
        for key, value in values.items():
            if not np.isfinite(value):
                raise InputError(f"{key} of {sides[0].path} and {sides[1].path} is not a "
                                 f"finite number ({value}); check the {name} weights",
                                 sides[1].path)
        result.values.update(values)
        spec = METRICS[metric]
        result.generative[metric] = {"definition": spec.definition, **described[name],
                                     "higher_is_better": spec.higher_is_better, **extra}


def _compute(metric: str, real: np.ndarray, fake: np.ndarray, engine: Any,
             result: Any) -> tuple[dict[str, float], dict[str, Any]]:
    from iqa import genmetrics

    if metric == "is":
        return _inception_score(fake, engine, result)
    if metric == "fd":
        return {"fd": genmetrics.frechet_distance_features(real, fake)}, {}
    if metric == "kid":
        return _kid(real, fake, engine)
    if metric == "cmmd":
        from iqa.genmetrics.cmmd import SCALE, SIGMA, cmmd

        return {"cmmd": cmmd(real, fake)}, {
            "sigma": SIGMA, "scale": SCALE, "kernel": "exp(-|x - y|^2 / (2 sigma^2))",
            "estimator": "biased MMD^2 (all pairs, i = j included)"}
    k = NEAREST_K[metric]
    if metric in ("precision", "recall"):
        pr = genmetrics.precision_recall(real, fake, k=k)
        return {metric: float(getattr(pr, metric))}, {"k": k, "ball": "<="}
    dc = genmetrics.density_coverage(real, fake, k=k)
    return {metric: float(getattr(dc, metric))}, {"k": k, "ball": "<"}


def _inception_score(fake: np.ndarray, engine: Any, result: Any
                     ) -> tuple[dict[str, float], dict[str, Any]]:
    """IS of the FAKE set from pool3 features and the weights' ``fc.weight``."""
    from iqa.genmetrics import inception_score, unbiased_logits

    side = result.fake
    recorded = (side.meta.get("weights") or {}).get("sha256")
    if side.source == "stats file" and recorded != engine.weights.sha256:
        raise UsageError(f"{side.path}: the Inception Score needs the logits layer of the "
                         "weights its features were computed with; give the image folder")
    weight = _logits_weight(engine)
    params = is_params(dict(engine.options.params))
    if params["mode"] == "adm":
        score = inception_score(unbiased_logits(fake, weight), mode="adm",
                                split_size=params["split_size"])
        extra = {"mode": "adm", "split_size": params["split_size"], "shuffle": False}
    else:
        if params["splits"] > len(fake):
            raise InputError(f"{side.path}: {len(fake)} images cannot form {params['splits']} "
                             "Inception Score splits; use --metric-option is.splits=N with "
                             "fewer splits", side.path)
        score = inception_score(unbiased_logits(fake, weight), splits=params["splits"])
        extra = {"mode": "torch-fidelity", "splits": params["splits"],
                 "shuffle": "numpy RandomState(2020).permutation"}
    return {"is": score.mean, "is_std": score.std}, {"set": "fake", "logits": "fc without bias",
                                                     **extra}


def _kid(real: np.ndarray, fake: np.ndarray, engine: Any
         ) -> tuple[dict[str, float], dict[str, Any]]:
    """KID on another extractor's features, with the run's subsets, size and seed."""
    from iqa.metrics.kid import kid_from_features

    options = engine.options
    size = options.kid_subset_size
    smaller = min(len(real), len(fake))
    if size > smaller:
        engine.hooks.warn(f"--kid-subset-size {size} is larger than the smaller set ({smaller} "
                          f"images); using {smaller}")
        size = smaller
    value = kid_from_features(real, fake, subsets=options.kid_subsets, subset_size=size,
                              seed=options.seed)
    return {"kid_mean": value.mean, "kid_std": value.std}, {
        "kernel": f"(x.y/{real.shape[1]} + 1)^3", "estimator": "unbiased MMD^2",
        "subsets": options.kid_subsets, "subset_size": size, "seed": options.seed}
