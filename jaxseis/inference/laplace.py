"""The Laplace approximation: the posterior maximum and the inverse Hessian there.

Under the uniform prior the posterior maximum is the likelihood's maximum inside the box. The
global stage (:mod:`jaxseis.inference.global_stage`) finds it directly: with
``jacobian=False`` its Newton polish maximises ``log L(theta(u))`` in the free parameters'
unconstrained coordinates ``u``, whose maximum is the likelihood's, and returns the gradient
and Hessian there. The Hessian in the parameters themselves follows exactly by the chain rule,
``H_theta = (H_u - diag(g_theta * theta''(u))) / (theta'(u) theta'(u)^T)``, so the method
compiles no program of its own. A Hessian that is not negative definite (a saddle or a flat
direction) is reported. The precision's eigenvalues, in coordinates that scale the prior box to
unit width, are floored at 12, the precision of the uniform prior on that width: no direction
of the approximation is wider than the prior itself.

A posterior with several modes (a depth-origin-time ridge cut by cycle skipping, for
instance) is approximated by the mixture of its modes' Laplace approximations, weighed by their
Laplace masses inside the box (:func:`laplace_mixture`): the summary's moments and quantiles
are the mixture's. The global stage leaves polished points that are no maxima out of the
mixture, unless no point is one, and weighs a maximum on a face of the box (an event at the
edge of the volume) by its mass inside the box
(:func:`~jaxseis.inference.global_stage.box_laplace`).

This is the catalogue's default method: a handful of exact Hessians per event instead of
thousands of gradient evaluations; the calibration study (``bench/bench_events.py``) checks it
against NUTS.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxseis.inference.global_stage import GlobalStage, floored_covariance, parameter_curvature
from jaxseis.inference.importance import ImportanceOptions, check_importance_options
from jaxseis.inference.prior import Space

__all__ = [
    "LaplaceOptions",
    "check_laplace_options",
    "laplace_at_mode",
    "laplace_draws",
    "laplace_mixture",
]


class LaplaceOptions(NamedTuple):
    """Settings of the Laplace approximation.

    Attributes:
        global_stage: finds the maximum (its ``newton_steps`` refine it).
        num_draws: draws from the Gaussian returned as the posterior sample (for plots and
            draw-based summaries; the summary itself uses the exact mean and covariance).
        importance: reweigh draws of the approximation to the posterior by importance
            sampling (:class:`~jaxseis.inference.importance.ImportanceOptions`; the returned
            sample is then ``num_draws`` draws resampled by weight and the summary the
            weighted draws'), or None.
    """

    global_stage: GlobalStage = GlobalStage(newton_steps=20)
    num_draws: int = 4000
    importance: ImportanceOptions | None = None


def check_laplace_options(options: LaplaceOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    if options.global_stage is None:
        raise ValueError("the Laplace approximation needs a global stage to find the maximum")
    n = options.num_draws
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"LaplaceOptions.num_draws must be an integer >= 1; got {n!r}")
    if options.importance is not None:
        if not isinstance(options.importance, ImportanceOptions):
            raise ValueError(
                "LaplaceOptions.importance must be an ImportanceOptions or None; got "
                f"{type(options.importance).__name__}"
            )
        check_importance_options(options.importance)


def laplace_at_mode(space: Space, u, grad_u, hess_u):
    """The Laplace approximation from the maximum of ``log L(theta(u))``.

    Args:
        space: the prior's space.
        u: ``[d]`` the maximum in unconstrained coordinates.
        grad_u, hess_u: gradient ``[d]`` and Hessian ``[d, d]`` of ``log L(theta(u))`` there.

    Returns:
        ``(theta [5], cov [d, d] of the free parameters, gradient norm in the parameters'
        units, positive_definite)``.
    """
    idx = np.asarray(space.free)
    width = np.asarray(space.upper, np.float64)[idx] - np.asarray(space.lower, np.float64)[idx]
    free, g, h = (a[0] for a in parameter_curvature(space, np.asarray(u)[None],
                                                     np.asarray(grad_u)[None],
                                                     np.asarray(hess_u)[None]))  # fmt: skip
    cov, _, positive = floored_covariance(-h, width)
    theta = np.asarray(space.lower, np.float64).copy()
    theta[idx] = free
    return theta, cov, float(np.linalg.norm(g)), positive


def laplace_mixture(space: Space, modes, grad_u, hess_u):
    """The Laplace approximation of every mode the global stage kept, as a mixture.

    Args:
        space: the prior's space.
        modes: :class:`~jaxseis.inference.global_stage.Modes` of a ``jacobian=False`` stage
            (maxima of ``log L``), with their mass fractions.
        grad_u, hess_u: ``[K, d]`` and ``[K, d, d]`` of the polished points.

    Returns:
        ``(means [M, 5], covs [M, 5, 5] (zero rows for fixed parameters), weights [M],
        gradient norms [M], all positive definite)``; the weights are the modes' Laplace
        mass fractions (:func:`~jaxseis.inference.global_stage.box_laplace`), renormalised
        over the kept modes.
    """
    idx = np.asarray(space.free)
    means, covs, norms, positive = [], [], [], True
    for u, i in zip(modes.u, modes.index, strict=True):
        theta, cov, gnorm, pd = laplace_at_mode(space, u, grad_u[i], hess_u[i])
        full = np.zeros((5, 5))
        full[np.ix_(idx, idx)] = cov
        means.append(theta)
        covs.append(full)
        norms.append(gnorm)
        positive = positive and pd
    weights = np.asarray(modes.mass, dtype=np.float64)
    return np.stack(means), np.stack(covs), weights / weights.sum(), np.asarray(norms), positive


def laplace_draws(key, space: Space, means, covs, num_draws: int, weights=None) -> np.ndarray:
    """``num_draws`` draws ``[n, 5]`` from the Laplace approximation (one Gaussian ``[5]``,
    ``[5, 5]``, or a mixture ``[M, 5]``, ``[M, 5, 5]`` with ``weights``), clipped into the
    box."""
    idx = np.asarray(space.free)
    means = np.atleast_2d(np.asarray(means, dtype=np.float64))
    covs = np.asarray(covs, dtype=np.float64).reshape(len(means), *np.shape(covs)[-2:])
    w = np.ones(len(means)) / len(means) if weights is None else np.asarray(weights)
    key_mode, key_z = jax.random.split(key)
    which = np.asarray(jax.random.choice(key_mode, len(means), (num_draws,), p=w / w.sum()))
    z = np.asarray(jax.random.normal(key_z, (num_draws, len(idx))), dtype=np.float64)
    out = means[which].copy()
    for k in range(len(means)):
        sel = which == k
        c = covs[k]
        if c.shape == (5, 5):
            c = c[np.ix_(idx, idx)]
        lam, vec = np.linalg.eigh(0.5 * (c + c.T))
        out[np.ix_(sel, idx)] = means[k, idx] + (z[sel] * np.sqrt(np.maximum(lam, 0.0))) @ vec.T
    out[:, idx] = np.clip(out[:, idx], space.lower[idx], space.upper[idx])
    return out
