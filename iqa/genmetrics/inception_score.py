"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

For class probabilities p(y|x) of the images of one split,
IS = exp( mean_x KL( p(y|x) ‖ p(y) ) ) with p(y) the mean of p(y|x) over the split; the
score is reported as the mean (and standard deviation) over splits. The two tools the
field quotes split differently, and the split changes the number (p(y) is estimated per
split: fewer, larger splits give a higher IS):

* torch-fidelity (``isc``, default here): the set is shuffled with
  ``np.random.RandomState(2020).permutation(N)`` and cut into 10 near-equal splits
  (rows ``i·N//10 … (i+1)·N//10``); mean and population standard deviation (``np.std``).
* ADM evaluator (guided-diffusion ``evaluations/evaluator.py``,
  ``compute_inception_score``): no shuffle, consecutive splits of 5,000 images (the last
  one shorter when N is not a multiple), mean only — the table value in ADM, EDM and
  most ImageNet papers.

Both feed the logits of the FID Inception *without the bias* of its 1008-way layer
(torch-fidelity's ``logits_unbiased`` feature; the ADM evaluator's ``softmax/logits/MatMul``
tensor, as in the original improved-gan code); :func:`unbiased_logits` computes them from
pool3 features and the layer's weight.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from iqa.errors import InvalidArgument, UsageError
from iqa.genmetrics._validate import feature_array, positive_int

Mode = Literal["torch-fidelity", "adm"]


class InceptionScore(NamedTuple):
    mean: float
    std: float
    split_scores: tuple[float, ...]


def unbiased_logits(pool3: object, fc_weight: object) -> np.ndarray:
    """``pool3 @ fc_weightᵀ`` in float64: the Inception logits without the layer's bias.

    ``pool3`` is N×2048, ``fc_weight`` the 1008×2048 ``fc.weight`` of the FID Inception
    weights (pytorch-fid / torch-fidelity layout).
    """
    x = feature_array(pool3, "pool3 features")
    w = feature_array(fc_weight, "fc.weight")
    if w.shape[1] != x.shape[1]:
        raise InvalidArgument(
            f"fc.weight is {w.shape[0]}×{w.shape[1]} but the features are {x.shape[1]}-d; "
            "use the weight of the same network"
        )
    return np.asarray(x, np.float64) @ np.asarray(w, np.float64).T


def _log_probs(block: np.ndarray, inputs: str) -> np.ndarray:
    x = np.asarray(block, np.float64)
    if inputs == "logits":
        top = x.max(axis=1, keepdims=True)
        shifted = x - top
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore"):
        return np.log(x)


def _split_score(block: np.ndarray, inputs: str) -> float:
    """exp(mean KL(p(y|x) ‖ p(y))) of one split, in float64, with 0·log 0 = 0."""
    log_p = _log_probs(block, inputs)
    p = np.exp(log_p)
    q = p.mean(axis=0, keepdims=True)
    mask = p > 0  # where p > 0, q > 0 too
    log_ratio = np.where(mask, log_p, 0.0) - np.log(np.where(q > 0, q, 1.0))
    terms = np.where(mask, p * log_ratio, 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def _check_probs(x: np.ndarray) -> None:
    sums = np.asarray(x, np.float64).sum(axis=1)
    if (x < 0).any() or not np.allclose(sums, 1.0, atol=1e-3):
        raise InvalidArgument(
            "probabilities must be non-negative and sum to 1 in each row; pass "
            'inputs="logits" for raw network outputs'
        )


def inception_score(
    values: object,
    *,
    mode: Mode = "torch-fidelity",
    inputs: Literal["logits", "probs"] = "logits",
    splits: int | None = None,
    split_size: int | None = None,
    seed: int = 2020,
) -> InceptionScore:
    """The Inception Score of N images from their logits (or probabilities), N×C.

    ``mode="torch-fidelity"`` (default) reproduces torch-fidelity 0.4's
    ``metric_isc.isc_features_to_metric`` with its defaults: shuffle with
    ``RandomState(seed)`` (``rng_seed`` = 2020), ``splits`` = 10, softmax in float64,
    mean and population std of the split scores. ``mode="adm"`` reproduces the ADM
    evaluator's ``compute_inception_score``: consecutive splits of ``split_size`` = 5,000
    images in input order, the last one possibly shorter; its reported value is ``mean``
    (``std`` is given for information). ``splits`` applies only to the first mode and
    ``split_size`` only to the second.

    ``inputs="logits"`` (default) takes the Inception's unbiased logits (see
    :func:`unbiased_logits`); ``inputs="probs"`` takes softmax probabilities (rows summing
    to 1). Computation is float64 (the ADM evaluator's softmax and logs are float32, which
    moves its IS by about 1e-5 relative). Zero probabilities count as 0·log 0 = 0.
    """
    if mode not in ("torch-fidelity", "adm"):
        raise UsageError(f'unknown Inception Score mode {mode!r}; use "torch-fidelity" or "adm"')
    if inputs not in ("logits", "probs"):
        raise UsageError(f'unknown inputs {inputs!r}; use "logits" or "probs"')
    x = feature_array(values, "Inception logits" if inputs == "logits" else "probabilities")
    if inputs == "probs":
        _check_probs(x)
    n = x.shape[0]
    if mode == "torch-fidelity":
        if split_size is not None:
            raise UsageError('split_size applies to mode="adm"; use splits= with torch-fidelity')
        k = positive_int(10 if splits is None else splits, "splits")
        if k > n:
            raise InvalidArgument(f"{n} images cannot form {k} splits; use fewer splits")
        order = np.random.RandomState(seed).permutation(n)
        bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
        scores = [_split_score(x[order[a:b]], inputs) for a, b in bounds]
    else:
        if splits is not None:
            raise UsageError('splits applies to mode="torch-fidelity"; use split_size= with adm')
        size = positive_int(5000 if split_size is None else split_size, "split_size")
        scores = [_split_score(x[a : a + size], inputs) for a in range(0, n, size)]
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)), tuple(scores))
