"""Location summaries for the io tests, made as the inference makes them: from posterior draws.

Not a test module: imported by ``test_io_quakeml.py`` and ``test_io_hyp.py``.
"""

import numpy as np

PARAMS = ["x", "y", "z", "t0", "log_amplitude"]


def random_covariance(rng, stds):
    """A covariance with the given standard deviations and random correlations."""
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    w = rng.uniform(0.3, 1.0, 5)
    c = q @ np.diag(w) @ q.T
    d = np.sqrt(np.diag(c))
    c = c / np.outer(d, d)
    return c * np.outer(stds, stds)


def make_summary(
    seed=0,
    *,
    mean=(0.375, 0.3, 1.57, 0.012, 0.4),
    stds=(0.02, 0.03, 0.01, 0.004, 0.05),
    free=(True, True, True, True, True),
    method="nuts",
    n_draws=4000,
):
    """A summary from ``n_draws`` Gaussian draws; fixed parameters are constant (std 0, zero
    covariance rows), as the inference writes them."""
    rng = np.random.default_rng(seed)
    free = np.asarray(free, dtype=bool)
    stds = np.where(free, stds, 0.0)
    cov = random_covariance(rng, np.where(free, stds, 1.0))
    draws = rng.multivariate_normal(np.zeros(5), cov, size=n_draws) + np.asarray(mean)
    draws[:, ~free] = np.asarray(mean)[~free]
    c = np.cov(draws, rowvar=False)
    c[~free] = 0.0
    c[:, ~free] = 0.0
    q = np.percentile(draws, [2.5, 16, 50, 84, 97.5], axis=0)
    m = draws.mean(axis=0)
    m[~free] = np.asarray(mean)[~free]
    s = draws.std(axis=0, ddof=1)
    s[~free] = 0.0
    return {
        "params": list(PARAMS),
        "free": [bool(v) for v in free],
        "mean": m.tolist(),
        "std": s.tolist(),
        "q2_5": q[0].tolist(),
        "q16": q[1].tolist(),
        "q50": q[2].tolist(),
        "q84": q[3].tolist(),
        "q97_5": q[4].tolist(),
        "cov": c.tolist(),
        "relative_magnitude": None,
        "method": method,
        "rhat_max": 1.002,
        "ess_min": 3150.0,
        "divergences": 0,
        "log_evidence": None,
        "log_evidence_err": None,
        "wall_s": 28.5,
        "num_chains": 4,
        "num_draws": 1000,
    }
