"""The global stage: find the posterior's dominant modes before any local method runs.

A full-waveform likelihood is multimodal: a trace shifted by one period fits almost as well
(cycle skipping), and local methods (NUTS, Newton) started at random stick in the nearest
mode. The global stage

1. scores candidates drawn uniformly from the prior. With a likelihood that offers a fast search
   (the waveform likelihoods' :class:`~jaxseis.likelihood.waveform.WaveformSearch`), the
   candidates are positions, and each is scored at its best origin time and amplitude, found
   for all time lags at once by cross-correlating emulated and observed traces: no candidate
   can be a period off in ``t0``. Otherwise every free parameter is drawn and scored directly;
2. polishes the best ``num_polish`` with Adam (cosine-decayed step), then damped Newton steps
   with the exact Hessian, on the unconstrained log-density;
3. groups the polished points that are maxima into distinct modes, weighs each by its Laplace
   approximation (``log p(u*) + 1/2 log det(2 pi Sigma)`` in ``u`` for NUTS; for the Laplace
   method the likelihood's mass inside the box, :func:`box_laplace`, which also integrates a
   maximum on a face of the box) and keeps those holding at least ``min_mode_mass`` of that
   approximate mass.

The candidate positions may also come from a fixed :class:`Bank` whose emulated spectra were
computed once for a catalogue (:mod:`jaxseis.catalogue`): each event's search is then a
correlation against the bank, not a forward evaluation per candidate.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.prior import Space, from_unconstrained, log_density, to_unconstrained
from jaxseis.runtime import divisor_at_most, over_devices

__all__ = [
    "Bank",
    "GlobalStage",
    "Modes",
    "box_laplace",
    "check_global_stage",
    "draw_candidates",
    "find_modes",
    "floored_covariance",
    "is_maximum",
    "laplace_covariance",
    "objective",
    "parameter_curvature",
    "polish",
    "polish_best",
    "score_batch",
    "score_candidates",
    "select_modes",
]

_SAME_MODE_D2 = 25.0  # squared Mahalanobis distance under which two polished points are one mode
_MIN_PRECISION = 0.1  # floor of the Laplace precision eigenvalues in unconstrained units
_PINNED = 1e-4  # a parameter this close to a bound (fraction of the box width) is on its face
_PRIOR_PRECISION = 12.0  # the uniform prior's precision on a unit-width box
#: the polish keeps every unconstrained coordinate within +-_U_MAX (the parameter within 1e-13
#: of the box width of its face): beyond about 37 the sigmoid is 1 in float64, the gradient
#: in ``u`` vanishes and the curvature in the parameters (parameter_curvature) is 0 / 0
_U_MAX = 30.0


class GlobalStage(NamedTuple):
    """Settings of the global stage.

    Attributes:
        num_draws: candidates scored (prior draws; ignored with a :class:`Bank`).
        chunk_size: candidates evaluated at once (bounds memory).
        num_polish: best candidates polished.
        polish_steps: Adam steps per polished candidate.
        newton_steps: damped Newton steps after Adam (exact Hessian).
        learning_rate: initial Adam step in unconstrained units (cosine-decayed to 1e-3 of it).
        min_mode_mass: smallest Laplace-approximated posterior mass fraction of a mode for it
            to be kept.
        init_spread: chain starts are drawn from the Laplace approximation of their mode with
            its standard deviations multiplied by this factor (over-dispersion).
    """

    num_draws: int = 100_000
    chunk_size: int = 4096
    num_polish: int = 32
    polish_steps: int = 200
    newton_steps: int = 10
    learning_rate: float = 0.02
    min_mode_mass: float = 0.01
    init_spread: float = 2.0


class Bank(NamedTuple):
    """Fixed candidate positions and their emulated spectra, computed once per emulator set.

    Attributes:
        positions: ``[m, 3]`` km.
        spectra: ``[m, n_receivers, n_freq]`` complex (``WaveformSearch.spectra``).
    """

    positions: Any
    spectra: Any


class Modes(NamedTuple):
    """The modes kept by the global stage (unconstrained coordinates of the free parameters).

    Attributes:
        u: ``[M, d]`` mode positions, best first.
        lp: ``[M]`` log-densities there.
        cov: ``[M, d, d]`` Laplace covariances.
        mass: ``[M]`` Laplace-approximated mass fractions (of the modes found).
        found: number of distinct modes found before the ``min_mode_mass`` cut.
        index: ``[M]`` indices of the modes among the polished points.
    """

    u: np.ndarray
    lp: np.ndarray
    cov: np.ndarray
    mass: np.ndarray
    found: int
    index: np.ndarray


def check_global_stage(stage: GlobalStage) -> None:
    """Raise ``ValueError`` for settings out of range."""
    if not isinstance(stage, GlobalStage):
        raise ValueError(f"global_stage must be a GlobalStage or None; got {stage!r}")
    for name in ("num_draws", "chunk_size", "num_polish"):
        if getattr(stage, name) < 1:
            raise ValueError(f"GlobalStage.{name} must be >= 1; got {getattr(stage, name)}")
    if stage.num_polish > stage.num_draws:
        raise ValueError(
            f"GlobalStage.num_polish = {stage.num_polish} exceeds num_draws = {stage.num_draws}"
        )
    if stage.polish_steps < 0 or stage.newton_steps < 0:
        raise ValueError("GlobalStage needs polish_steps >= 0 and newton_steps >= 0")
    if not stage.learning_rate > 0 or not stage.init_spread >= 0:
        raise ValueError("GlobalStage needs learning_rate > 0 and init_spread >= 0")
    if not 0 <= stage.min_mode_mass < 1:
        raise ValueError(f"GlobalStage.min_mode_mass must be in [0, 1); got {stage.min_mode_mass}")


def draw_candidates(search, space: Space, key, bank, num_draws: int):
    """The candidates the global stage scores (pure).

    Returns:
        with ``search``: positions ``[m, 3]`` km (``num_draws`` prior draws), or with ``bank``
        the pair ``(positions [m, 3], spectra [m, ...])``; without ``search``: parameter
        vectors ``theta [num_draws, 5]`` with every free parameter drawn from the prior.
    """
    lower = jnp.asarray(space.lower)
    upper = jnp.asarray(space.upper)
    dtype = lower.dtype
    if search is not None:
        if bank is not None:
            return jnp.asarray(bank.positions, dtype), bank.spectra
        unit = jax.random.uniform(key, (num_draws, 3), dtype=dtype)
        return lower[:3] + (upper[:3] - lower[:3]) * unit
    idx = np.asarray(space.free)
    unit = jax.random.uniform(key, (num_draws, len(idx)), dtype=dtype)
    theta = jnp.broadcast_to(lower, (num_draws, 5))
    return theta.at[:, idx].set(lower[idx] + (upper[idx] - lower[idx]) * unit)


def score_batch(fn, search, model, data, space: Space, xs, *, chunk_size: int, split: int):
    """Candidates ``theta [m, 5]`` and their log-likelihoods ``[m]`` (NaN as ``-inf``) for the
    candidates ``xs`` of :func:`draw_candidates` (or a slice of them), ``chunk_size`` at once
    per device, split over ``split`` devices.

    With ``search`` each candidate position is scored at its best ``t0`` and amplitude (found
    for all time lags at once by cross-correlation); without, ``fn`` is evaluated at it.
    """
    lower = jnp.asarray(space.lower)
    upper = jnp.asarray(space.upper)
    n = jax.tree.leaves(xs)[0].shape[0]
    if search is not None:
        windows = ((lower[3], upper[3]), (lower[4], upper[4]))
        if isinstance(xs, tuple):  # a bank's positions and spectra

            def one(item):
                _, spectra = item
                ll, t0, la = search.profile(spectra[None], data, *windows)
                return ll[0], t0[0], la[0]

            positions = xs[0]
        else:

            def one(p):
                spectra = search.spectra(p[None], model)
                ll, t0, la = search.profile(spectra, data, *windows)
                return ll[0], t0[0], la[0]

            positions = xs

        def score(xs):
            m = jax.tree.leaves(xs)[0].shape[0]
            return jax.lax.map(one, xs, batch_size=min(chunk_size, m))

        ll, t0, la = over_devices(score, divisor_at_most(n, split))(xs)
        theta = jnp.concatenate([positions, t0[:, None], la[:, None]], axis=-1)
    else:
        theta = xs

        def score(ts):
            return jax.lax.map(
                lambda t: fn(t, model, data), ts, batch_size=min(chunk_size, ts.shape[0])
            )

        ll = over_devices(score, divisor_at_most(n, split))(theta)
    return theta, jnp.where(jnp.isnan(ll), -jnp.inf, ll)


def score_candidates(fn, search, model, data, space: Space, key, bank, *, num_draws, chunk_size,
                     split):  # fmt: skip
    """Candidates ``theta [m, 5]`` and their log-likelihoods ``[m]`` (NaN as ``-inf``):
    :func:`draw_candidates` scored by :func:`score_batch` (pure).

    With ``search`` the candidates are positions (prior draws, or the bank's) at their best
    ``t0`` and amplitude; without, every free parameter is drawn from the prior.
    """
    xs = draw_candidates(search, space, key, bank, num_draws)
    return score_batch(fn, search, model, data, space, xs, chunk_size=chunk_size, split=split)


def objective(fn, model, data, space: Space, u, *, jacobian: bool = True) -> jax.Array:
    """The function the polish maximises at unconstrained ``u [d]``: the log posterior density
    of ``u`` (``jacobian=True``, the density NUTS samples) or the log-likelihood alone (whose
    maximum is the posterior maximum under the uniform prior). NaN becomes ``-inf``."""
    if jacobian:
        return log_density(fn, model, data, space, u)
    ll = fn(from_unconstrained(space, u), model, data)
    return jnp.where(jnp.isnan(ll), -jnp.inf, ll)


def polish(fn, model, data, space: Space, u0, *, learning_rate, adam_steps, newton_steps,
           jacobian=True):  # fmt: skip
    """Maximise :func:`objective` from ``u0 [d]``: Adam, then damped Newton steps.

    Every point stays within ``+-30`` in each unconstrained coordinate (a parameter within
    1e-13 of the box width of a face is on it, :func:`box_laplace`); farther out the sigmoid
    saturates in float64 and the curvature in the parameters cannot be recovered.

    Returns:
        ``(u [d], value [], gradient [d], Hessian [d, d])`` at the best point found; the
        gradient and Hessian are those of the objective there (one compiled Hessian serves
        the Newton steps and the result).
    """
    import optax

    f = partial(objective, fn, model, data, space, jacobian=jacobian)
    value_and_grad = jax.value_and_grad(f)
    u0 = jnp.clip(u0, -_U_MAX, _U_MAX)
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(adam_steps, 1), alpha=1e-3))

    def adam_step(carry, _):
        u, state, best_u, best_lp = carry
        lp, g = value_and_grad(u)
        better = lp > best_lp
        best_u = jnp.where(better, u, best_u)
        best_lp = jnp.where(better, lp, best_lp)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        updates, state = opt.update(-g, state)
        return (jnp.clip(u + updates, -_U_MAX, _U_MAX), state, best_u, best_lp), None

    init = (u0, opt.init(u0), u0, jnp.asarray(-jnp.inf, u0.dtype))
    (u, _, best_u, best_lp), _ = jax.lax.scan(adam_step, init, None, length=adam_steps)
    lp = f(u)
    better = lp > best_lp
    u, lp = jnp.where(better, u, best_u), jnp.where(better, lp, best_lp)

    def grad_twice(v):
        # jacrev, not grad: under jacfwd the Hessian of the bundled catalogue's likelihood
        # then takes half the time (measured, 1.6 against 3.0 ms per point)
        g = jax.jacrev(f)(v)
        return g, g

    hessian_and_grad = jax.jacfwd(grad_twice, has_aux=True)
    curvature = _gauss_newton(fn, model, data, space, jacobian) if hasattr(fn, "fisher") else None

    def lm_step(u, lp, damping, g, a, evaluate, aux):
        # Levenberg-Marquardt on -f: (A + damping * diag(|A| + 1)) step = g, A ~ -Hessian;
        # ``evaluate(trial) -> (value, aux)``, whose aux is kept with an accepted trial
        scale = jnp.abs(jnp.diag(a)) + 1.0
        step = jnp.linalg.solve(a + damping * jnp.diag(scale), g)
        ok = jnp.all(jnp.isfinite(step))
        trial = jnp.clip(u + jnp.where(ok, step, 0.0), -_U_MAX, _U_MAX)
        lp_trial, aux_trial = evaluate(trial)
        accept = ok & (lp_trial > lp)
        pick = partial(jax.tree.map, partial(jnp.where, accept))
        damping = jnp.clip(jnp.where(accept, damping * 0.3, damping * 10.0), 1e-9, 1e9)
        return pick(trial, u), pick(lp_trial, lp), damping, pick(aux_trial, aux)

    d = u.shape[-1]
    damping0 = jnp.asarray(1e-3, u.dtype)
    if curvature is not None:
        # Gauss-Newton steps, then the exact gradient and Hessian at the result. The trial
        # point's value comes with its gradient and curvature (one forward pass), kept for
        # the next step when the trial is accepted.
        def evaluate(v):
            value, g, a = curvature(v)
            return value, (g, a)

        def gn_step(carry, _):
            u, lp, damping, (g, a) = carry
            return lm_step(u, lp, damping, g, a, evaluate, (g, a)), None

        lp0, ga0 = evaluate(u)
        (u, lp, _, _), _ = jax.lax.scan(gn_step, (u, lp0, damping0, ga0), None,
                                        length=newton_steps)  # fmt: skip
        h, g = hessian_and_grad(u)
        return u, lp, g, h

    def newton_step(carry, last):
        # the last iteration only evaluates the gradient and Hessian at the final point
        u, lp, damping, _, _ = carry
        h, g = hessian_and_grad(u)
        moved = lm_step(u, lp, damping, jnp.where(last, 0.0, g), -0.5 * (h + h.T),
                        lambda v: (f(v), ()), ())[:3]  # fmt: skip
        return (*moved, g, h), None

    carry = (u, lp, damping0, jnp.zeros(d, u.dtype), jnp.zeros((d, d), u.dtype))
    last = jnp.arange(newton_steps + 1) == newton_steps
    (u, lp, _, g, h), _ = jax.lax.scan(newton_step, carry, last)
    return u, lp, g, h


def _gauss_newton(fn, model, data, space: Space, jacobian: bool):
    """``u -> (value [], gradient [d], Gauss-Newton curvature [d, d])`` of :func:`objective`
    from the likelihood's Fisher information, by the chain rule through ``theta(u)``."""
    idx = np.asarray(space.free)

    def curvature(u):
        lower = jnp.asarray(space.lower, u.dtype)[idx]
        upper = jnp.asarray(space.upper, u.dtype)[idx]
        sig = jax.nn.sigmoid(u)
        d1 = (upper - lower) * sig * (1.0 - sig)  # dtheta/du
        d2 = d1 * (1.0 - 2.0 * sig)
        ll, g_theta, info = fn.fisher(from_unconstrained(space, u), model, data)
        value = jnp.where(jnp.isnan(ll), -jnp.inf, ll)
        g_theta, info = g_theta[idx], info[np.ix_(idx, idx)]
        g = g_theta * d1
        a = d1[:, None] * info * d1[None, :] - jnp.diag(g_theta * d2)
        if jacobian:
            value = value + jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u))
            g = g + (1.0 - 2.0 * sig)
            a = a + jnp.diag(2.0 * sig * (1.0 - sig))
        return value, g, a

    return curvature


def polish_best(fn, model, data, space: Space, theta, ll, *, stage: GlobalStage, split,
                jacobian: bool = True):  # fmt: skip
    """Polish the ``stage.num_polish`` best of the scored candidates ``theta [m, 5]``,
    ``ll [m]`` (pure; jit and vmap safe).

    Returns:
        ``(u [K, d], objective [K], gradients [K, d], Hessians [K, d, d], best raw
        log-likelihood [])`` in the free parameters' unconstrained coordinates (see
        :func:`objective` for ``jacobian``).
    """
    top, idx = jax.lax.top_k(ll, stage.num_polish)
    u0 = to_unconstrained(space, theta[idx])
    polish_one = partial(
        polish, fn, model, data, space,
        learning_rate=stage.learning_rate, adam_steps=stage.polish_steps,
        newton_steps=stage.newton_steps, jacobian=jacobian,
    )  # fmt: skip
    run = over_devices(jax.vmap(polish_one), divisor_at_most(stage.num_polish, split))
    u, lp, g, h = run(u0)
    return u, lp, g, h, top[0]


def find_modes(fn, search, model, data, space: Space, key, bank, *, stage: GlobalStage, split,
               jacobian: bool = True):  # fmt: skip
    """Score, keep the best ``stage.num_polish`` and polish them (pure; jit and vmap safe):
    :func:`score_candidates` then :func:`polish_best`, whose result it returns."""
    theta, ll = score_candidates(
        fn, search, model, data, space, key, bank,
        num_draws=stage.num_draws, chunk_size=stage.chunk_size, split=split,
    )  # fmt: skip
    return polish_best(
        fn, model, data, space, theta, ll, stage=stage, split=split, jacobian=jacobian
    )


def laplace_covariance(hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariances and precisions ``[K, d, d]`` from Hessians of the log-density, with the
    precision eigenvalues floored (flat or non-concave directions get a broad width)."""
    h = np.nan_to_num(-0.5 * (hess + np.swapaxes(hess, -1, -2)), nan=0.0, posinf=0.0, neginf=0.0)
    lam, vec = np.linalg.eigh(h)
    lam = np.maximum(lam, _MIN_PRECISION)
    prec = np.einsum("kij,kj,klj->kil", vec, lam, vec)
    cov = np.einsum("kij,kj,klj->kil", vec, 1.0 / lam, vec)
    return cov, prec


def is_maximum(hess: np.ndarray) -> np.ndarray:
    """``[K]`` whether each Hessian ``[K, d, d]`` of the log-density is finite and negative
    definite (the point is a strict local maximum if its gradient vanishes)."""
    h = -0.5 * (hess + np.swapaxes(hess, -1, -2))
    finite = np.all(np.isfinite(h), axis=(-2, -1))
    lam = np.linalg.eigvalsh(np.where(finite[:, None, None], h, 0.0))
    return finite & np.all(lam > 0, axis=-1)


def floored_covariance(prec: np.ndarray, width: np.ndarray):
    """The covariance of a precision in the parameters, with the precision's eigenvalues in
    box-scaled coordinates (``theta / width``) floored at 12, the uniform prior's precision on
    a unit width: no direction is wider than the prior itself (host side).

    Args:
        prec: ``[d, d]`` precision (minus the log-likelihood's Hessian) in the parameters.
        width: ``[d]`` the box's widths.

    Returns:
        ``(cov [d, d], floored eigenvalues [d] in box-scaled coordinates, positive
        definite)``.
    """
    scale = np.outer(width, width)
    lam, vec = np.linalg.eigh(0.5 * (prec + prec.T) * scale)
    positive = bool(np.all(lam > 0))
    lam = np.maximum(lam, _PRIOR_PRECISION)
    return ((vec / lam) @ vec.T) * scale, lam, positive


def parameter_curvature(space: Space, u, grad_u, hess_u):
    """The gradient and Hessian of ``log L`` in the free parameters themselves, by the chain
    rule from those of ``log L(theta(u))`` in unconstrained coordinates (host side).

    Args:
        space: the prior's space.
        u: ``[K, d]`` points; ``grad_u`` ``[K, d]`` and ``hess_u`` ``[K, d, d]`` there.

    Returns:
        ``(theta [K, d], gradient [K, d], Hessian [K, d, d])`` of the free parameters, in
        their units (km, s, natural log).
    """
    u = np.asarray(u, dtype=np.float64)
    idx = np.asarray(space.free)
    lo = np.asarray(space.lower, np.float64)[idx]
    width = np.asarray(space.upper, np.float64)[idx] - lo
    sig = 1.0 / (1.0 + np.exp(-u))
    d1 = width * sig * (1.0 - sig)  # dtheta/du
    d2 = d1 * (1.0 - 2.0 * sig)  # d2theta/du2
    g = np.asarray(grad_u, dtype=np.float64) / d1
    h_u = np.asarray(hess_u, dtype=np.float64)
    h_u = 0.5 * (h_u + np.swapaxes(h_u, -1, -2))
    eye = np.eye(u.shape[-1])
    h = (h_u - eye * (g * d2)[..., None, :]) / (d1[..., :, None] * d1[..., None, :])
    return lo + width * sig, g, h


def box_laplace(space: Space, u, lp, grad_u, hess_u):
    """The Laplace-approximated likelihood mass of each polished point's mode inside the
    prior box, and whether the point is a maximum there (host side).

    A free parameter within ``1e-4`` of the box width of a bound, with the likelihood rising
    towards the bound, is *pinned*: the maximum lies on the box's face (an event at the edge
    of the volume), and the unconstrained polish only approaches it. The mass of such a mode
    integrates the local quadratic model over the inside of the face only, ``int_0^inf
    exp(-|g| x - P x^2 / 2) dx`` per pinned parameter (``P`` its precision), instead of the
    whole line; a point is a maximum when the precision of its other parameters is positive
    definite.

    Args:
        space: the prior's space.
        u, lp, grad_u, hess_u: ``[K, d]``, ``[K]``, ``[K, d]``, ``[K, d, d]``: the points in
            unconstrained coordinates and the log-likelihood, its gradient and Hessian there.

    Returns:
        ``(log_mass [K], maximum [K] bool, decrement [K])``; ``log_mass`` is ``-inf`` where
        ``lp`` is not finite; ``decrement`` is the Newton decrement ``g' P^-1 g`` over the
        parameters not pinned, the log-likelihood a Newton step would still gain (``inf`` at
        a non-maximum).
    """
    from scipy.special import log_ndtr, ndtr

    idx = np.asarray(space.free)
    lo = np.asarray(space.lower, np.float64)[idx]
    width = np.asarray(space.upper, np.float64)[idx] - lo
    theta, g, h = parameter_curvature(space, u, grad_u, hess_u)
    lp = np.asarray(lp, dtype=np.float64)
    pos = (theta - lo) / width
    pinned = ((pos < _PINNED) & (g < 0)) | ((pos > 1.0 - _PINNED) & (g > 0))
    log_mass = np.full(len(lp), -np.inf)
    maximum = np.zeros(len(lp), dtype=bool)
    decrement = np.full(len(lp), np.inf)
    for k in range(len(lp)):
        prec = -h[k]
        if not (np.isfinite(lp[k]) and np.all(np.isfinite(prec)) and np.all(np.isfinite(g[k]))):
            continue
        inner = ~pinned[k]
        sub = prec[np.ix_(inner, inner)]
        # interior parameters: the Gaussian integral, with the precision floored at the
        # uniform prior's on the box (a flat direction is no wider than the box)
        cov, lam, maximum[k] = floored_covariance(sub, width[inner])
        if maximum[k]:
            decrement[k] = float(g[k, inner] @ np.linalg.solve(sub, g[k, inner]))
        value = lp[k] + 0.5 * np.sum(np.log(2.0 * np.pi / lam)) + np.sum(np.log(width[inner]))
        # the part of the Gaussian inside the box, parameter by parameter
        sd = np.sqrt(np.diag(cov))
        lo_z = (lo[inner] - theta[k, inner]) / sd
        hi_z = (lo[inner] + width[inner] - theta[k, inner]) / sd
        value += np.sum(np.log(np.maximum(ndtr(hi_z) - ndtr(lo_z), 1e-300)))
        for j in np.flatnonzero(pinned[k]):
            slope, p = abs(g[k, j]), prec[j, j]
            if p > 0:  # int_0^inf exp(-slope x - p x^2 / 2) dx
                a = slope / np.sqrt(p)
                value += 0.5 * np.log(2.0 * np.pi / p) + 0.5 * a * a + log_ndtr(-a)
            else:  # no concave curvature: the exponential tail of the slope alone
                value += -np.log(slope)
        log_mass[k] = value
    return log_mass, maximum, decrement


def select_modes(u, lp, hess, best_raw, stage: GlobalStage, *, jacobian: bool = True,
                 grad=None, space: Space | None = None) -> Modes:  # fmt: skip
    """Group polished points into distinct modes and keep the heavy ones (host side).

    With ``jacobian=True`` (the polish maximised the posterior density of ``u``, which NUTS
    samples) the modes are weighed by their Laplace mass in ``u``. With ``jacobian=False``
    (the polish maximised the log-likelihood) they are weighed by their Laplace mass in the
    parameters themselves, where the uniform prior makes the posterior the likelihood inside
    the box: :func:`box_laplace`, which also handles maxima on the box's faces; this needs
    ``grad`` and ``space``.

    A point that is not a maximum (a Hessian that is not negative definite: a saddle, or a
    kink of the emulators where the polish stopped) becomes no mode unless no point is one:
    its floored precision would give it a broad Laplace width, hence a large mass, and the
    Laplace mixture and the NUTS chains would spread over the prior box.

    Raises:
        ValueError: when no polished point has a finite log-density (a likelihood that is NaN
            or ``-inf`` wherever the stage looked), or ``jacobian=False`` without ``grad`` and
            ``space``.
    """
    u, lp, hess = (np.asarray(a, dtype=np.float64) for a in (u, lp, hess))
    if not np.any(np.isfinite(lp)):
        raise ValueError(
            "the log-likelihood is NaN or -inf at every candidate the global stage polished "
            f"(best raw value {float(best_raw)}): check the observed data, the noise model and "
            "the prior box"
        )
    cov, prec = laplace_covariance(hess)
    eligible = np.isfinite(lp) & is_maximum(hess)
    if jacobian:
        log_mass = lp + 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
        decrement = np.zeros(len(lp))
    else:
        if grad is None or space is None:
            raise ValueError("select_modes(jacobian=False) needs the gradients and the space")
        log_mass, box_maximum, decrement = box_laplace(space, u, lp, grad, hess)
        eligible &= box_maximum & np.isfinite(log_mass)
    if not np.any(eligible):  # no maximum: the best points all the same (flagged downstream)
        eligible = np.isfinite(lp)
        log_mass = np.where(np.isfinite(log_mass), log_mass, lp)
    modes: list[int] = []
    for i in np.argsort(-np.where(eligible, lp, -np.inf)):
        if not eligible[i]:
            continue
        d2 = [_d2(u, prec, i, m) for m in modes]
        near = [j for j, d in enumerate(d2) if d < _SAME_MODE_D2]
        if not near:
            modes.append(int(i))
        elif d2[near[0]] < 1.0 and decrement[i] < decrement[modes[near[0]]]:
            # the same maximum to within a standard deviation, but a point closer to it: the
            # polished points of one maximum differ in the log-likelihood by its round-off
            modes[near[0]] = int(i)
    frac = np.exp(log_mass[modes] - log_mass[modes].max())
    frac = frac / frac.sum()
    order = np.argsort(-frac)
    used = [j for j in order if frac[j] >= stage.min_mode_mass] or [int(order[0])]
    keep = [modes[j] for j in used]
    return Modes(u[keep], lp[keep], cov[keep], frac[used], len(modes), np.asarray(keep))


def _d2(where, metric, i, m) -> float:
    """The squared distance of point ``i`` from mode ``m`` in the mode's metric."""
    x = where[i] - where[m]
    return float(x @ metric[m] @ x)
