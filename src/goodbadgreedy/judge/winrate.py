"""Win rate and length-controlled win rate against a baseline (AlpacaEval 2).

Length-controlled win rate: Dubois, Galambosi, Liang, Hashimoto (2024), "Length-Controlled
AlpacaEval: A Simple Way to Debias Automatic Evaluators", arXiv:2404.04475, Sec. 3. Their GLM
(AlpacaEval's ``length_controlled_v1``) predicts the preference for the model over the baseline on
instruction i as

    logit p_i = (theta_m - theta_b) + phi_{m,b} * tanh(Delta_i / sd(Delta)) + (psi_m - psi_b) * gamma_i

with Delta_i the length difference of the two outputs (characters), and gamma_i an instruction
difficulty estimated beforehand from many models; the LC win rate is the mean over instructions
of the prediction with the length term set to zero.

**Variant implemented here** (one model against one baseline, no precomputed difficulties):

    logit p_i = theta + phi * tanh(Delta_i / sd(Delta)),    LC win rate = sigmoid(theta)

i.e. the paper's model without the instruction-difficulty term and without AlpacaEval's
regularization towards its "gamed" baselines (which need the difficulty table and annotations of
other models, downloaded from the hub). theta and phi are fitted by maximum likelihood with soft
labels y_i in [0, 1] (ties 0.5, as AlpacaEval fits preferences in [0, 1]) and a small L2 penalty
``l2 * (theta^2 + phi^2) / 2`` on the mean log-loss, which keeps the fit finite when a model wins
(or loses) every comparison. sd is the sample standard deviation (ddof = 1), as pandas' ``std``
in AlpacaEval. Fit with numpy and ``scipy.optimize.minimize`` (L-BFGS-B, analytic gradient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit


@dataclass(frozen=True)
class LengthControlledFit:
    """Result of :func:`length_controlled_win_rate` (rates as fractions in [0, 1]).

    Attributes:
        win_rate: mean preference for the model (ties count 1/2).
        lc_win_rate: sigmoid(theta): the predicted win rate at equal lengths.
        theta: intercept (log-odds of a win at equal lengths).
        phi: weight of the length term tanh(Delta / sd(Delta)).
        sd_delta: sd of the length differences (characters); 0 when they are all equal (then the
            length term is 0 and phi is not identified: it is fitted as 0).
        n: number of comparisons.
    """

    win_rate: float
    lc_win_rate: float
    theta: float
    phi: float
    sd_delta: float
    n: int


def win_rate(preferences) -> float:
    """Mean preference for the model in [0, 1] (1 win, 0.5 tie, 0 loss).

    Raises:
        ValueError: no preferences, or a value outside [0, 1] or not finite.
    """
    y = np.asarray(preferences, dtype=float)
    if y.size == 0 or not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
        raise ValueError("preferences must be a non-empty sequence of values in [0, 1]")
    return float(y.mean())


def length_controlled_win_rate(
    preferences, model_lengths, baseline_lengths, *, l2: float = 1e-3
) -> LengthControlledFit:
    """Fit the length-controlled GLM (variant in the module docstring) and return the LC win rate.

    Args:
        preferences: shape (n,), preference for the model over the baseline per comparison, in
            [0, 1] (1 win, 0.5 tie, 0 loss).
        model_lengths: shape (n,), lengths of the model's outputs (characters, as AlpacaEval).
        baseline_lengths: shape (n,), lengths of the baseline's outputs.
        l2: L2 penalty on (theta, phi), >= 0, added to the mean log-loss.

    Returns:
        A :class:`LengthControlledFit`.

    Raises:
        ValueError: shapes differ, n = 0, a preference outside [0, 1], a length not finite, or
            ``l2 < 0``; or the optimizer fails (its message).
    """
    y = np.asarray(preferences, dtype=float)
    lm = np.asarray(model_lengths, dtype=float)
    lb = np.asarray(baseline_lengths, dtype=float)
    if not (y.shape == lm.shape == lb.shape) or y.ndim != 1:
        raise ValueError(f"shapes differ or are not 1-D: {y.shape}, {lm.shape}, {lb.shape}")
    wr = win_rate(y)
    if not (np.all(np.isfinite(lm)) and np.all(np.isfinite(lb))):
        raise ValueError("lengths must be finite")
    if l2 < 0:
        raise ValueError(f"l2={l2} must be >= 0")
    delta = lm - lb
    sd = float(delta.std(ddof=1)) if delta.size > 1 else 0.0
    x = np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)
    X = np.column_stack([np.ones_like(x), x])
    n = y.size

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ w
        nll = -np.mean(y * log_expit(z) + (1 - y) * log_expit(-z))
        grad = X.T @ (expit(z) - y) / n
        return float(nll + 0.5 * l2 * w @ w), grad + l2 * w

    res = minimize(loss, np.zeros(2), jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-10})
    if not res.success and not np.all(np.isfinite(res.x)):
        raise ValueError(f"length-controlled fit failed: {res.message}")
    theta, phi = (float(v) for v in res.x)
    return LengthControlledFit(win_rate=wr, lc_win_rate=float(expit(theta)), theta=theta,
                               phi=phi if sd > 0 else 0.0, sd_delta=sd, n=n)


__all__ = ["LengthControlledFit", "length_controlled_win_rate", "win_rate"]
