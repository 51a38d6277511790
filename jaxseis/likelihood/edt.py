"""Arrival-time log-likelihoods of a source position: EDT (NonLinLoc) and Gaussian.

Every constructor here validates its inputs once and returns a pure function of the source
position, ``log_likelihood(source_km [3]) -> scalar``, that works under ``jax.jit``, ``vmap`` and
``grad`` (travel times come from :func:`jaxseis.traveltime.interpolate_traveltimes`), so it plugs
straight into :func:`jaxseis.inference.locate`.

**Equal Differential Time (EDT).** With observed arrival times ``t_a``, predicted travel times
``T_a(x)`` and per-pick uncertainties ``sigma_a = sqrt(pick_a^2 + traveltime_error_a^2)``, the
residual of a pair of picks ``a < b`` is ``r_ab = (t_a - t_b) - (T_a(x) - T_b(x))``: the unknown
origin time cancels, so it is never estimated (Zhou 1994; Font et al. 2004; Lomax 2005). The
pairs are combined by a *sum* (not a product), which makes the likelihood robust to outlier
picks but heavy-tailed: where a single pair fits (a hyperboloid-like surface), the likelihood
keeps a fraction of its peak value. Two conventions are offered:

``convention="nonlinloc"`` (default) is what NonLinLoc's ``NLLoc`` computes for
``LOCMETH EDT`` (``CalcSolutionQuality_EDT`` in ``NLLocLib.c``, without station weights)::

    log L(x) = N * log sum_{a<b} exp(-r_ab^2 / (2 (s_a^2 + s_b^2))) / sqrt(s_a^2 + s_b^2)

with ``N`` the number of picks (the pair sum raised to the power ``N``).

``convention="paper"`` is Eq. 14 of Spurio Mancini et al. (2021) as printed, with their
``N = 1`` and no factor 2 in the exponent::

    log L(x) = log sum_{a<b} exp(-r_ab^2 / (s_a^2 + s_b^2)) / sqrt(s_a^2 + s_b^2)

(Eq. 14 writes the sum over ``a, b``; a sum over ordered pairs ``a != b`` only doubles it, and
the diagonal ``a = b`` would add a constant floor, so unordered pairs are meant.) The two are
related exactly by

    nonlinloc(sigma / sqrt(2)) = N * (paper(sigma) + log(2) / 2),

i.e. the printed Eq. 14 treats every pick as sqrt(2) times more precise than its stated error
and does not sharpen the pair sum by the power ``N``. In the Gaussian regime near the peak,
NonLinLoc's power ``N`` narrows its posterior by ``sqrt(N)`` and the paper's missing factor 2
narrows the paper's by ``sqrt(2)``, so for 4 picks the printed Eq. 14 gives a posterior
``sqrt(2)`` times *wider* than NonLinLoc's (on the paper's event, with its heavy tails, the
standard deviations are 1.7 to 1.9 times NonLinLoc's: ``bench/bench_edt.py``).

Both are evaluated as a log-sum-exp over the pairs, stable however large the residuals (NonLinLoc
clips the sum at 1e-300 instead). Additive constants are kept, so values can be compared with
NonLinLoc's ``ln(prob_density)``.

**Gaussian arrival-time likelihood.** :func:`gaussian_arrival_log_likelihood` is the ordinary
independent-Gaussian likelihood ``t_a ~ N(t0 + T_a(x), sigma_a^2)`` with an explicit origin time
``t0``: estimated (a 4th parameter), fixed (e.g. 0 for the paper's simulated event, whose origin
time is known) or marginalised analytically under a flat prior (the statistically exact way to
eliminate it, for comparison with EDT).

**Sources outside the table.** Called eagerly with a concrete position outside the travel-time
table, the likelihoods raise ``ValueError``; traced (inside ``jit``, ``vmap``, ``grad`` or a
sampler) they return ``-inf`` there, with a zero (finite) gradient, so a sampler rejects the
point. Keep the prior inside the table (the paper's prior box is).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from jaxseis.traveltime import (
    TravelTimeTables,
    _is_traced,
    check_inside_table,
    make_interpolator,
)
from jaxseis.traveltime import check_tables as _check_tables

__all__ = [
    "CONVENTIONS",
    "edt_log_likelihood",
    "edt_pair_residuals",
    "gaussian_arrival_log_likelihood",
    "match_picks",
]

CONVENTIONS = ("nonlinloc", "paper")
"""The EDT conventions: NonLinLoc's implementation and the paper's printed Eq. 14."""

_RECEIVER_TOL_KM = 1e-6


def match_picks(
    tables: TravelTimeTables,
    picks_s,
    receivers_km=None,
) -> tuple[TravelTimeTables, np.ndarray]:
    """Match picks to travel-time tables and validate them.

    Args:
        tables: the travel-time tables.
        picks_s: arrival times in s, either ``[n]`` (one per receiver of ``receivers_km``, or
            per table when ``receivers_km`` is ``None``) or a mapping ``{station label: time}``.
        receivers_km: ``[n, 3]`` positions (km) of the receivers the picks belong to, each of
            which must have a table.

    Returns:
        ``(tables of the picked receivers in pick order, picks [n] float64)``.

    Raises:
        ValueError: a receiver or label without a table, a count mismatch, duplicate receivers,
            NaN or infinite picks, or fewer than one pick.
    """
    _check_tables(tables)
    labels = tuple(tables.labels) if tables.labels else ()
    if isinstance(picks_s, Mapping):
        if receivers_km is not None:
            raise ValueError("give either picks by station label (a mapping) or receivers_km")
        missing = [k for k in picks_s if k not in labels]
        if missing:
            raise ValueError(
                f"receiver(s) {missing} have no travel-time table (tables hold {list(labels)})"
            )
        index = [labels.index(k) for k in picks_s]
        picks = np.array([picks_s[k] for k in picks_s], dtype=np.float64)
        names = list(picks_s)
    else:
        picks = np.atleast_1d(np.asarray(picks_s, dtype=np.float64))
        if picks.ndim != 1:
            raise ValueError(f"picks_s must be a 1-D array of times in s; got shape {picks.shape}")
        if receivers_km is None:
            if picks.size != tables.n_receivers:
                raise ValueError(
                    f"got {picks.size} picks for {tables.n_receivers} travel-time tables; pass "
                    "receivers_km (or picks by station label) to say which receiver each pick "
                    "belongs to"
                )
            index = list(range(tables.n_receivers))
        else:
            rec = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
            if rec.shape[0] != picks.size:
                raise ValueError(f"got {picks.size} picks for {rec.shape[0]} receivers_km")
            dist = np.linalg.norm(rec[:, None, :] - tables.receivers_km[None, :, :], axis=-1)
            index = []
            for i, row in enumerate(dist):
                j = int(np.argmin(row))
                if row[j] > _RECEIVER_TOL_KM:
                    raise ValueError(
                        f"receiver {rec[i].tolist()} km has no travel-time table (tables hold "
                        f"receivers {np.round(tables.receivers_km, 6).tolist()})"
                    )
                index.append(j)
        names = [labels[j] if labels else f"#{j}" for j in index]
    if len(set(index)) != len(index):
        raise ValueError(f"a receiver appears more than once among the picks ({names})")
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(picks))]
    if bad:
        raise ValueError(f"the picks of {bad} are NaN or infinite; drop those receivers")
    if picks.size < 1:
        raise ValueError("no picks given")
    return tables.select(index), picks


def _variances(name: str, value, n: int) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have one value per pick ({n}); got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(v < 0):
        raise ValueError(f"{name} must be >= 0 (a standard deviation in s); got {v.tolist()}")
    return v**2


def _total_variance(sigma_s, traveltime_error_s, n: int) -> np.ndarray:
    var = _variances("sigma_s", sigma_s, n)
    var = var + _variances("traveltime_error_s", traveltime_error_s, n)
    if np.any(var <= 0):
        raise ValueError(
            "every pick needs a positive total uncertainty sqrt(sigma_s^2 + traveltime_error_s^2)"
        )
    return var


def _wrap(core: Callable, grid, n_params: int, name: str) -> Callable:
    """Add eager input checks (shape, finite, inside the table) around a jitted ``core``."""
    jitted = jax.jit(core)

    def log_likelihood(params):
        if not _is_traced(params):
            p = np.asarray(params, dtype=np.float64)
            if p.shape != (n_params,):
                raise ValueError(f"{name} takes an array of shape [{n_params}]; got {p.shape}")
            if not np.all(np.isfinite(p)):
                raise ValueError(f"{name}: parameters contain NaN or infinite values: {p}")
            check_inside_table(grid, p[:3])
        return jitted(params)

    log_likelihood.__name__ = name
    log_likelihood.__doc__ = f"{name}(params [{n_params}]) -> scalar log-likelihood (jittable)."
    return log_likelihood


def edt_log_likelihood(
    tables: TravelTimeTables,
    picks_s,
    sigma_s=0.005,
    *,
    traveltime_error_s=0.0,
    receivers_km=None,
    convention: Literal["nonlinloc", "paper"] = "nonlinloc",
) -> Callable:
    """NonLinLoc's Equal-Differential-Time log-likelihood of the source position.

    Args:
        tables: P travel-time tables (:func:`jaxseis.traveltime.traveltime_tables`).
        picks_s: observed arrival times in s (any common time reference: the origin time is
            eliminated), ``[n]`` or ``{station label: time}``; see :func:`match_picks`.
        sigma_s: pick uncertainty (one standard deviation) in s, scalar or ``[n]`` (the paper's
            0.005 s by default).
        traveltime_error_s: travel-time (model) uncertainty in s, scalar or ``[n]``; combined
            with the pick error as ``sqrt(sigma_s^2 + traveltime_error_s^2)`` (NonLinLoc's
            ``LOCGAU SigmaTime`` with zero correlation length).
        receivers_km: ``[n, 3]`` receivers of the picks (default: the tables' receivers).
        convention: ``"nonlinloc"`` (default) or ``"paper"``; see the module docs.

    Returns:
        ``log_likelihood(source_km [3]) -> scalar``, jittable and differentiable; ``-inf`` for a
        traced source outside the table.

    Raises:
        ValueError: fewer than 2 picks, NaN picks, negative or zero uncertainties, receivers
            without a table, an unknown convention.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    sub, picks = match_picks(tables, picks_s, receivers_km)
    n = picks.size
    if n < 2:
        raise ValueError(f"EDT needs at least 2 picks (it uses pairs of picks); got {n}")
    var = _total_variance(sigma_s, traveltime_error_s, n)
    ia, ib = np.triu_indices(n, k=1)
    pair_var = var[ia] + var[ib]
    # observed differential times, relative to the first pick for precision
    dobs = (picks[ia] - picks[0]) - (picks[ib] - picks[0])
    interp = make_interpolator(sub)
    scale = 0.5 if convention == "nonlinloc" else 1.0
    power = float(n) if convention == "nonlinloc" else 1.0
    dobs_j, pair_var_j = jnp.asarray(dobs), jnp.asarray(pair_var)
    ia_j, ib_j = jnp.asarray(ia), jnp.asarray(ib)

    def core(source_km):
        tt, inside = interp(source_km)
        dtype = tt.dtype
        r = dobs_j.astype(dtype) - (tt[ia_j] - tt[ib_j])
        v = pair_var_j.astype(dtype)
        terms = -0.5 * jnp.log(v) - scale * r**2 / v
        ll = power * logsumexp(terms)
        return jnp.where(inside, ll, -jnp.inf)

    return _wrap(core, sub.grid, 3, f"edt_log_likelihood_{convention}")


def edt_pair_residuals(tables: TravelTimeTables, picks_s, source_km, receivers_km=None):
    """EDT residuals ``r_ab`` (s) of every pair ``a < b`` at one source ``[3]`` (km).

    ``r_ab = (t_a - t_b) - (T_a(x) - T_b(x))``, in the order of ``numpy.triu_indices(n, 1)``.
    A diagnostic (eager, NumPy output).
    """
    from jaxseis.traveltime import interpolate_traveltimes

    sub, picks = match_picks(tables, picks_s, receivers_km)
    tt = np.asarray(interpolate_traveltimes(sub, np.asarray(source_km, dtype=np.float64)))
    ia, ib = np.triu_indices(picks.size, k=1)
    return (picks[ia] - picks[ib]) - (tt[ia] - tt[ib])


def gaussian_arrival_log_likelihood(
    tables: TravelTimeTables,
    picks_s,
    sigma_s=0.005,
    *,
    traveltime_error_s=0.0,
    receivers_km=None,
    origin_time_s: float | Literal["estimate", "marginal"] = "estimate",
) -> Callable:
    """Independent-Gaussian arrival-time log-likelihood with an explicit origin time.

    ``t_a ~ N(t0 + T_a(x), s_a^2)`` with ``s_a = sqrt(sigma_a^2 + traveltime_error_a^2)``::

        log L(x, t0) = -1/2 sum_a (t_a - t0 - T_a(x))^2 / s_a^2 - sum_a log(s_a sqrt(2 pi))

    Args:
        tables, picks_s, sigma_s, traveltime_error_s, receivers_km: as for
            :func:`edt_log_likelihood`.
        origin_time_s: how the origin time ``t0`` (s, in the time reference of the picks) enters:

            * ``"estimate"`` (default): it is a parameter; the function takes
              ``params = [x, y, z, t0]`` (km, km, km, s). Keep the time reference of the picks
              near the event (in float32 a ``t0`` of 10 s is rounded to 1e-6 s);
            * a number: ``t0`` is fixed to it; the function takes ``source_km [3]``;
            * ``"marginal"``: ``t0`` is integrated out under a flat prior, analytically:
              ``-1/2 sum_a w_a (d_a - dbar)^2 + 1/2 log(2 pi / W) - sum_a log(s_a sqrt(2 pi))``
              with ``d_a = t_a - T_a(x)``, ``w_a = 1 / s_a^2``, ``W = sum_a w_a`` and ``dbar``
              the ``w``-weighted mean of ``d``; the function takes ``source_km [3]``. This is
              the exact way of eliminating the origin time, for comparison with EDT.

    Returns:
        ``log_likelihood(params) -> scalar``, jittable and differentiable.

    Raises:
        ValueError: no picks (or fewer than 2 with ``"marginal"``), NaN picks, bad
            uncertainties, receivers without a table, a bad ``origin_time_s``.
    """
    sub, picks = match_picks(tables, picks_s, receivers_km)
    n = picks.size
    var = _total_variance(sigma_s, traveltime_error_s, n)
    ref = float(picks[0])  # work with times relative to the first pick, for float32 precision
    rel = picks - ref
    norm = -float(np.sum(0.5 * np.log(2.0 * np.pi * var)))
    interp = make_interpolator(sub)
    rel_j, w_j = jnp.asarray(rel), jnp.asarray(1.0 / var)

    if isinstance(origin_time_s, str):
        if origin_time_s not in ("estimate", "marginal"):
            raise ValueError(
                f"origin_time_s must be a number, 'estimate' or 'marginal'; got {origin_time_s!r}"
            )
        mode = origin_time_s
    else:
        t0 = float(origin_time_s)
        if not np.isfinite(t0):
            raise ValueError(f"origin_time_s must be finite, got {origin_time_s}")
        mode = "fixed"
    if mode == "marginal" and n < 2:
        raise ValueError("marginalising the origin time needs at least 2 picks")

    if mode == "estimate":

        def core(params):
            tt, inside = interp(params[:3])
            dtype = tt.dtype
            res = rel_j.astype(dtype) - (params[3] - ref) - tt
            ll = -0.5 * jnp.sum(w_j.astype(dtype) * res**2) + norm
            return jnp.where(inside, ll, -jnp.inf)

        return _wrap(core, sub.grid, 4, "gaussian_arrival_log_likelihood")

    if mode == "fixed":
        t0_rel = t0 - ref

        def core(source_km):
            tt, inside = interp(source_km)
            dtype = tt.dtype
            res = rel_j.astype(dtype) - t0_rel - tt
            ll = -0.5 * jnp.sum(w_j.astype(dtype) * res**2) + norm
            return jnp.where(inside, ll, -jnp.inf)

        return _wrap(core, sub.grid, 3, "gaussian_arrival_log_likelihood")

    big_w = float(np.sum(1.0 / var))
    const = norm + 0.5 * float(np.log(2.0 * np.pi / big_w))

    def core(source_km):
        tt, inside = interp(source_km)
        dtype = tt.dtype
        w = w_j.astype(dtype)
        d = rel_j.astype(dtype) - tt
        dbar = jnp.sum(w * d) / big_w
        ll = -0.5 * jnp.sum(w * (d - dbar) ** 2) + const
        return jnp.where(inside, ll, -jnp.inf)

    return _wrap(core, sub.grid, 3, "gaussian_arrival_log_likelihood_marginal")
