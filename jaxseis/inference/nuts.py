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

    Returns a dict of ``[C, num_draws, ...]`` arrays: ``theta`` (all five parameters),
    ``loglik``, ``lp``, ``diverging``, ``acceptance_rate``, ``tree_depth``, ``n_steps``,
    ``energy``; and ``step_size [C]``.
    """
    import blackjax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    base_logdensity = partial(log_density, fn, model, data, space)
    dim = w0.shape[-1]
    dense = options.dense_mass_matrix
    imm_init = jnp.eye(dim, dtype=w0.dtype) if dense else jnp.ones(dim, w0.dtype)

    def one_chain(key, w_init, m, chol_c):
        def logdensity(w):
            return base_logdensity(m + chol_c @ w)

        key_warmup, key_draws = jax.random.split(key)
        warmup = blackjax.window_adaptation(
            blackjax.nuts,
            logdensity,
            is_mass_matrix_diagonal=not dense,
            initial_inverse_mass_matrix=imm_init,
            target_acceptance_rate=options.target_acceptance_rate,
            adaptation_info_fn=get_filter_adapt_info_fn(),
            max_num_doublings=options.max_num_doublings,
        )
        (state, parameters), _ = warmup.run(key_warmup, w_init, num_steps=options.num_warmup)
        step = blackjax.nuts(logdensity, **parameters).step

        def one_step(state, k):
            state, info = step(k, state)
            stats = {
                "u": m + chol_c @ state.position,
                "lp": state.logdensity,
                "diverging": info.is_divergent,
                "acceptance_rate": info.acceptance_rate,
                "tree_depth": info.num_trajectory_expansions,
                "n_steps": info.num_integration_steps,
                "energy": info.energy,
            }
            return state, stats

        keys = jax.random.split(key_draws, options.num_draws)
        _, trace = jax.lax.scan(one_step, state, keys)
        return trace, parameters["step_size"]

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
