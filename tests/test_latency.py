"""Latency helpers: the NumPy forward model agrees with the JAX one; the measurement functions
return their documented keys (no wall-clock bounds are asserted: the machine is shared)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis import latency
from jaxseis.emulators.networks import init_state
from jaxseis.emulators.pca import fit_pca
from jaxseis.geometry import source_features
from jaxseis.gp import GaussianProcesses
from jaxseis.preprocess import align, fit_alignment, fit_standardizer, unalign
from jaxseis.runtime import single_threaded_blas

FORWARD_KEYS = ("single_call_us", "in_loop_us", "numpy_in_loop_us", "in_loop_over_numpy")


def _tiny_emulator(bench, kind: str, receiver: int, n: int = 150, seed: int = 0):
    """An emulator with the real structure, built without training (no compilation): real
    alignment, peak GPs conditioned in NumPy with fixed unit hyperparameters, an untrained
    network. Latency and the NumPy/JAX agreement do not depend on training."""
    data = em.training_data(bench, receiver, n_train=n)
    x = source_features(data.train_sources, data.receiver_km)
    alignment = fit_alignment(data.train_traces, data.dt, seed=seed)
    aligned, log_ratio, shift = align(alignment, data.train_traces)
    xs, ys = fit_standardizer(x), fit_standardizer(np.stack([log_ratio, shift], axis=1))
    xz, yz = xs.apply(x), ys.apply(np.stack([log_ratio, shift], axis=1))
    r = np.sqrt(3.0) * np.linalg.norm(xz[:, None, :] - xz[None, :, :], axis=-1)
    k = (1.0 + r) * np.exp(-r) + 0.05**2 * np.eye(n)
    gps = GaussianProcesses(
        x=xz, alpha=np.linalg.solve(k, yz).T, log_amp=np.zeros(2), log_scales=np.zeros((2, 4)),
        log_noise=np.full(2, np.log(0.05)), x_scaler=xs, y_mean=ys.mean, y_std=ys.std,
    )  # fmt: skip
    n_samples = data.train_traces.shape[1]
    if kind == "nn_direct":
        spec = {"type": "mlp", "sizes": [4, 64, 128, 256, n_samples], "slope": 0.2}
        core, config = {"net": init_state(spec, seed)}, {"net": spec, "learning_rate": 1e-3}
    else:
        pca = fit_pca(aligned / alignment.ref_amplitude, 20)
        spec = {"type": "mlp", "sizes": [4, 50, 50, 50, 20], "slope": 0.2}
        core = {"pca": {k: v for k, v in pca.items() if k != "explained"},
                "net": init_state(spec, seed)}  # fmt: skip
        config = {"net": spec, "n_components": 20}
    return em.Emulator(kind, np.asarray(data.receiver_km), data.dt, n_samples, xs, alignment,
                       gps, core, config, {})  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


@pytest.fixture(scope="module")
def emulators(bench):
    """Two NN-direct emulators (receivers 1, 2) and one PCA+NN (receiver 0)."""
    with single_threaded_blas():  # OpenBLAS threads on a busy 2-core machine: 5 s per SVD
        return {
            "nn_direct": [_tiny_emulator(bench, "nn_direct", r) for r in (1, 2)],
            "pca_nn": [_tiny_emulator(bench, "pca_nn", 0)],
        }


def _test_sources(bench, receiver_km):
    """Held-out sources plus extreme ones: next to the receiver and in the far corners."""
    val = bench.sources[bench.indices("validation")[:6]]
    near = np.asarray(receiver_km) - np.array([0.0, 0.0, 0.02])
    corners = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 2.4]])
    return np.concatenate([val, near[None], corners])


@pytest.mark.parametrize("kind", ["nn_direct", "pca_nn"])
def test_numpy_forward_matches_jax(emulators, bench, kind):
    e = emulators[kind][0]
    sources = _test_sources(bench, e.receiver_km)
    with jax.enable_x64(True):  # GPs in float64 in both (float32 GPs lose their digits)
        f = jax.jit(em.make_predictor(e))
        want = np.stack([np.asarray(f(jnp.asarray(s))) for s in sources])
    got = np.stack([latency.numpy_forward(e)(s) for s in sources])  # GPs in float64
    assert got.shape == want.shape == (len(sources), e.n_samples)
    assert got.dtype == np.float32
    scale = np.abs(want).max(axis=1, keepdims=True)
    assert np.all(scale > 0)
    # float32 networks; the fractional-shift weights differ by float32 rounding only
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=2e-4)


@pytest.mark.parametrize("shift_s", [0.0, 0.0123, -0.0417, 0.5, -0.9, 1.7, -2.5, 3.1])
def test_numpy_unalign_matches_fractional_shift(emulators, shift_s):
    """The 16-tap correlation equals JAX's per-sample Kaiser-sinc weights, zero fill included
    (shifts beyond the trace length give zeros)."""
    e = emulators["nn_direct"][0]
    parts = latency._numpy_parts(e, np.float32, np.float64)
    trace = np.random.default_rng(3).normal(size=e.n_samples).astype(np.float32)
    want = e.alignment.ref_amplitude * np.asarray(
        unalign(jnp.asarray(trace), jnp.float32(0.3), jnp.float32(shift_s), e.dt)
    )
    got = parts.unalign(trace, 0.3, shift_s)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-4 * np.abs(want).max(initial=1e-3))


def test_numpy_forward_rejects_other_families(emulators):
    other = emulators["nn_direct"][0]._replace(kind="pca_gp")
    with pytest.raises(ValueError, match="latency is measured for"):
        latency.numpy_forward(other)
    with pytest.raises(TypeError):
        latency.numpy_forward("not an emulator")


def _positive_finite(d, keys):
    for k in keys:
        assert k in d, k
        assert isinstance(d[k], float) and math.isfinite(d[k]) and d[k] > 0, (k, d[k])


@pytest.mark.parametrize("kind", ["nn_direct", "pca_nn"])
def test_measure_forward_latency_keys(emulators, kind):
    r = latency.measure_forward_latency(
        emulators[kind][0], n_repeat=5, n_loop=4, n_loop_repeat=1, batch_sizes=(10, 100),
        n_batch_repeat=1, chunk_size=64,
    )  # fmt: skip
    _positive_finite(r, (*FORWARD_KEYS, "traces_per_s_1e1", "traces_per_s_1e2"))
    assert r["kind"] == kind and r["x64"] is True
    assert r["dispatch"] == latency.dispatch_mode()
    stages = r["details"]["stages_in_loop_us"]
    assert set(stages) == {"core", "gps", "unalign"}
    for s in stages.values():
        _positive_finite(s, ("jax_in_loop_us", "numpy_in_loop_us"))
    assert r["details"]["batches"]["100"]["chunk_size"] == 64


def test_measure_forward_latency_in_the_other_dispatch_mode(emulators):
    """The mode that this process does not run in is measured in a subprocess."""
    want_sync = latency.dispatch_mode() == "async"
    r = latency.measure_forward_latency(
        emulators["nn_direct"][0], n_repeat=5, n_loop=4, n_loop_repeat=1, batch_sizes=(),
        components=False, sync_dispatch=want_sync, x64=False,
    )  # fmt: skip
    _positive_finite(r, FORWARD_KEYS)
    assert r["dispatch"] == ("sync" if want_sync else "async")
    assert r["measured_in_subprocess"] is True
    assert r["x64"] is False and r["details"]["stages_in_loop_us"] == {}


def test_measure_loglike_grad_keys(emulators, bench):
    ems = emulators["nn_direct"]
    src = bench.sources[bench.indices("validation")[0]]
    observed = np.stack([em.predict(e, src) for e in ems])
    r = latency.measure_loglike_grad(ems, observed, 0.05 * np.abs(observed).max(), n_repeat=5)
    _positive_finite(r, ("loglike_grad_us", "loglike_us"))
    assert r["n_receivers"] == 2 and r["finite"] is True and r["kinds"] == ["nn_direct"]


def test_enable_sync_dispatch_refuses_a_running_backend():
    jnp.ones(2).block_until_ready()  # the backend exists from here on
    mode = latency.dispatch_mode()
    latency.enable_sync_dispatch(mode == "sync")  # the current mode: a no-op
    with pytest.raises(RuntimeError, match="before the first JAX computation"):
        latency.enable_sync_dispatch(mode == "async")
    assert latency.dispatch_mode() == mode


def test_batch_key_and_helpers():
    assert latency.batch_key(1_000) == "traces_per_s_1e3"
    assert latency.batch_key(100_000) == "traces_per_s_1e5"
    assert latency.batch_key(2_500) == "traces_per_s_2500"
    s = latency.random_sources(50, seed=1)
    assert s.shape == (50, 3)
    np.testing.assert_array_equal(s, latency.random_sources(50, seed=1))
    lo, hi = latency.SOURCE_BOX_KM
    assert np.all((s >= lo) & (s <= hi))
    t = latency.time_calls(lambda: None, 4, n_warmup=0)
    assert t.shape == (4,) and np.all(t >= 0)
    with pytest.raises(ValueError):
        latency.time_calls(lambda: None, 0)
    info = latency.machine_info()
    assert info["cores"] and info["jax"] == jax.__version__
