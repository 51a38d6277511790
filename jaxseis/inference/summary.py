"""Results of a location: ``arviz.InferenceData``, summaries and tables.

:func:`jaxseis.locate` returns an ``arviz.InferenceData`` whose ``posterior`` holds the free
event parameters (``x``, ``y``, ``z`` in km, ``t0`` in s, ``log_amplitude``) of shape
``[chain, draw]``; fixed parameters are recorded in ``posterior.attrs["fixed"]``.
:func:`summary_dict` gives the JSON-ready summary (the schema of catalogues, QuakeML and
NonLinLoc output), :func:`summary_table` a table like the paper's Table 2, and the draws and
chain statistics the diagnostics (:mod:`jaxseis.inference.diagnostics`) read.

The relative magnitude is ``M_rel = (2/3) log10(A)`` with ``A = exp(log_amplitude)`` the source
strength relative to the training simulations' source: 0 for that source. Calibrate its
constant against a catalogue's magnitudes to make it absolute.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from jaxseis.likelihood.base import PARAMS

__all__ = [
    "PARAM_UNITS",
    "chain_stats",
    "chains_summary",
    "gaussian_summary",
    "posterior_draws",
    "relative_magnitude",
    "summary_dict",
    "summary_table",
    "to_inference_data",
    "weighted_summary",
]

PARAM_UNITS = {"x": "km", "y": "km", "z": "km", "t0": "s", "log_amplitude": ""}
"""The units of the parameters of :data:`~jaxseis.likelihood.base.PARAMS`, for tables."""

_QUANTILES = (("q2_5", 2.5), ("q16", 16.0), ("q50", 50.0), ("q84", 84.0), ("q97_5", 97.5))


def relative_magnitude(log_amplitude):
    """``(2/3) log10(exp(log_amplitude))``: 0 for the training simulations' source."""
    return (2.0 / 3.0) * np.asarray(log_amplitude) / np.log(10.0)


def _az():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ArviZ is undergoing")
        warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
        import arviz as az
    return az


def to_inference_data(theta: np.ndarray, stats: dict, space, method: str, attrs: dict):
    """InferenceData from draws ``theta [chain, draw, 5]`` and sample stats ``[chain, draw]``.

    Only the free parameters of ``space`` become posterior variables; the fixed ones go to
    ``posterior.attrs["fixed"]``, the prior bounds to ``prior_lower``/``prior_upper``.
    """
    az = _az()
    theta = np.asarray(theta, dtype=np.float64)
    free = set(space.free)
    posterior = {name: theta[..., i] for i, name in enumerate(PARAMS) if i in free}
    attrs = {
        "method": method,
        "params": list(PARAMS),
        "free": [i in free for i in range(5)],
        "fixed": {name: float(space.lower[i]) for i, name in enumerate(PARAMS) if i not in free},
        "units": "x, y, z: km; t0: s; log_amplitude: natural log",
        "prior_lower": np.asarray(space.lower, dtype=np.float64).tolist(),
        "prior_upper": np.asarray(space.upper, dtype=np.float64).tolist(),
        "prior_lower_km": np.asarray(space.lower[:3], dtype=np.float64).tolist(),
        "prior_upper_km": np.asarray(space.upper[:3], dtype=np.float64).tolist(),
        "num_chains": int(theta.shape[0]),
        "num_draws": int(theta.shape[1]),
        "inference_library": "jaxseis",
        **attrs,
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        idata = az.from_dict(posterior=posterior, sample_stats=dict(stats))
    idata.posterior.attrs.update(attrs)
    return idata


def posterior_draws(idata, names=PARAMS[:3]) -> np.ndarray:
    """Pooled draws ``[n_chains * n_draws, len(names)]`` of a :func:`jaxseis.locate` result
    (default: the position, km); fixed parameters are filled with their value."""
    fixed = idata.posterior.attrs.get("fixed", {})
    n = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    cols = []
    for name in names:
        if name in idata.posterior:
            cols.append(np.asarray(idata.posterior[name], dtype=np.float64).ravel())
        elif name in fixed:
            cols.append(np.full(n, float(fixed[name])))
        elif name in ("t0", "log_amplitude"):  # results of the position-only era
            cols.append(np.zeros(n))
        else:
            raise ValueError(f"the result has no parameter {name!r}")
    return np.stack(cols, axis=-1)


def chain_stats(idata) -> tuple[dict, dict]:
    """Split R-hat and bulk ESS per free parameter of a :func:`jaxseis.locate` result, as
    ``(rhat, ess)`` dicts (empty for nested sampling, Laplace and plain draws; R-hat NaN for one
    chain)."""
    attrs = idata.posterior.attrs
    if attrs.get("method") in ("nested", "laplace", "draws"):
        return {}, {}
    az = _az()
    names = [p for p in PARAMS if p in idata.posterior]
    post = idata.posterior[names]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        ess = az.ess(post, method="bulk")
        rhat = az.rhat(post) if post.sizes["chain"] >= 2 else None
    return (
        {p: (np.nan if rhat is None else float(rhat[p])) for p in names},
        {p: float(ess[p]) for p in names},
    )


def _none_if_nan(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def summary_dict(result, *, method: str | None = None) -> dict[str, Any]:
    """The posterior summary as JSON-ready numbers.

    Args:
        result: a :func:`jaxseis.locate` result, or plain draws ``[n, 5]`` (all five
            parameters) or ``[n, 3]`` (positions, km).
        method: the method's name for plain draws (default ``"draws"``).

    Returns:
        ``method``; ``params`` (the five names) and ``free`` (5 booleans); per parameter
        ``mean``, ``std``, ``q2_5``, ``q16``, ``q50``, ``q84``, ``q97_5`` (lists of 5: x, y, z
        in km, t0 in s, log_amplitude; fixed parameters have std 0) and ``cov`` (5 x 5);
        ``relative_magnitude`` (``{"mean", "std"}`` where the amplitude is free, else None);
        the position's ``mean_km``, ``std_km``, ``q16_km``, ``q84_km``, ``q2_5_km``,
        ``q97_5_km`` (lists of 3); ``rhat`` and ``ess`` per free parameter (NUTS);
        ``rhat_max`` and ``ess_min`` (for nested sampling the Kish ESS); ``divergences``;
        ``log_evidence`` and ``log_evidence_err`` (nested sampling); ``wall_s``;
        ``num_chains``; ``num_draws``. For the Laplace approximation the mean, covariance and
        quantiles are the Gaussian's, exactly; reweighed by importance sampling
        (``method`` ``"laplace_importance"``), the weighted draws', with the Kish ESS.
    """
    if isinstance(result, np.ndarray) or not hasattr(result, "posterior"):
        return _summary_of_draws(np.asarray(result, dtype=np.float64), method or "draws")
    idata = result
    attrs = idata.posterior.attrs
    theta = posterior_draws(idata, PARAMS)
    free = list(attrs.get("free", [p in idata.posterior for p in PARAMS]))
    importance = attrs.get("importance_summary")
    if attrs.get("method") == "laplace" and importance is not None:
        mean, cov = np.asarray(importance["mean"]), np.asarray(importance["cov"])
        std = np.asarray(importance["std"])
        quant = {k: np.asarray(importance[k]) for k, _ in _QUANTILES}
    elif attrs.get("method") == "laplace":
        out = gaussian_summary(
            attrs.get("laplace_means", attrs["laplace_mean"]),
            attrs.get("laplace_covs", attrs["laplace_cov"]),
            free,
            weights=attrs.get("laplace_weights"),
        )
        mean, cov = np.asarray(out["mean"]), np.asarray(out["cov"])
        std = np.asarray(out["std"])
        quant = {k: np.asarray(out[k]) for k, _ in _QUANTILES}
    else:
        mean, cov, std, quant = _moments(theta)
    rhat, ess = chain_stats(idata)
    method = str(attrs.get("method"))
    if importance is not None:
        method = "laplace_importance"
    if method == "nested":
        ess_min = attrs.get("nested_ess")
        divergences = None
    elif importance is not None:
        ess_min = attrs.get("importance_ess")
        divergences = None
    else:
        ess_min = min(ess.values()) if ess else None
        div = idata.sample_stats.get("diverging") if hasattr(idata, "sample_stats") else None
        divergences = None if div is None else int(np.sum(np.asarray(div)))
    out = _base_summary(method, mean, cov, std, quant, free)
    out.update(
        rhat={p: _none_if_nan(v) for p, v in rhat.items()},
        ess={p: _none_if_nan(v) for p, v in ess.items()},
        rhat_max=_none_if_nan(max(rhat.values())) if rhat else None,
        ess_min=_none_if_nan(ess_min),
        divergences=divergences,
        log_evidence=_none_if_nan(attrs.get("log_evidence")),
        log_evidence_err=_none_if_nan(attrs.get("log_evidence_err")),
        wall_s=_none_if_nan(attrs.get("wall_s")),
        num_chains=int(attrs.get("num_chains", idata.posterior.sizes["chain"])),
        num_draws=int(attrs.get("num_draws", idata.posterior.sizes["draw"])),
    )
    return out


def _moments(theta: np.ndarray):
    mean = theta.mean(axis=0)
    cov = np.atleast_2d(np.cov(theta, rowvar=False, ddof=1))
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    q = np.percentile(theta, [q for _, q in _QUANTILES], axis=0)
    return mean, cov, std, {k: q[i] for i, (k, _) in enumerate(_QUANTILES)}


def _empty_diagnostics(num_chains: int, num_draws: int) -> dict[str, Any]:
    return {
        "rhat": {}, "ess": {}, "rhat_max": None, "ess_min": None, "divergences": None,
        "log_evidence": None, "log_evidence_err": None, "wall_s": None,
        "num_chains": num_chains, "num_draws": num_draws,
    }  # fmt: skip


def _summary_of_draws(draws: np.ndarray, method: str) -> dict[str, Any]:
    if draws.ndim != 2 or draws.shape[1] not in (3, 5) or draws.shape[0] < 2:
        raise ValueError(f"draws must be [n >= 2, 5] or [n, 3]; got shape {list(draws.shape)}")
    if draws.shape[1] == 3:
        draws = np.concatenate([draws, np.zeros((draws.shape[0], 2))], axis=1)
    mean, cov, std, quant = _moments(draws)
    free = [bool(s > 0) for s in std]
    out = _base_summary(method, mean, cov, std, quant, free)
    out.update(_empty_diagnostics(1, int(draws.shape[0])))
    return out


def gaussian_summary(mean, cov, free, method: str = "laplace", weights=None) -> dict[str, Any]:
    """The :func:`summary_dict` of a Gaussian posterior, or of a mixture of Gaussians (exact
    moments and quantiles), e.g. the Laplace approximations of a posterior's modes.

    Args:
        mean: ``[5]``, or ``[K, 5]`` for a mixture.
        cov: ``[5, 5]`` or ``[K, 5, 5]`` (zero rows for fixed parameters).
        free: 5 booleans.
        method: the method's name.
        weights: ``[K]`` mixture weights (default equal), normalised here.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri  # the standard normal's cdf and quantile

    means = np.atleast_2d(np.asarray(mean, dtype=np.float64))
    covs = np.asarray(cov, dtype=np.float64).reshape(len(means), 5, 5)
    w = np.ones(len(means)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.atleast_1d(w) / w.sum()  # (one weight reads back from NetCDF as a scalar)
    m = w @ means
    dev = means - m
    total = np.einsum("k,kij->ij", w, covs) + np.einsum("k,ki,kj->ij", w, dev, dev)
    std = np.sqrt(np.maximum(np.diag(total), 0.0))
    sds = np.sqrt(np.maximum(np.diagonal(covs, axis1=1, axis2=2), 0.0))  # [K, 5]
    quant = {}
    for name, q in _QUANTILES:
        p = q / 100.0
        if len(means) == 1:
            quant[name] = means[0] + ndtri(p) * sds[0]
            continue
        values = m.copy()
        for i in range(5):
            if std[i] == 0:
                continue

            def cdf(x, i=i, p=p):
                return float(w @ ndtr((x - means[:, i]) / np.maximum(sds[:, i], 1e-300))) - p

            lo = float(np.min(means[:, i] - 10 * sds[:, i]))
            hi = float(np.max(means[:, i] + 10 * sds[:, i]))
            values[i] = brentq(cdf, lo, hi, xtol=1e-12 * max(1.0, abs(hi - lo)))
        quant[name] = values
    out = _base_summary(method, m, total, std, quant, list(free))
    out.update(_empty_diagnostics(0, 0))
    if len(means) > 1:
        out["mixture_weights"] = w.tolist()
    return out


def weighted_summary(draws, weights, free, method: str) -> dict[str, Any]:
    """The :func:`summary_dict` of weighted draws ``[n, 5]`` with weights ``[n]`` (e.g.
    importance sampling): weighted moments and quantiles (the weighted empirical
    distribution, interpolated between draws), ``ess_min`` Kish's ``1 / sum w^2``."""
    theta = np.asarray(draws, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = w @ theta
    dev = theta - mean
    cov = np.einsum("n,ni,nj->ij", w, dev, dev)
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    quant = {name: np.empty(5) for name, _ in _QUANTILES}
    for i in range(5):
        order = np.argsort(theta[:, i])
        x, cw = theta[order, i], np.cumsum(w[order])
        mid = cw - 0.5 * w[order]  # each draw at the middle of its weight
        for name, q in _QUANTILES:
            quant[name][i] = np.interp(q / 100.0, mid, x)
    out = _base_summary(method, mean, cov, std, quant, list(free))
    out.update(_empty_diagnostics(1, int(theta.shape[0])))
    out["ess_min"] = float(1.0 / np.sum(w**2))
    return out


def chains_summary(theta, free, method: str = "nuts", divergences: int | None = None):
    """The :func:`summary_dict` of chains ``theta [chain, draw, 5]`` (split R-hat and bulk ESS
    per free parameter), without building an InferenceData (for catalogues)."""
    az = _az()
    theta = np.asarray(theta, dtype=np.float64)
    mean, cov, std, quant = _moments(theta.reshape(-1, 5))
    out = _base_summary(method, mean, cov, std, quant, list(free))
    rhat, ess = {}, {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        for i, p in enumerate(PARAMS):
            if free[i]:
                ess[p] = float(az.ess(theta[..., i], method="bulk"))
                rhat[p] = float(az.rhat(theta[..., i])) if theta.shape[0] >= 2 else np.nan
    out.update(_empty_diagnostics(int(theta.shape[0]), int(theta.shape[1])))
    out.update(
        rhat={p: _none_if_nan(v) for p, v in rhat.items()},
        ess={p: _none_if_nan(v) for p, v in ess.items()},
        rhat_max=_none_if_nan(max(rhat.values())) if rhat else None,
        ess_min=_none_if_nan(min(ess.values())) if ess else None,
        divergences=divergences,
    )
    return out


def _base_summary(method, mean, cov, std, quant, free) -> dict[str, Any]:
    mean = np.asarray(mean, dtype=np.float64)
    std = np.where(free, std, 0.0)
    cov = np.where(np.outer(free, free), cov, 0.0)
    out: dict[str, Any] = {
        "method": method,
        "params": list(PARAMS),
        "free": [bool(f) for f in free],
        "mean": mean.tolist(),
        "std": std.tolist(),
        "cov": cov.tolist(),
        **{k: np.where(free, v, mean).tolist() for k, v in quant.items()},
    }
    out["relative_magnitude"] = (
        {
            "mean": float(relative_magnitude(mean[4])),
            "std": float(relative_magnitude(std[4])),
        }
        if free[4]
        else None
    )
    for key, src in (("mean_km", "mean"), ("std_km", "std"), ("q16_km", "q16"),
                     ("q84_km", "q84"), ("q2_5_km", "q2_5"), ("q97_5_km", "q97_5")):  # fmt: skip
        out[key] = out[src][:3]
    return out


def summary_table(result, truth=None) -> str:
    """A table like the paper's Table 2: per free parameter the prior range, the truth, the
    posterior mean, the 68 % interval (16th-84th percentiles) and the std, with R-hat and bulk
    ESS, and ``log Z`` for nested sampling. ``truth`` is ``[5]`` or a position ``[3]``."""
    s = summary_dict(result)
    attrs = result.posterior.attrs if hasattr(result, "posterior") else {}
    lo, hi = attrs.get("prior_lower"), attrs.get("prior_upper")
    t = None
    if truth is not None:
        t = np.asarray(truth, dtype=np.float64).ravel()
        t = np.concatenate([t, [0.0, 0.0]]) if t.size == 3 else t
    names = {"nuts": "NUTS", "nested": "nested sampling", "laplace": "Laplace approximation"}
    method = names.get(s["method"], s["method"])
    wall = "" if s["wall_s"] is None else f", {s['wall_s']:.1f} s"
    lines = [f"{method}: {s['num_chains']} chain(s) x {s['num_draws']} draws{wall}"]
    header = (
        f"{'':15}{'prior':>18}{'truth':>10}{'mean':>11}{'68% interval':>24}{'std':>10}"
        f"{'R-hat':>8}{'ESS':>8}"
    )
    lines += [header, "-" * len(header)]
    for i, p in enumerate(PARAMS):
        label = f"{p} {PARAM_UNITS[p]}".strip()
        prior_txt = "" if lo is None else f"[{lo[i]:.3f}, {hi[i]:.3f}]"
        truth_txt = "" if t is None else f"{t[i]:.4f}"
        if not s["free"][i]:
            lines.append(f"{label:15}{'fixed':>18}{truth_txt:>10}{s['mean'][i]:>11.5f}")
            continue
        interval = f"[{s['q16'][i]:.5f}, {s['q84'][i]:.5f}]"
        r = s["rhat"].get(p)
        e = s["ess"].get(p)
        lines.append(
            f"{label:15}{prior_txt:>18}{truth_txt:>10}{s['mean'][i]:>11.5f}{interval:>24}"
            f"{s['std'][i]:>10.5f}{'-' if r is None else f'{r:.3f}':>8}"
            f"{'-' if e is None else f'{e:.0f}':>8}"
        )
    if s["relative_magnitude"] is not None:
        m = s["relative_magnitude"]
        lines.append(f"relative magnitude (2/3 log10 A): {m['mean']:.3f} +- {m['std']:.3f}")
    if s["log_evidence"] is not None:
        err = "" if s["log_evidence_err"] is None else f" +- {s['log_evidence_err']:.2f}"
        lines.append(f"log Z = {s['log_evidence']:.2f}{err}  (Kish ESS {s['ess_min']:.0f})")
    if s["divergences"]:
        lines.append(f"divergent transitions: {s['divergences']}")
    return "\n".join(lines)
