"""The Laplace approximation: the posterior maximum and the inverse Hessian there.

Under the uniform prior the posterior maximum is the likelihood's maximum inside the box. It is
found from the global stage's best mode by damped Newton steps on ``log L`` in the free
parameters themselves (not their unconstrained coordinates, whose Jacobian would shift it), and
the covariance is the inverse of the negative Hessian of ``log L`` there. A Hessian that is not
negative definite (a saddle or a flat direction) is reported, and its eigenvalues are floored so
that the covariance stays usable.

This is the catalogue's default method: a handful of exact Hessians per event instead of
thousands of gradient evaluations, and the calibration study (``bench/bench_events.py``) checks
it against NUTS.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.global_stage import GlobalStage
from jaxseis.inference.prior import Space, from_unconstrained

__all__ = ["LaplaceOptions", "check_laplace_options", "laplace", "laplace_draws"]

_EIG_FLOOR = 1e-12  # relative floor of the precision eigenvalues


class LaplaceOptions(NamedTuple):
    """Settings of the Laplace approximation.

    Attributes:
        global_stage: finds the mode the approximation is centred on.
        newton_steps: damped Newton steps on ``log L`` from the global stage's best mode.
        num_draws: draws from the Gaussian returned as the posterior sample (for plots and
            draw-based summaries; the summary itself uses the exact mean and covariance).
    """

    global_stage: GlobalStage = GlobalStage()
    newton_steps: int = 10
    num_draws: int = 4000


def check_laplace_options(options: LaplaceOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    if options.global_stage is None:
        raise ValueError("the Laplace approximation needs a global stage to find the mode")
    for name, least in (("newton_steps", 0), ("num_draws", 1)):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ValueError(f"LaplaceOptions.{name} must be an integer >= {least}; got {value!r}")


def laplace(fn, model, data, space: Space, u_mode, *, newton_steps: int):
    """Maximum and Laplace covariance of ``log L`` in the free parameters (pure).

    Args:
        fn, model, data: the likelihood.
        space: the prior's :class:`~jaxseis.inference.prior.Space`.
        u_mode: ``[d]`` the mode in unconstrained coordinates (from the global stage).
        newton_steps: damped Newton steps (Levenberg-Marquardt), kept inside the box.

    Returns:
        ``(theta [5] at the maximum, cov [d, d] of the free parameters, log L [], gradient
        norm [], positive_definite bool)``.
    """
    idx = np.asarray(space.free)
    lower = jnp.asarray(space.lower, u_mode.dtype)
    upper = jnp.asarray(space.upper, u_mode.dtype)
    theta0 = from_unconstrained(space, u_mode)

    def loglik(v):
        ll = fn(theta0.at[idx].set(v), model, data)
        return jnp.where(jnp.isnan(ll), -jnp.inf, ll)

    grad = jax.grad(loglik)
    hessian = jax.hessian(loglik)
    lo, hi = lower[idx], upper[idx]

    def step(carry, _):
        v, ll, damping = carry
        g = grad(v)
        h = hessian(v)
        a = -0.5 * (h + h.T)
        scale = jnp.abs(jnp.diag(a)) + 1e-30
        delta = jnp.linalg.solve(a + damping * jnp.diag(scale), g)
        ok = jnp.all(jnp.isfinite(delta))
        trial = jnp.clip(v + jnp.where(ok, delta, 0.0), lo, hi)
        ll_trial = loglik(trial)
        accept = ok & (ll_trial > ll)
        v = jnp.where(accept, trial, v)
        ll = jnp.where(accept, ll_trial, ll)
        damping = jnp.where(accept, damping * 0.3, damping * 10.0)
        return (v, ll, jnp.clip(damping, 1e-9, 1e9)), None

    v0 = theta0[idx]
    (v, ll, _), _ = jax.lax.scan(
        step, (v0, loglik(v0), jnp.asarray(1e-3, v0.dtype)), None, length=newton_steps
    )
    h = hessian(v)
    a = -0.5 * (h + h.T)
    lam, vec = jnp.linalg.eigh(a)
    positive = jnp.all(lam > 0)
    lam = jnp.maximum(lam, _EIG_FLOOR * jnp.max(jnp.abs(lam)) + 1e-300)
    cov = (vec / lam) @ vec.T
    return theta0.at[idx].set(v), cov, ll, jnp.linalg.norm(grad(v)), positive


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
