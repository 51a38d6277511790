"""Importance sampling from the Laplace approximation: its draws reweighed to the posterior.

The Laplace approximation (:mod:`jaxseis.inference.laplace`) is a Gaussian (or a mixture of
Gaussians, one per mode) at the likelihood's maxima. Where the posterior is not Gaussian (a
curved depth/origin-time ridge, a mode cut by a face of the prior box) its intervals are too
narrow. Used as the proposal of importance sampling, it gives the posterior itself at the cost
of ``num_draws`` likelihood evaluations per event (no gradients, all at once under ``vmap``):

* the proposal ``q`` is the Laplace mixture with every component widened into a multivariate
  Student-t of ``df`` degrees of freedom and its scale multiplied by ``scale``, so that its
  tails are heavier than the posterior's in every direction (importance sampling needs
  ``q`` wider than the target);
* each draw ``theta`` gets the log weight ``log L(theta) - log q(theta)`` (the uniform prior
  is constant inside the box; a draw outside it weighs nothing);
* the weights are Pareto-smoothed (PSIS, Vehtari et al. 2024, :func:`arviz.psislw`), whose
  tail shape ``k`` is the diagnostic: below 0.7 the estimates are reliable; above it the
  proposal misses part of the posterior and the result is flagged.

The summary (moments and quantiles) is that of the weighted draws
(:func:`jaxseis.inference.summary.weighted_summary`); its ESS is Kish's, ``1 / sum w^2``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import numpy as np
from scipy.special import gammaln

from jaxseis.inference.prior import Space

__all__ = [
    "PARETO_K_MAX",
    "ImportanceOptions",
    "check_importance_options",
    "log_likelihoods",
    "proposal",
    "psis_weights",
    "resample",
    "resample_index",
]

LIKELIHOOD_BATCH = 256
"""Rows of ``theta`` evaluated at once by :func:`log_likelihoods` (bounds its memory)."""

PARETO_K_MAX = 0.7
"""Pareto ``k`` above which importance-sampling estimates are unreliable (Vehtari et al.)."""


@partial(jax.jit, static_argnames=("fn",))
def log_likelihoods(fn, params, data, theta):
    """A likelihood ``fn(theta, params, data)`` (the signature of
    :class:`jaxseis.likelihood.Likelihood`'s ``fn``) at every row of ``theta [n, 5]``, in
    batches of :data:`LIKELIHOOD_BATCH` rows: ``[n]`` (nats), no gradients. The weights of
    importance sampling, or the likelihood of locations found by another tool."""
    return jax.lax.map(lambda t: fn(t, params, data), theta, batch_size=LIKELIHOOD_BATCH)


class ImportanceOptions(NamedTuple):
    """Settings of importance sampling from the Laplace approximation.

    Attributes:
        num_draws: proposal draws (likelihood evaluations) per event.
        df: degrees of freedom of each component's Student-t (``> 0``; ``inf``: Gaussian).
        scale: factor on each component's standard deviations (``>= 1``).
    """

    num_draws: int = 4000
    df: float = 3.0
    scale: float = 2.0


def check_importance_options(options: ImportanceOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    n = options.num_draws
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 100:
        raise ValueError(f"ImportanceOptions.num_draws must be an integer >= 100; got {n!r}")
    if not (float(options.df) > 0.0):
        raise ValueError(f"ImportanceOptions.df must be > 0 (inf: Gaussian); got {options.df}")
    if not (np.isfinite(options.scale) and float(options.scale) >= 1.0):
        raise ValueError(f"ImportanceOptions.scale must be finite and >= 1; got {options.scale}")


def proposal(key, space: Space, means, covs, weights, options: ImportanceOptions):
    """Draws from the widened Laplace mixture and their log density.

    Args:
        key: JAX random key.
        space: the prior's space (its fixed parameters keep their values).
        means: ``[M, 5]`` the components' means; covs: ``[M, 5, 5]`` their covariances
            (zero rows for fixed parameters); weights: ``[M]``.
        options: the proposal's settings.

    Returns:
        ``(theta [N, 5], log_q [N], inside [N])``: the draws (clipped into the box, so that
        every one can be evaluated), the proposal's log density at the unclipped draws (over
        the free parameters) and whether each draw lies inside the box.
    """
    idx = np.asarray(space.free)
    d = len(idx)
    means = np.atleast_2d(np.asarray(means, dtype=np.float64))
    covs = np.asarray(covs, dtype=np.float64).reshape(len(means), 5, 5)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    n, df, scale = int(options.num_draws), float(options.df), float(options.scale)
    k_mode, k_z, k_g = jax.random.split(key, 3)
    which = np.asarray(jax.random.choice(k_mode, len(means), (n,), p=w))
    z = np.asarray(jax.random.normal(k_z, (n, d)), dtype=np.float64)
    if np.isinf(df):
        radial = np.ones(n)
    else:  # chi-square(df) / df
        radial = 2.0 * np.asarray(jax.random.gamma(k_g, df / 2.0, (n,)), np.float64) / df
    roots, log_dets, mus = [], [], []
    for k in range(len(means)):
        c = scale**2 * covs[k][np.ix_(idx, idx)]
        root = np.linalg.cholesky(0.5 * (c + c.T))
        roots.append(root)
        log_dets.append(2.0 * np.sum(np.log(np.diag(root))))
        mus.append(means[k, idx])
    free = np.empty((n, d))
    for k in range(len(means)):
        sel = which == k
        free[sel] = mus[k] + (z[sel] @ roots[k].T) / np.sqrt(radial[sel])[:, None]
    log_q = np.full((len(means), n), -np.inf)
    for k in range(len(means)):
        y = np.linalg.solve(roots[k], (free - mus[k]).T).T
        m2 = np.sum(y * y, axis=1)
        if np.isinf(df):
            lp = -0.5 * (m2 + d * np.log(2.0 * np.pi) + log_dets[k])
        else:
            lp = (gammaln((df + d) / 2.0) - gammaln(df / 2.0) - 0.5 * d * np.log(df * np.pi)
                  - 0.5 * log_dets[k] - 0.5 * (df + d) * np.log1p(m2 / df))  # fmt: skip
        log_q[k] = np.log(w[k]) + lp
    log_q = np.logaddexp.reduce(log_q, axis=0)
    lower, upper = np.asarray(space.lower)[idx], np.asarray(space.upper)[idx]
    inside = np.all((free >= lower) & (free <= upper), axis=1)
    theta = np.broadcast_to(np.asarray(space.lower, np.float64), (n, 5)).copy()
    theta[:, idx] = np.clip(free, lower, upper)
    return theta, log_q, inside


def psis_weights(log_lik, log_q, inside):
    """Pareto-smoothed importance weights.

    Args:
        log_lik: ``[N]`` log-likelihood of the draws (nats).
        log_q: ``[N]`` proposal log density.
        inside: ``[N]`` whether each draw lies in the prior box (outside: weight 0).

    Returns:
        ``(weights [N] summing to 1, pareto_k, ess)`` with ``ess = 1 / sum w^2``.

    Raises:
        ValueError: a non-finite log-likelihood inside the box, or fewer than 100 draws
            inside it (the proposal is far wider than the box: a bad approximation).
    """
    log_lik = np.asarray(log_lik, dtype=np.float64)
    inside = np.asarray(inside, dtype=bool)
    if not np.all(np.isfinite(log_lik[inside])):
        raise ValueError("the log-likelihood is not finite at some importance draws")
    if inside.sum() < 100:
        raise ValueError(
            f"only {int(inside.sum())} importance draws fell inside the prior box; the Laplace "
            "approximation is far wider than the box (use NUTS or nested sampling)"
        )
    import arviz

    lw = log_lik[inside] - np.asarray(log_q, dtype=np.float64)[inside]
    smoothed, k = arviz.psislw(lw - lw.max(), reff=1.0)
    weights = np.zeros(len(log_lik))
    weights[inside] = np.exp(smoothed - smoothed.max())
    weights /= weights.sum()
    return weights, float(np.asarray(k)), float(1.0 / np.sum(weights**2))


def resample_index(key, weights, num: int) -> np.ndarray:
    """``[num]`` indices of draws chosen with probability ``weights [n]`` (systematic
    resampling: each draw appears ``num w`` times, rounded up or down)."""
    w = np.asarray(weights, dtype=np.float64)
    u = (float(jax.random.uniform(key)) + np.arange(num)) / num
    return np.minimum(np.searchsorted(np.cumsum(w / w.sum()), u, side="right"), len(w) - 1)


def resample(key, draws, weights, num: int) -> np.ndarray:
    """``num`` equally weighted draws ``[num, 5]`` from weighted ones (systematic
    resampling, :func:`resample_index`)."""
    return np.asarray(draws)[resample_index(key, weights, num)]
