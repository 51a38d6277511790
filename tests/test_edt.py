"""The EDT and Gaussian arrival-time likelihoods (jaxseis.likelihood.edt).

The constructors return a :class:`~jaxseis.likelihood.Likelihood`; called eagerly it checks its
input, and ``_pure`` gives the plain function of the event parameters that ``jit``, ``vmap``
and ``grad`` (and the samplers) use.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseis.forward import event_vector
from jaxseis.inference import BoxPrior, validate_prior
from jaxseis.inference.prior import from_unconstrained, log_density
from jaxseis.likelihood.edt import (
    edt_log_likelihood,
    edt_pair_residuals,
    gaussian_arrival_log_likelihood,
    match_picks,
)
from jaxseis.traveltime import interpolate_traveltimes, traveltime_tables

RECEIVERS = np.array(
    [[0.1, 0.1, 0.45], [0.4, 0.1, 0.45], [0.1, 0.4, 0.45], [0.4, 0.4, 0.45], [0.25, 0.25, 0.45]]
)
TRUTH = np.array([0.2, 0.3, 0.2])  # a grid node of the layered model
ORIGIN = 12.345  # s: an arbitrary origin time of the picks


@pytest.fixture(scope="module")
def tables(layered_model, tmp_path_factory):
    return traveltime_tables(layered_model, RECEIVERS, cache_dir=tmp_path_factory.mktemp("c"))


@pytest.fixture(scope="module")
def exact_picks(tables):
    """Picks equal to the interpolated travel times from TRUTH plus an origin time."""
    return np.asarray(interpolate_traveltimes(tables, TRUTH), dtype=np.float64) + ORIGIN


def _pure(lik):
    """The likelihood as a pure function of ``theta [5]`` (or a position ``[3]``), for
    ``jit``/``vmap``/``grad``: what a compiled sampler evaluates (no eager checks)."""
    model = jax.tree.map(jnp.asarray, lik.model)
    data = jax.tree.map(jnp.asarray, lik.data)
    return lambda theta: lik.fn(event_vector(theta), model, data)


def _points(n, seed):
    return np.random.default_rng(seed).uniform([0.02, 0.02, 0.02], [0.48, 0.48, 0.44], (n, 3))


def _nonlinloc_reference(picks, tt, sigma):
    """Direct transcription of NonLinLoc's CalcSolutionQuality_EDT (LOCMETH EDT, no weights)."""
    n = len(picks)
    total = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            misfit = (picks[a] - picks[b]) - (tt[a] - tt[b])
            weight2 = 1.0 / (sigma[a] ** 2 + sigma[b] ** 2)
            total += np.sqrt(weight2) * np.exp(-0.5 * misfit**2 * weight2)
    return n * np.log(max(total, 1e-300))


# ----------------------------------------------------------------------------------- maximum


@pytest.mark.parametrize("convention", ["nonlinloc", "paper"])
def test_maximal_at_the_true_source_for_exact_times(tables, exact_picks, convention):
    ll = edt_log_likelihood(tables, exact_picks, 0.005, convention=convention)
    best = float(ll(TRUTH))
    # every other node of a box around the truth is worse
    g = tables.grid
    idx0 = g.nearest_node(TRUTH)
    offsets = np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    offsets = offsets[np.any(offsets != 0, axis=1)]
    values = np.asarray(jax.vmap(_pure(ll))(jnp.asarray(g.index_to_km(idx0 + offsets))))
    assert np.all(values < best)
    # and the gradient vanishes there (all residuals are zero)
    grad = np.asarray(jax.grad(_pure(ll))(jnp.asarray(TRUTH)))
    assert np.abs(grad).max() < 0.05  # per km; typical slopes away from the truth are > 100


def test_grid_search_finds_the_true_node(tables, exact_picks):
    ll = jax.jit(jax.vmap(_pure(edt_log_likelihood(tables, exact_picks, 0.005))))
    nodes = np.stack(np.meshgrid(*[np.arange(n) for n in tables.grid.shape], indexing="ij"), -1)
    nodes = nodes[:, :, :46].reshape(-1, 3)  # below the seabed
    values = np.asarray(ll(jnp.asarray(tables.grid.index_to_km(nodes))))
    np.testing.assert_allclose(tables.grid.index_to_km(nodes[np.argmax(values)]), TRUTH)


# ------------------------------------------------------------------ origin time, conventions


@pytest.mark.parametrize("convention", ["nonlinloc", "paper"])
def test_invariant_to_a_common_shift_of_the_picks(tables, exact_picks, convention):
    pts = jnp.asarray(_points(20, 0))
    ref = jax.vmap(_pure(edt_log_likelihood(tables, exact_picks, 0.005, convention=convention)))(
        pts
    )
    for shift in (-7.0, 0.37, 250.0):
        ll = edt_log_likelihood(tables, exact_picks + shift, 0.005, convention=convention)
        np.testing.assert_allclose(np.asarray(jax.vmap(_pure(ll))(pts)), np.asarray(ref), rtol=1e-5)


def test_the_two_conventions_relate_as_documented(tables, exact_picks):
    """nonlinloc(sigma / sqrt 2) = N * (paper(sigma) + log(2) / 2)."""
    picks = exact_picks + np.array([0.004, -0.003, 0.0, 0.006, -0.002])  # not exact
    sigma = np.array([0.005, 0.004, 0.006, 0.005, 0.008])
    nll = edt_log_likelihood(tables, picks, sigma / np.sqrt(2))
    paper = edt_log_likelihood(tables, picks, sigma, convention="paper")
    pts = jnp.asarray(_points(30, 1))
    n = len(picks)
    want = n * (np.asarray(jax.vmap(_pure(paper))(pts), dtype=np.float64) + 0.5 * np.log(2.0))
    np.testing.assert_allclose(np.asarray(jax.vmap(_pure(nll))(pts)), want, rtol=1e-5, atol=1e-3)


def test_matches_a_transcription_of_nonlinloc(tables, exact_picks):
    picks = exact_picks + np.array([0.01, -0.02, 0.0, 0.03, -0.005])
    pick_err = np.array([0.005, 0.004, 0.006, 0.005, 0.008])
    tt_err = 0.003
    ll = edt_log_likelihood(tables, picks, pick_err, traveltime_error_s=tt_err)
    sigma = np.sqrt(pick_err**2 + tt_err**2)
    for p in _points(15, 2):
        tt = np.asarray(interpolate_traveltimes(tables, p), dtype=np.float64)
        want = _nonlinloc_reference(picks, tt, sigma)
        assert float(ll(p)) == pytest.approx(want, rel=1e-4, abs=1e-2)


def test_log_sum_exp_is_stable_far_from_the_fit(tables, exact_picks):
    """Residuals of seconds: the pair sum underflows in float64, the log-likelihood does not."""
    picks = exact_picks + np.array([0.0, 3.0, -2.0, 5.0, 1.0])
    ll = edt_log_likelihood(tables, picks, 0.001)
    value = float(ll(TRUTH))
    assert np.isfinite(value) and value < -1e5
    assert np.all(np.isfinite(np.asarray(jax.grad(_pure(ll))(jnp.asarray(TRUTH)))))


def test_pair_residuals_vanish_at_the_truth(tables, exact_picks):
    r = edt_pair_residuals(tables, exact_picks, TRUTH)
    assert r.shape == (10,) and np.abs(r).max() < 1e-6


# ---------------------------------------------------------------------------- differentiable


def test_jit_vmap_grad_and_finite_differences(tables, exact_picks):
    picks = exact_picks + np.array([0.004, -0.003, 0.0, 0.006, -0.002])
    ll = edt_log_likelihood(tables, picks, 0.02)  # broad, so gradients are moderate
    g = tables.grid
    rng = np.random.default_rng(3)
    cells = rng.integers(2, np.asarray(g.shape)[None, :] - 3, size=(5, 3))
    cells[:, 2] = rng.integers(2, 40, size=5)
    pts = g.index_to_km(cells + rng.uniform(0.3, 0.7, size=(5, 3)))
    grad = jax.jit(jax.grad(_pure(ll)))
    h = 0.1 * np.asarray(g.spacing_km)
    for p in pts:
        got = np.asarray(grad(jnp.asarray(p)))
        fd = [
            (float(ll(p + h[i] * np.eye(3)[i])) - float(ll(p - h[i] * np.eye(3)[i]))) / (2 * h[i])
            for i in range(3)
        ]
        np.testing.assert_allclose(got, fd, rtol=2e-2, atol=2.0)


def test_plugs_into_the_inference_log_density(tables, exact_picks):
    prior = BoxPrior(lower=jnp.array([0.0, 0.0, 0.0]), upper=jnp.array([0.5, 0.5, 0.44]))
    ll = edt_log_likelihood(tables, exact_picks, 0.005)
    space = validate_prior(prior, ll)
    assert space.names == ("x", "y", "z")
    model = jax.tree.map(jnp.asarray, ll.model)
    data = jax.tree.map(jnp.asarray, ll.data)
    f = jax.jit(jax.value_and_grad(lambda u: log_density(ll.fn, model, data, space, u)))
    value, grad = f(jnp.array([0.1, -0.3, 0.2]))
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
    # the EDT likelihood does not depend on t0: freeing it in the prior is refused
    with pytest.raises(ValueError, match=r"does not depend on \['t0'\]"):
        validate_prior(prior._replace(t0=(-1.0, 1.0)), ll)


def test_float64_mode(tables, exact_picks):
    """Under ``jax.enable_x64`` (as jaxns runs) the likelihood works and agrees with float32."""
    ll = edt_log_likelihood(tables, exact_picks + 0.003, 0.005)
    p = _points(3, 6)
    want = [float(ll(q)) for q in p]
    with jax.enable_x64(True):
        f = jax.jit(jax.value_and_grad(_pure(ll)))
        got = [f(jnp.asarray(q, dtype=jnp.float64)) for q in p]
        assert got[0][0].dtype == jnp.float64
    np.testing.assert_allclose([float(v) for v, _ in got], want, rtol=1e-4, atol=1e-3)


def test_outside_the_table(tables, exact_picks):
    ll = edt_log_likelihood(tables, exact_picks, 0.005)
    outside = jnp.array([0.2, 0.2, 0.7])
    with pytest.raises(
        ValueError,
        match=r"lies outside the model \(x in \[0, 0.5\], y in \[0, 0.5\], z in \[0, 0.6\] km",
    ):
        ll(np.asarray(outside))
    value, grad = jax.jit(jax.value_and_grad(_pure(ll)))(outside)
    assert float(value) == -np.inf and np.all(np.asarray(grad) == 0.0)
    assert np.isfinite(float(ll(jnp.array([0.5, 0.5, 0.6], dtype=jnp.float32))))  # the corner


# ---------------------------------------------------------------------------------- Gaussian


def test_gaussian_with_estimated_origin_time(tables, exact_picks):
    ll = gaussian_arrival_log_likelihood(tables, exact_picks, 0.005)
    assert ll.uses == ("x", "y", "z", "t0")
    best = float(ll(np.r_[TRUTH, ORIGIN, 0.0]))
    n = len(exact_picks)
    assert best == pytest.approx(-n * np.log(0.005 * np.sqrt(2 * np.pi)), rel=1e-5)
    assert float(ll(np.r_[TRUTH, ORIGIN + 0.005, 0.0])) == pytest.approx(best - n / 2, abs=1e-3)
    assert float(ll(np.r_[TRUTH + np.array([0.0125, 0, 0]), ORIGIN, 0.0])) < best
    # the amplitude does not enter; a position [3] means t0 = 0 (far from ORIGIN: much worse)
    assert float(ll(np.r_[TRUTH, ORIGIN, 3.0])) == best
    assert float(ll(TRUTH)) == float(ll(np.r_[TRUTH, 0.0, 0.0])) < best - 1e5
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        ll(np.r_[TRUTH, ORIGIN])


def test_gaussian_with_fixed_origin_time(tables, exact_picks):
    """A known origin time is fixed in the prior: the sampled density is the likelihood at
    ``t0 = ORIGIN`` (plus the transform's Jacobian)."""
    free = gaussian_arrival_log_likelihood(tables, exact_picks, 0.005)
    prior = BoxPrior(np.array([0.0, 0.0, 0.0]), np.array([0.5, 0.5, 0.44]), t0=ORIGIN)
    space = validate_prior(prior, free)
    assert space.names == ("x", "y", "z")
    model = jax.tree.map(jnp.asarray, free.model)
    data = jax.tree.map(jnp.asarray, free.data)
    fixed = jax.jit(lambda u: log_density(free.fn, model, data, space, u))
    rng = np.random.default_rng(4)
    for u in rng.normal(size=(5, 3)):
        u = jnp.asarray(u, jnp.float32)
        theta = np.asarray(from_unconstrained(space, u), dtype=np.float64)
        assert theta[3] == pytest.approx(ORIGIN) and theta[4] == 0.0
        jac = float(jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u)))
        # t0 = 12.345 s as a float32 parameter carries ~1e-6 s of rounding
        assert float(fixed(u)) - jac == pytest.approx(float(free(theta)), rel=1e-4)
    with pytest.raises(ValueError, match="NaN or infinite"):
        validate_prior(prior._replace(t0=float("nan")), free)


def test_gaussian_marginal_equals_numerical_integration(tables, exact_picks):
    picks = exact_picks + np.array([0.004, -0.003, 0.0, 0.006, -0.002])
    sigma = np.array([0.005, 0.004, 0.006, 0.005, 0.008])
    marginal = gaussian_arrival_log_likelihood(tables, picks, sigma, origin_time="marginal")
    shifted = gaussian_arrival_log_likelihood(tables, picks + 3.0, sigma, origin_time="marginal")
    for p in (TRUTH, TRUTH + np.array([0.03, -0.02, 0.05])):
        tt = np.asarray(interpolate_traveltimes(tables, p), dtype=np.float64)
        t0 = np.linspace(ORIGIN - 0.3, ORIGIN + 0.3, 60001)
        res = picks[None, :] - t0[:, None] - tt[None, :]
        logl = -0.5 * np.sum((res / sigma) ** 2, 1) - np.sum(np.log(sigma * np.sqrt(2 * np.pi)))
        m = logl.max()
        want = m + np.log(np.trapezoid(np.exp(logl - m), t0))
        assert float(marginal(p)) == pytest.approx(want, abs=2e-3)
        assert float(shifted(p)) == pytest.approx(want, abs=2e-3)


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "picks, kwargs, match",
    [
        ([0.1], {"receivers_km": RECEIVERS[:1]}, "at least 2 picks"),
        ([0.1, np.nan, 0.2, 0.3, 0.4], {}, r"\['R02'\] are NaN"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], {"sigma_s": -0.005}, ">= 0"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], {"sigma_s": [0.005, 0.005]}, "one value per pick"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], {"sigma_s": 0.0}, "positive total uncertainty"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], {"traveltime_error_s": np.inf}, "NaN or infinite"),
        ([0.1, 0.2, 0.3], {}, "3 picks for 5 travel-time tables"),
        ([0.1, 0.2], {"receivers_km": [[0.1, 0.1, 0.45], [0.3, 0.3, 0.45]]}, "no travel-time"),
        ([0.1, 0.2], {"receivers_km": RECEIVERS[:1]}, "2 picks for 1 receivers"),
        ([0.1, 0.2], {"receivers_km": RECEIVERS[[0, 0]]}, "more than once"),
        ({"R01": 0.1, "XYZ": 0.2}, {}, r"\['XYZ'\] have no travel-time table"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], {"convention": "lomax"}, "convention must be one of"),
    ],
)
def test_edt_bad_input(tables, picks, kwargs, match):
    with pytest.raises(ValueError, match=match):
        edt_log_likelihood(tables, picks, **{"sigma_s": 0.005, **kwargs})


def test_gaussian_bad_input(tables, exact_picks):
    with pytest.raises(ValueError, match="origin_time must be"):
        gaussian_arrival_log_likelihood(tables, exact_picks, origin_time="profile")
    with pytest.raises(ValueError, match="at least 2 picks"):
        gaussian_arrival_log_likelihood(
            tables, [0.3], receivers_km=RECEIVERS[:1], origin_time="marginal"
        )


def test_picks_by_station_label(tables, exact_picks):
    by_label = {"R03": exact_picks[2], "R01": exact_picks[0], "R05": exact_picks[4]}
    sub, picks, names = match_picks(tables, by_label)
    assert sub.labels == names == ("R03", "R01", "R05")
    a = edt_log_likelihood(tables, by_label)
    b = edt_log_likelihood(tables, picks, receivers_km=RECEIVERS[[2, 0, 4]])
    p = _points(1, 5)[0]
    assert float(a(p)) == pytest.approx(float(b(p)), rel=1e-6)
