"""Metrics of generative models computed on feature arrays: the math behind ``iqa fid -m ...``.

Each function takes features already extracted (NumPy arrays, one row per image) and
reproduces one reference tool, named in its docstring together with the convention that
makes its numbers comparable (which set is "real", ``<`` or ``≤`` in the k-NN balls, k,
split sizes, kernel bandwidth and scale):

* :func:`precision_recall` — improved precision and recall, Kynkäänniemi et al. 2019,
  k = 3, ``≤`` (torch-fidelity ``prc``; the ADM evaluator with Inception pool3 features);
* :func:`density_coverage` — Naeem et al. 2020, k = 5, ``<`` (the ``prdc`` package);
* :func:`prdc` — all four numbers exactly as ``prdc.compute_prdc`` computes them;
* :func:`inception_score` — Salimans et al. 2016, torch-fidelity's 10 shuffled splits or
  the ADM evaluator's 5,000-image splits;
* :func:`cmmd` — Jayasumana et al. 2024, biased MMD², Gaussian RBF σ = 10, ×1000
  (google-research ``cmmd``);
* :func:`frechet_distance_features` — the Fréchet distance on any features (FD-DINOv2,
  CLIP-FID).

Nothing here imports torch; the submodules are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "precision_recall": "iqa.genmetrics.manifold",
    "density_coverage": "iqa.genmetrics.manifold",
    "prdc": "iqa.genmetrics.manifold",
    "PrecisionRecall": "iqa.genmetrics.manifold",
    "DensityCoverage": "iqa.genmetrics.manifold",
    "inception_score": "iqa.genmetrics.inception_score",
    "unbiased_logits": "iqa.genmetrics.inception_score",
    "InceptionScore": "iqa.genmetrics.inception_score",
    "cmmd": "iqa.genmetrics.cmmd",
    "frechet_distance_features": "iqa.genmetrics.fd",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'iqa.genmetrics' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
