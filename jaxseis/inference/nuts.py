"""NUTS (BlackJAX) in the whitened coordinates of the global stage's modes.

Each chain ``c`` samples ``w`` with ``u = center[c] + chol[c] @ w``, where ``center`` and
``chol @ chol.T`` are its mode's position and Laplace covariance in the free parameters'
unconstrained coordinates (:mod:`jaxseis.inference.global_stage`). The posterior then has unit
scale, which is what Stan's window adaptation (BlackJAX) assumes when it regularises the mass
matrix towards ``1e-3`` times the identity; the mass matrix is adapted dense by default.

Chains run in lock step with :func:`jax.vmap`, split over the available JAX devices where the
chain count allows (:func:`jaxseis.runtime.use_cpu_cores`). :func:`run_chains` is pure, so a
catalogue can ``vmap`` it over events.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.global_stage import GlobalStage, Modes
from jaxseis.inference.prior import Space, from_unconstrained, log_density
from jaxseis.runtime import divisor_at_most, over_devices

__all__ = ["NutsOptions", "chain_starts", "check_nuts_options", "run_chains"]


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
    """

    num_chains: int = 4
    num_warmup: int = 500
    num_draws: int = 1000
    target_acceptance_rate: float = 0.8
    max_num_doublings: int = 10
    dense_mass_matrix: bool = True
    global_stage: GlobalStage | None = GlobalStage()


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


def chain_starts(modes: Modes, key, num_chains: int, init_spread: float):
    """Per-chain ``(w0 [C, d], center [C, d], chol [C, d, d])``: chain ``c`` in mode
    ``c mod M``, started at ``w0 = init_spread * z`` (``z`` standard normal) of its whitening."""
    z = np.asarray(jax.random.normal(key, (num_chains, modes.u.shape[-1])), dtype=np.float64)
    which = [c % len(modes.u) for c in range(num_chains)]
    center = modes.u[which]
    chol = np.stack([np.linalg.cholesky(modes.cov[m]) for m in which])
    return init_spread * z, center, chol


def run_chains(fn, model, data, space: Space, key, w0, center, chol, *, options: NutsOptions,
               split: int):  # fmt: skip
    """Window adaptation, then ``options.num_draws`` NUTS steps per chain (pure).

    Warm-up and sampling are one scan over the same NUTS kernel, so the log-density's gradient
    is compiled once: during the warm-up the kernel runs with the adapting step size and mass
    matrix (Stan's windows: BlackJAX's dual averaging, Welford covariance and schedule), after
    it with the final ones.

    Returns a dict of ``[C, num_draws, ...]`` arrays: ``theta`` (all five parameters),
    ``loglik``, ``lp``, ``diverging``, ``acceptance_rate``, ``tree_depth``, ``n_steps``,
    ``energy``; and ``step_size [C]``.
    """
    import blackjax
    from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
    from blackjax.adaptation.step_size import dual_averaging_adaptation
    from blackjax.adaptation.window_adaptation import build_schedule

    base_logdensity = partial(log_density, fn, model, data, space)
    dim = w0.shape[-1]
    dense = options.dense_mass_matrix
    n_warm, n_draw = options.num_warmup, options.num_draws
    kernel = blackjax.mcmc.nuts.build_kernel()
    mm_init, mm_update, mm_final = mass_matrix_adaptation(not dense)
    da_init, da_update, da_final = dual_averaging_adaptation(options.target_acceptance_rate)
    with jax.ensure_compile_time_eval():  # a constant of the program
        schedule = np.asarray(build_schedule(n_warm), dtype=np.int32).reshape(n_warm, 2)
    stage = np.concatenate([schedule[:, 0], np.zeros(n_draw, np.int32)])
    window_end = np.concatenate([schedule[:, 1], np.zeros(n_draw, np.int32)]).astype(bool)
    step_index = np.arange(n_warm + n_draw)

    def one_chain(key, w_init, m, chol_c):
        def logdensity(w):
            return base_logdensity(m + chol_c @ w)

        state = blackjax.mcmc.hmc.init(w_init, logdensity)
        mm = mm_init(dim)
        ss = da_init(1.0)
        one = jnp.ones((), w_init.dtype)
        carry = (state, ss, mm, one, mm.inverse_mass_matrix, one, mm.inverse_mass_matrix)

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
            carry = (state, keep(ss_new, ss), keep(mm_new, mm), jnp.where(warm, eps_new, eps),
                     jnp.where(warm, imm_new, imm), final_eps, final_imm)  # fmt: skip
            stats = {
                "u": m + chol_c @ state.position,
                "lp": state.logdensity,
                "diverging": info.is_divergent,
                "acceptance_rate": info.acceptance_rate,
                "tree_depth": info.num_trajectory_expansions,
                "n_steps": info.num_integration_steps,
                "energy": info.energy,
            }
            return carry, stats

        keys = jax.random.split(key, n_warm + n_draw)
        carry, trace = jax.lax.scan(step, carry, (keys, step_index, stage, window_end))
        trace = jax.tree.map(lambda a: a[n_warm:], trace)
        return trace, carry[5]

    keys = jax.random.split(key, w0.shape[0])
    run = over_devices(jax.vmap(one_chain), divisor_at_most(w0.shape[0], split))
    trace, step_size = run(keys, w0, center, chol)
    u = trace.pop("u")
    jac = jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u), axis=-1)
    return {
        "theta": from_unconstrained(space, u),
        "loglik": trace["lp"] - jac,
        "step_size": step_size,
        **trace,
    }
