"""Importance sampling from the Laplace approximation: the proposal's density, weights that
recover a known posterior, the weighted summary, bad input, and the catalogue's use of it."""

import jax
import numpy as np
import pytest
from scipy import stats

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.inference.importance import (
    ImportanceOptions,
    check_importance_options,
    proposal,
    psis_weights,
    resample,
)
from jaxseis.inference.prior import Space
from jaxseis.inference.summary import weighted_summary

LOWER = np.array([0.0, 0.0, 0.0, -0.3, -5.0])
UPPER = np.array([1.0, 1.0, 2.4, 0.3, 5.0])
SPACE = Space(LOWER, UPPER, (0, 1, 2, 3, 4))
MEAN = np.array([0.5, 0.4, 1.2, 0.01, 0.3])
SD = np.array([0.01, 0.02, 0.03, 0.004, 0.05])
CORR = np.array(
    [
        [1.0, 0.2, 0.1, 0.0, 0.0],
        [0.2, 1.0, 0.3, 0.2, 0.0],
        [0.1, 0.3, 1.0, 0.9, -0.4],
        [0.0, 0.2, 0.9, 1.0, -0.3],
        [0.0, 0.0, -0.4, -0.3, 1.0],
    ]
)
COV = CORR * np.outer(SD, SD)


def test_proposal_density_is_the_student_t_mixture():
    """Two components: the returned log density is the weighted multivariate-t mixture of
    the widened covariances (scipy), and the draws follow it (moments)."""
    opts = ImportanceOptions(num_draws=20000, df=5.0, scale=1.5)
    means = np.stack([MEAN, MEAN + 4 * SD])
    covs = np.stack([COV, 0.5 * COV])
    w = np.array([0.7, 0.3])
    theta, log_q, inside = proposal(jax.random.key(0), SPACE, means, covs, w, opts)
    assert theta.shape == (20000, 5) and log_q.shape == (20000,) and inside.all()
    dens = [
        stats.multivariate_t(means[k], opts.scale**2 * covs[k], df=opts.df).logpdf(theta)
        for k in range(2)
    ]
    expected = np.logaddexp(np.log(0.7) + dens[0], np.log(0.3) + dens[1])
    np.testing.assert_allclose(log_q, expected, rtol=1e-10)
    # the mixture's mean and (t: df / (df - 2) times the scale matrix) covariance
    mean = w @ means
    t_cov = opts.df / (opts.df - 2) * opts.scale**2 * covs
    dev = means - mean
    cov = np.einsum("k,kij->ij", w, t_cov) + np.einsum("k,ki,kj->ij", w, dev, dev)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(theta.mean(0) - mean) / sd, 0.05)
    np.testing.assert_allclose(theta.std(0), sd, rtol=0.08)
    # the same key gives the same draws
    again = proposal(jax.random.key(0), SPACE, means, covs, w, opts)
    np.testing.assert_array_equal(again[0], theta)


def test_weights_recover_a_known_posterior():
    """Target: a Gaussian shifted by one sd and 1.4 times wider than the Laplace
    approximation, with t0 and amplitude fixed (the draws keep their values); the weighted
    mean, sd and 2.5 % / 97.5 % quantiles are the target's to Monte Carlo precision."""
    space = Space(LOWER, UPPER, (0, 1, 2))
    fixed = MEAN.copy()
    fixed[3:] = LOWER[3:]  # the Space keeps fixed parameters at their lower bound
    cov = np.zeros((5, 5))
    cov[:3, :3] = COV[:3, :3]
    opts = ImportanceOptions(num_draws=8000)
    theta, log_q, inside = proposal(jax.random.key(1), space, fixed[None], cov[None], [1.0], opts)
    np.testing.assert_array_equal(theta[:, 3:], np.broadcast_to(LOWER[3:], (8000, 2)))
    target_mean = fixed[:3] + SD[:3]
    target_cov = 1.4**2 * COV[:3, :3]
    log_lik = stats.multivariate_normal(target_mean, target_cov).logpdf(theta[:, :3]) + 1e4
    w, k, ess = psis_weights(log_lik, log_q, inside)
    assert k < 0.5 and ess > 1500
    np.testing.assert_allclose(w.sum(), 1.0)
    s = weighted_summary(theta, w, [True] * 3 + [False] * 2, "laplace_importance")
    target_sd = np.sqrt(np.diag(target_cov))
    np.testing.assert_array_less(np.abs(s["mean"][:3] - target_mean) / target_sd, 0.05)
    np.testing.assert_allclose(s["std"][:3], target_sd, rtol=0.05)
    for name, z in (("q2_5", -1.959964), ("q97_5", 1.959964)):
        off = (np.asarray(s[name][:3]) - target_mean) / target_sd - z
        np.testing.assert_array_less(np.abs(off), 0.12)
    assert s["ess_min"] == pytest.approx(ess)
    assert s["std"][3:] == [0.0, 0.0]
    # resampling gives equally weighted draws of the same distribution
    r = resample(jax.random.key(2), theta, w, 4000)
    np.testing.assert_array_less(np.abs(r[:, :3].mean(0) - target_mean) / target_sd, 0.08)


def test_weighted_summary_of_equal_weights_is_the_draws_summary():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(5001, 5))
    s = weighted_summary(draws, np.ones(5001), [True] * 5, "x")
    np.testing.assert_allclose(s["mean"], draws.mean(0), atol=1e-12)
    np.testing.assert_allclose(s["std"], draws.std(0), rtol=1e-10)
    np.testing.assert_allclose(s["q50"], np.median(draws, axis=0), atol=1e-12)
    assert s["ess_min"] == pytest.approx(5001)


def test_draws_outside_the_box_weigh_nothing():
    """An approximation at a face of the box: draws beyond it are clipped for evaluation,
    flagged outside and get weight zero."""
    mean = MEAN.copy()
    mean[0] = 0.005  # 0.5 sd from the face x = 0
    opts = ImportanceOptions(num_draws=2000)
    theta, log_q, inside = proposal(jax.random.key(3), SPACE, mean[None], COV[None], [1.0], opts)
    assert 0.2 < np.mean(~inside) < 0.6
    assert np.all(theta >= LOWER) and np.all(theta <= UPPER)
    log_lik = stats.multivariate_normal(mean, COV).logpdf(theta)
    w, _, _ = psis_weights(log_lik, log_q, inside)
    assert np.all(w[~inside] == 0.0)


def test_bad_input():
    for bad, match in (
        (ImportanceOptions(num_draws=10), "num_draws"),
        (ImportanceOptions(df=0.0), "df"),
        (ImportanceOptions(scale=0.5), "scale"),
    ):
        with pytest.raises(ValueError, match=match):
            check_importance_options(bad)
    n = 500
    inside = np.ones(n, bool)
    log_lik = np.zeros(n)
    log_lik[7] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        psis_weights(log_lik, np.zeros(n), inside)
    with pytest.raises(ValueError, match="inside the prior box"):
        psis_weights(np.zeros(n), np.zeros(n), np.arange(n) < 50)
    with pytest.raises(ValueError, match="method='laplace'"):
        cat.Locator(js.load_bundled((1, 2, 3, 4)), js.event_prior(), method="nuts",
                    importance=ImportanceOptions())  # fmt: skip


STAGE = cat.CATALOGUE_STAGE._replace(num_draws=1024, chunk_size=512, num_polish=2, newton_steps=8)


def test_the_catalogue_reweighs_each_event_once_compiled_and_partition_free():
    """The locator with importance sampling: records carry the weighted summary, the Laplace
    one beside it and the Pareto k; the likelihood program compiles once; the records do not
    depend on how the events are split into calls; the reweighed posterior lies near the
    Laplace one for these well-constrained events."""
    emulators = js.load_bundled((1, 2, 3, 4))
    bench = js.load_benchmark()
    events = [
        js.observe(bench, emulators, event=int(i), noise_key=jax.random.key(int(i)),
                   t0=0.05, log_amplitude=0.3, event_id=f"ev{i}")
        for i in bench.indices("test")[:3]
    ]  # fmt: skip
    options = ImportanceOptions(num_draws=1000)
    spec = cat.LocatorSpec.of(js.event_prior(), stage=STAGE, block_size=2, seed=3,
                              importance=options, keep_draws=True)  # fmt: skip
    locator = cat.build_locator(spec)
    before = cat.trace_counts().get("importance", 0)
    together = locator.locate_blocks(events)
    apart = locator.locate_blocks(events[:1]) + locator.locate_blocks(events[1:])
    assert cat.trace_counts().get("importance", 0) == before + 1
    for a, b in zip(together, apart, strict=True):
        assert a["status"] == "ok" and a["method"] == "laplace_importance"
        for key in ("mean", "cov", "q2_5", "q97_5", "pareto_k", "draws"):
            assert a[key] == b[key], key
        assert np.shape(a["draws"]) == (1000, 5)
        lap = a["laplace"]
        sd = np.asarray(lap["std"])
        assert np.all(np.abs(np.subtract(a["mean"], lap["mean"])) < 1.0 * sd)
        assert np.all((np.asarray(a["std"]) > 0.5 * sd) & (np.asarray(a["std"]) < 2.0 * sd))
        assert a["importance_reliable"] == (a["pareto_k"] <= 0.7)
