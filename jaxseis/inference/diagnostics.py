"""Convergence diagnostics of a location: :func:`diagnose` lists the problems of a
:func:`jaxseis.locate` result (split R-hat, bulk ESS, divergences, nested sampling's ESS and
early stops, several modes, a Laplace Hessian that is not negative definite, posterior mass piled
up against a prior bound), which :func:`jaxseis.locate` issues as :class:`ConvergenceWarning`.
"""

from __future__ import annotations

import numpy as np

from jaxseis.inference.importance import PARETO_K_MAX
from jaxseis.inference.summary import PARAM_UNITS, chain_stats, posterior_draws
from jaxseis.likelihood.base import PARAMS

__all__ = ["ESS_MIN", "RHAT_MAX", "ConvergenceWarning", "diagnose"]

RHAT_MAX = 1.01
"""Largest acceptable split R-hat."""

ESS_MIN = 400.0
"""Smallest acceptable bulk effective sample size (all chains together)."""

_PILE_UP_BAND = 0.1  # band next to a bound, in posterior standard deviations
_PILE_UP_RATIO = 0.2  # density in the band relative to the peak of a Gaussian of the same std


class ConvergenceWarning(UserWarning):
    """A sampler diagnostic failed (R-hat, ESS, divergences, prior-bound pile-up, modes,
    a Laplace Hessian that is not negative definite)."""


def diagnose(idata, *, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN) -> list[str]:
    """Problems with a :func:`jaxseis.locate` result, as messages (empty if none).

    Checks: split R-hat above ``rhat_max`` and bulk ESS below ``ess_min`` (NUTS; for nested
    sampling the Kish ESS and a hard stop of the run), divergent transitions, the global stage
    keeping several modes, a Laplace Hessian that is not negative definite, and posterior mass
    piled up against a prior bound: the fraction of draws within 0.1 posterior standard
    deviations of a bound, as a density, above 20 % of the peak density of a Gaussian of the
    same standard deviation.
    """
    attrs = idata.posterior.attrs
    messages = []
    rhat, ess = chain_stats(idata)
    if rhat and idata.posterior.sizes["chain"] > 1:
        bad = [f"{p} {r:.3f}" for p, r in rhat.items() if not r <= rhat_max]
        if bad:
            messages.append(
                f"R-hat above {rhat_max} ({', '.join(bad)}): the chains disagree; they may sit "
                "in different modes (see the global stage) or need more warm-up/draws"
            )
    if ess:
        bad = [f"{p} {e:.0f}" for p, e in ess.items() if not e >= ess_min]
        if bad:
            messages.append(f"bulk ESS below {ess_min:.0f} ({', '.join(bad)}): draw more samples")
    if attrs.get("method") == "nested":
        if not attrs.get("nested_ess", np.inf) >= ess_min:
            messages.append(
                f"nested sampling's Kish ESS is {attrs['nested_ess']:.0f} < {ess_min:.0f}: "
                "raise root_allocation_degree"
            )
        if attrs.get("nested_termination_reason", 0):
            messages.append(
                "nested sampling stopped early (termination reason "
                f"{attrs['nested_termination_reason']}, e.g. max_samples reached)"
            )
    if attrs.get("method") == "laplace" and len(attrs.get("laplace_weights", [1])) > 1:
        messages.append(
            f"the posterior has {len(attrs['laplace_weights'])} modes: the Laplace approximation "
            "is their mixture (weights from their Laplace masses); check it with method='nuts' "
            "or 'nested'"
        )
    if attrs.get("method") == "laplace" and not attrs.get("laplace_positive_definite", True):
        messages.append(
            "the Hessian at the maximum is not negative definite (a saddle or a flat "
            "direction): the Laplace approximation is unreliable; sample with method='nuts'"
        )
    k = attrs.get("importance_pareto_k")
    if k is not None and not k <= PARETO_K_MAX:
        messages.append(
            f"importance sampling's Pareto k is {k:.2f} > {PARETO_K_MAX}: the widened Laplace "
            "approximation misses part of the posterior and the reweighed summary is "
            "unreliable; sample with method='nuts' or 'nested'"
        )
    if "diverging" in idata.sample_stats:
        n_div = int(np.sum(np.asarray(idata.sample_stats["diverging"])))
        if n_div:
            messages.append(f"{n_div} divergent transition(s) after warm-up")
    if attrs.get("global_stage_modes_used", 1) > 1:
        messages.append(
            f"the global stage found {attrs['global_stage_modes_used']} modes holding at least "
            f"{attrs.get('global_stage_min_mode_mass', 0.0):.1%} of the posterior mass each "
            "(Laplace approximation); NUTS chains cannot move between them: the posterior is "
            "multimodal, use method='nested'"
        )
    messages += _pile_up_messages(idata)
    return messages


def _pile_up_messages(idata) -> list[str]:
    attrs = idata.posterior.attrs
    if "prior_lower" not in attrs:
        return []
    draws = posterior_draws(idata, PARAMS)
    lo = np.asarray(attrs["prior_lower"])
    hi = np.asarray(attrs["prior_upper"])
    q25, q75 = np.percentile(draws, [25.0, 75.0], axis=0)
    scale = np.maximum(np.minimum(draws.std(axis=0), (q75 - q25) / 1.349), 1e-12)
    band = _PILE_UP_BAND * scale
    peak = 1.0 / (np.sqrt(2 * np.pi) * scale)
    messages = []
    for i, p in enumerate(PARAMS):
        if not hi[i] > lo[i]:
            continue
        for side, dist in (("lower", draws[:, i] - lo[i]), ("upper", hi[i] - draws[:, i])):
            n_band = int(np.sum(dist < band[i]))
            density = n_band / (len(draws) * band[i])
            if n_band >= 5 and density > _PILE_UP_RATIO * peak[i]:
                bound = lo[i] if side == "lower" else hi[i]
                messages.append(
                    f"posterior of {p} piles up against the prior's {side} bound "
                    f"({bound} {PARAM_UNITS[p]}): the prior truncates it; widen it if the model "
                    "allows"
                )
    return messages
