"""Variance decomposition of sampled scores: item difficulty vs decoding (sampling) noise.

A *run* ``r`` is sample ``r`` of every item (Song et al. 2024, arXiv:2407.10457, Sec. 2); its
score is ``R_r = (1/n) sum_i s_ir``. Model: item ``i`` has a true mean score ``mu_i`` (its
difficulty for this model and config) and decoding noise of variance ``sigma_i^2`` around it
(for binary scores ``sigma_i^2 = mu_i (1 - mu_i)``, Bernoulli noise).

Law of total variance for one score drawn at a random item and a random sample::

    Var(s) = E_i[ Var(s | i) ] + Var_i( E[s | i] ) = E[sigma_i^2] + Var(mu_i)
             (within-item noise)   (between-item difficulty)

and its exact sample analogue (one-way ANOVA identity, all terms with ddof=0)::

    mean_ij (s_ij - sbar)^2 = mean_i [ mean_j (s_ij - sbar_i)^2 ] + mean_i (sbar_i - sbar)^2

The spread of the run score over re-runs on the *same* items is pure sampling noise: the runs
are independent given the items, so ``Var(R | items) = (1/n^2) sum_i sigma_i^2``
(= mean within-item variance / n_items). Item difficulty enters only when the items themselves
are regarded as a draw from a larger population of questions: then
``Var(R) = (Var(mu_i) + E[sigma_i^2]) / n`` (Miller 2024, arXiv:2411.00640, Sec. 2-3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from goodbadgreedy.stats.estimators import _check_matrix

__all__ = ["decompose_variance", "VarianceDecomposition"]


@dataclass(frozen=True)
class VarianceDecomposition:
    """Result of :func:`decompose_variance`; all variances are in squared score units."""

    n_items: int
    n_samples: int
    #: mean of all scores
    grand_mean: float
    #: ``(n_items,)`` per-item mean score ``sbar_i``
    item_means: np.ndarray
    #: ``(n_items,)`` per-item variance across samples, ddof=1 (unbiased for ``sigma_i^2``;
    #: ``K/(K-1) * p(1-p)`` for binary scores)
    item_vars: np.ndarray
    #: population variance (ddof=0) of all ``n_items * n_samples`` scores
    total_var: float
    #: mean over items of the ddof=0 within-item variance (binary: mean of ``p_i(1-p_i)``)
    within_var: float
    #: ddof=0 variance of the item means; ``total_var = within_var + between_var`` exactly
    between_var: float
    #: ``within_var / total_var`` (NaN when all scores are equal)
    within_fraction: float
    #: ``(n_samples,)`` score of each run (column means)
    run_means: np.ndarray
    #: ``mean(item_vars) / n_items``: variance of a run score implied by the sampling noise
    run_var_implied: float
    #: ddof=1 variance of ``run_means`` (the empirical counterpart of ``run_var_implied``)
    run_var_empirical: float
    #: method-of-moments estimate of ``Var(mu_i)``, the item-difficulty variance:
    #: ``max(0, var(item_means, ddof=1) - mean(item_vars) / n_samples)``
    item_difficulty_var: float

    @property
    def run_sd_implied(self) -> float:
        """Standard deviation of a run score implied by the sampling noise."""
        return float(np.sqrt(self.run_var_implied))

    @property
    def run_sd_empirical(self) -> float:
        """Empirical standard deviation of the run scores."""
        return float(np.sqrt(self.run_var_empirical))

    @property
    def score_var_items(self) -> float:
        """Variance of a run score from drawing the items: ``item_difficulty_var / n_items``."""
        return self.item_difficulty_var / self.n_items


def decompose_variance(scores: object) -> VarianceDecomposition:
    """Split the variance of sampled scores into item difficulty and sampling noise.

    Formulas (``s_ij`` = score of sample ``j`` of item ``i``, ``n`` items, ``K`` samples):

    * ``item_means[i] = sbar_i = mean_j s_ij``; ``item_vars[i] = sum_j (s_ij - sbar_i)^2/(K-1)``.
    * ``within_var = mean_i mean_j (s_ij - sbar_i)^2``, ``between_var = mean_i (sbar_i - sbar)^2``,
      ``total_var = mean_ij (s_ij - sbar)^2 = within_var + between_var`` (law of total variance,
      sample form).
    * ``run_means[r] = mean_i s_ir``; ``run_var_implied = mean_i(item_vars) / n`` is unbiased for
      ``Var(R_r | items) = (1/n^2) sum_i sigma_i^2``; ``run_var_empirical = var(run_means,
      ddof=1)`` is the direct (noisier, K-1 degrees of freedom) estimate of the same quantity.
      They differ only by the cross-item covariances of the runs, zero in expectation.
    * ``item_difficulty_var = max(0, var(sbar_i, ddof=1) - mean(item_vars)/K)``: the variance of
      the item means minus the part that is sampling noise (``E[sigma_i^2]/K``), i.e. the
      one-way random-effects ANOVA estimator of ``Var(mu_i)``.

    Source: law of total variance / one-way ANOVA (e.g. Searle, Casella & McCulloch 1992,
    "Variance Components", Ch. 3); applied to eval scores as in Miller 2024, "Adding Error Bars to
    Evals", arXiv:2411.00640, Sec. 2-3 (``Var(sbar_i) = Var(x_i) + E[sigma_i^2]/K``); runs as in
    Song et al. 2024, arXiv:2407.10457, Sec. 2.

    Args:
        scores: per-(item, sample) scores, shape ``(n_items, n_samples)``, finite floats
            (usually in [0, 1]); needs ``n_items >= 2`` and ``n_samples >= 2``.

    Returns:
        :class:`VarianceDecomposition`.

    Raises:
        ValueError: ``scores`` is not a finite 2-D array with at least 2 items and 2 samples.
    """
    x = _check_matrix(scores, "scores")
    n, k = x.shape
    if n < 2:
        raise ValueError(f"scores must have at least 2 items (rows), got {n}")
    if k < 2:
        raise ValueError(f"scores must have at least 2 samples (columns), got {k}")
    item_means = x.mean(axis=1)
    item_vars = x.var(axis=1, ddof=1)
    grand = float(x.mean())
    total = float(x.var())
    within = float(x.var(axis=1).mean())
    between = float(item_means.var())
    run_means = x.mean(axis=0)
    implied = float(item_vars.mean() / n)
    empirical = float(run_means.var(ddof=1))
    difficulty = float(max(0.0, item_means.var(ddof=1) - item_vars.mean() / k))
    frac = within / total if total > 0 else float("nan")
    return VarianceDecomposition(
        n_items=n,
        n_samples=k,
        grand_mean=grand,
        item_means=item_means,
        item_vars=item_vars,
        total_var=total,
        within_var=within,
        between_var=between,
        within_fraction=float(frac),
        run_means=run_means,
        run_var_implied=implied,
        run_var_empirical=empirical,
        item_difficulty_var=difficulty,
    )
