"""The Gaussian white-noise waveform likelihood: values, gradients, noise and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxseis.likelihood import waveform as wf

N_REC, N_SAMP = 3, 40


def _toy():
    """A linear toy forward model ``traces = A @ source + b`` and its data, ``[3, 40]``."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(N_REC, N_SAMP, 3))
    b = rng.normal(size=(N_REC, N_SAMP))
    aj, bj = jnp.asarray(a), jnp.asarray(b)  # default precision: float32 or float64

    def forward(source):
        return jnp.einsum("rsk,k->rs", aj, source) + bj

    truth = np.array([0.3, 0.6, 1.2])
    observed = np.einsum("rsk,k->rs", a, truth) + b + 0.5 * rng.normal(size=(N_REC, N_SAMP))
    return forward, observed, a, b


def _tol():
    return 1e-10 if jax.config.jax_enable_x64 else 1e-5


@pytest.mark.parametrize("sigma", [0.5, np.array([0.4, 0.5, 0.7])])
def test_matches_scipy_normal(sigma):
    forward, observed, a, b = _toy()
    ll = wf.gaussian_log_likelihood(forward, observed, sigma)
    source = np.array([0.25, 0.55, 1.3])
    pred = np.einsum("rsk,k->rs", a, source) + b
    s = np.broadcast_to(np.reshape(sigma, (-1, 1)), observed.shape)
    expected = stats.norm.logpdf(observed, pred, s).sum()
    np.testing.assert_allclose(float(ll(jnp.asarray(source))), expected, rtol=_tol())
    np.testing.assert_allclose(float(jax.jit(ll)(jnp.asarray(source))), expected, rtol=_tol())


def test_extra_variance_adds_to_sigma_squared():
    forward, observed, a, b = _toy()
    extra = np.linspace(0.1, 0.3, N_SAMP)[None, :] * np.ones((N_REC, 1))
    ll = wf.gaussian_log_likelihood(forward, observed, 0.5, extra_variance=extra)
    source = np.array([0.3, 0.6, 1.2])
    pred = np.einsum("rsk,k->rs", a, source) + b
    expected = stats.norm.logpdf(observed, pred, np.sqrt(0.25 + extra)).sum()
    np.testing.assert_allclose(float(ll(jnp.asarray(source))), expected, rtol=_tol())
    # a broadcastable per-receiver variance
    ll_r = wf.gaussian_log_likelihood(forward, observed, 0.5, extra_variance=[[0.1], [0.2], [0.0]])
    s = np.sqrt(0.25 + np.array([[0.1], [0.2], [0.0]]) * np.ones((1, N_SAMP)))
    expected = stats.norm.logpdf(observed, pred, s).sum()
    np.testing.assert_allclose(float(ll_r(jnp.asarray(source))), expected, rtol=_tol())


def test_gradient_matches_finite_differences_and_analytic():
    forward, observed, a, b = _toy()
    sigma = 0.5
    ll = wf.gaussian_log_likelihood(forward, observed, sigma)
    source = np.array([0.25, 0.55, 1.3])
    grad = np.asarray(jax.grad(ll)(jnp.asarray(source)))
    residual = observed - (np.einsum("rsk,k->rs", a, source) + b)
    analytic = np.einsum("rs,rsk->k", residual, a) / sigma**2
    np.testing.assert_allclose(grad, analytic, rtol=1e-4 if _tol() > 1e-6 else 1e-9)
    h = 1e-3
    fd = [(float(ll(source + h * e)) - float(ll(source - h * e))) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=1e-2)


def test_default_sigma_is_the_papers_level():
    assert wf.default_sigma(4476.0) == pytest.approx(250.0, rel=3e-3)
    assert wf.default_sigma(-2.0) == pytest.approx(0.112)
    for bad in (0.0, np.nan, np.inf, [1.0, 2.0]):
        with pytest.raises(ValueError, match="reference_peak"):
            wf.default_sigma(bad)


def test_add_noise_is_seeded_and_has_the_right_level():
    traces = jnp.zeros((N_REC, 20_000), jnp.float32)
    a = wf.add_noise(traces, 2.0, jax.random.key(0))
    b = wf.add_noise(traces, 2.0, jax.random.key(0))
    c = wf.add_noise(traces, 2.0, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert a.shape == traces.shape and a.dtype == traces.dtype
    assert float(jnp.std(a)) == pytest.approx(2.0, rel=0.02)
    per = wf.add_noise(traces, np.array([1.0, 2.0, 4.0]), jax.random.key(0))
    np.testing.assert_allclose(np.std(np.asarray(per), axis=1), [1.0, 2.0, 4.0], rtol=0.03)
    with pytest.raises(ValueError, match="one per receiver"):
        wf.add_noise(traces, np.ones(4), jax.random.key(0))
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        wf.add_noise(traces, -1.0, jax.random.key(0))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda o: o[:2], "receiver count mismatch.*2 receivers.*returns 3"),
        (lambda o: o[:, :30], "sample count mismatch.*30 samples.*returns 40"),
        (lambda o: np.where(np.arange(N_SAMP) == 5, np.nan, o), "NaN"),
        (lambda o: o.ravel(), r"shape \[n_receivers, n_samples\]"),
    ],
)
def test_bad_observed_traces(change, match):
    forward, observed, _, _ = _toy()
    with pytest.raises(ValueError, match=match):
        wf.gaussian_log_likelihood(forward, change(observed), 0.5)


@pytest.mark.parametrize(
    "sigma, match",
    [
        (0.0, "sigma must be > 0"),
        (-1.0, "sigma must be > 0"),
        (np.nan, "sigma must be > 0 and finite"),
        (np.array([0.5, 0.5]), "sigma has 2 values.*3 receivers"),
        (np.array([0.5, 0.0, 0.5]), "sigma must be > 0"),
    ],
)
def test_bad_sigma(sigma, match):
    forward, observed, _, _ = _toy()
    with pytest.raises(ValueError, match=match):
        wf.gaussian_log_likelihood(forward, observed, sigma)


def test_bad_extra_variance_and_forward():
    forward, observed, _, _ = _toy()
    with pytest.raises(ValueError, match="extra_variance must be finite and >= 0"):
        wf.gaussian_log_likelihood(forward, observed, 0.5, extra_variance=-np.ones((3, 1)))
    with pytest.raises(ValueError, match="does not broadcast"):
        wf.gaussian_log_likelihood(forward, observed, 0.5, extra_variance=np.ones((2, 40)))
    with pytest.raises(ValueError, match=r"must return traces \[n_receivers, n_samples\]"):
        wf.gaussian_log_likelihood(lambda s: forward(s).ravel(), observed.ravel()[None], 0.5)
