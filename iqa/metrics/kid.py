"""KID, Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

Definition used: the unbiased estimate of the squared maximum mean discrepancy (MMD²)
between Inception pool3 features of the two sets, with the cubic polynomial kernel
k(x, y) = (xᵀy / d + 1)³, d = 2048:

    MMD²ᵤ = Σ_{i≠j} k(xᵢ, xⱼ) / (m(m−1)) + Σ_{i≠j} k(yᵢ, yⱼ) / (m(m−1)) − 2 Σ_{i,j} k(xᵢ, yⱼ) / m²

averaged over ``subsets`` random subsets of ``subset_size`` features drawn without
replacement from each set; ``kid_std`` is the standard deviation (ddof = 0) over the
subsets. The subsets are drawn as torch-fidelity draws them
(``numpy.random.RandomState(seed)``, then for each subset one ``choice`` from its first
input and one from its second) in torch-fidelity's convention, where the first input
(``input1``) is the generated set: each subset of FAKE is drawn before the subset of
REAL. So with the same seed, subset count and size the values are those of
``torch_fidelity.calculate_metrics(input1=FAKE, input2=REAL, kid=True)`` (the call of
its README, and the order its precision/recall needs); kernels are computed in float64.
The estimate itself is symmetric: only which images each subset holds depends on the
order. With one subset as large as both sets the result is the full unbiased
estimate (independent of the seed).

KID needs the features themselves, not only their mean and covariance: ``iqa fid --kid``
keeps them (float32, 8 KiB per image) while it runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from iqa.metrics.base import DISTRIBUTION, DistributionMetric, MetricInfo, Option

DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000
DEFAULT_SEED = 2020  # torch-fidelity's default


class KIDValue(NamedTuple):
    """KID's mean and standard deviation over the subsets."""

    mean: float
    std: float


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equally sized feature sets with k(a, b) = (aᵀb/d + 1)³."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    m, d = x.shape
    if y.shape != (m, d) or m < 2:
        raise ValueError(f"need two m×d feature sets with m ≥ 2, got {x.shape} and {y.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow → inf/NaN, checked by callers
        k_xx = (x @ x.T / d + 1) ** 3
        k_yy = (y @ y.T / d + 1) ** 3
        k_xy = (x @ y.T / d + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        return float(within - 2 * k_xy.sum() / (m * m))


def kid_from_features(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    subsets: int = DEFAULT_SUBSETS,
    subset_size: int = DEFAULT_SUBSET_SIZE,
    seed: int = DEFAULT_SEED,
) -> KIDValue:
    """KID mean and standard deviation over random subsets (see the module docstring).

    ``subset_size`` must not exceed the size of either set.
    """
    n_real, n_fake = len(real), len(fake)
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    if not 2 <= subset_size <= min(n_real, n_fake):
        raise ValueError(
            f"subset_size must be between 2 and the size of the smaller set "
            f"({min(n_real, n_fake)}), got {subset_size}"
        )
    rng = np.random.RandomState(seed)
    values = np.zeros(subsets)
    for i in range(subsets):
        y = fake[rng.choice(n_fake, subset_size, replace=False)]  # torch-fidelity's input1
        x = real[rng.choice(n_real, subset_size, replace=False)]
        values[i] = polynomial_mmd2(x, y)
    return KIDValue(float(values.mean()), float(values.std()))


class KID(DistributionMetric):
    """Adapter for the metric contract: features of each set → KID mean and std."""

    info = MetricInfo(
        name="kid",
        kind=DISTRIBUTION,
        higher_is_better=False,
        needs="network:fid-inception",
        extra="torch",
        definition="KID = unbiased MMD^2 of Inception pool3 features, kernel (x.y/d + 1)^3, "
        "mean over random subsets (Binkowski et al. 2018)",
        options=(
            Option("subsets", int, DEFAULT_SUBSETS, "random subsets KID is averaged over"),
            Option("subset_size", int, DEFAULT_SUBSET_SIZE, "images per subset"),
            Option("seed", int, DEFAULT_SEED, "seed of the subsets (torch-fidelity's default)"),
        ),
    )
    inputs = "features"

    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        params = self.options.params
        value = kid_from_features(
            np.asarray(real), np.asarray(fake),
            subsets=int(params.get("kid.subsets", DEFAULT_SUBSETS)),
            subset_size=int(params.get("kid.subset_size", DEFAULT_SUBSET_SIZE)),
            seed=int(params.get("kid.seed", DEFAULT_SEED)),
        )
        return {"kid_mean": value.mean, "kid_std": value.std}
