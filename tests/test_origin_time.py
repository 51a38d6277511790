"""The origin time marginalised out of the waveform likelihood: the integral against a brute
force one, gradients against finite differences, conditional draws against the exact density,
bad settings, and NUTS of the catalogue's Locator on the marginal."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.forward import apply_forward, apply_spectra
from jaxseis.likelihood.origin_time import marginal_origin_time
from jaxseis.likelihood.waveform import waveform_data, waveform_template
from jaxseis.noise import ColouredNoise, marine_psd

WINDOW = (-0.3, 0.3)


@pytest.fixture(scope="module")
def obs(emulators):
    bench = js.load_benchmark()
    i = int(bench.indices("test")[0])
    return js.observe(bench, emulators, event=i, noise_key=jax.random.key(1), t0=0.055,
                      log_amplitude=-0.46, event_id="ev")  # fmt: skip


def _data(model, obs, domain="time"):
    data, _ = waveform_data(model, obs, domain=domain)
    return jax.tree.map(jnp.asarray, data)


def _bins(model):
    return model.n_samples // 2 + 1


def _brute(model, data, theta, t0s):
    """``log L`` of the phase-ramp-shifted traces at origin times ``t0s``, in NumPy."""
    params = jax.tree.map(jnp.asarray, model.params)
    h = np.asarray(apply_spectra(model.static, params, jnp.asarray(theta[:3]), _bins(model)))
    w, d = np.asarray(data["weight"]), np.asarray(data["spec"])
    f = np.fft.rfftfreq(model.n_samples, model.dt)
    amp = np.exp(theta[4])
    out = []
    for t in t0s:  # the shifted traces' residual, bin by bin
        r = d - amp * h * np.exp(-2j * np.pi * f * t)
        out.append(float(data["log_norm"]) - 0.5 * np.sum(w * np.abs(r) ** 2))
    return np.array(out)


@pytest.mark.parametrize("domain", ["time", "coloured"])
def test_marginal_equals_the_integral_of_the_likelihood(model, obs, domain):
    """Against the trapezoid rule on 12,001 origin times of the likelihood of the
    phase-ramp-shifted traces, written out bin by bin: white noise (time-domain data) and
    coloured noise (Whittle)."""
    if domain == "coloured":
        f = np.fft.rfftfreq(obs.n_samples, obs.dt)
        shape = marine_psd(f) / marine_psd(f).mean()  # about the white noise's power
        psd = np.stack([s**2 * obs.dt * shape for s in np.asarray(obs.noise.sigma)])
        obs, domain = obs.replace(noise=ColouredNoise(psd, obs.dt)), "frequency"
    with jax.enable_x64(True):
        data = _data(model, obs, domain)
        marginal = marginal_origin_time(model, WINDOW)
        near = np.asarray(obs.truth) + np.array([0.01, -0.01, 0.02, 0.0, 0.1])
        for theta in (np.asarray(obs.truth), near):
            t0s = np.linspace(*WINDOW, 12001)
            ll = _brute(model, data, theta, t0s)
            expected = logsumexp(ll, b=np.r_[0.5, np.ones(11999), 0.5]) + np.log(
                (t0s[1] - t0s[0]) / (WINDOW[1] - WINDOW[0])
            )
            fn = jax.jit(marginal)
            value = float(fn(jnp.asarray(theta), model.params, data))
            # (the networks run in float32: the two compilations of the forward model round
            # differently, by about 1e-5 nats at this signal-to-noise ratio)
            assert abs(value - expected) < 5e-4
            # theta[3] is not used
            assert float(fn(jnp.asarray(theta).at[3].set(-0.2), model.params, data)) == value


def test_spectra_are_the_ffts_of_the_traces(model, obs):
    """The emulated spectra: NN direct's output layer composed with the DFT gives the FFT of
    the aligned trace to float32 round-off, and with the peak delay as a phase ramp the
    spectra are within 0.5 % of the FFT of the traces shifted by the 16-tap interpolator."""
    from jaxseis.emulators.predictor import apply_predictor_spectrum

    with jax.enable_x64(True):
        params = jax.tree.map(jnp.asarray, model.params)
        pos = jnp.asarray(obs.truth[:3])
        bins = _bins(model)
        spectra = np.asarray(apply_spectra(model.static, params, pos, bins))
        traces = np.asarray(apply_forward(model.static, params, jnp.r_[pos, 0.0, 0.0]))
        ffts = np.fft.rfft(traces, axis=-1)
        assert spectra.shape == ffts.shape
        assert np.linalg.norm(spectra - ffts) < 5e-3 * np.linalg.norm(ffts)
        # the same bins through the FFT of the aligned trace (no folded output layer)
        no_head = {k: v for k, v in params.items() if k != "head"}
        one = jax.tree.map(lambda a: a[0], no_head)
        via_fft = np.asarray(apply_predictor_spectrum(model.static[1], one, pos, 20))
        assert np.allclose(via_fft, spectra[0, :20], rtol=0, atol=1e-5 * np.abs(via_fft).max())

        # differentiable: the gradient of the energy against finite differences
        def energy(p):
            return jnp.sum(jnp.abs(apply_spectra(model.static, params, p, 49)) ** 2)

        energy = jax.jit(energy)
        grad = np.asarray(jax.grad(energy)(pos))
        for i in range(3):
            step = jnp.zeros(3).at[i].set(1e-4)
            fd = (float(energy(pos + step)) - float(energy(pos - step))) / 2e-4
            np.testing.assert_allclose(grad[i], fd, rtol=1e-2, atol=1e-3 * np.abs(grad).max())


def test_marginal_is_close_to_the_integral_of_the_interpolated_shift(model, obs):
    """The forward model shifts with a 16-tap interpolator: its likelihood's integral over t0
    differs from the marginal's by a fraction of a nat."""
    with jax.enable_x64(True):
        data = _data(model, obs)
        theta = jnp.asarray(obs.truth)
        fn = waveform_template(model, "time").fn
        t0s = np.linspace(*WINDOW, 12001)
        at = jax.jit(jax.vmap(lambda t, p: fn(theta.at[3].set(t), p, data), (0, None)))
        ll = np.asarray(at(jnp.asarray(t0s), model.params))
        integral = logsumexp(ll) + np.log((t0s[1] - t0s[0]) / 0.6)
        value = float(marginal_origin_time(model, WINDOW)(theta, model.params, data))
        assert abs(value - integral) < 0.3


def test_gradient_matches_finite_differences(model, obs):
    with jax.enable_x64(True):
        data = _data(model, obs)
        marginal = marginal_origin_time(model, WINDOW)
        theta = jnp.asarray(obs.truth) + jnp.array([0.004, -0.003, 0.006, 0.0, 0.05])
        grad = np.asarray(jax.jit(jax.grad(marginal))(theta, model.params, data))
        assert grad[3] == 0.0
        for i, eps in ((0, 1e-4), (1, 1e-4), (2, 1e-4), (4, 1e-5)):
            up = float(marginal(theta.at[i].add(eps), model.params, data))
            down = float(marginal(theta.at[i].add(-eps), model.params, data))
            # the networks run in float32: finite differences carry their round-off
            np.testing.assert_allclose(grad[i], (up - down) / (2 * eps), rtol=2e-2, atol=1.0)


def test_conditional_draws_follow_the_exact_density(model, obs):
    """20,000 draws of t0 given the rest: mean and spread of the exact conditional density
    (a narrow peak, about 0.2 ms wide, at the event's true origin time)."""
    with jax.enable_x64(True):
        data = _data(model, obs)
        marginal = marginal_origin_time(model, WINDOW)
        theta = np.asarray(obs.truth)
        t0s = np.linspace(*WINDOW, 240001)
        ll = _brute(model, data, theta, t0s)
        p = np.exp(ll - ll.max())
        p /= p.sum()
        mean = np.sum(p * t0s)
        sd = np.sqrt(np.sum(p * (t0s - mean) ** 2))
        keys = jax.random.split(jax.random.key(0), 20000)
        draw = jax.jit(jax.vmap(marginal.draw_t0, (0, None, None, None)))
        t0 = np.asarray(draw(keys, jnp.asarray(theta), model.params, data))
    assert abs(mean - obs.truth[3]) < 5 * sd
    assert abs(t0.mean() - mean) < 5 * sd / np.sqrt(t0.size)
    assert t0.std() == pytest.approx(sd, rel=0.02)
    assert np.all((t0 >= WINDOW[0]) & (t0 <= WINDOW[1]))


def test_a_short_window_is_refined_everywhere(model, obs):
    """When the window holds fewer coarse intervals than the refinement, all of it is fine."""
    with jax.enable_x64(True):
        data = _data(model, obs)
        window = (0.045, 0.065)
        marginal = marginal_origin_time(model, window)
        assert marginal.num_refined == marginal.num_coarse
        theta = np.asarray(obs.truth)
        t0s = np.linspace(*window, 8001)
        ll = _brute(model, data, theta, t0s)
        expected = logsumexp(ll, b=np.r_[0.5, np.ones(7999), 0.5]) + np.log(
            (t0s[1] - t0s[0]) / (window[1] - window[0])
        )
        assert float(marginal(jnp.asarray(theta), model.params, data)) == pytest.approx(
            expected, abs=5e-4
        )


def test_bad_settings(model):
    with pytest.raises(ValueError, match="needs low < high"):
        marginal_origin_time(model, (0.1, 0.1))
    with pytest.raises(ValueError, match="bins must be in"):
        marginal_origin_time(model, WINDOW, bins=1000)
    with pytest.raises(ValueError, match="fine must be an integer"):
        marginal_origin_time(model, WINDOW, fine=0)


def test_locator_refuses_a_marginal_it_cannot_compute(emulators):
    from jaxseis.pretrained import bundled_emulator_error

    error = bundled_emulator_error((1, 2, 3, 4))
    nuts = cat.CATALOGUE_NUTS._replace(marginal_t0=True)
    with pytest.raises(ValueError, match="emulator error model"):
        cat.Locator(emulators, js.event_prior(), method="nuts", domain="frequency",
                    emulator_error=error, nuts=nuts)  # fmt: skip
    with pytest.raises(ValueError, match="the prior fixes t0"):
        cat.Locator(emulators, js.event_prior(t0=0.0), method="nuts", nuts=nuts)
    with pytest.raises(ValueError, match="marginal_t0 must be None, True or False"):
        js.locate(lambda p: -jnp.sum(p**2), js.paper_prior(), key=jax.random.key(0),
                  options=js.NutsOptions(marginal_t0="yes"))  # fmt: skip
    # the defaults: marginal where it can be computed
    assert cat.Locator(emulators, js.event_prior(), method="nuts").marginal_t0
    assert not cat.Locator(emulators, js.event_prior(t0=0.0), method="nuts").marginal_t0


def test_locator_nuts_with_the_marginal(emulators):
    """Short chains on two events: every parameter sampled (t0 from its conditional), the
    truth within the posterior, the same records whatever the block an event lands in."""
    bench = js.load_benchmark()
    events = []
    for i, t0, la in zip(bench.indices("test")[1:3], (0.1, -0.12), (0.3, -0.4), strict=True):
        key = jax.random.key(int(i))
        events.append(js.observe(bench, emulators, event=int(i), noise_key=key, t0=t0,
                                 log_amplitude=la, event_id=f"ev{i}"))  # fmt: skip
    stage = cat.CATALOGUE_STAGE._replace(num_draws=1024, chunk_size=512, num_polish=2)
    nuts = cat.CATALOGUE_NUTS._replace(num_chains=2, num_warmup=150, num_draws=150)
    locator = cat.Locator(emulators, js.event_prior(), method="nuts", stage=stage, nuts=nuts,
                          block_size=2, seed=1, keep_draws=True)  # fmt: skip
    before = cat.trace_counts()
    records = locator.locate_blocks(events)
    counts = cat.trace_counts()
    assert {k: counts[k] - before.get(k, 0) for k in ("nuts", "t0_draws")} == {
        "nuts": 1, "t0_draws": 1,
    }  # fmt: skip
    for obs, rec in zip(events, records, strict=True):
        assert rec["status"] == "ok" and rec["t0_marginalised"]
        draws = np.asarray(rec["draws"])
        assert draws.shape == (300, 5) and np.unique(draws[:, 3]).size == 300
        z = (np.asarray(rec["mean"]) - obs.truth) / np.asarray(rec["std"])
        assert np.all(np.abs(z) < 4), z
        assert set(rec["ess"]) == set(js.PARAMS)
    alone = locator.locate(events[1])
    assert alone["mean"] == records[1]["mean"] and alone["q2_5"] == records[1]["q2_5"]


def test_locate_nuts_with_the_marginal(model, obs):
    """The per-event path samples the marginal by default: t0 drawn per draw, the joint
    log-likelihood recorded, the truth inside the posterior; ``marginal_t0=False`` samples
    all five jointly."""
    lik = js.waveform_log_likelihood(model, obs)
    stage = js.GlobalStage(num_draws=2048, chunk_size=1024, num_polish=4)
    options = js.NutsOptions(num_chains=2, num_warmup=150, num_draws=150, max_num_doublings=5,
                             global_stage=stage)  # fmt: skip
    idata = js.locate(lik, js.event_prior(), key=jax.random.key(2), options=options,
                      diagnostics=False)  # fmt: skip
    assert idata.posterior.attrs["t0_marginalised"] == 1
    post = idata.posterior
    theta = np.stack([np.asarray(post[p]) for p in js.PARAMS], axis=-1)
    assert np.unique(theta[..., 3]).size == theta[..., 3].size
    z = (theta.reshape(-1, 5).mean(0) - obs.truth) / theta.reshape(-1, 5).std(0)
    assert np.all(np.abs(z) < 4), z
    expected = [float(lik(t)) for t in theta[0, :5]]  # (float32 networks: round-off)
    np.testing.assert_allclose(np.asarray(idata.sample_stats["loglik"])[0, :5], expected,
                               rtol=0, atol=1e-3)  # fmt: skip
    with pytest.raises(ValueError, match="marginal_t0=True cannot be used: the prior fixes"):
        js.locate(lik, js.event_prior(t0=0.0), key=jax.random.key(2),
                  options=options._replace(marginal_t0=True))  # fmt: skip
