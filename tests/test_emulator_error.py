"""The emulator error model: fitted on held-out simulations, marginalised exactly (against a
dense Gaussian), following the origin time and amplitude, with gradients and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg, stats

import jaxseis as js
from jaxseis.forward import forward_model, make_forward
from jaxseis.likelihood import EmulatorError, fit_emulator_error, waveform_log_likelihood
from jaxseis.likelihood.emulator_error import (
    band_mask,
    error_basis,
    load_emulator_error,
    save_emulator_error,
)
from jaxseis.noise import ColouredNoise, marine_psd, per_bin_variance, rfft_weights

THETA = np.array([0.38, 0.29, 1.56, 0.013, 0.2])
ROWS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


@pytest.fixture(scope="module")
def error(emulators, bench):
    val = bench.indices("validation")[:200]
    return fit_emulator_error(emulators, bench.sources[val], bench.traces[list(ROWS)][:, val])


@pytest.fixture(scope="module")
def obs(emulators):
    return js.observe(js.load_paper_event(), emulators, noise_key=jax.random.key(0))


def _predicted(emulators, theta):
    with jax.enable_x64(True):
        return np.asarray(make_forward(emulators)(jnp.asarray(theta)), dtype=np.float64)


def test_fit_recovers_a_known_amplitude_and_timing_error(emulators, bench):
    """Simulations made from the emulators' own traces with a known random amplitude and
    timing error per trace: the fit returns those standard deviations."""
    idx = bench.indices("validation")[:200]
    sources = bench.sources[idx]
    model = forward_model(emulators)
    rng = np.random.default_rng(0)
    amp_sd, timing_sd = 0.05, 0.0005  # relative, s (an eighth of a sample: the linear regime)
    with jax.enable_x64(True):
        fwd = make_forward(model)
        traces = []
        for s in sources:
            eps, delta = rng.normal(0, amp_sd), rng.normal(0, timing_sd)
            theta = jnp.array([*s, delta, np.log1p(eps)])
            traces.append(np.asarray(fwd(theta), np.float64))
    traces = np.swapaxes(np.array(traces), 0, 1)
    err = fit_emulator_error(model, sources, traces)
    np.testing.assert_allclose(err.amplitude_sd, amp_sd, rtol=0.15)
    np.testing.assert_allclose(err.timing_sd_s, timing_sd, rtol=0.15)
    # one draw per event shared by all receivers: the errors are fully correlated across them
    corr = err.covariance / np.sqrt(np.outer(np.diag(err.covariance), np.diag(err.covariance)))
    np.testing.assert_allclose(corr[0::4, 0::4], 1.0, atol=0.02)
    np.testing.assert_allclose(corr[1::4, 1::4], 1.0, atol=0.02)
    # the rank-2 part explains the error: what remains (the linearisation's error) is small
    # against the traces' power
    assert err.floor_fraction.sum(axis=1).max() < 1e-3 * model.n_samples


def test_fit_recovers_a_waveform_error_proportional_to_the_trace_power(emulators, bench):
    """The emulators' traces plus white noise of variance 1e-3 times each trace's mean power:
    the fitted floor is that fraction (``n * 1e-3`` per bin as ``|rfft|^2``)."""
    idx = bench.indices("validation")[:200]
    model = forward_model(emulators)
    with jax.enable_x64(True):
        fwd = jax.vmap(make_forward(model))
        pred = np.swapaxes(np.asarray(fwd(jnp.asarray(bench.sources[idx])), np.float64), 0, 1)
    fraction = 1e-3
    rng = np.random.default_rng(1)
    power = np.mean(pred**2, axis=-1, keepdims=True)  # [r, m, 1]
    traces = pred + rng.normal(size=pred.shape) * np.sqrt(fraction * power)
    err = fit_emulator_error(model, bench.sources[idx], traces)
    n = model.n_samples
    np.testing.assert_allclose(err.floor_fraction.mean(axis=1), n * fraction, rtol=0.03)


def test_save_and_load_round_trip(error, tmp_path):
    path = save_emulator_error(tmp_path / "err.npz", error)
    back = load_emulator_error(path)
    for f in EmulatorError._fields:
        np.testing.assert_array_equal(np.asarray(getattr(back, f)), np.asarray(getattr(error, f)))
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cannot read the emulator error file"):
        load_emulator_error(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_emulator_error(tmp_path / "missing.npz")
    np.savez(tmp_path / "old.npz", format=np.asarray("jaxseis-emulator-error-1"))
    with pytest.raises(ValueError, match=r"older model .* fit it again"):
        load_emulator_error(tmp_path / "old.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a jaxseis emulator error file"):
        load_emulator_error(tmp_path / "other.npz")


def test_fit_on_the_bundled_emulators_is_small_and_positive(error):
    assert np.all(error.amplitude_sd > 0) and np.all(error.amplitude_sd < 0.1)
    assert np.all(error.timing_sd_s > 0) and np.all(error.timing_sd_s < 0.004)  # < 1 sample
    assert error.n_traces == 200
    # the simulations' wavelet peaks near 8 Hz: within 40 dB from about 0.5 to 22 Hz
    low, high = error.band_hz
    assert 0.0 <= low < 2.0 and 15.0 < high < 30.0


def test_the_likelihood_ignores_what_lies_outside_the_band(emulators, obs, error):
    """By default the likelihood sums over the error model's band: a 50 Hz tone added to the
    traces changes nothing; over all bins it does."""
    t = np.arange(obs.n_samples) * obs.dt
    f_tone = 100 / (obs.n_samples * obs.dt)  # the bin nearest 50 Hz (no leakage)
    tone = obs.replace(traces=obs.traces + 0.05 * np.sin(2 * np.pi * f_tone * t))
    theta = obs.truth
    base = float(waveform_log_likelihood(emulators, obs, emulator_error=error)(theta))
    moved = float(waveform_log_likelihood(emulators, tone, emulator_error=error)(theta))
    np.testing.assert_allclose(moved, base, rtol=1e-10)
    full = (0.0, 0.5 / obs.dt)
    base = float(waveform_log_likelihood(emulators, obs, emulator_error=error, band_hz=full)(theta))
    moved = float(
        waveform_log_likelihood(emulators, tone, emulator_error=error, band_hz=full)(theta)
    )
    assert moved < base - 100.0
    # the plain Whittle likelihood with a band is the sum over its bins
    lik = waveform_log_likelihood(emulators, obs, band_hz=(2.0, 20.0))
    n = obs.n_samples
    f = np.fft.rfftfreq(n, obs.dt)
    c = rfft_weights(n) * ((f >= 2.0) & (f <= 20.0))
    s_k = per_bin_variance(obs.noise, n, obs.dt)
    r = np.fft.rfft(obs.traces - _predicted(emulators, theta), axis=-1)
    expected = -0.5 * np.sum(c * (np.abs(r) ** 2 / (n * s_k) + np.log(2 * np.pi * s_k)))
    np.testing.assert_allclose(float(lik(theta)), expected, rtol=1e-5)


@pytest.mark.parametrize("coloured", [False, True])
def test_marginal_likelihood_equals_the_dense_gaussian(emulators, obs, error, coloured):
    """The likelihood with the error model is the Gaussian density with covariance
    circulant(noise + waveform error) + U M U^T (amplitude, timing, phase and width columns)."""
    o = obs
    if coloured:
        f = np.fft.rfftfreq(obs.n_samples, obs.dt)
        psd = np.stack([(1e-4 * (r + 1)) ** 2 * obs.dt * marine_psd(f) for r in range(4)])
        o = obs.replace(noise=ColouredNoise(psd, obs.dt))
    # float64 networks in both, so that rounding does not enter the (large) quadratic form
    model64 = forward_model(emulators, dtype=jnp.float64)
    nyquist = 0.5 / o.dt
    lik = waveform_log_likelihood(model64, o, emulator_error=error, band_hz=(0.0, nyquist))
    pred = _predicted(model64, THETA)
    n = o.n_samples
    s_k = per_bin_variance(o.noise, n, o.dt)
    spec = np.fft.rfft(pred, axis=-1)
    # the floor follows the observed signal power in the model's band (less the noise's)
    c = rfft_weights(n) * band_mask(error.band_hz, n, o.dt)
    d_k = np.fft.rfft(o.traces, axis=-1)
    signal = np.maximum(np.sum(c * (np.abs(d_k) ** 2 - n * s_k), axis=-1), 0.0) / n**2
    basis = error_basis(n, o.dt)
    blocks, columns = [], np.zeros((4 * n, 16))
    for r in range(4):
        power = s_k[r] + signal[r] * error.floor_fraction[r] / n
        full = np.concatenate([power, power[1:][::-1]])
        blocks.append(linalg.circulant(np.real(np.fft.ifft(full))))
        for j in range(4):
            columns[r * n : (r + 1) * n, 4 * r + j] = np.fft.irfft(basis[:, j] * spec[r], n)
    cov = linalg.block_diag(*blocks) + columns @ error.covariance @ columns.T
    expected = stats.multivariate_normal(pred.ravel(), cov).logpdf(o.traces.ravel())
    np.testing.assert_allclose(float(lik(THETA)), expected, rtol=1e-6)


def test_error_widens_the_likelihood_and_follows_t0(emulators, obs, error):
    plain = waveform_log_likelihood(emulators, obs, domain="frequency")
    with_err = waveform_log_likelihood(emulators, obs, emulator_error=error)
    truth = obs.truth
    off = truth + np.array([0.0, 0.0, 0.01, 0.0, 0.0])  # 10 m deeper
    drop_plain = float(plain(truth)) - float(plain(off))
    drop_err = float(with_err(truth)) - float(with_err(off))
    assert 0 < drop_err < drop_plain
    # the same event shifted in time and scaled: the error model moves with it, so the
    # likelihood of shifted data at the shifted truth equals the original's (up to the
    # zero-filled end of the shifted trace, which changes its spectrum slightly)
    moved = truth + np.array([0.0, 0.0, 0.0, 0.02, 0.0])
    with jax.enable_x64(True):
        shifted = np.asarray(make_forward(emulators)(jnp.asarray(moved)), np.float64)
        base = np.asarray(make_forward(emulators)(jnp.asarray(truth)), np.float64)
    o2 = obs.replace(traces=obs.traces - base + shifted)
    lik2 = waveform_log_likelihood(emulators, o2, emulator_error=error)
    # (within 1 of about 1200: missing t0 by 2 ms costs about 18)
    np.testing.assert_allclose(float(lik2(moved)), float(with_err(truth)), atol=1.0)


def test_gradient_matches_finite_differences(emulators, obs, error):
    lik = waveform_log_likelihood(
        forward_model(emulators, dtype=jnp.float64), obs, emulator_error=error
    )
    with jax.enable_x64(True):
        model = jax.tree.map(jnp.asarray, lik.model)
        data = jax.tree.map(jnp.asarray, lik.data)
        f = jax.jit(lambda t: lik.fn(t, model, data))
        t0 = jnp.asarray(THETA)
        g = np.asarray(jax.grad(f)(t0))
        steps = np.array([1e-5, 1e-5, 1e-5, 1e-6, 1e-5])
        fd = np.array(
            [
                (f(t0 + h * e) - f(t0 - h * e)) / (2 * h)
                for h, e in zip(steps, np.eye(5), strict=True)
            ]
        )
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_bad_input(emulators, obs, error, bench):
    with pytest.raises(ValueError, match="other receivers"):
        waveform_log_likelihood(
            emulators[:3], obs.match(forward_model(emulators[:3]).receivers_km),
            emulator_error=error,
        )  # fmt: skip
    with pytest.raises(ValueError, match="domain='frequency'"):
        waveform_log_likelihood(emulators, obs, emulator_error=error, domain="time")
    with pytest.raises(ValueError, match="not both"):
        waveform_log_likelihood(
            emulators, obs, emulator_error=error, extra_variance=np.zeros((4, 1))
        )
    cov = error.covariance.copy()
    cov[1, 1] = np.nan
    with pytest.raises(ValueError, match="covariance must be finite"):
        waveform_log_likelihood(emulators, obs, emulator_error=error._replace(covariance=cov))
    with pytest.raises(ValueError, match="positive semi-definite"):
        bad = error._replace(covariance=-np.eye(16))
        waveform_log_likelihood(emulators, obs, emulator_error=bad)
    idx = bench.indices("validation")
    with pytest.raises(ValueError, match="at least 20"):
        fit_emulator_error(emulators, bench.sources[idx[:5]], bench.traces[list(ROWS)][:, idx[:5]])
    with pytest.raises(ValueError, match="traces must be"):
        fit_emulator_error(emulators, bench.sources[idx[:30]], bench.traces[1:3][:, idx[:30]])
    with pytest.raises(ValueError, match="holds no frequency bin"):
        waveform_log_likelihood(emulators, obs, band_hz=(30.0, 10.0))
    with pytest.raises(ValueError, match="holds no frequency bin"):
        waveform_log_likelihood(emulators, obs, band_hz=(200.0, 300.0))
    with pytest.raises(ValueError, match="two frequencies"):
        waveform_log_likelihood(emulators, obs, band_hz=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="band_hz needs domain='frequency'"):
        waveform_log_likelihood(emulators, obs, band_hz=(1.0, 20.0), domain="time")
    with pytest.raises(ValueError, match="band_hz must be"):
        waveform_log_likelihood(
            emulators, obs, emulator_error=error._replace(band_hz=np.array([5.0, 1.0]))
        )
    with pytest.raises(ValueError, match="must be an EmulatorError"):
        waveform_log_likelihood(emulators, obs, emulator_error={"a": 1})
    assert isinstance(error, EmulatorError)
