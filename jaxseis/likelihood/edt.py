"""Arrival-time log-likelihoods of a source position: EDT (NonLinLoc) and Gaussian.

Every constructor here validates its inputs once and returns a
:class:`~jaxseis.likelihood.Likelihood` of the event parameters: the travel-time tables are its
``model`` and the picks its ``data``, so one compiled program serves every event with the same
number of picks. Travel times are interpolated trilinearly
(:func:`jaxseis.traveltime.interpolate_point`), so the likelihoods work under ``jax.jit``,
``vmap`` and ``grad``.

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
``t0`` (the event parameter, relative to the picks' time reference): sampled like the position
(fix it in the prior, e.g. ``t0=0.0`` for the paper's simulated event, whose origin time is
known), or marginalised analytically under a flat prior (the statistically exact way to
eliminate it, for comparison with EDT).

**Sources outside the table.** Called eagerly with a position outside the travel-time table,
the likelihoods raise ``ValueError``; inside a compiled function (a sampler) they return
``-inf`` there, with a zero (finite) gradient, so a sampler rejects the point. Keep the prior
inside the table (the paper's prior box is).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from jaxseis.geometry import Grid, nearest_points
from jaxseis.likelihood.base import POSITION, Likelihood
from jaxseis.picking import Picks
from jaxseis.traveltime import (
    TravelTimeTables,
    check_tables,
    interpolate_point,
    interpolate_traveltimes,
)

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
    picks,
    receivers_km=None,
) -> tuple[TravelTimeTables, np.ndarray, tuple[str, ...]]:
    """Match picks to travel-time tables and validate them.

    Args:
        tables: the travel-time tables.
        picks: :class:`~jaxseis.picking.Picks` (matched by ``receivers_km`` when they carry
            positions, else by station code), arrival times in s ``[n]`` (one per receiver of
            ``receivers_km``, or per table when ``receivers_km`` is ``None``), or a mapping
            ``{station code: time}``.
        receivers_km: ``[n, 3]`` positions (km) of the receivers the picks belong to, each of
            which must have a table.

    Returns:
        ``(tables of the picked receivers in pick order, picks [n] float64, station codes)``.

    Raises:
        ValueError: a receiver or code without a table, a count mismatch, duplicate receivers,
            NaN or infinite picks, or no pick.
    """
    check_tables(tables)
    labels = tuple(tables.labels) if tables.labels else ()
    if isinstance(picks, Picks):
        if picks.receivers_km is not None and receivers_km is None:
            receivers_km = picks.receivers_km
        if receivers_km is None:
            picks = dict(zip(picks.labels, np.asarray(picks.times_s), strict=True))
        else:
            picks = np.asarray(picks.times_s)
    if isinstance(picks, Mapping):
        if receivers_km is not None:
            raise ValueError("give either picks by station code (a mapping) or receivers_km")
        missing = [k for k in picks if k not in labels]
        if missing:
            raise ValueError(
                f"station(s) {missing} have no travel-time table (tables hold {list(labels)})"
            )
        index = [labels.index(k) for k in picks]
        times = np.array([picks[k] for k in picks], dtype=np.float64)
    else:
        times = np.atleast_1d(np.asarray(picks, dtype=np.float64))
        if times.ndim != 1:
            raise ValueError(f"picks must be a 1-D array of times in s; got shape {times.shape}")
        if receivers_km is None:
            if times.size != tables.n_receivers:
                raise ValueError(
                    f"got {times.size} picks for {tables.n_receivers} travel-time tables; pass "
                    "receivers_km (or picks by station code) to say which receiver each pick "
                    "belongs to"
                )
            index = list(range(tables.n_receivers))
        else:
            rec = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
            if rec.shape[0] != times.size:
                raise ValueError(f"got {times.size} picks for {rec.shape[0]} receivers_km")
            nearest, dist = nearest_points(rec, tables.receivers_km)
            far = np.flatnonzero(dist > _RECEIVER_TOL_KM)
            if far.size:
                raise ValueError(
                    f"receiver {rec[far[0]].tolist()} km has no travel-time table (tables hold "
                    f"receivers {np.round(tables.receivers_km, 6).tolist()})"
                )
            index = nearest.tolist()
    names = tuple(labels[j] if labels else f"#{j}" for j in index)
    if len(set(index)) != len(index):
        raise ValueError(f"a receiver appears more than once among the picks ({list(names)})")
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(times))]
    if bad:
        raise ValueError(f"the picks of {bad} are NaN or infinite; drop those receivers")
    if times.size < 1:
        raise ValueError("no picks given")
    return tables.select(index), times, names


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


def _pick_sigma(picks, sigma_s):
    """The pick errors of :class:`Picks` unless ``sigma_s`` is given (default 0.005 s)."""
    if sigma_s is not None:
        return sigma_s
    if isinstance(picks, Picks):
        return np.asarray(picks.errors_s, dtype=np.float64)
    return 0.005


@dataclasses.dataclass(frozen=True)
class EdtFn:
    """``fn(theta, model, data)`` of the EDT likelihood (hashable by its settings)."""

    grid: Grid
    convention: str

    def __call__(self, theta, model, data):
        tt, inside = interpolate_point(model["times"], self.grid, theta[:3])
        dtype = tt.dtype
        r = data["dobs"].astype(dtype) - (tt[data["ia"]] - tt[data["ib"]])
        v = data["pair_var"].astype(dtype)
        scale = 0.5 if self.convention == "nonlinloc" else 1.0
        ll = data["power"].astype(dtype) * logsumexp(-0.5 * jnp.log(v) - scale * r**2 / v)
        return jnp.where(inside, ll, -jnp.inf)


@dataclasses.dataclass(frozen=True)
class ArrivalFn:
    """``fn(theta, model, data)`` of the Gaussian arrival-time likelihood."""

    grid: Grid
    marginal: bool

    def __call__(self, theta, model, data):
        tt, inside = interpolate_point(model["times"], self.grid, theta[:3])
        dtype = tt.dtype
        w = data["weight"].astype(dtype)
        d = data["rel"].astype(dtype) - tt
        if self.marginal:
            dbar = jnp.sum(w * d) / jnp.sum(w)
            ll = -0.5 * jnp.sum(w * (d - dbar) ** 2) + data["norm"].astype(dtype)
        else:
            res = d - (theta[3] - data["ref"]).astype(dtype)
            ll = -0.5 * jnp.sum(w * res**2) + data["norm"].astype(dtype)
        return jnp.where(inside, ll, -jnp.inf)


def edt_log_likelihood(
    tables: TravelTimeTables,
    picks,
    sigma_s=None,
    *,
    traveltime_error_s=0.0,
    receivers_km=None,
    convention: Literal["nonlinloc", "paper"] = "nonlinloc",
) -> Likelihood:
    """NonLinLoc's Equal-Differential-Time log-likelihood of the source position.

    Args:
        tables: P travel-time tables (:func:`jaxseis.traveltime.traveltime_tables`).
        picks: :class:`~jaxseis.picking.Picks` (e.g. :func:`jaxseis.picking.picks_of`), or
            arrival times in s ``[n]`` or ``{station code: time}`` (any common time reference:
            the origin time is eliminated); see :func:`match_picks`.
        sigma_s: pick uncertainty (one standard deviation) in s, scalar or ``[n]`` (default:
            the picks' own errors, or the paper's 0.005 s for plain times).
        traveltime_error_s: travel-time (model) uncertainty in s, scalar or ``[n]``; combined
            with the pick error as ``sqrt(sigma_s^2 + traveltime_error_s^2)`` (NonLinLoc's
            ``LOCGAU SigmaTime`` with zero correlation length).
        receivers_km: ``[n, 3]`` receivers of the picks (default: the picks' own, else the
            tables' receivers).
        convention: ``"nonlinloc"`` (default) or ``"paper"``; see the module docs.

    Returns:
        A :class:`~jaxseis.likelihood.Likelihood` of the position (``t0`` and the amplitude do
        not enter: fix them in the prior); ``-inf`` outside the table in compiled code.

    Raises:
        ValueError: fewer than 2 picks, NaN picks, negative or zero uncertainties, receivers
            without a table, an unknown convention.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    sigma_s = _pick_sigma(picks, sigma_s)
    sub, times, names = match_picks(tables, picks, receivers_km)
    n = times.size
    if n < 2:
        raise ValueError(f"EDT needs at least 2 picks (it uses pairs of picks); got {n}")
    var = _total_variance(sigma_s, traveltime_error_s, n)
    ia, ib = np.triu_indices(n, k=1)
    data = {
        # observed differential times, relative to the first pick for precision
        "dobs": (times[ia] - times[0]) - (times[ib] - times[0]),
        "pair_var": var[ia] + var[ib],
        "ia": ia.astype(np.int32),
        "ib": ib.astype(np.int32),
        "power": np.float64(n if convention == "nonlinloc" else 1.0),
    }
    return Likelihood(
        EdtFn(sub.grid, convention), {"times": sub.times}, data, POSITION,
        receivers_km=sub.receivers_km, stations=names, extent_km=sub.grid.extent_km,
    )  # fmt: skip


def edt_pair_residuals(tables: TravelTimeTables, picks, source_km, receivers_km=None):
    """EDT residuals ``r_ab`` (s) of every pair ``a < b`` at one source ``[3]`` (km).

    ``r_ab = (t_a - t_b) - (T_a(x) - T_b(x))``, in the order of ``numpy.triu_indices(n, 1)``.
    A diagnostic (eager, NumPy output).
    """
    sub, times, _ = match_picks(tables, picks, receivers_km)
    tt = np.asarray(interpolate_traveltimes(sub, np.asarray(source_km, dtype=np.float64)))
    ia, ib = np.triu_indices(times.size, k=1)
    return (times[ia] - times[ib]) - (tt[ia] - tt[ib])


def gaussian_arrival_log_likelihood(
    tables: TravelTimeTables,
    picks,
    sigma_s=None,
    *,
    traveltime_error_s=0.0,
    receivers_km=None,
    origin_time: Literal["free", "marginal"] = "free",
) -> Likelihood:
    """Independent-Gaussian arrival-time log-likelihood with an explicit origin time.

    ``t_a ~ N(t0 + T_a(x), s_a^2)`` with ``s_a = sqrt(sigma_a^2 + traveltime_error_a^2)``::

        log L(x, t0) = -1/2 sum_a (t_a - t0 - T_a(x))^2 / s_a^2 - sum_a log(s_a sqrt(2 pi))

    Args:
        tables, picks, sigma_s, traveltime_error_s, receivers_km: as for
            :func:`edt_log_likelihood`.
        origin_time: ``"free"`` (default): ``t0`` (s, in the picks' time reference) is the
            event parameter, sampled or fixed by the prior; ``"marginal"``: ``t0`` is
            integrated out under a flat prior, analytically,
            ``-1/2 sum_a w_a (d_a - dbar)^2 + 1/2 log(2 pi / W) - sum_a log(s_a sqrt(2 pi))``
            with ``d_a = t_a - T_a(x)``, ``w_a = 1 / s_a^2``, ``W = sum_a w_a`` and ``dbar``
            the ``w``-weighted mean of ``d`` (the exact way of eliminating the origin time,
            for comparison with EDT).

    Returns:
        A :class:`~jaxseis.likelihood.Likelihood` of the position and ``t0`` (``"free"``) or
        of the position only (``"marginal"``).

    Raises:
        ValueError: no picks (or fewer than 2 with ``"marginal"``), NaN picks, bad
            uncertainties, receivers without a table, a bad ``origin_time``.
    """
    if origin_time not in ("free", "marginal"):
        raise ValueError(f"origin_time must be 'free' or 'marginal'; got {origin_time!r}")
    sigma_s = _pick_sigma(picks, sigma_s)
    sub, times, names = match_picks(tables, picks, receivers_km)
    n = times.size
    if origin_time == "marginal" and n < 2:
        raise ValueError("marginalising the origin time needs at least 2 picks")
    var = _total_variance(sigma_s, traveltime_error_s, n)
    ref = float(times[0])  # times relative to the first pick, for float32 precision
    norm = -float(np.sum(0.5 * np.log(2.0 * np.pi * var)))
    if origin_time == "marginal":
        norm += 0.5 * float(np.log(2.0 * np.pi / np.sum(1.0 / var)))
    data = {
        "rel": times - ref,
        "weight": 1.0 / var,
        "ref": np.float64(ref),
        "norm": np.float64(norm),
    }
    marginal = origin_time == "marginal"
    uses = POSITION if marginal else (*POSITION, "t0")
    return Likelihood(
        ArrivalFn(sub.grid, marginal), {"times": sub.times}, data, uses,
        receivers_km=sub.receivers_km, stations=names, extent_km=sub.grid.extent_km,
    )  # fmt: skip
