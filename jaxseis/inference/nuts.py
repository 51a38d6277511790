"""NUTS (BlackJAX) in the whitened coordinates of the global stage's modes.

Each chain ``c`` starts from its mode: ``center[c]`` and ``chol[c] @ chol[c].T``, the mode's
position and Laplace covariance in the free parameters' unconstrained (logistic) coordinates
(:mod:`jaxseis.inference.global_stage`). It samples ``w`` with ``v = v_c + L_c @ w`` in the
coordinates of the soft box (:func:`jaxseis.inference.prior.soft_box`, bending within
``delta`` of the faces, ``delta`` the mode's Laplace sd of each parameter): ``v_c`` and ``L_c``
are the mode and its covariance factor carried over to them. Inside the box these
coordinates are the parameters themselves, so a posterior near a face keeps its shape, where
the logistic map skews it at the scale of the box (with logistic coordinates, none of the
catalogue benchmark's events within 3 posterior sd of a face reached an ESS of 400, against
two thirds with the soft box). The posterior has about unit scale in ``w``, which is what
Stan's window adaptation (BlackJAX) assumes when it regularises the mass matrix towards
``1e-3`` times the identity; the mass matrix is adapted dense by default. The draws are
returned in the logistic coordinates.

Chains run in lock step with :func:`jax.vmap`, split over the available JAX devices where the
chain count allows (:func:`jaxseis.runtime.use_cpu_cores`). :func:`run_chains` is pure, so a
catalogue can ``vmap`` it over events.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.global_stage import GlobalStage, Modes
from jaxseis.inference.prior import (
    Space,
    from_unconstrained,
    soft_box,
    soft_box_inverse,
)
from jaxseis.runtime import divisor_at_most, over_devices

__all__ = [
    "ChainState",
    "NutsOptions",
    "Schedule",
    "advance_chains",
    "chain_modes",
    "chain_starts",
    "check_nuts_options",
    "finish_chains",
    "init_chains",
    "restrict_starts",
    "run_chains",
    "schedule_of",
    "step_keys",
    "use_marginal_t0",
]


class NutsOptions(NamedTuple):
    """Settings of NUTS.

    Attributes:
        num_chains: chains (run with ``vmap``, split over devices).
        num_warmup: window-adaptation steps per chain.
        num_draws: draws per chain kept after the warm-up.
        target_acceptance_rate: of the step-size adaptation.
        max_num_doublings: largest trajectory doubling count (tree depth).
        dense_mass_matrix: adapt a dense (``True``) or diagonal mass matrix.
        global_stage: the :class:`~jaxseis.inference.global_stage.GlobalStage` that starts
            the chains at the dominant modes, or ``None`` to start them at prior draws (no
            whitening).
        marginal_t0: sample the other parameters with the origin time marginalised and draw
            each draw's origin time from its conditional afterwards
            (:mod:`jaxseis.likelihood.origin_time`): ``None`` (default) wherever the
            likelihood allows it (a waveform likelihood of stationary noise without an
            emulator error model, ``t0`` free), ``True`` the same but an error elsewhere,
            ``False`` samples ``t0`` with the others.
    """

    num_chains: int = 4
    num_warmup: int = 500
    num_draws: int = 1000
    target_acceptance_rate: float = 0.8
    max_num_doublings: int = 10
    dense_mass_matrix: bool = True
    global_stage: GlobalStage | None = GlobalStage()
    marginal_t0: bool | None = None


def check_nuts_options(options: NutsOptions) -> None:
    """Raise ``ValueError`` for settings out of range."""
    for name in ("num_chains", "num_warmup", "num_draws", "max_num_doublings"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"NutsOptions.{name} must be an integer >= 1; got {value!r}")
    if not 0 < options.target_acceptance_rate < 1:
        raise ValueError(
            f"NutsOptions.target_acceptance_rate must be in (0, 1); got "
            f"{options.target_acceptance_rate}"
        )
    if options.marginal_t0 not in (None, True, False):
        raise ValueError(
            f"NutsOptions.marginal_t0 must be None, True or False; got {options.marginal_t0!r}"
        )


def chain_modes(mass, num_chains: int) -> np.ndarray:
    """The mode of each chain ``[C]``: modes get chains in proportion to their mass.

    The pooled draws of all chains are the posterior only if every mode holds its share of
    the chains, since chains rarely cross between separated modes. Systematic allocation:
    chain ``c`` takes the mode whose cumulative mass first exceeds ``(c + 1/2) / C``, so a
    mode of mass ``m`` gets ``m C`` chains rounded up or down, and a mode lighter than
    ``1 / (2 C)`` may get none (with 4 chains, a mode of 10 % mass gets none; one of 15 % gets
    one). Deterministic.

    Args:
        mass: ``[M]`` mode masses (normalised here), heaviest first.
        num_chains: ``C``.
    """
    m = np.asarray(mass, dtype=np.float64)
    if m.ndim != 1 or len(m) == 0 or not np.all(np.isfinite(m)) or np.any(m < 0) or m.sum() <= 0:
        raise ValueError(f"mode masses must be finite, non-negative and not all zero; got {m}")
    cum = np.cumsum(m / m.sum())
    u = (np.arange(num_chains) + 0.5) / num_chains
    return np.minimum(np.searchsorted(cum, u, side="right"), len(m) - 1)


def chain_starts(modes: Modes, key, num_chains: int, init_spread: float):
    """Per-chain ``(w0 [C, d], center [C, d], chol [C, d, d], which [C])``: chain ``c`` in mode
    ``which[c]`` (:func:`chain_modes`), started at ``w0 = init_spread * z`` (``z`` standard
    normal) of its whitening."""
    z = np.asarray(jax.random.normal(key, (num_chains, modes.u.shape[-1])), dtype=np.float64)
    which = chain_modes(modes.mass, num_chains)
    center = modes.u[which]
    chol = np.stack([np.linalg.cholesky(modes.cov[m]) for m in which])
    return init_spread * z, center, chol, which


def use_marginal_t0(options: NutsOptions, reason: str | None) -> bool:
    """Whether NUTS samples with ``t0`` marginalised (:attr:`NutsOptions.marginal_t0`), given
    why it cannot be (``reason``, or None when it can).

    Raises:
        ValueError: ``marginal_t0=True`` where it cannot be.
    """
    if options.marginal_t0 is False:
        return False
    if reason is not None and options.marginal_t0:
        raise ValueError(f"NutsOptions.marginal_t0=True cannot be used: {reason}; pass "
                         "marginal_t0=None or False")  # fmt: skip
    return reason is None


def restrict_starts(w0, center, chol, keep):
    """Chain starts ``w0 [C, d]``, ``center [C, d]``, ``chol [C, d, d]`` (see
    :func:`chain_starts`) restricted to the free parameters ``keep`` (indices into the ``d``):
    the same starting points, whitened by the marginal of each mode's Laplace covariance
    (its sub-block). Returns ``(w0, center, chol)`` of ``len(keep)`` parameters."""
    keep = np.asarray(keep)
    start = center + np.einsum("cij,cj->ci", chol, w0)
    cov = np.einsum("cij,ckj->cik", chol, chol)[:, keep][:, :, keep]
    sub = np.linalg.cholesky(cov)
    w = np.linalg.solve(sub, (start - center)[:, keep][..., None])[..., 0]
    return w, center[:, keep], sub


class ChainState(NamedTuple):
    """The state of the chains between NUTS steps (each field has the chain axis first).

    Attributes:
        hmc: BlackJAX's HMC state (position ``w [C, d]`` in whitened coordinates, its
            log-density and gradient).
        step_size: the dual-averaging state of the step-size adaptation.
        mass: the Welford state of the mass-matrix adaptation.
        eps: ``[C]`` the warm-up's current step size.
        inverse_mass: ``[C, d]`` or ``[C, d, d]`` the warm-up's current inverse mass matrix.
        final_eps: ``[C]`` the sampling step size (set at the warm-up's last step).
        final_inverse_mass: the sampling inverse mass matrix (likewise).
    """

    hmc: Any
    step_size: Any
    mass: Any
    eps: Any
    inverse_mass: Any
    final_eps: Any
    final_inverse_mass: Any


class Schedule(NamedTuple):
    """The per-step inputs of the NUTS scan, ``[n_steps]`` each (warm-up then sampling).

    Attributes:
        index: the step's index (``>= num_warmup``: sampling).
        slow: 1 in Stan's slow adaptation windows (the mass matrix is adapted), else 0.
        window_end: the last step of a slow window (new mass matrix, step size reset).
    """

    index: np.ndarray
    slow: np.ndarray
    window_end: np.ndarray


def schedule_of(options: NutsOptions, padded_to: int | None = None) -> Schedule:
    """Stan's window-adaptation schedule for ``options.num_warmup`` steps, then the sampling
    steps; with ``padded_to`` extra sampling steps up to that length (their draws are
    dropped, and the last real step's outputs do not depend on them)."""
    from blackjax.adaptation.window_adaptation import build_schedule

    n_warm, n_draw = options.num_warmup, options.num_draws
    n = max(n_warm + n_draw, padded_to or 0)
    with jax.ensure_compile_time_eval():  # a constant of the programs that use it
        schedule = np.asarray(build_schedule(n_warm), dtype=np.int32).reshape(n_warm, 2)
    pad = np.zeros(n - n_warm, np.int32)
    return Schedule(
        np.arange(n, dtype=np.int32),
        np.concatenate([schedule[:, 0], pad]),
        np.concatenate([schedule[:, 1], pad]).astype(bool),
    )


def step_keys(key, num_chains: int, num_steps: int) -> jax.Array:
    """The chains' per-step keys ``[C, num_steps]``: chain ``c``'s ``c``-th split of ``key``,
    split again into one key per step."""
    return jax.vmap(lambda k: jax.random.split(k, num_steps))(jax.random.split(key, num_chains))


def _parts(fn, model, data, space: Space, options: NutsOptions, dim: int):
    """``(init, advance)`` of one chain: ``init(w_init, m, chol_c) -> ChainState`` and
    ``advance(state, keys [K], schedule [K], m, chol_c) -> (state, trace [K, ...])``."""
    import blackjax
    from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
    from blackjax.adaptation.step_size import dual_averaging_adaptation

    n_warm = options.num_warmup
    kernel = blackjax.mcmc.nuts.build_kernel()
    mm_init, mm_update, mm_final = mass_matrix_adaptation(not options.dense_mass_matrix)
    da_init, da_update, da_final = dual_averaging_adaptation(options.target_acceptance_rate)

    idx = np.asarray(space.free)
    lower, upper = jnp.asarray(space.lower), jnp.asarray(space.upper)
    lo, hi = lower[idx], upper[idx]

    def geometry(m, chol_c):
        """``(delta, v_c, L_c)``: the soft box's scale and the mode in its coordinates."""
        dtheta_du = (hi - lo) * jax.nn.sigmoid(m) * jax.nn.sigmoid(-m)
        delta = dtheta_du * jnp.sqrt(jnp.sum(chol_c * chol_c, axis=1))  # Laplace sd
        v_c = soft_box_inverse(lo, hi, delta, lo + (hi - lo) * jax.nn.sigmoid(m))
        dv_dtheta = jnp.exp(-soft_box(lo, hi, delta, v_c)[2])
        return delta, v_c, (dv_dtheta * dtheta_du)[:, None] * chol_c

    def at(geom, w):
        """``(theta [5], u [d], log dtheta/dv [d])`` at the whitened point ``w`` of a chain of
        soft-box geometry ``geom`` (:func:`geometry`)."""
        delta, v_c, chol_v = geom
        above, below, log_jac = soft_box(lo, hi, delta, v_c + chol_v @ w)
        free = jnp.where(above < below, lo + above, hi - below)
        return lower.at[idx].set(free), jnp.log(above) - jnp.log(below), log_jac

    def whitened(geom):
        def logdensity(w):
            theta, _, log_jac = at(geom, w)
            ll = fn(theta, model, data)
            return jnp.where(jnp.isnan(ll), -jnp.inf, ll) + jnp.sum(log_jac)

        return logdensity

    def init(w_init, m, chol_c):
        state = blackjax.mcmc.hmc.init(w_init, whitened(geometry(m, chol_c)))
        mm = mm_init(dim)
        one = jnp.ones((), w_init.dtype)
        imm = mm.inverse_mass_matrix
        carry = ChainState(state, da_init(1.0), mm, one, imm, one, imm)
        # no weak types: every piece of steps then sees (and compiles for) the same types
        return jax.tree.map(lambda a: jax.lax.convert_element_type(a, jnp.asarray(a).dtype), carry)

    def advance(carry: ChainState, keys, schedule: Schedule, m, chol_c):
        geom = geometry(m, chol_c)  # once per chain, not per gradient
        logdensity = whitened(geom)

        def step(carry, xs):
            state, ss, mm, eps, imm, final_eps, final_imm = carry
            k, i, slow, end = xs
            warm = i < n_warm
            use_eps = jnp.where(warm, eps, final_eps)
            use_imm = jnp.where(warm, imm, final_imm)
            state, info = kernel(k, state, logdensity, use_eps, use_imm, options.max_num_doublings)
            # Stan's window adaptation: step size in every window, covariance in slow ones
            ss_new = da_update(ss, info.acceptance_rate)
            mm_new = jax.tree.map(
                lambda a, b: jnp.where(slow == 1, a, b), mm_update(mm, state.position), mm
            )
            eps_new, imm_new = jnp.exp(ss_new.log_step_size), imm
            closed = mm_final(mm_new)  # the end of a slow window: new mass matrix, reset
            ss_reset = da_init(da_final(ss_new))
            pick = partial(jax.tree.map, lambda a, b: jnp.where(end, a, b))
            mm_new = pick(closed, mm_new)
            ss_new = pick(ss_reset, ss_new)
            imm_new = jnp.where(end, closed.inverse_mass_matrix, imm_new)
            eps_new = jnp.where(end, jnp.exp(ss_reset.log_step_size), eps_new)
            last = i == n_warm - 1  # the warm-up's final step size and mass matrix
            final_eps = jnp.where(last, jnp.exp(ss_new.log_step_size_avg), final_eps)
            final_imm = jnp.where(last, mm_new.inverse_mass_matrix, final_imm)
            keep = partial(jax.tree.map, lambda a, b: jnp.where(warm, a, b))
            carry = ChainState(state, keep(ss_new, ss), keep(mm_new, mm),
                               jnp.where(warm, eps_new, eps), jnp.where(warm, imm_new, imm),
                               final_eps, final_imm)  # fmt: skip
            _, u, log_jac = at(geom, state.position)
            stats = {
                "u": u,
                "lp": state.logdensity,
                "loglik": state.logdensity - jnp.sum(log_jac),
                "diverging": info.is_divergent,
                "acceptance_rate": info.acceptance_rate,
                "tree_depth": info.num_trajectory_expansions,
                "n_steps": info.num_integration_steps,
                "energy": info.energy,
            }
            return carry, stats

        return jax.lax.scan(step, carry, (keys, *schedule))

    return init, advance


def init_chains(fn, model, data, space: Space, w0, center, chol, *, options: NutsOptions,
                split: int) -> ChainState:  # fmt: skip
    """The chains' state before the first step, from their starts ``w0 [C, d]`` in the
    whitened coordinates ``u = center[c] + chol[c] @ w`` (pure)."""
    init, _ = _parts(fn, model, data, space, options, w0.shape[-1])
    run = over_devices(jax.vmap(init), divisor_at_most(w0.shape[0], split))
    return run(w0, center, chol)


def advance_chains(fn, model, data, space: Space, state: ChainState, keys, schedule: Schedule,
                   center, chol, *, options: NutsOptions, split: int):  # fmt: skip
    """``K`` NUTS steps of every chain (pure): ``keys [C, K]`` (:func:`step_keys`) and the
    steps' ``schedule`` (``[K]`` each, :func:`schedule_of`; the same for every chain).

    Returns:
        ``(state, trace)`` with ``trace`` a dict of ``[C, K, ...]`` arrays: ``u`` (the free
        parameters' unconstrained coordinates), ``lp``, ``diverging``, ``acceptance_rate``,
        ``tree_depth``, ``n_steps``, ``energy``.
    """
    _, advance = _parts(fn, model, data, space, options, center.shape[-1])
    num_chains = center.shape[0]
    sched = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a), (num_chains, *a.shape)),
                         schedule)  # fmt: skip
    run = over_devices(jax.vmap(advance), divisor_at_most(num_chains, split))
    return run(state, keys, sched, center, chol)


def finish_chains(space: Space, trace: dict, step_size) -> dict:
    """The draws' dict from the sampling steps' ``trace`` (``[C, num_draws, ...]``, see
    :func:`advance_chains`) and the chains' sampling step sizes ``[C]``: ``theta`` (all five
    parameters), ``loglik`` (the log-density minus the log-Jacobian of the sampler's
    coordinates), ``step_size`` and the trace's statistics (pure)."""
    trace = dict(trace)
    u = trace.pop("u")
    return {"theta": from_unconstrained(space, u), "step_size": step_size, **trace}


def run_chains(fn, model, data, space: Space, key, w0, center, chol, *, options: NutsOptions,
               split: int):  # fmt: skip
    """Window adaptation, then ``options.num_draws`` NUTS steps per chain (pure).

    Warm-up and sampling are one scan over the same NUTS kernel, so the log-density's gradient
    is compiled once: during the warm-up the kernel runs with the adapting step size and mass
    matrix (Stan's windows: BlackJAX's dual averaging, Welford covariance and schedule), after
    it with the final ones. :func:`init_chains`, :func:`advance_chains` and
    :func:`finish_chains` are its parts, for running the steps in pieces.

    Returns a dict of ``[C, num_draws, ...]`` arrays: ``theta`` (all five parameters),
    ``loglik``, ``lp``, ``diverging``, ``acceptance_rate``, ``tree_depth``, ``n_steps``,
    ``energy``; and ``step_size [C]``.
    """
    n_warm, n_steps = options.num_warmup, options.num_warmup + options.num_draws
    state = init_chains(fn, model, data, space, w0, center, chol, options=options, split=split)
    keys = step_keys(key, w0.shape[0], n_steps)
    state, trace = advance_chains(
        fn, model, data, space, state, keys, schedule_of(options), center, chol,
        options=options, split=split,
    )  # fmt: skip
    trace = jax.tree.map(lambda a: a[:, n_warm:], trace)
    return finish_chains(space, trace, state.final_eps)
