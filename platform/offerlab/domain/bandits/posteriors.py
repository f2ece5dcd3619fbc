"""Posterior draws of each arm's reward per impression, and the summaries taken from them.

Conversion: ``p ~ Beta(prior_alpha + s, prior_beta + n - s)`` (Beta-Bernoulli, conjugate).

Value objectives (revenue-aware): the reward per impression is ``p * mu``, the acceptance rate
times the mean value among successes. ``p`` has the Beta posterior above; ``mu`` has the
Normal-Inverse-Gamma posterior of a normal mean with unknown variance, fitted to the raw
per-success values through ``value_sum`` and ``value_sum_sq`` (Murphy 2007, "Conjugate Bayesian
analysis of the Gaussian distribution", eqs. 86-89)::

    kappa_n = kappa_0 + m                   mu_n  = (kappa_0 mu_0 + m xbar) / kappa_n
    alpha_n = alpha_0 + m / 2               beta_n = beta_0 + SS / 2
                                                     + kappa_0 m (xbar - mu_0)^2 / (2 kappa_n)

with ``m`` successes, ``xbar`` their mean value and ``SS`` the sum of squared deviations. The
prior is empirical Bayes from all arms' successes pooled: ``mu_0`` the pooled mean value,
``kappa_0 = 1`` pseudo-success, ``alpha_0 = 2`` and ``beta_0`` the pooled variance (so the prior
mean of the variance is the pooled variance). It fades after a few successes, and it lets an arm
without any success (a no-offer arm, or a new one) be drawn around the pooled value while its
acceptance posterior does the work. When no arm has a success yet the value factor is 1, which
reduces the policy to conversion Thompson sampling. Values are modelled as normal around their
mean, which is only a large-sample statement for skewed (lognormal) values; the posterior of the
mean is what matters for the decision and it is close to normal after a few dozen successes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerlab.domain.bandits.arms import ArmArrays, RewardObjective

VALUE_PRIOR_SUCCESSES = 1.0
VALUE_PRIOR_SHAPE = 2.0
# Keeps a degenerate (all-equal values) prior variance from collapsing to exactly zero.
_MIN_RELATIVE_VARIANCE = 1e-12


@dataclass(frozen=True)
class ValuePosterior:
    """Normal-Inverse-Gamma posterior of each arm's mean value among successes."""

    mean: np.ndarray
    kappa: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray


def beta_parameters(
    arrays: ArmArrays, *, prior_alpha: float, prior_beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Beta posterior parameters of every arm's acceptance rate."""
    return prior_alpha + arrays.successes, prior_beta + arrays.units - arrays.successes


def value_posterior(arrays: ArmArrays) -> ValuePosterior | None:
    """NIG posterior of each arm's mean value with the pooled empirical-Bayes prior.

    Returns None when no arm has a success (the value factor is then taken as 1).
    """
    total = arrays.successes.sum()
    if total <= 0:
        return None
    prior_mean = arrays.value_sum.sum() / total
    pooled_var = max(arrays.value_sum_sq.sum() / total - prior_mean**2, 0.0)
    floor = _MIN_RELATIVE_VARIANCE * max(prior_mean**2, 1.0)
    prior_beta = (VALUE_PRIOR_SHAPE - 1.0) * max(pooled_var, floor)
    m = arrays.successes
    xbar = np.divide(arrays.value_sum, m, out=np.zeros(arrays.size), where=m > 0)
    squares = np.maximum(arrays.value_sum_sq - m * xbar**2, 0.0)
    kappa = VALUE_PRIOR_SUCCESSES + m
    mean = (VALUE_PRIOR_SUCCESSES * prior_mean + m * xbar) / kappa
    alpha = VALUE_PRIOR_SHAPE + m / 2.0
    shrink = VALUE_PRIOR_SUCCESSES * m * (xbar - prior_mean) ** 2 / (2.0 * kappa)
    beta = prior_beta + squares / 2.0 + shrink
    return ValuePosterior(mean, kappa, alpha, beta)


def sample_value_means(
    posterior: ValuePosterior, *, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws (rows) of every arm's (columns) mean value: sigma^2 ~ InvGamma, mu | sigma^2 ~ N."""
    size = (draws, posterior.mean.size)
    variance = 1.0 / rng.gamma(posterior.alpha, 1.0 / posterior.beta, size=size)
    return posterior.mean + np.sqrt(variance / posterior.kappa) * rng.standard_normal(size)


def sample_rewards(
    arrays: ArmArrays,
    *,
    objective: RewardObjective,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Joint posterior draws (draws x arms) of each arm's expected reward per impression."""
    a, b = beta_parameters(arrays, prior_alpha=prior_alpha, prior_beta=prior_beta)
    acceptance = rng.beta(a, b, size=(draws, arrays.size))
    if not objective.uses_value:
        return acceptance
    posterior = value_posterior(arrays)
    if posterior is None:
        return acceptance
    return acceptance * sample_value_means(posterior, draws=draws, rng=rng)


def probability_best(samples: np.ndarray) -> np.ndarray:
    """Share of draws (rows) in which each arm (column) is the largest; ties split evenly."""
    is_best = samples == samples.max(axis=1, keepdims=True)
    share = is_best / is_best.sum(axis=1, keepdims=True)
    result: np.ndarray = share.mean(axis=0)
    return result


def expected_loss(samples: np.ndarray, *, relative: bool) -> np.ndarray:
    """Posterior expected loss of choosing each arm: E[max_j theta_j - theta_i].

    With ``relative`` the loss is divided by E[max_j theta_j], the reward the best arm is
    expected to earn, so 0.01 reads "choosing this arm costs 1% of the best reward".
    """
    best = samples.max(axis=1, keepdims=True)
    loss: np.ndarray = (best - samples).mean(axis=0)
    if relative:
        scale = float(best.mean())
        return loss / scale if scale > 0 else np.zeros_like(loss)
    return loss
