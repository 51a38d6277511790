"""The Laplace approximation: the posterior maximum and the inverse Hessian there.

Under the uniform prior the posterior maximum is the likelihood's maximum inside the box. The
global stage (:mod:`jaxseis.inference.global_stage`) finds it directly: with
``jacobian=False`` its Newton polish maximises ``log L(theta(u))`` in the free parameters'
unconstrained coordinates ``u``, whose maximum is the likelihood's, and returns the gradient
and Hessian there. The Hessian in the parameters themselves follows exactly by the chain rule,
``H_theta = (H_u - diag(g_theta * theta''(u))) / (theta'(u) theta'(u)^T)``, so the method
compiles no program of its own. A Hessian that is not negative definite (a saddle or a flat
direction) is reported, and its eigenvalues are floored so that the covariance stays usable.

This is the catalogue's default method: a handful of exact Hessians per event instead of
thousands of gradient evaluations; the calibration study (``bench/bench_events.py``) checks it
against NUTS.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxseis.inference.global_stage import GlobalStage
from jaxseis.inference.prior import Space

__all__ = ["LaplaceOptions", "check_laplace_options", "laplace_at_mode", "laplace_draws"]

_EIG_FLOOR = 1e-12  # relative floor of the precision eigenvalues


class LaplaceOptions(NamedTuple):
    """Settings of the Laplace approximation.

    Attributes:
        global_stage: finds the maximum (its ``newton_steps`` refine it).
        num_draws: draws from the Gaussian returned as the posterior sample (for plots and
            draw-based summaries; the summary itself uses the exact mean and covariance).
    """

    global_stage: GlobalStage = GlobalStage(newton_steps=20)
    num_draws: int = 4000


def check_laplace_options(options: LaplaceOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    if options.global_stage is None:
        raise ValueError("the Laplace approximation needs a global stage to find the maximum")
    n = options.num_draws
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"LaplaceOptions.num_draws must be an integer >= 1; got {n!r}")


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
    u = np.asarray(u, dtype=np.float64)
    idx = np.asarray(space.free)
    lo, hi = space.lower[idx], space.upper[idx]
    sig = 1.0 / (1.0 + np.exp(-u))
    width = hi - lo
    d1 = width * sig * (1.0 - sig)  # dtheta/du
    d2 = d1 * (1.0 - 2.0 * sig)  # d2theta/du2
    g = np.asarray(grad_u, dtype=np.float64) / d1
    h_u = np.asarray(hess_u, dtype=np.float64)
    h = (0.5 * (h_u + h_u.T) - np.diag(g * d2)) / np.outer(d1, d1)
    lam, vec = np.linalg.eigh(-h)
    positive = bool(np.all(lam > 0))
    lam = np.maximum(lam, _EIG_FLOOR * np.max(np.abs(lam)) + 1e-300)
    cov = (vec / lam) @ vec.T
    theta = space.lower.astype(np.float64).copy()
    theta[idx] = lo + width * sig
    return theta, cov, float(np.linalg.norm(g)), positive


def laplace_draws(key, space: Space, theta, cov, num_draws: int) -> np.ndarray:
    """``num_draws`` draws ``[n, 5]`` from the Laplace approximation, clipped into the box."""
    idx = np.asarray(space.free)
    mean = np.asarray(theta, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    z = np.asarray(jax.random.normal(key, (num_draws, len(idx))), dtype=np.float64)
    lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
    free = mean[idx] + (z * np.sqrt(np.maximum(lam, 0.0))) @ vec.T
    out = np.broadcast_to(mean, (num_draws, 5)).copy()
    out[:, idx] = np.clip(free, space.lower[idx], space.upper[idx])
    return out
