"""Waveform likelihoods: known values (white, Whittle, dense Cholesky), gradients, the
cross-correlation search, data as an argument, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg, stats

import jaxseis as js
from jaxseis.forward import forward_model, make_forward
from jaxseis.likelihood import waveform_log_likelihood
from jaxseis.noise import ColouredNoise, WhiteNoise, marine_psd, per_bin_variance

THETA = np.array([0.38, 0.29, 1.56, 0.013, 0.2])  # near the paper's event


@pytest.fixture(scope="module")
def obs(emulators):
    return js.observe(js.load_paper_event(), emulators, noise_key=jax.random.key(0))


def _predicted(emulators, theta):
    with jax.enable_x64(True):
        return np.asarray(make_forward(emulators)(jnp.asarray(theta)), dtype=np.float64)


def test_time_domain_matches_scipy(emulators, obs):
    sigma = np.array([0.004, 0.006, 0.008, 0.01])
    o = obs.replace(noise=WhiteNoise(sigma))
    extra = np.linspace(0.0, 1e-5, o.n_samples)[None, :] * np.ones((4, 1))
    lik = waveform_log_likelihood(emulators, o, extra_variance=extra)
    pred = _predicted(emulators, THETA)
    s = np.sqrt(sigma[:, None] ** 2 + extra)
    expected = stats.norm.logpdf(o.traces, pred, s).sum()
    # the networks run in float32: the two compilations of the forward model round differently
    np.testing.assert_allclose(float(lik(THETA)), expected, rtol=1e-6)


def test_whittle_equals_time_domain_for_white_noise(emulators, obs):
    time = waveform_log_likelihood(emulators, obs)
    freq = waveform_log_likelihood(emulators, obs, domain="frequency")
    for theta in (THETA, obs.truth, THETA + np.array([0.02, -0.01, 0.03, -0.05, 0.5])):
        np.testing.assert_allclose(float(freq(theta)), float(time(theta)), rtol=1e-11)


def test_whittle_equals_dense_gaussian_for_a_circulant_covariance(emulators, obs):
    """For stationary noise on a circle (covariance circulant with eigenvalues S_k) the
    Whittle likelihood is the exact Gaussian density: compared against a dense Cholesky."""
    f = np.fft.rfftfreq(obs.n_samples, obs.dt)
    psd = np.stack([(1e-4 * (r + 1)) ** 2 * obs.dt * marine_psd(f) for r in range(4)])
    o = obs.replace(noise=ColouredNoise(psd, obs.dt))
    lik = waveform_log_likelihood(emulators, o)
    resid = o.traces - _predicted(emulators, THETA)
    s_k = per_bin_variance(o.noise, o.n_samples, o.dt)
    expected = 0.0
    n = o.n_samples
    for r in range(4):
        full = np.concatenate([s_k[r], s_k[r, 1:][::-1]])  # all n eigenvalues (n odd)
        row = np.real(np.fft.ifft(full))  # first row of the circulant covariance
        cov = linalg.circulant(row)
        expected += stats.multivariate_normal(np.zeros(n), cov).logpdf(resid[r])
    np.testing.assert_allclose(float(lik(THETA)), expected, rtol=1e-6)


@pytest.mark.parametrize("domain", ["time", "frequency"])
def test_gradient_matches_finite_differences(emulators, obs, domain):
    # networks in float64 too, so that finite differences resolve the gradient
    lik = waveform_log_likelihood(forward_model(emulators, dtype=jnp.float64), obs, domain=domain)
    with jax.enable_x64(True):
        model = jax.tree.map(jnp.asarray, lik.model)
        data = jax.tree.map(jnp.asarray, lik.data)
        f = jax.jit(lambda t: lik.fn(t, model, data))
        t0 = jnp.asarray(THETA)
        g = np.asarray(jax.grad(f)(t0))
        steps = np.array([1e-5, 1e-5, 1e-5, 1e-6, 1e-5])
        pairs = zip(steps, np.eye(5), strict=True)
        fd = np.array([(f(t0 + h * e) - f(t0 - h * e)) / (2 * h) for h, e in pairs])
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def _search_case(emulators, model, truth, positions, noise_key=None):
    """The paper's event shifted by ``truth[3]`` and scaled by ``exp(truth[4])`` (noise from
    ``noise_key``), its likelihood, the likelihood's data as arrays and the emulated spectra
    at ``positions [m, 3]`` km: ``(observation, likelihood, data, spectra)``. Call it in
    JAX's x64 mode."""
    o = js.observe(js.load_paper_event(), emulators, t0=truth[3], log_amplitude=truth[4],
                   noise_key=noise_key)  # fmt: skip
    lik = waveform_log_likelihood(model, o)
    m = jax.tree.map(jnp.asarray, lik.model)
    d = jax.tree.map(jnp.asarray, lik.data)
    return o, lik, d, lik.search.spectra(jnp.asarray(positions), m)


def test_search_recovers_origin_time_and_amplitude(emulators, model):
    """The cross-correlation search finds t0 and the amplitude of a shifted, scaled,
    noise-free observation at the true position, and the best lag within the window."""
    truth = [0.375, 0.3, 1.57, -0.1234, np.log(3.0)]
    with jax.enable_x64(True):
        o, lik, d, spectra = _search_case(emulators, model, truth, [truth[:3]])
        ll, t0, la = lik.search.profile(spectra, d, (-0.3, 0.3), (-5.0, 5.0))
        assert abs(float(t0[0]) - truth[3]) < 0.1 * o.dt
        assert abs(float(la[0]) - truth[4]) < 0.02
        np.testing.assert_allclose(float(ll[0]), float(lik(truth)), atol=5.0)
        # a window that excludes the truth: the best lag is its edge
        _, t0, _ = lik.search.profile(spectra, d, (0.0, 0.1), (-5.0, 5.0))
        assert float(t0[0]) == pytest.approx(0.0, abs=1e-9)
        # fixed t0 and amplitude: the exact log-likelihood (up to the circular shift)
        ll, t0, la = lik.search.profile(spectra, d, (truth[3], truth[3]), (0.0, 0.0))
        assert float(t0[0]) == pytest.approx(truth[3]) and float(la[0]) == pytest.approx(0.0)


def test_band_limited_search_agrees_with_the_full_one(emulators, model):
    """The emulated spectra keep their power below about 25 Hz; a search over those bins
    (on its coarser lag grid) finds the t0, amplitude and log-likelihood of the full search."""
    from jaxseis.likelihood.waveform import band_limited

    truth = [0.375, 0.3, 1.57, 0.0571, np.log(0.5)]
    positions = [truth[:3], [0.5, 0.5, 1.2], [0.2, 0.7, 2.0]]
    with jax.enable_x64(True):
        o, lik, d, spectra = _search_case(emulators, model, truth, positions, jax.random.key(1))
        k = band_limited(spectra, 50.0)
        assert 20 < k < spectra.shape[-1] // 3  # 10-40 Hz of a 125 Hz Nyquist
        full = lik.search.profile(spectra, d, (-0.3, 0.3), (-5.0, 5.0))
        cut = lik.search.profile(spectra[..., :k], d, (-0.3, 0.3), (-5.0, 5.0))
    np.testing.assert_allclose(cut[1], full[1], atol=0.05 * o.dt)  # t0, s
    np.testing.assert_allclose(cut[2], full[2], atol=1e-3)  # log amplitude
    np.testing.assert_allclose(cut[0], full[0], atol=0.5)  # log-likelihood
    assert abs(float(cut[1][0]) - truth[3]) < 0.1 * o.dt
    assert band_limited(np.zeros((2, 9))) == 9  # no power: every bin
    assert band_limited(np.ones((2, 9))) == 9 and band_limited(np.eye(9)[:1]) == 2


def test_search_within_the_prior_window_agrees_with_the_search_over_every_lag(emulators, model):
    """Correlating at the lags of the origin-time window only (``within``) chooses the same lag
    and gives the same t0, amplitude and log-likelihood as the correlation at every lag of the
    circular grid, for the full and the band-limited spectra, inside and at the window's
    edge."""
    from jaxseis.likelihood.waveform import band_limited

    truth = [0.375, 0.3, 1.57, -0.0823, np.log(2.0)]
    positions = [truth[:3], [0.5, 0.5, 1.2], [0.2, 0.7, 2.0], [0.9, 0.1, 0.3]]
    with jax.enable_x64(True):
        o, lik, d, spectra = _search_case(emulators, model, truth, positions, jax.random.key(3))
        k = band_limited(spectra, 50.0)
        for window in ((-0.3, 0.3), (0.0, 0.1), (-0.25, -0.05)):
            narrow = lik.search.within(*window)
            assert narrow.t0_range == window and narrow != lik.search
            for s in (spectra, spectra[..., :k]):
                every = lik.search.profile(s, d, window, (-5.0, 5.0))
                some = narrow.profile(s, d, window, (-5.0, 5.0))
                # the same lag; the parabola through float32 correlations moves t0 by
                # round-off only
                np.testing.assert_allclose(some[1], every[1], rtol=0, atol=1e-4 * o.dt)
                np.testing.assert_allclose(some[0], every[0], rtol=1e-8)
                np.testing.assert_allclose(some[2], every[2], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="low <= high"):
        lik.search.within(0.2, -0.2)
    with jax.enable_x64(True), pytest.raises(ValueError, match=r"within\(-0.3, 0.3\)"):
        lik.search.within(-0.1, 0.1).profile(spectra, d, (-0.3, 0.3), (-5.0, 5.0))


def test_one_function_for_every_event(emulators, model):
    event = js.load_paper_event()
    a = waveform_log_likelihood(model, js.observe(event, emulators, noise_key=jax.random.key(1)))
    b = waveform_log_likelihood(model, js.observe(event, emulators, noise_key=jax.random.key(2)))
    assert a.fn == b.fn and hash(a.fn) == hash(b.fn) and a.search == b.search
    assert jax.tree.structure(a.data) == jax.tree.structure(b.data)
    np.testing.assert_allclose(float(a.with_data(b.data)(THETA)), float(b(THETA)))


def test_observation_matched_to_the_emulators_by_position(emulators, obs):
    reversed_obs = obs.select([3, 2, 1, 0])
    np.testing.assert_allclose(
        float(waveform_log_likelihood(emulators, reversed_obs)(THETA)),
        float(waveform_log_likelihood(emulators, obs)(THETA)),
    )


def test_bad_input(emulators, obs):
    with pytest.raises(ValueError, match="no observed station matches"):
        waveform_log_likelihood(emulators, obs.select([0, 1, 2]))
    short = obs.replace(traces=obs.traces[:, :400], noise=WhiteNoise(obs.noise.sigma))
    with pytest.raises(ValueError, match="400 samples at 4 ms but the emulators predict 501"):
        waveform_log_likelihood(emulators, short)
    psd = np.ones((4, obs.n_samples // 2 + 1))
    coloured = obs.replace(noise=ColouredNoise(psd, obs.dt))
    with pytest.raises(ValueError, match="domain='frequency'"):
        waveform_log_likelihood(emulators, coloured, domain="time")
    with pytest.raises(ValueError, match="does not broadcast"):
        waveform_log_likelihood(emulators, obs, extra_variance=np.ones((3, 7)))
    lik = waveform_log_likelihood(emulators, obs)
    with pytest.raises(ValueError, match="look like metres"):
        lik([375.0, 300.0, 1570.0])
    with pytest.raises(ValueError, match=r"\[5\]"):
        lik([0.1, 0.2])
