"""The multi-receiver forward model: stacking, gradients, composition with the likelihood."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.forward import forward_model, make_forward, validation_error_variance
from jaxseis.likelihood import waveform_log_likelihood
from jaxseis.noise import WhiteNoise
from jaxseis.train import TrainConfig

FAST = TrainConfig(max_epochs=200, patience=30, progress=False)
GP_FAST = {"n_subset": 120, "n_iter": 80, "n_restarts": 1}


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


@pytest.fixture(scope="module")
def emulators(bench):
    return [
        em.fit("nn_direct", em.training_data(bench, r, n_train=300), seed=r, config=FAST,
               gp_options=GP_FAST)
        for r in (1, 2)
    ]  # fmt: skip


def test_stacked_forward_equals_per_receiver_predictors(emulators, bench):
    assert forward_model(emulators).static[0] == "stacked"  # same family and shapes: one vmap
    assert forward_model(emulators, stack=False).static[0] == "loop"
    src = bench.sources[bench.indices("validation")[0]]
    with jax.enable_x64(True):
        fwd = make_forward(emulators)
        out = np.asarray(fwd(jnp.asarray(src)))
        singles = [np.asarray(jax.jit(em.make_predictor(e))(jnp.asarray(src))) for e in emulators]
        looped = np.asarray(make_forward(emulators, stack=False)(jnp.asarray(src)))
    assert out.shape == (2, 501)
    np.testing.assert_allclose(out, np.stack(singles), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(looped, out, rtol=1e-5, atol=1e-7)
    # five event parameters: a position [3] is (x, y, z, t0=0, log_amplitude=0), and the
    # amplitude scales every trace
    with jax.enable_x64(True):
        full = np.asarray(fwd(jnp.asarray([*src, 0.0, 0.0])))
        doubled = np.asarray(fwd(jnp.asarray([*src, 0.0, np.log(2.0)])))
    np.testing.assert_allclose(full, out, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(doubled, 2.0 * out, rtol=1e-5, atol=1e-7)


def test_forward_gradient_matches_finite_differences(emulators, bench):
    src = bench.sources[bench.indices("validation")[3]]
    w = jnp.asarray(np.random.default_rng(1).normal(size=(2, 501)))
    with jax.enable_x64(True):
        fwd = make_forward(emulators, dtype=jnp.float64)
        loss = jax.jit(lambda s: jnp.sum(w * fwd(s)))
        s0 = jnp.asarray(src, jnp.float64)
        g = np.asarray(jax.jit(jax.grad(loss))(s0))
        h = 1e-5
        fd = np.array([(loss(s0 + h * e) - loss(s0 - h * e)) / (2 * h) for e in jnp.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_likelihood_peaks_near_the_true_source(emulators, bench):
    """Noise-free observation of a held-out source: the log-likelihood is higher at the truth
    than 50 m away in any direction."""
    i = bench.indices("validation")[10]
    src = bench.sources[i]
    observed = bench.traces[[1, 2], i]
    sigma = 0.056 * float(np.abs(observed).max())
    obs = js.observe(bench, emulators, event=i, noise=WhiteNoise(np.full(2, sigma)))
    np.testing.assert_array_equal(obs.traces, observed)  # no noise key: the clean traces
    loglike = waveform_log_likelihood(emulators, obs)
    at_truth = float(loglike(src))
    for e in np.eye(3):
        for sgn in (-1, 1):
            assert float(loglike(src + sgn * 0.05 * e)) < at_truth


def test_validation_error_variance_is_small_and_positive(emulators, bench):
    idx = bench.indices("validation")[:100]
    var = validation_error_variance(emulators[0], bench.sources[idx], bench.traces[1, idx])
    assert var.shape == (501,) and np.all(var >= 0)
    assert var.max() < 0.05 * np.var(bench.traces[1, idx], axis=0).max() + 1e-12


def test_forward_errors(emulators):
    with pytest.raises(ValueError, match="at least one"):
        make_forward([])
    other = emulators[0]._replace(dt=0.002)
    with pytest.raises(ValueError, match="dt"):
        make_forward([emulators[0], other])


def test_forward_refuses_float32_peak_gps_unless_asked(emulators):
    with pytest.raises(ValueError, match="need float64"):
        make_forward(emulators)
    # the forward model always keeps the peak GPs in float64 (it can be built outside x64
    # mode and evaluated inside it); only a single predictor accepts float32 GPs, if asked
    model = forward_model(emulators)
    assert model.x64
    with jax.enable_x64(True):
        fwd = make_forward(model)
        assert fwd(jnp.asarray([0.4, 0.3, 1.5])).shape == (len(emulators), emulators[0].n_samples)
    with pytest.raises(ValueError, match="need float64"):
        em.make_predictor(emulators[0])
    pred = em.make_predictor(emulators[0], gp_dtype=jnp.float32)  # explicit: accepted
    assert pred(jnp.asarray([0.4, 0.3, 1.5])).shape == (emulators[0].n_samples,)
