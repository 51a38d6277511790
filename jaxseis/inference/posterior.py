"""``locate``: the posterior of one event's parameters, by NUTS, nested sampling or Laplace.

Every method starts from the likelihood's ``(fn, model, data)`` and the prior's
:class:`~jaxseis.inference.prior.Space`; the compiled programs
(:mod:`~jaxseis.inference.programs`, run in pieces with a progress bar) take ``model`` and
``data`` as arguments and are cached by ``fn`` and the static settings, so a second event of
the same kind (same emulators or tables, same shapes, same settings) reuses them: only the
first call of a process compiles. :mod:`jaxseis.catalogue` builds on the same pure functions
for many events.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.inference.diagnostics import ConvergenceWarning, diagnose
from jaxseis.inference.global_stage import Bank, GlobalStage, check_global_stage, select_modes
from jaxseis.inference.importance import log_likelihoods, proposal, psis_weights, resample_index
from jaxseis.inference.laplace import (
    LaplaceOptions,
    check_laplace_options,
    laplace_draws,
    laplace_mixture,
)
from jaxseis.inference.nested import NestedOptions, check_nested_options, run_nested
from jaxseis.inference.nuts import (
    NutsOptions,
    chain_starts,
    check_nuts_options,
    restrict_starts,
    use_marginal_t0,
)
from jaxseis.inference.prior import BoxPrior, Space, log_density, to_unconstrained, validate_prior
from jaxseis.inference.programs import run_global_stage, run_nuts
from jaxseis.inference.summary import gaussian_summary, to_inference_data, weighted_summary
from jaxseis.likelihood.base import Likelihood, as_likelihood
from jaxseis.likelihood.origin_time import (
    draw_origin_times,
    is_stationary,
    marginal_of,
    signal_bins,
    why_not_marginal,
)
from jaxseis.progress import Progress

__all__ = [
    "METHODS",
    "check_key",
    "locate",
    "resolve_options",
]

METHODS = {"nuts": NutsOptions, "nested": NestedOptions, "laplace": LaplaceOptions}
"""The methods and their option containers."""


def resolve_options(method: str | None, options) -> tuple[str, Any]:
    """``(method, options)`` from either or both (options default per method; method from the
    options' type).

    Raises:
        ValueError: an unknown method, options of another type, or both inconsistent.
    """
    if options is None:
        method = "nuts" if method is None else method
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {sorted(METHODS)}")
        options = METHODS[method]()
    else:
        by_type = [m for m, cls in METHODS.items() if isinstance(options, cls)]
        if not by_type:
            raise ValueError(
                f"options must be NutsOptions, NestedOptions or LaplaceOptions; got "
                f"{type(options).__name__}"
            )
        if method is not None and method != by_type[0]:
            raise ValueError(f"method {method!r} does not match {type(options).__name__}")
        method = by_type[0]
    {"nuts": check_nuts_options, "nested": check_nested_options,
     "laplace": check_laplace_options}[method](options)  # fmt: skip
    stage = getattr(options, "global_stage", None)
    if stage is not None:
        check_global_stage(stage)
    return method, options


def check_key(key) -> None:
    """Raise ``ValueError`` unless ``key`` is one ``jax.random`` key (typed or raw uint32)."""
    try:
        k = jnp.asarray(key) if not isinstance(key, jax.Array) else key
        typed = jnp.issubdtype(k.dtype, jax.dtypes.prng_key)
    except TypeError:
        typed, k = False, None
    if typed and k.shape == ():
        return
    if k is not None and not typed and k.dtype == jnp.uint32 and k.shape == (2,):
        return
    raise ValueError(f"key must be a single jax.random key (e.g. jax.random.key(0)); got {key!r}")


def locate(
    likelihood: Likelihood,
    prior: BoxPrior,
    *,
    key: jax.Array,
    method: str | None = None,
    options=None,
    diagnostics: bool = True,
    bank: Bank | None = None,
    domain: str = "error",
    progress: bool | None = None,
):
    """The posterior of an event's parameters.

    Args:
        likelihood: a :class:`~jaxseis.likelihood.Likelihood` (e.g.
            :func:`jaxseis.likelihood.waveform_log_likelihood`), or a plain callable
            ``log_likelihood(position [3] km)`` (then ``t0`` and the amplitude must be fixed).
        prior: a :class:`~jaxseis.inference.prior.BoxPrior` (:func:`event_prior` frees ``t0``
            and the amplitude; :func:`paper_prior` fixes them, the paper's set-up); checked
            against the likelihood (its region, the parameters it depends on).
        key: ``jax.random`` key; the same key gives the same result.
        method: ``"nuts"`` (default: BlackJAX NUTS after the global stage), ``"nested"``
            (jaxns, with the evidence) or ``"laplace"`` (maximum and inverse Hessian); implied
            by ``options``.
        options: :class:`NutsOptions`, :class:`NestedOptions` or :class:`LaplaceOptions`
            (default: the method's defaults).
        diagnostics: issue :class:`ConvergenceWarning` s (R-hat, ESS, divergences, bounds,
            modes, Laplace Hessian).
        bank: fixed candidates with precomputed spectra for the global stage (see
            :mod:`jaxseis.catalogue`); default: prior draws.
        domain: a prior box leaving the emulators' training domain is an ``"error"``
            (default), ``"clip"`` -ped with a warning, a ``"warn"`` ing or ``"ignore"`` d.
        progress: progress bars on stderr for the long steps (the global stage's candidates,
            NUTS' warm-up and sampling steps with rate and ETA, nested sampling's elapsed
            time); ``None`` (default): when stderr is a terminal. The result does not depend
            on it (:mod:`jaxseis.progress`).

    Returns:
        ``arviz.InferenceData``: ``posterior`` with the free parameters (``x``, ``y``, ``z`` km,
        ``t0`` s, ``log_amplitude``) ``[chain, draw]``; ``sample_stats`` with ``loglik`` (and
        NUTS' ``lp``, ``diverging``, ``acceptance_rate``, ``step_size``, ``tree_depth``,
        ``n_steps``, ``energy``); ``posterior.attrs`` with ``method``, ``wall_s``, the prior,
        the fixed parameters, the global stage's modes, and per method ``log_evidence`` (nested)
        or ``laplace_mean``/``laplace_cov`` (Laplace).

    Raises:
        ValueError: a bad prior, key or options, a likelihood that is NaN or ``-inf`` at every
            starting point, or one that does not return a scalar.
    """
    lik = as_likelihood(likelihood)
    space = validate_prior(prior, lik, domain=domain)
    method, options = resolve_options(method, options)
    check_key(key)
    tic = time.perf_counter()
    if method == "nested":  # float64 by design; jaxns must be imported outside a precision scope
        idata = _nested(lik, space, key, options, progress)
    else:
        with jax.enable_x64(lik.x64 or bool(jax.config.read("jax_enable_x64"))):
            run = _nuts if method == "nuts" else _laplace
            idata = run(lik, space, key, options, bank, progress)
    idata.posterior.attrs["wall_s"] = time.perf_counter() - tic
    if diagnostics:
        for message in diagnose(idata):
            warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return idata


def _arrays(lik: Likelihood, space: Space):
    dtype = jnp.result_type(float)
    model = jax.tree.map(jnp.asarray, lik.model)
    data = jax.tree.map(jnp.asarray, lik.data)
    return model, data, jnp.asarray(space.lower, dtype), jnp.asarray(space.upper, dtype)


def _modes(lik, space, key, stage: GlobalStage, bank, progress, jacobian: bool = True):
    """The global stage's modes, and the polished points' gradients and Hessians."""
    model, data, lower, upper = _arrays(lik, space)
    search = lik.search
    if search is not None:  # correlate at the lags of the prior's t0 window only
        search = search.within(space.lower[3], space.upper[3])
    u, lp, g, h, best = run_global_stage(
        lik.fn, search, model, data, Space(lower, upper, space.free), key, bank,
        stage=stage, split=jax.local_device_count(), jacobian=jacobian, progress=progress,
    )  # fmt: skip
    g, h = np.asarray(g, np.float64), np.asarray(h, np.float64)
    modes = select_modes(u, lp, h, best, stage, jacobian=jacobian, grad=g, space=space)
    return modes, g, h


def _mode_attrs(modes, space: Space, stage: GlobalStage) -> dict:
    from jaxseis.inference.prior import from_unconstrained

    theta = np.asarray(from_unconstrained(space, jnp.asarray(modes.u)))
    return {
        "global_stage": 1,
        "global_stage_num_draws": int(stage.num_draws),
        "global_stage_min_mode_mass": float(stage.min_mode_mass),
        "global_stage_modes_found": int(modes.found),
        "global_stage_modes_used": len(modes.u),
        "global_stage_mode_mass": [float(m) for m in modes.mass],
        "global_stage_modes": theta.ravel().tolist(),
    }


def _nuts(lik, space, key, options: NutsOptions, bank, progress):
    key_global, key_init, key_sample = jax.random.split(key, 3)
    stage = options.global_stage
    attrs: dict[str, Any] = {}
    tic = time.perf_counter()
    if stage is None:  # identity whitening, started at prior draws
        unit = np.asarray(jax.random.uniform(key_init, (options.num_chains, 5)), np.float64)
        theta0 = space.lower + (space.upper - space.lower) * unit
        w0 = np.asarray(to_unconstrained(space, jnp.asarray(theta0)))
        center = np.zeros_like(w0)
        chol = np.broadcast_to(np.eye(space.dim), (options.num_chains, space.dim, space.dim))
        attrs["global_stage"] = 0
        _check_starts(lik, space, w0)
    else:
        modes, _, _ = _modes(lik, space, key_global, stage, bank, progress)
        w0, center, chol, which = chain_starts(
            modes, key_init, options.num_chains, stage.init_spread
        )
        attrs.update(_mode_attrs(modes, space, stage))
        attrs["chain_modes"] = which.tolist()
    attrs["wall_global_s"] = time.perf_counter() - tic
    model, data, lower, upper = _arrays(lik, space)
    dtype = lower.dtype
    tic = time.perf_counter()
    marginal, fn, free = _marginal(lik, space, model, options), lik.fn, space.free
    if marginal is not None:  # the chains sample the other free parameters; t0 held at 0
        keep = [i for i, k in enumerate(space.free) if k != 3]
        w0, center, chol = restrict_starts(np.asarray(w0), np.asarray(center),
                                           np.asarray(chol), keep)  # fmt: skip
        fn, free = marginal, tuple(space.free[i] for i in keep)
        lower, upper = lower.at[3].set(0.0), upper.at[3].set(0.0)
    out = run_nuts(
        fn, model, data, Space(lower, upper, free), key_sample,
        jnp.asarray(w0, dtype), jnp.asarray(center, dtype), jnp.asarray(chol, dtype),
        options=options, split=jax.local_device_count(), progress=progress,
    )  # fmt: skip
    if marginal is not None:  # each draw's t0 from its conditional, and the joint log L
        theta = np.array(out["theta"], np.float64)
        flat = jnp.asarray(theta.reshape(-1, 5), dtype)
        t0 = _t0_draws(marginal, jax.random.fold_in(key_sample, 1), flat, model, data)
        theta[..., 3] = np.asarray(t0, np.float64).reshape(theta.shape[:-1])
        loglik = _logliks(lik.fn, model, data, jnp.asarray(theta.reshape(-1, 5), dtype))
        out.update(theta=theta, loglik=np.asarray(loglik).reshape(theta.shape[:-1]))
    attrs["t0_marginalised"] = int(marginal is not None)
    attrs["wall_sampling_s"] = time.perf_counter() - tic
    theta = out.pop("theta")
    out["step_size"] = np.broadcast_to(out["step_size"][:, None], theta.shape[:2]).copy()
    attrs.update(
        num_warmup=options.num_warmup,
        target_acceptance_rate=options.target_acceptance_rate,
        dense_mass_matrix=int(options.dense_mass_matrix),
    )
    return to_inference_data(theta, out, space, "nuts", attrs)


def _marginal(lik, space: Space, model, options: NutsOptions):
    """The likelihood with ``t0`` marginalised that NUTS samples (see
    :attr:`NutsOptions.marginal_t0`), over the bins where the emulators carry signal, or
    None."""
    reason = why_not_marginal(lik.fn, t0_free=3 in space.free, stationary=is_stationary(lik))
    if not use_marginal_t0(options, reason):
        return None
    marginal = marginal_of(lik, (space.lower[3], space.upper[3]))
    bins = signal_bins(marginal.static, model, space.lower, space.upper, marginal.n_samples)
    return dataclasses.replace(marginal, bins=bins)


_t0_draws = jax.jit(draw_origin_times, static_argnums=0)
_logliks = jax.jit(log_likelihoods, static_argnums=0)


def _check_starts(lik, space: Space, u0: np.ndarray) -> None:
    """Refuse starting points where the log-density is NaN or ``-inf``."""
    model, data, lower, upper = _arrays(lik, space)
    s = Space(lower, upper, space.free)
    lp = np.asarray(jax.vmap(lambda u: log_density(lik.fn, model, data, s, u))(jnp.asarray(u0)))
    if not np.all(np.isfinite(lp)):
        bad = int(np.sum(~np.isfinite(lp)))
        raise ValueError(
            f"the log-likelihood is NaN or -inf at {bad} of {len(lp)} starting points; NUTS "
            "cannot start there: check the observed data and the prior box, or use the "
            "global stage"
        )


def _laplace(lik, space, key, options: LaplaceOptions, bank, progress):
    key_global, key_draws = jax.random.split(key)
    stage = options.global_stage
    tic = time.perf_counter()
    modes, g, h = _modes(lik, space, key_global, stage, bank, progress, jacobian=False)
    attrs: dict[str, Any] = _mode_attrs(modes, space, stage)
    attrs["wall_global_s"] = time.perf_counter() - tic
    means, covs, weights, norms, positive = laplace_mixture(space, modes, g, h)
    total = gaussian_summary(means, covs, [k in space.free for k in range(5)], weights=weights)
    draws = laplace_draws(key_draws, space, means, covs, options.num_draws, weights)
    attrs.update(
        laplace_means=means.tolist(),
        laplace_covs=covs.tolist(),
        laplace_weights=weights.tolist(),
        laplace_mean=total["mean"],
        laplace_cov=total["cov"],
        laplace_loglik=float(modes.lp[0]),
        laplace_grad_norm=float(norms.max()),
        laplace_positive_definite=positive,
    )
    stats = {"loglik": np.full((1, len(draws)), float(modes.lp[0]))}
    if options.importance is not None:
        draws, stats = _reweigh(lik, space, key_draws, means, covs, weights, options, attrs)
    return to_inference_data(draws[None], stats, space, "laplace", attrs)


def _reweigh(lik, space, key, means, covs, weights, options: LaplaceOptions, attrs: dict):
    """Importance sampling from the Laplace mixture: ``num_draws`` draws resampled by
    weight and their log-likelihoods; the weighted summary and the Pareto diagnostic go to
    ``attrs`` (``importance_*``)."""
    key_proposal, key_resample = jax.random.split(jax.random.fold_in(key, 1))
    theta, log_q, inside = proposal(key_proposal, space, means, covs, weights, options.importance)
    model, data, _, _ = _arrays(lik, space)
    dtype = jnp.result_type(float)
    log_lik = np.asarray(log_likelihoods(lik.fn, model, data, jnp.asarray(theta, dtype)))
    w, k, ess = psis_weights(log_lik.astype(np.float64), log_q, inside)
    summary = weighted_summary(theta, w, [i in space.free for i in range(5)], "laplace")
    kept = ("mean", "cov", "std", "q2_5", "q16", "q50", "q84", "q97_5")
    attrs.update(
        importance_pareto_k=k,
        importance_ess=ess,
        importance_num_draws=int(options.importance.num_draws),
        importance_summary={key: summary[key] for key in kept},
    )
    index = resample_index(key_resample, w, options.num_draws)
    return theta[index], {"loglik": log_lik[index][None].astype(np.float64)}


def _nested(lik, space, key, options: NestedOptions, progress):
    # jaxns runs to its termination criterion in one compiled program: elapsed time only
    with Progress(None, desc="nested sampling (no ETA)", progress=progress):
        theta, loglik, attrs = run_nested(lik.fn, lik.model, lik.data, space, key, options)
    return to_inference_data(theta[None], {"loglik": loglik[None]}, space, "nested", attrs)
