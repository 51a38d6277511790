"""Priors, NUTS with its global stage, nested sampling, Laplace, summaries and diagnostics.

The methods are checked against known answers: linear-Gaussian toys whose posterior and
evidence are analytic (the position only, as a plain callable; and all five event parameters,
as a :class:`~jaxseis.likelihood.Likelihood` with data as an argument), and a multimodal
("cycle skipping") toy whose exact marginals come from 1-D quadrature. Draw counts are small so
that the file runs in about a minute on 2 cores; most of that is compilation.
"""

import dataclasses
import json
import logging
import warnings
from typing import NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseis import inference as inf
from jaxseis.geometry import Grid
from jaxseis.inference.prior import (
    from_unconstrained,
    soft_box,
    soft_box_inverse,
    to_unconstrained,
)
from jaxseis.likelihood import Likelihood
from jaxseis.runtime import enable_compilation_cache

SMALL_STAGE = inf.GlobalStage(num_draws=4096, chunk_size=1024, num_polish=8, polish_steps=100)
COORDS = ("x", "y", "z")


class LinearToy(NamedTuple):
    log_likelihood: object
    calls: list  # one entry per Python call (trace) of log_likelihood
    mean: np.ndarray  # analytic posterior mean [3] km
    cov: np.ndarray  # analytic posterior covariance [3, 3] km^2
    log_evidence: float  # analytic log Z under the uniform prior
    prior: inf.BoxPrior


@pytest.fixture(scope="module")
def linear_toy() -> LinearToy:
    """traces = A @ source + b + noise at 3 receivers x 30 samples; posterior std ~0.03 km, far
    from the prior bounds so that the box does not truncate it."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(3, 30, 3))
    b = rng.normal(size=(3, 30))
    sigma = 0.3
    truth = np.array([0.4, 0.55, 1.2])
    observed = np.einsum("rsk,k->rs", a, truth) + b + sigma * rng.normal(size=b.shape)
    aj, bj = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    obs_j = jnp.asarray(observed, jnp.float32)
    calls = []

    def log_likelihood(source):
        calls.append(1)
        r = obs_j - (jnp.einsum("rsk,k->rs", aj, source) + bj)
        return -0.5 * jnp.sum(r * r) / sigma**2 - 0.5 * r.size * np.log(2 * np.pi * sigma**2)

    am = a.reshape(-1, 3)
    cov = np.linalg.inv(am.T @ am / sigma**2)
    mean = cov @ am.T @ (observed - b).ravel() / sigma**2
    r = (observed - b).ravel() - am @ mean
    prior = inf.paper_prior()
    log_z = (
        -0.5 * r.size * np.log(2 * np.pi * sigma**2)
        - 0.5 * r @ r / sigma**2
        + 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
        - np.sum(np.log(prior.upper - prior.lower))
    )
    return LinearToy(log_likelihood, calls, mean, cov, float(log_z), prior)


NUTS = inf.NutsOptions(num_chains=4, num_warmup=200, num_draws=400, global_stage=SMALL_STAGE)


@pytest.fixture(scope="module")
def nuts_linear(linear_toy):
    """One NUTS run on the linear toy, with the warnings it raised and the trace count."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = inf.locate(
            linear_toy.log_likelihood, linear_toy.prior, key=jax.random.key(3), options=NUTS
        )
    return idata, caught, len(linear_toy.calls)


@pytest.fixture(scope="module")
def nested_linear(linear_toy, tmp_path_factory):
    """One nested-sampling run on the linear toy, from a temporary working directory."""
    cwd = tmp_path_factory.mktemp("nested_cwd")
    root = logging.getLogger()
    before = (list(root.handlers), root.level, jax.config.jax_enable_x64)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        idata = inf.locate(
            linear_toy.log_likelihood,
            linear_toy.prior,
            key=jax.random.key(11),
            options=inf.NestedOptions(num_draws=3000),
        )
    after = (list(root.handlers), root.level, jax.config.jax_enable_x64)
    return idata, cwd, before, after


def _moments(idata):
    d = inf.posterior_draws(idata)
    return d.mean(axis=0), d.std(axis=0, ddof=1)


# --------------------------------------------------------------------------------------------
# Priors and transforms
# --------------------------------------------------------------------------------------------


def test_paper_prior_and_transforms():
    prior = inf.paper_prior()
    np.testing.assert_allclose(prior.lower, [0, 0, 0])
    np.testing.assert_allclose(prior.upper, [1, 1, 2.43])
    space = inf.validate_prior(prior)
    assert space.free == (0, 1, 2) and space.names == ("x", "y", "z")
    np.testing.assert_allclose(space.lower[3:], [0.0, 0.0])  # t0 and amplitude fixed
    full = inf.validate_prior(inf.event_prior())
    assert full.names == inf.PARAMS
    np.testing.assert_allclose(full.lower[3:], [-0.3, -5.0])
    np.testing.assert_allclose(full.upper[3:], [0.3, 5.0])
    theta = jnp.array([[0.375, 0.3, 1.57, 0.01, -1.0], [0.01, 0.99, 0.2, -0.29, 4.9]])
    u = to_unconstrained(full, theta)
    np.testing.assert_allclose(np.asarray(from_unconstrained(full, u)), theta, atol=1e-6)
    u3 = to_unconstrained(space, theta)
    back = np.asarray(from_unconstrained(space, u3))
    np.testing.assert_allclose(back[:, :3], theta[:, :3], atol=1e-6)
    np.testing.assert_allclose(back[:, 3:], 0.0)  # fixed parameters take their value
    assert np.all(np.isfinite(np.asarray(to_unconstrained(space, jnp.array([0.0, 1.0, 2.43])))))
    np.testing.assert_allclose(float(prior.log_prob(theta[0, :3])), -np.log(2.43), rtol=1e-6)
    assert float(prior.log_prob(jnp.array([0.5, 0.5, 2.5]))) == -np.inf
    draws = np.asarray(prior.sample(jax.random.key(0), 1000))
    assert draws.shape == (1000, 3) and np.all((draws >= 0) & (draws <= [1, 1, 2.43]))


def test_soft_box_is_a_bijection_onto_the_box_and_the_identity_inside():
    with jax.enable_x64(True):
        lo, hi, delta = 0.0, 1.0, 0.02
        v = jnp.linspace(-0.3, 1.3, 2001)
        above, below, log_jac = soft_box(lo, hi, delta, v)
        theta = lo + above
        assert np.all(np.asarray(above) > 0) and np.all(np.asarray(below) > 0)
        np.testing.assert_allclose(np.asarray(above + below), hi - lo, atol=1e-15)
        assert np.all(np.diff(np.asarray(theta)) > 0)  # monotone
        slope = jax.vmap(jax.grad(lambda x: soft_box(lo, hi, delta, x)[0]))(v)
        np.testing.assert_allclose(np.asarray(log_jac), np.log(np.asarray(slope)), atol=1e-8)
        inside = np.asarray((v > 0.05) & (v < 0.95))
        back = soft_box_inverse(lo, hi, delta, theta)
        np.testing.assert_allclose(np.asarray(back)[inside], np.asarray(v)[inside], atol=1e-12)
        middle = np.asarray((v > 0.2) & (v < 0.8))  # ten delta from a face: the identity
        np.testing.assert_allclose(np.asarray(theta)[middle], np.asarray(v)[middle], atol=1e-6)
        # a point 1e-9 from a face keeps a finite logit
        _, below, _ = soft_box(lo, hi, delta, jnp.asarray(hi + 0.3))
        assert 0 < float(below) < 1e-6


def test_nuts_samples_a_gaussian_piled_against_a_face():
    """A Gaussian likelihood centred 5 m inside the x = 0 face, sd 10 m: the posterior of x is
    the truncated normal; y and z are Gaussians inside the box."""
    from scipy.stats import truncnorm

    from jaxseis.inference.nuts import NutsOptions, run_chains
    from jaxseis.inference.prior import Space

    mu, sd = np.array([0.005, 0.5, 1.2]), np.array([0.01, 0.02, 0.03])

    def fn(theta, model, data):
        return -0.5 * jnp.sum(((theta[:3] - mu) / sd) ** 2)

    with jax.enable_x64(True):
        space = Space(jnp.zeros(5), jnp.array([1.0, 1.0, 2.43, 0.0, 0.0]), (0, 1, 2))
        upper = np.array([1.0, 1.0, 2.43])
        center = np.asarray(to_unconstrained(space, jnp.r_[mu, 0.0, 0.0]))
        p = mu / upper
        chol = np.diag(sd / (upper * p * (1 - p)))  # the Laplace sd in logistic coordinates
        c = 4
        options = NutsOptions(num_chains=c, num_warmup=300, num_draws=1000, max_num_doublings=6)
        out = run_chains(fn, None, None, space, jax.random.key(0),
                         jnp.asarray(np.random.default_rng(0).normal(size=(c, 3))),
                         jnp.asarray(np.broadcast_to(center, (c, 3))),
                         jnp.asarray(np.broadcast_to(chol, (c, 3, 3))),
                         options=options, split=1)  # fmt: skip
    theta = np.asarray(out["theta"]).reshape(-1, 5)
    assert int(np.sum(out["diverging"])) == 0
    assert np.all(theta[:, 0] > 0)
    # each draw's log-likelihood is the likelihood's value there
    expected = -0.5 * np.sum(((theta[:, :3] - mu) / sd) ** 2, axis=1)
    np.testing.assert_allclose(np.asarray(out["loglik"]).ravel(), expected, atol=1e-6)
    exact = truncnorm((0 - mu[0]) / sd[0], np.inf, loc=mu[0], scale=sd[0])
    ess = float(az.ess(np.asarray(out["theta"])[..., 0]))  # [chains, draws]
    assert ess > 2000  # of 4000 draws (2480; 1660 in the logistic coordinates)
    assert abs(theta[:, 0].mean() - exact.mean()) < 4 * exact.std() / np.sqrt(ess)
    assert theta[:, 0].std() == pytest.approx(exact.std(), rel=0.1)
    np.testing.assert_allclose(theta[:, 1:3].mean(axis=0), mu[1:], atol=0.15 * sd[1:].max())
    np.testing.assert_allclose(theta[:, 1:3].std(axis=0), sd[1:], rtol=0.1)


@pytest.mark.parametrize(
    "lower, upper, match",
    [
        ([0.5, 0, 0], [0.5, 1, 1], "empty along x"),
        ([0, 0.6, 0], [1, 0.2, 1], "empty along y"),
        ([0, 0, np.nan], [1, 1, 1], "NaN"),
        ([0, 0, 0], [1, 1, 3.5], "along z.*outside the model grid"),
        ([-0.1, 0, 0], [1, 1, 1], "along x.*outside the model grid"),
        ([0, 0], [1, 1], r"shape \[3\]"),
    ],
)
def test_validate_prior_errors(lower, upper, match):
    with pytest.raises(ValueError, match=match):
        inf.validate_prior(inf.BoxPrior(np.array(lower), np.array(upper)))


@pytest.mark.parametrize(
    "t0, log_amplitude, match",
    [
        ((0.2, -0.2), 0.0, "t0 interval is empty"),
        (np.nan, 0.0, "t0 = nan contains NaN"),
        (0.0, (1.0, 2.0, 3.0), "a number \\(fixed\\) or \\(low, high\\)"),
    ],
)
def test_validate_prior_errors_of_t0_and_amplitude(t0, log_amplitude, match):
    with pytest.raises(ValueError, match=match):
        inf.validate_prior(inf.event_prior(t0=t0, log_amplitude=log_amplitude))


def test_validate_prior_with_another_grid():
    grid = Grid(shape=(41, 41, 61))  # 0.5 km x 0.5 km x 0.6 km
    inf.validate_prior(inf.BoxPrior([0.1, 0.1, 0.1], [0.4, 0.4, 0.5]), grid=grid)
    with pytest.raises(ValueError, match="outside the model grid"):
        inf.validate_prior(inf.paper_prior(), grid=grid)


# --------------------------------------------------------------------------------------------
# Bad input to locate
# --------------------------------------------------------------------------------------------


def _quadratic(source):
    return -0.5 * jnp.sum(((source - 0.5) / 0.1) ** 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="mcmc"), "unknown method 'mcmc'"),
        (dict(method="nested", options=inf.NutsOptions()), "does not match NutsOptions"),
        (dict(options={"num_draws": 3}), "options must be NutsOptions"),
        (dict(prior=inf.BoxPrior([0, 0, 0], [1, 1, 3.2])), "outside the model grid"),
        (dict(prior=inf.BoxPrior([0, 0, 1], [1, 1, 1])), "empty along z"),
        (dict(prior=inf.event_prior()), r"does not depend on \['t0', 'log_amplitude'\]"),
        (dict(key=0), "jax.random key"),
        (dict(options=inf.NutsOptions(num_draws=0)), "num_draws must be an integer >= 1"),
        (dict(options=inf.NutsOptions(num_chains=2.5)), "num_chains"),
        (
            dict(options=inf.NutsOptions(global_stage=inf.GlobalStage(num_draws=4, num_polish=8))),
            "num_polish",
        ),
        (dict(log_likelihood=lambda s: s), "must return a scalar"),
    ],
)
def test_locate_bad_input(kwargs, match):
    args = dict(log_likelihood=_quadratic, prior=inf.paper_prior(), key=jax.random.key(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        inf.locate(args.pop("log_likelihood"), args.pop("prior"), **args)


@pytest.mark.parametrize("method", ["nuts", "nuts_no_stage", "laplace", "nested"])
def test_locate_refuses_a_likelihood_that_is_nan_everywhere(method):
    def nan_everywhere(source):
        return jnp.nan * jnp.sum(source)

    options = {
        "nuts": inf.NutsOptions(global_stage=SMALL_STAGE),
        "nuts_no_stage": inf.NutsOptions(global_stage=None),
        "laplace": inf.LaplaceOptions(global_stage=SMALL_STAGE),
        "nested": inf.NestedOptions(max_samples=2000),
    }[method]
    with pytest.raises(ValueError, match="NaN or -inf"):
        inf.locate(nan_everywhere, inf.paper_prior(), key=jax.random.key(0), options=options)


# --------------------------------------------------------------------------------------------
# NUTS
# --------------------------------------------------------------------------------------------


def test_nuts_recovers_linear_gaussian_posterior(linear_toy, nuts_linear):
    idata, caught, _ = nuts_linear
    assert not [w for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    mean, std = _moments(idata)
    s = inf.summary_dict(idata)
    true_std = np.sqrt(np.diag(linear_toy.cov))
    mc_error = true_std / np.sqrt(s["ess_min"])
    np.testing.assert_array_less(np.abs(mean - linear_toy.mean), 4 * mc_error)
    np.testing.assert_allclose(std, true_std, rtol=0.12)
    assert s["rhat_max"] < 1.01 and s["divergences"] == 0
    assert idata.posterior.sizes == {"chain": 4, "draw": 400}
    assert idata.posterior.attrs["global_stage_modes_used"] == 1


def test_log_likelihood_traced_once_per_compilation(linear_toy, nuts_linear):
    idata, _, first = nuts_linear
    # a few call sites (global stage, polish, Hessian, warm-up, sampling), never one per step
    assert 0 < first <= 12 < NUTS.num_warmup
    before = len(linear_toy.calls)
    again = inf.locate(
        linear_toy.log_likelihood, linear_toy.prior, key=jax.random.key(3), options=NUTS
    )
    assert len(linear_toy.calls) == before  # cached: no retrace, no recompilation
    for c in COORDS:  # same key, same draws
        np.testing.assert_array_equal(
            np.asarray(again.posterior[c]), np.asarray(idata.posterior[c])
        )
    other = inf.locate(
        linear_toy.log_likelihood, linear_toy.prior, key=jax.random.key(4), options=NUTS
    )
    assert len(linear_toy.calls) == before
    assert not np.array_equal(np.asarray(other.posterior["x"]), np.asarray(idata.posterior["x"]))


def test_nuts_adapts_to_a_metre_scale_correlated_posterior():
    """A waveform-like posterior: standard deviations of 1.3-2.8 m and correlations down to
    -0.84 (those of the location benchmark). Sampled in the whitened coordinates of the global
    stage's Laplace approximation, NUTS adapts to near-unit step sizes and short trajectories
    (in the raw unconstrained coordinates the adaptation's mass-matrix regularisation, made
    for unit-scale parameters, had halved the step size and doubled the trajectories)."""
    mean = np.array([0.375, 0.3, 1.57])
    sd = np.array([2.8e-3, 2.3e-3, 1.3e-3])
    corr = np.array([[1.0, -0.58, 0.66], [-0.58, 1.0, -0.84], [0.66, -0.84, 1.0]])
    cov = corr * np.outer(sd, sd)
    prec = jnp.asarray(np.linalg.inv(cov), jnp.float32)
    mj = jnp.asarray(mean, jnp.float32)

    def log_likelihood(source):
        d = source - mj
        return -0.5 * d @ prec @ d

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = inf.locate(log_likelihood, inf.paper_prior(), key=jax.random.key(8), options=NUTS)
    assert not [w for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    s = inf.summary_dict(idata)
    got_mean, got_sd = _moments(idata)
    np.testing.assert_array_less(np.abs(got_mean - mean), 4 * sd / np.sqrt(s["ess_min"]))
    np.testing.assert_allclose(got_sd, sd, rtol=0.12)
    np.testing.assert_allclose(np.corrcoef(inf.posterior_draws(idata).T), corr, atol=0.08)
    assert float(idata.sample_stats["step_size"].median()) > 0.5
    assert float(idata.sample_stats["n_steps"].mean()) < 8


def _cycle_skipping_toy():
    """Separable log-likelihood with a narrow global mode at the paper's event and a lattice
    of local modes one period P apart (like cycle skipping), each >= 15 nats lower; the exact
    marginals come from quadrature."""
    m0, width, period, depth = np.array([0.375, 0.3, 1.57]), 0.018, 0.1, 20.0
    m0j = jnp.asarray(m0, jnp.float32)

    def log_likelihood(source):
        d = source - m0j
        return jnp.sum(-0.5 * (d / width) ** 2 + depth * jnp.cos(2 * jnp.pi * d / period))

    prior = inf.paper_prior()
    moments = []
    for i in range(3):
        g = np.linspace(prior.lower[i], prior.upper[i], 1_000_001)
        d = g - m0[i]
        lp = -0.5 * (d / width) ** 2 + depth * np.cos(2 * np.pi * d / period)
        w = np.exp(lp - lp.max())
        w /= w.sum()
        mu = np.sum(w * g)
        moments.append((mu, np.sqrt(np.sum(w * (g - mu) ** 2))))
    return log_likelihood, prior, np.array(moments)


def test_importance_sampling_corrects_the_laplace_approximation_of_heavy_tails(tmp_path):
    """A separable Student-t likelihood (3 degrees of freedom): the Laplace approximation at
    the maximum is far too narrow (sd 0.87 w against the exact 1.73 w), the reweighed
    posterior has the exact sd and quantiles (quadrature); its summary survives NetCDF."""
    from jaxseis.io.events import read_inference_data, write_inference_data

    m0, w, nu = np.array([0.375, 0.3, 1.57]), 0.01, 3.0
    m0j = jnp.asarray(m0, jnp.float32)

    def log_likelihood(source):
        d = (source - m0j) / w
        return jnp.sum(-0.5 * (nu + 1) * jnp.log1p(d * d / nu))

    prior = inf.paper_prior()
    exact = []
    for i in range(3):
        g = np.linspace(prior.lower[i], prior.upper[i], 2_000_001)
        dens = (1 + ((g - m0[i]) / w) ** 2 / nu) ** (-0.5 * (nu + 1))
        cdf = np.cumsum(dens) / dens.sum()
        mu = np.sum(dens * g) / dens.sum()
        sd = np.sqrt(np.sum(dens * (g - mu) ** 2) / dens.sum())
        exact.append((mu, sd, np.interp(0.025, cdf, g), np.interp(0.975, cdf, g)))
    exact = np.array(exact)
    options = inf.LaplaceOptions(global_stage=SMALL_STAGE)
    plain = inf.summary_dict(inf.locate(log_likelihood, prior, key=jax.random.key(4),
                                        options=options, diagnostics=False))  # fmt: skip
    idata = inf.locate(log_likelihood, prior, key=jax.random.key(4),
                       options=options._replace(importance=inf.ImportanceOptions()))  # fmt: skip
    s = inf.summary_dict(idata)
    assert s["method"] == "laplace_importance" and s["ess_min"] > 1000
    assert idata.posterior.attrs["importance_pareto_k"] < 0.7
    assert idata.posterior.sizes["draw"] == options.num_draws
    np.testing.assert_array_less(np.array(plain["std"][:3]), 0.6 * exact[:, 1])
    np.testing.assert_array_less(np.abs(np.array(s["mean"][:3]) - exact[:, 0]), 0.1 * exact[:, 1])
    np.testing.assert_allclose(s["std"][:3], exact[:, 1], rtol=0.15)
    np.testing.assert_array_less(np.abs(np.array(s["q2_5"][:3]) - exact[:, 2]), 0.2 * exact[:, 1])
    np.testing.assert_array_less(np.abs(np.array(s["q97_5"][:3]) - exact[:, 3]), 0.2 * exact[:, 1])
    # the resampled draws follow the weighted summary
    np.testing.assert_allclose(inf.posterior_draws(idata).std(0), s["std"][:3], rtol=0.1)
    path = write_inference_data(tmp_path / "is.nc", idata)
    back = inf.summary_dict(read_inference_data(path))
    np.testing.assert_allclose(back["q97_5"], s["q97_5"], rtol=1e-12)
    assert back["method"] == "laplace_importance"


def test_nuts_global_stage_finds_the_global_mode_of_a_multimodal_likelihood():
    log_likelihood, prior, exact = _cycle_skipping_toy()
    stage = inf.GlobalStage(num_draws=20_000, chunk_size=4096, num_polish=16, polish_steps=100)
    settings = NUTS._replace(global_stage=stage)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = inf.locate(log_likelihood, prior, key=jax.random.key(5), options=settings)
    assert not [w for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    s = inf.summary_dict(idata)
    assert s["rhat_max"] < 1.01
    mean, std = _moments(idata)
    np.testing.assert_array_less(
        np.abs(mean - exact[:, 0]), 4 * exact[:, 1] / np.sqrt(s["ess_min"])
    )
    np.testing.assert_allclose(std, exact[:, 1], rtol=0.12)
    assert idata.posterior.attrs["global_stage_modes_found"] > 1  # it did see local modes
    assert idata.posterior.attrs["global_stage_modes_used"] == 1
    # without the global stage, chains from prior draws stick in local modes and R-hat says so
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stuck = inf.locate(
            log_likelihood, prior, key=jax.random.key(5), options=NUTS._replace(global_stage=None)
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    assert any(m.startswith("R-hat above 1.01") for m in messages)
    assert inf.summary_dict(stuck)["rhat_max"] > 1.1


def test_select_modes_skips_polished_points_that_are_not_maxima():
    """The best polished point is a saddle: it becomes no mode (its floored precision would
    give it a broad width and most of the mass); unless no point is a maximum."""
    from jaxseis.inference.global_stage import is_maximum, select_modes

    u = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 3.0]])
    lp = np.array([10.0, 9.9, 5.0])
    saddle = np.diag([-100.0, 50.0])
    peak = np.diag([-100.0, -100.0])
    hess = np.stack([saddle, peak, peak])
    np.testing.assert_array_equal(is_maximum(hess), [False, True, True])
    stage = inf.GlobalStage(min_mode_mass=0.0)
    modes = select_modes(u, lp, hess, 10.0, stage)
    np.testing.assert_array_equal(modes.index, [1, 2])
    assert modes.mass[0] > 0.99  # the peak at 0.1, e^5 times denser than the one at 3
    only_saddles = select_modes(u, lp, np.stack([saddle] * 3), 10.0, stage)
    assert only_saddles.index[0] == 0
    assert not is_maximum(np.full((1, 2, 2), np.nan))[0]


def test_laplace_at_a_non_maximum_stays_inside_the_prior_width():
    """At a maximum the Laplace covariance is the inverse Hessian; a saddle's non-concave
    direction gets the uniform prior's variance, width^2 / 12, not a box-wide one."""
    from jaxseis.inference.global_stage import Modes
    from jaxseis.inference.laplace import laplace_mixture
    from jaxseis.inference.prior import Space

    space = Space(np.array([0.0, 0.0, 0.0, -0.3, -5.0]), np.array([1.0, 1.0, 2.0, 0.3, 5.0]),
                  (0, 1))  # fmt: skip
    u = np.zeros((2, 2))  # the box's centre: dtheta/du = width / 4, no second-order term
    d1 = np.array([0.25, 0.25])
    h_theta = np.stack([np.diag([-1e4, -4e4]), np.diag([-1e4, 10.0])])
    hess_u = h_theta * np.outer(d1, d1)
    modes = Modes(u[:1], np.zeros(1), np.eye(2)[None], np.ones(1), 1, np.arange(1))
    means, covs, weights, _, positive = laplace_mixture(space, modes, np.zeros((2, 2)), hess_u)
    assert positive and len(means) == 1 and weights[0] == 1.0
    np.testing.assert_allclose(np.diag(covs[0])[:2], [1e-4, 2.5e-5], rtol=1e-12)
    lone = modes._replace(index=np.array([1]))
    means, covs, weights, _, positive = laplace_mixture(space, lone, np.zeros((2, 2)), hess_u)
    assert not positive
    np.testing.assert_allclose(np.diag(covs[0])[:2], [1e-4, 1.0 / 12.0], rtol=1e-12)


def _quadratic_points(space, mu, prec, thetas):
    """``u``, log-likelihood, gradient and Hessian in ``u`` of the Gaussian log-likelihood
    ``-(theta - mu)' prec (theta - mu) / 2`` of the two free parameters, at ``thetas``."""
    from jaxseis.inference.prior import Space

    with jax.enable_x64(True):
        s = Space(jnp.asarray(space.lower), jnp.asarray(space.upper), space.free)

        def f(u):
            d = from_unconstrained(s, u)[jnp.asarray(space.free)] - mu
            return -0.5 * d @ prec @ d

        full = np.tile(np.asarray(space.lower), (len(thetas), 1))
        full[:, list(space.free)] = thetas
        u = jax.vmap(lambda t: to_unconstrained(s, t))(jnp.asarray(full))
        values = jax.vmap(f)(u)
        return (np.asarray(u), np.asarray(values), np.asarray(jax.vmap(jax.grad(f))(u)),
                np.asarray(jax.vmap(jax.hessian(f))(u)))  # fmt: skip


def test_box_laplace_weighs_a_mode_on_a_face_of_the_box_by_its_mass_inside():
    """A Gaussian likelihood whose peak lies 20 m outside the box in x (an event at the edge
    of the volume) and 10 m inside it in y: the polish approaches the face x = 0, and the
    mass of that mode inside the box is the exact integral (to the 1e-6 of the box the point
    stays off the face), not the e^-14 the density of ``u`` there would give it. A saddle is
    no maximum."""
    from scipy.special import ndtr

    from jaxseis.inference.global_stage import box_laplace, select_modes
    from jaxseis.inference.prior import Space

    space = Space(np.array([0.0, 0.0, 0.0, -0.3, -5.0]), np.array([1.0, 1.0, 2.0, 0.3, 5.0]),
                  (0, 1))  # fmt: skip
    sd = np.array([0.01, 0.02])
    mu = np.array([-0.02, 0.01])
    u, lp, g, h = _quadratic_points(space, mu, np.diag(1.0 / sd**2),
                                    np.array([[1e-6, 0.01], [0.5, 0.5]]))  # fmt: skip
    log_mass, maximum, decrement = box_laplace(space, u, lp, g, h)
    exact = np.sum(np.log(np.sqrt(2 * np.pi) * sd * (ndtr((1 - mu) / sd) - ndtr(-mu / sd))))
    assert maximum[0] and decrement[0] < 1e-12  # y at its maximum, x pinned
    np.testing.assert_allclose(log_mass[0], exact, atol=1e-3)
    modes = select_modes(u[:1], lp[:1], h[:1], lp[0], inf.GlobalStage(), jacobian=False,
                         grad=g[:1], space=space)  # fmt: skip
    assert modes.found == 1
    with pytest.raises(ValueError, match="gradients and the space"):
        select_modes(u, lp, h, lp[0], inf.GlobalStage(), jacobian=False)
    # a saddle at the centre of the box
    u, lp, g, h = _quadratic_points(space, np.array([0.5, 0.5]), np.diag([1e4, -1e4]),
                                    np.array([[0.5, 0.5]]))  # fmt: skip
    assert not box_laplace(space, u, lp, g, h)[1][0]


def test_polish_stops_before_the_sigmoid_saturates_at_a_face():
    """A likelihood peaking 20 m beyond the box's upper x face, polished from a start past
    float64's sigmoid (u = 45: x is exactly on the face, the gradient in u is 0): the polish
    brings the point back within u = 30, where the curvature in x is still recoverable, and
    the mode keeps its exact mass inside the box. Past saturation the curvature was 0 / 0
    and the mode was dropped (seen on a few events of the whitened benchmark arm)."""
    import warnings

    from scipy.special import ndtr

    from jaxseis.inference.global_stage import box_laplace, polish
    from jaxseis.inference.prior import Space

    sd = np.array([0.01, 0.02])
    mu = np.array([1.02, 0.01])

    def fn(theta, model, data):
        d = theta[jnp.array([0, 1])] - data
        return -0.5 * jnp.sum(d * d / model**2)

    with jax.enable_x64(True):
        space = Space(jnp.array([0.0, 0.0, 0.0, -0.3, -5.0]),
                      jnp.array([1.0, 1.0, 2.0, 0.3, 5.0]), (0, 1))  # fmt: skip
        run = jax.jit(lambda u0: polish(fn, jnp.asarray(sd), jnp.asarray(mu), space, u0,
                                        learning_rate=0.5, adam_steps=10, newton_steps=15,
                                        jacobian=False))  # fmt: skip
        u, lp, g, h = (np.asarray(a) for a in run(jnp.array([45.0, 0.0])))
    assert 25.0 < u[0] <= 30.0
    exact = np.sum(np.log(np.sqrt(2 * np.pi) * sd * (ndtr((1 - mu) / sd) - ndtr(-mu / sd))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 / 0 in the curvature
        log_mass, maximum, _ = box_laplace(space, u[None], lp[None], g[None], h[None])
    assert maximum[0]
    np.testing.assert_allclose(log_mass[0], exact, atol=1e-4)


@pytest.mark.parametrize(
    "mass, expected",
    [
        ([1.0], [0, 0, 0, 0]),
        ([0.75, 0.25], [0, 0, 0, 1]),
        ([3.0, 1.0], [0, 0, 0, 1]),  # normalised
        ([0.5, 0.3, 0.2], [0, 0, 1, 2]),
        ([0.97, 0.03], [0, 0, 0, 0]),  # lighter than 1 / (2 C): no chain
        ([0.5, 0.5], [0, 0, 1, 1]),
    ],
)
def test_chain_modes_allocates_chains_by_mass(mass, expected):
    np.testing.assert_array_equal(inf.nuts.chain_modes(mass, 4), expected)


@pytest.mark.parametrize("mass", [[], [np.nan, 1.0], [-0.1, 1.0], [0.0, 0.0]])
def test_chain_modes_refuses_bad_masses(mass):
    with pytest.raises(ValueError, match="mode masses"):
        inf.nuts.chain_modes(mass, 4)


def test_nuts_pools_separated_modes_by_their_mass():
    """Two modes 40 sd apart, holding 3/4 and 1/4 of the mass: no chain crosses, so the
    pooled draws have the right weights only if the chains are shared out by mass."""
    sd, centres, weights = 0.01, (0.3, 0.7), (0.75, 0.25)

    def log_likelihood(source):
        x = source[0]
        modes = jnp.stack(
            [jnp.log(w) - 0.5 * ((x - c) / sd) ** 2 for c, w in zip(centres, weights, strict=True)]
        )
        rest = -0.5 * jnp.sum(((source[1:] - jnp.array([0.5, 1.2])) / 0.05) ** 2)
        return jax.nn.logsumexp(modes) + rest

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = inf.locate(log_likelihood, inf.paper_prior(), key=jax.random.key(2), options=NUTS)
    messages = [str(w.message) for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    assert any("found 2 modes" in m for m in messages)  # the user is told
    attrs = idata.posterior.attrs
    assert attrs["global_stage_modes_used"] == 2
    np.testing.assert_allclose(attrs["global_stage_mode_mass"], weights, atol=0.02)
    assert attrs["chain_modes"] == [0, 0, 0, 1]
    x = inf.posterior_draws(idata)[:, 0]
    assert np.mean(x < 0.5) == 0.75  # 3 of the 4 chains, none of them crossing
    np.testing.assert_allclose(np.mean(x), 0.75 * 0.3 + 0.25 * 0.7, atol=3e-3)


# --------------------------------------------------------------------------------------------
# All five event parameters: a Likelihood with data as an argument
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LinearFn:
    """traces = A @ theta + b: linear in all five parameters (a known-answer toy)."""

    def __call__(self, theta, model, data):
        r = data["observed"] - (jnp.einsum("rsk,k->rs", model["a"], theta) + model["b"])
        return -0.5 * jnp.sum(r * r) / data["sigma"] ** 2 + data["norm"]


class FiveToy(NamedTuple):
    likelihood: Likelihood
    prior: inf.BoxPrior
    mean: np.ndarray
    cov: np.ndarray
    log_evidence: float


@pytest.fixture(scope="module")
def five_toy() -> FiveToy:
    rng = np.random.default_rng(17)
    a = rng.normal(size=(3, 40, 5)) * np.array([1.0, 1.0, 1.0, 3.0, 0.3])
    b = rng.normal(size=(3, 40))
    sigma = 0.2
    truth = np.array([0.45, 0.6, 1.3, 0.05, -0.8])
    observed = np.einsum("rsk,k->rs", a, truth) + b + sigma * rng.normal(size=b.shape)
    norm = -0.5 * b.size * np.log(2 * np.pi * sigma**2)
    lik = Likelihood(
        LinearFn(), {"a": a, "b": b}, {"observed": observed, "sigma": np.float64(sigma),
                                         "norm": np.float64(norm)},
        inf.PARAMS,
    )  # fmt: skip
    am = a.reshape(-1, 5)
    cov = np.linalg.inv(am.T @ am / sigma**2)
    mean = cov @ am.T @ (observed - b).ravel() / sigma**2
    r = (observed - b).ravel() - am @ mean
    prior = inf.event_prior()
    widths = np.array([1.0, 1.0, 2.43, 0.6, 10.0])
    log_z = norm - 0.5 * r @ r / sigma**2 + 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
    return FiveToy(lik, prior, mean, cov, float(log_z - np.sum(np.log(widths))))


def test_nuts_and_laplace_recover_all_five_parameters(five_toy):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nuts = inf.locate(five_toy.likelihood, five_toy.prior, key=jax.random.key(2), options=NUTS)
        lap = inf.locate(
            five_toy.likelihood, five_toy.prior, key=jax.random.key(2),
            options=inf.LaplaceOptions(global_stage=SMALL_STAGE),
        )  # fmt: skip
    assert not [w for w in caught if issubclass(w.category, inf.ConvergenceWarning)]
    true_std = np.sqrt(np.diag(five_toy.cov))
    s = inf.summary_dict(nuts)
    assert s["free"] == [True] * 5 and set(s["rhat"]) == set(inf.PARAMS)
    np.testing.assert_array_less(
        np.abs(np.array(s["mean"]) - five_toy.mean), 4 * true_std / np.sqrt(s["ess_min"])
    )
    np.testing.assert_allclose(s["std"], true_std, rtol=0.12)
    # the posterior is Gaussian: the Laplace approximation is exact
    s = inf.summary_dict(lap)
    np.testing.assert_allclose(s["mean"], five_toy.mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.array(s["cov"]), five_toy.cov, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(s["q97_5"], five_toy.mean + 1.959963984540054 * true_std, rtol=1e-6)
    assert s["relative_magnitude"]["mean"] == pytest.approx(
        (2 / 3) * five_toy.mean[4] / np.log(10), rel=1e-6
    )
    assert "relative magnitude" in inf.summary_table(lap)


def test_fixed_parameters_are_conditioned_on(five_toy):
    """Fixing t0 and the amplitude at the truth gives the conditional Gaussian posterior."""
    fixed = np.array([0.05, -0.8])
    prior = inf.event_prior(t0=fixed[0], log_amplitude=fixed[1])
    lap = inf.locate(
        five_toy.likelihood, prior, key=jax.random.key(3),
        options=inf.LaplaceOptions(global_stage=SMALL_STAGE),
    )  # fmt: skip
    s = inf.summary_dict(lap)
    prec = np.linalg.inv(five_toy.cov)
    cond_cov = np.linalg.inv(prec[:3, :3])
    cond_mean = five_toy.mean[:3] - cond_cov @ prec[:3, 3:] @ (fixed - five_toy.mean[3:])
    np.testing.assert_allclose(s["mean"][:3], cond_mean, rtol=1e-6)
    np.testing.assert_allclose(np.array(s["cov"])[:3, :3], cond_cov, rtol=1e-5)
    assert s["mean"][3:] == pytest.approx(fixed.tolist()) and s["std"][3:] == [0.0, 0.0]
    assert s["free"] == [True, True, True, False, False]


def test_nested_evidence_with_all_five_parameters(five_toy, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        idata = inf.locate(
            five_toy.likelihood, five_toy.prior, key=jax.random.key(5),
            options=inf.NestedOptions(num_draws=2000),
        )  # fmt: skip
    s = inf.summary_dict(idata)
    assert abs(s["log_evidence"] - five_toy.log_evidence) < 3 * s["log_evidence_err"] + 0.3
    true_std = np.sqrt(np.diag(five_toy.cov))
    np.testing.assert_array_less(
        np.abs(np.array(s["mean"]) - five_toy.mean), 4 * true_std / np.sqrt(s["ess_min"])
    )


# --------------------------------------------------------------------------------------------
# Nested sampling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, match",
    [
        (inf.NestedOptions(num_slices=0), "num_slices must be None or an integer >= 1"),
        (inf.NestedOptions(root_allocation_degree=2.5), "root_allocation_degree"),
        (inf.NestedOptions(replacement_width=True), "replacement_width"),
        (inf.NestedOptions(initial_capacity=-1), "initial_capacity"),
        (inf.NestedOptions(dlogz=1.5), r"dlogz must be None or a number in \(0, 1\)"),
        (inf.NestedOptions(dlogz="0.1"), "dlogz"),
    ],
)
def test_nested_options_checked(options, match):
    with pytest.raises(ValueError, match=match):
        inf.locate(_quadratic, inf.paper_prior(), key=jax.random.key(0), options=options)


def test_nested_recovers_posterior_and_evidence(linear_toy, nested_linear):
    idata, _, _, _ = nested_linear
    s = inf.summary_dict(idata)
    assert s["method"] == "nested" and idata.posterior.sizes == {"chain": 1, "draw": 3000}
    mean, std = _moments(idata)
    true_std = np.sqrt(np.diag(linear_toy.cov))
    np.testing.assert_array_less(
        np.abs(mean - linear_toy.mean), 4 * true_std / np.sqrt(s["ess_min"])
    )
    np.testing.assert_allclose(std, true_std, rtol=0.2)
    assert 0 < s["log_evidence_err"] < 1
    assert abs(s["log_evidence"] - linear_toy.log_evidence) < 3 * s["log_evidence_err"]
    assert s["wall_s"] > 0 and s["rhat_max"] is None


def test_nested_contains_jaxns_side_effects(nested_linear):
    _, cwd, before, after = nested_linear
    assert not (cwd / "application.log").exists()
    assert before == after  # root logger handlers and level, and the x64 flag, unchanged
    assert not jax.config.jax_enable_x64 or before[2]
    assert jnp.ones(1).dtype == (jnp.float64 if before[2] else jnp.float32)


def test_nested_same_key_same_samples(linear_toy, nested_linear):
    idata, cwd, _, _ = nested_linear
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        again = inf.locate(
            linear_toy.log_likelihood,
            linear_toy.prior,
            key=jax.random.key(11),
            options=inf.NestedOptions(num_draws=3000),
        )
    for c in COORDS:
        np.testing.assert_array_equal(
            np.asarray(again.posterior[c]), np.asarray(idata.posterior[c])
        )
    assert again.posterior.attrs["log_evidence"] == idata.posterior.attrs["log_evidence"]


# --------------------------------------------------------------------------------------------
# Summaries and diagnostics
# --------------------------------------------------------------------------------------------


def test_summary_dict_and_table(nuts_linear, nested_linear):
    for idata in (nuts_linear[0], nested_linear[0]):
        s = inf.summary_dict(idata)
        json.dumps(s)  # JSON-ready
        for k in ("mean_km", "std_km", "q16_km", "q84_km", "rhat_max", "ess_min", "wall_s"):
            assert k in s
        assert np.all(np.array(s["q16_km"]) < np.array(s["mean_km"]))
        assert np.all(np.array(s["mean_km"]) < np.array(s["q84_km"]))
        table = inf.summary_table(idata, truth=[0.4, 0.55, 1.2])
        assert "68% interval" in table and "[0.000, 2.430]" in table and "0.5500" in table
        assert "fixed" in table  # t0 and the amplitude
    assert "log Z =" in inf.summary_table(nested_linear[0])
    assert "log Z" not in inf.summary_table(nuts_linear[0])
    assert inf.summary_dict(nuts_linear[0])["log_evidence"] is None


def _fake_idata(x, y, z, diverging=None, lower=(0.0, 0.0, 0.0), upper=(1.0, 1.0, 2.43)):
    stats = {"diverging": np.zeros(np.shape(x), bool) if diverging is None else diverging}
    idata = az.from_dict(posterior={"x": x, "y": y, "z": z}, sample_stats=stats)
    idata.posterior.attrs.update(
        method="nuts",
        prior_lower=[*lower, 0.0, 0.0],
        prior_upper=[*upper, 0.0, 0.0],
        fixed={"t0": 0.0, "log_amplitude": 0.0},
    )
    return idata


def test_diagnose_reports_problems():
    rng = np.random.default_rng(0)
    good = [0.5 + 0.01 * rng.normal(size=(4, 500)) for _ in range(3)]
    assert inf.diagnose(_fake_idata(*good)) == []
    split = good[0] + np.array([0.0, 0.0, 0.1, 0.1])[:, None]  # chains in two modes
    msgs = inf.diagnose(_fake_idata(split, good[1], good[2]))
    assert any("R-hat above 1.01 (x" in m for m in msgs)
    piled = np.abs(0.02 * rng.normal(size=(4, 500)))  # half-normal against z = 0
    msgs = inf.diagnose(_fake_idata(good[0], good[1], piled))
    assert any("z piles up against the prior's lower bound" in m for m in msgs)
    diverging = np.zeros((4, 500), bool)
    diverging[1, 7] = True
    msgs = inf.diagnose(_fake_idata(*good, diverging=diverging))
    assert msgs == ["1 divergent transition(s) after warm-up"]
    short = [g[:, :40] for g in good]
    assert any("bulk ESS below 400" in m for m in inf.diagnose(_fake_idata(*short)))


def test_enable_compilation_cache(tmp_path):
    previous = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    try:
        path = enable_compilation_cache(tmp_path / "cache", min_compile_time_s=5.0)
        assert path == tmp_path / "cache" and path.is_dir()
        assert jax.config.jax_compilation_cache_dir == str(path)
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 5.0
    finally:
        jax.config.update("jax_compilation_cache_dir", previous[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", previous[1])
        from jax.experimental.compilation_cache import compilation_cache

        compilation_cache.reset_cache()


def test_gaussian_summary_of_a_mixture_has_its_exact_moments_and_quantiles():
    """The summary of a two-Gaussian mixture: the mixture's mean and covariance, and
    quantiles at which the mixture's cdf (evaluated here independently) is the quantile's
    level; a single Gaussian's quantiles are mean + z sd."""
    from scipy.stats import norm

    from jaxseis.inference.summary import gaussian_summary

    means = np.array([[0.1, 0.2, 1.0, 0.01, 0.5], [0.15, 0.2, 1.3, 0.05, 0.4]])
    sds = np.array([[0.01, 0.02, 0.05, 0.002, 0.03], [0.02, 0.01, 0.08, 0.004, 0.02]])
    covs = np.stack([np.diag(s**2) for s in sds])
    w = np.array([0.7, 0.3])
    s = gaussian_summary(means, covs, [True] * 5, weights=w)
    mean = w @ means
    np.testing.assert_allclose(s["mean"], mean, rtol=1e-14)
    var = w @ (sds**2) + w @ (means - mean) ** 2
    np.testing.assert_allclose(np.diag(s["cov"]), var, rtol=1e-12)
    for name, p in (("q2_5", 0.025), ("q50", 0.5), ("q97_5", 0.975)):
        cdf = w @ norm.cdf((np.array(s[name]) - means) / sds)
        np.testing.assert_allclose(cdf, p, atol=1e-10)
    one = gaussian_summary(means[0], covs[0], [True] * 5)
    np.testing.assert_allclose(one["q2_5"], means[0] + norm.ppf(0.025) * sds[0], rtol=1e-14)
