"""Uniform priors of the event parameters and their unconstrained coordinates.

The event parameters are ``theta = (x, y, z, t0, log_amplitude)``
(:data:`jaxseis.likelihood.PARAMS`). A :class:`BoxPrior` is uniform on a box of positions (km)
and, for the origin time ``t0`` (s, relative to the observation's reference time) and the log
amplitude, either uniform on an interval or fixed to a number. Fixed parameters are not sampled:
the samplers work on the *free* parameters only. :func:`paper_prior` fixes ``t0 = 0`` and unit
amplitude, the paper's set-up (the simulated window starts at the origin time and the source has
the training simulations' strength); :func:`event_prior` frees both, as a real event needs.

Samplers work in unconstrained coordinates ``u = logit((theta - lower) / (upper - lower))`` of
the free parameters; :class:`Space` holds the bounds as arrays and the free indices as a static
tuple, and the functions here are pure (``jit``/``vmap``/``grad``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import DEFAULT_GRID, SEABED_Z_KM, Grid
from jaxseis.likelihood.base import PARAMS, Likelihood

__all__ = [
    "DEFAULT_LOG_AMPLITUDE_RANGE",
    "DEFAULT_T0_WINDOW_S",
    "DOMAIN_POLICIES",
    "BoxPrior",
    "Space",
    "event_prior",
    "from_unconstrained",
    "log_density",
    "paper_prior",
    "soft_box",
    "soft_box_inverse",
    "to_unconstrained",
    "validate_prior",
]

DEFAULT_T0_WINDOW_S = (-0.3, 0.3)
"""Default uniform prior of the origin time relative to the reference time, s."""

DEFAULT_LOG_AMPLITUDE_RANGE = (-5.0, 5.0)
"""Default uniform prior of the natural log of the source strength (0: the training source)."""


class BoxPrior(NamedTuple):
    """Uniform prior on a box of positions, with the origin time and amplitude free or fixed.

    Attributes:
        lower: lower corner ``[3]`` of the positions, km.
        upper: upper corner ``[3]``, km.
        t0: the origin time, s: a number fixes it, ``(low, high)`` makes it uniform.
        log_amplitude: natural log of the source strength relative to the training source: a
            number fixes it, ``(low, high)`` makes it uniform.
    """

    lower: Any
    upper: Any
    t0: Any = 0.0
    log_amplitude: Any = 0.0

    @property
    def width(self) -> jax.Array:
        """Box size ``upper - lower``, ``[3]`` km."""
        return jnp.asarray(self.upper) - jnp.asarray(self.lower)

    def log_prob(self, x) -> jax.Array:
        """Log density (1/km^3) of positions ``[..., 3]`` km under the box, ``-inf`` outside."""
        x = jnp.asarray(x)
        inside = jnp.all((x >= self.lower) & (x <= self.upper), axis=-1)
        return jnp.where(inside, -jnp.sum(jnp.log(self.width)), -jnp.inf)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` uniform positions ``[n, 3]`` km."""
        unit = jax.random.uniform(key, (n, 3), dtype=jnp.result_type(float))
        return jnp.asarray(self.lower) + self.width * unit


def paper_prior() -> BoxPrior:
    """The paper's prior: x, y in [0, 1] km, z in [0, 2.43] km (up to the seabed); ``t0`` and
    the amplitude fixed (origin at the window's start, the training source's strength)."""
    return BoxPrior(np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, SEABED_Z_KM]))


def event_prior(
    lower=(0.0, 0.0, 0.0),
    upper=(1.0, 1.0, SEABED_Z_KM),
    *,
    t0=DEFAULT_T0_WINDOW_S,
    log_amplitude=DEFAULT_LOG_AMPLITUDE_RANGE,
) -> BoxPrior:
    """A real event's prior: the paper's box (or another), ``t0`` uniform in +-0.3 s and the
    log amplitude uniform in +-5 (unless given)."""
    return BoxPrior(np.asarray(lower, np.float64), np.asarray(upper, np.float64), t0, log_amplitude)


class Space(NamedTuple):
    """A validated prior as arrays: bounds of all five parameters and the free ones.

    Attributes:
        lower: ``[5]`` lower bounds (fixed parameters: their value).
        upper: ``[5]`` upper bounds (fixed parameters: their value).
        free: indices of the free parameters into :data:`PARAMS` (static, sorted).
    """

    lower: np.ndarray
    upper: np.ndarray
    free: tuple[int, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the free parameters."""
        return tuple(PARAMS[i] for i in self.free)

    @property
    def dim(self) -> int:
        return len(self.free)


def _interval(name: str, value, unit: str) -> tuple[float, float]:
    v = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else None
    if v is None or v.ndim > 1 or v.size not in (1, 2):
        raise ValueError(f"prior.{name} must be a number (fixed) or (low, high); got {value!r}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"prior.{name} = {v.tolist()} contains NaN or infinite values")
    if v.size == 1:
        return float(v.ravel()[0]), float(v.ravel()[0])
    lo, hi = float(v[0]), float(v[1])
    if not lo < hi:
        raise ValueError(f"prior.{name} interval is empty: low = {lo} >= high = {hi} {unit}")
    return lo, hi


DOMAIN_POLICIES = ("error", "clip", "warn", "ignore")
"""What :func:`validate_prior` does with a box that leaves the likelihood's training domain."""


def validate_prior(
    prior: BoxPrior,
    likelihood: Likelihood | None = None,
    *,
    grid: Grid = DEFAULT_GRID,
    domain: str = "error",
) -> Space:
    """Check a prior (against a likelihood's domain where given) and return its :class:`Space`.

    Args:
        prior: the prior.
        likelihood: its region (model grid or table), training domain (the emulators'
            training box, to within one grid spacing: the training sources' own resolution),
            the parameters it depends on and its trace window are checked.
        grid: the model grid when no likelihood says otherwise.
        domain: a box leaving the training domain is an ``"error"`` (default), ``"clip"`` -ped
            to it with a warning, a ``"warn"`` ing, or ``"ignore"`` d.

    Raises:
        ValueError: a corner not ``[3]``, NaN or infinity, an empty interval, a box leaving
            the likelihood's region (or ``grid``) or its training domain, a free parameter the
            likelihood does not depend on, or a ``t0`` window that moves the arrivals out of
            the trace.
    """
    if domain not in DOMAIN_POLICIES:
        raise ValueError(f"domain must be one of {DOMAIN_POLICIES}; got {domain!r}")
    if not isinstance(prior, BoxPrior):
        raise ValueError(f"prior must be a BoxPrior; got {type(prior).__name__}")
    lo = np.asarray(prior.lower, dtype=np.float64)
    hi = np.asarray(prior.upper, dtype=np.float64)
    for name, c in (("lower", lo), ("upper", hi)):
        if c.shape != (3,):
            raise ValueError(f"prior.{name} must have shape [3] (x, y, z in km); got {c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError(f"prior.{name} = {c.tolist()} contains NaN or infinite values")
    for i, name in enumerate(PARAMS[:3]):
        if not lo[i] < hi[i]:
            raise ValueError(
                f"prior box is empty along {name}: lower = {lo[i]} >= upper = {hi[i]} km"
            )
    extent = grid.extent_km
    what = "the model grid"
    if likelihood is not None and likelihood.extent_km is not None:
        extent, what = np.asarray(likelihood.extent_km), "the likelihood's region"
    for i, name in enumerate(PARAMS[:3]):
        if lo[i] < extent[0, i] - 1e-9 or hi[i] > extent[1, i] + 1e-9:
            raise ValueError(
                f"prior box along {name}, [{lo[i]}, {hi[i]}] km, lies outside {what} "
                f"[{extent[0, i]}, {extent[1, i]}] km"
            )
    if likelihood is not None and likelihood.domain_km is not None and domain != "ignore":
        lo, hi = _check_domain(lo, hi, likelihood, domain)
    t_lo, t_hi = _interval("t0", prior.t0, "s")
    if likelihood is not None and likelihood.window is not None:
        arrival, length = likelihood.window
        if arrival + t_lo < 0.0 or arrival + t_hi > length:
            raise ValueError(
                f"the t0 window [{t_lo:g}, {t_hi:g}] s moves the emulators' reference arrival "
                f"(at {arrival:.3f} s after the origin) out of the {length:g} s trace; narrow "
                "the window, or choose a reference time closer to the event's origin"
            )
    a_lo, a_hi = _interval("log_amplitude", prior.log_amplitude, "")
    lower = np.concatenate([lo, [t_lo, a_lo]])
    upper = np.concatenate([hi, [t_hi, a_hi]])
    free = tuple(int(i) for i in np.flatnonzero(upper > lower))
    if likelihood is not None:
        unused = [PARAMS[i] for i in free if PARAMS[i] not in likelihood.uses]
        if unused:
            fixes = ", ".join(f"{p}=0.0" for p in unused)
            raise ValueError(
                f"the likelihood does not depend on {unused}; fix them in the prior "
                f"(BoxPrior(..., {fixes}))"
            )
    return Space(lower, upper, free)


def from_unconstrained(space: Space, u) -> jax.Array:
    """All five parameters ``[..., 5]`` from the free parameters' unconstrained ``u [..., d]``."""
    lower = jnp.asarray(space.lower, u.dtype)
    upper = jnp.asarray(space.upper, u.dtype)
    idx = np.asarray(space.free)
    free = lower[idx] + (upper[idx] - lower[idx]) * jax.nn.sigmoid(u)
    theta = jnp.broadcast_to(lower, (*u.shape[:-1], 5))
    return theta.at[..., idx].set(free)


def to_unconstrained(space: Space, theta) -> jax.Array:
    """The free parameters' unconstrained coordinates ``[..., d]`` of ``theta [..., 5]``
    (clipped so that points on a bound map to finite values)."""
    theta = jnp.asarray(theta)
    idx = np.asarray(space.free)
    lower = jnp.asarray(space.lower, theta.dtype)[idx]
    upper = jnp.asarray(space.upper, theta.dtype)[idx]
    p = (theta[..., idx] - lower) / (upper - lower)
    eps = jnp.finfo(p.dtype).eps
    p = jnp.clip(p, eps, 1.0 - eps)
    return jnp.log(p) - jnp.log1p(-p)


def soft_box(lower, upper, delta, v) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The soft box: a bijection ``v -> theta`` of the real line onto ``(lower, upper)`` that is
    the identity inside, bending only within a few ``delta`` of the faces::

        theta = lower + delta * (softplus((v - lower) / delta) - softplus((v - upper) / delta))

    Unlike the logistic map of :func:`from_unconstrained`, whose curvature has the scale of
    the whole interval, a posterior a few ``delta`` from a face keeps its shape; one piled
    against a face gets an exponential tail of scale ``delta`` beyond it. Elementwise.

    Returns:
        ``(theta - lower, upper - theta, log dtheta/dv)``, each computed without cancellation
        (so that ``log(theta - lower) - log(upper - theta)`` is the logit of a point however
        close to a face).
    """
    sp = jax.nn.softplus
    above = delta * (sp((v - lower) / delta) - sp((v - upper) / delta))
    below = delta * (sp((upper - v) / delta) - sp((lower - v) / delta))
    log_jac = (
        jax.nn.log_sigmoid((v - lower) / delta)
        + jax.nn.log_sigmoid((upper - v) / delta)
        + jnp.log1p(-jnp.exp(-(upper - lower) / delta))
    )
    return above, below, log_jac


def soft_box_inverse(lower, upper, delta, theta) -> jax.Array:
    """The ``v`` with ``soft_box(lower, upper, delta, v)`` at ``theta`` strictly inside
    ``(lower, upper)``. Elementwise."""
    return (
        theta
        + delta * jnp.log1p(-jnp.exp(-(theta - lower) / delta))
        - delta * jnp.log1p(-jnp.exp((theta - upper) / delta))
    )


def log_density(fn: Callable, model, data, space: Space, u) -> jax.Array:
    """Log posterior density (up to ``log Z``) of the free parameters' unconstrained ``u [d]``:
    ``log L(theta(u)) + log |d theta / du|`` (the uniform prior's ``-log volume`` cancels
    against the interval widths of the Jacobian). NaN becomes ``-inf``."""
    theta = from_unconstrained(space, u)
    jac = jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), axis=-1)
    ll = fn(theta, model, data)
    return jnp.where(jnp.isnan(ll), -jnp.inf, ll) + jac


def _check_domain(lo, hi, likelihood: Likelihood, policy: str):
    """The box checked against the likelihood's training domain (one grid spacing of
    tolerance); clipped into it with ``policy="clip"``."""
    import warnings

    d_lo, d_hi = np.asarray(likelihood.domain_km, dtype=np.float64)
    tol = (
        np.zeros(3)
        if likelihood.resolution_km is None
        else np.asarray(likelihood.resolution_km, dtype=np.float64)
    )
    outside = (lo < d_lo - tol - 1e-9) | (hi > d_hi + tol + 1e-9)
    if not np.any(outside):
        return lo, hi
    axes = ", ".join(
        f"{PARAMS[i]} [{lo[i]:g}, {hi[i]:g}] vs [{d_lo[i]:g}, {d_hi[i]:g}]"
        for i in np.flatnonzero(outside)
    )
    message = (
        f"the prior box leaves the emulators' training domain ({axes} km): the emulators "
        "would extrapolate there"
    )
    if policy == "error":
        raise ValueError(f"{message}; shrink the box, or pass domain='clip' to clip it")
    if policy == "clip":
        lo, hi = np.maximum(lo, d_lo), np.minimum(hi, d_hi)
        if np.any(lo >= hi):
            raise ValueError(f"{message}, and clipping it leaves nothing")
        warnings.warn(f"{message}; clipped to it", UserWarning, stacklevel=4)
    else:
        warnings.warn(message, UserWarning, stacklevel=4)
    return lo, hi
