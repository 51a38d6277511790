"""Timing: the package's jaxseis.timing returns its documented statistics for any emulator
family and log-likelihood; the bench harness (bench/benchlib.py) has a NumPy forward model
that agrees with the JAX one, measures in a fresh process with the other dispatch mode and
writes strict JSON. No wall-clock bounds are asserted: the machine is shared."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_bench_script

import jaxseis as js
from jaxseis import emulators as em
from jaxseis import timing
from jaxseis.emulators.networks import init_state
from jaxseis.emulators.pca import fit_pca
from jaxseis.geometry import source_features
from jaxseis.gp import GaussianProcesses, gps_to_dict, predict_gps
from jaxseis.preprocess import align, fit_alignment, fit_standardizer, unalign
from jaxseis.runtime import single_threaded_blas


def _fixed_gps(x, y, noise: float = 0.05) -> GaussianProcesses:
    """GPs of the targets ``y [n, m]`` conditioned in NumPy with unit hyperparameters."""
    xs, ys = fit_standardizer(x), fit_standardizer(y)
    xz = xs.apply(x)
    r = np.sqrt(3.0) * np.linalg.norm(xz[:, None, :] - xz[None, :, :], axis=-1)
    k = (1.0 + r) * np.exp(-r) + noise**2 * np.eye(len(x))
    m, d = y.shape[1], x.shape[1]
    return GaussianProcesses(
        x=xz, alpha=np.linalg.solve(k, ys.apply(y)).T, log_amp=np.zeros(m),
        log_scales=np.zeros((m, d)), log_noise=np.full(m, np.log(noise)), x_scaler=xs,
        y_mean=ys.mean, y_std=ys.std,
    )  # fmt: skip


def _tiny_emulator(bench, kind: str, receiver: int, n: int = 150, seed: int = 0):
    """An emulator with the real structure, built without training (no compilation): real
    alignment, peak GPs conditioned in NumPy with fixed unit hyperparameters, an untrained
    network (or, for ``pca_gp``, coefficient GPs like the peak ones). Timing and the
    NumPy/JAX agreement do not depend on training."""
    data = em.training_data(bench, receiver, n_train=n)
    x = source_features(data.train_sources, data.receiver_km)
    alignment = fit_alignment(data.train_traces, data.dt, seed=seed)
    aligned, log_ratio, shift = align(alignment, data.train_traces)
    xs = fit_standardizer(x)
    gps = _fixed_gps(x, np.stack([log_ratio, shift], axis=1))
    n_samples = data.train_traces.shape[1]
    if kind == "nn_direct":
        spec = {"type": "mlp", "sizes": [4, 64, 128, 256, n_samples], "slope": 0.2}
        core, config = {"net": init_state(spec, seed)}, {"net": spec, "learning_rate": 1e-3}
    else:
        pca = fit_pca(aligned / alignment.ref_amplitude, 20)
        arrays = {k: v for k, v in pca.items() if k != "explained"}
        if kind == "pca_nn":
            spec = {"type": "mlp", "sizes": [4, 50, 50, 50, 20], "slope": 0.2}
            core, config = {"pca": arrays, "net": init_state(spec, seed)}, {"net": spec}
        else:  # pca_gp: the coefficients' GPs on the standardised features
            coeffs = (aligned / alignment.ref_amplitude - pca["t_mean"]) / pca["t_std"]
            coeffs = (coeffs @ pca["components"].T - pca["c_mean"]) / pca["c_std"]
            core = {"pca": arrays, "gps": gps_to_dict(_fixed_gps(xs.apply(x), coeffs))}
            config = {}
        config["n_components"] = 20
    return em.Emulator(kind, np.asarray(data.receiver_km), data.dt, n_samples, xs, alignment,
                       gps, core, config, {})  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


@pytest.fixture(scope="module")
def emulators(bench):
    """Two NN-direct emulators (receivers 1, 2), one PCA+NN and one PCA+GP (receiver 0)."""
    with single_threaded_blas():  # OpenBLAS threads on a busy 2-core machine: 5 s per SVD
        return {
            "nn_direct": [_tiny_emulator(bench, "nn_direct", r) for r in (1, 2)],
            "pca_nn": [_tiny_emulator(bench, "pca_nn", 0)],
            "pca_gp": [_tiny_emulator(bench, "pca_gp", 0)],
        }


@pytest.fixture(scope="module")
def benchlib():
    return load_bench_script("benchlib")


def _positive_finite(d, keys):
    for k in keys:
        assert k in d, k
        assert isinstance(d[k], float) and math.isfinite(d[k]) and d[k] > 0, (k, d[k])


def _check_stats(s: timing.LatencyStats, n_repeat: int):
    assert s.n_repeat == n_repeat
    assert 0 < s.min <= s.p10 <= s.median <= s.p90
    assert all(math.isfinite(v) for v in s)


# --------------------------------------------------------------------------------------------
# jaxseis.timing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nn_direct", "pca_nn", "pca_gp"])
def test_forward_timing(emulators, kind):
    """Any family (PCA+GP has no NumPy reference): the documented keys and statistics."""
    t = timing.forward_timing(
        emulators[kind][0], n_repeat=5, n_loop=4, n_loop_repeat=2, batch_sizes=(10, 100),
        n_batch_repeat=1, chunk_size=64, seed=3,
    )  # fmt: skip
    assert t.kind == kind and t.x64 is True and t.dispatch == timing.dispatch_mode()
    _check_stats(t.single_call, 5)
    _check_stats(t.in_loop, 2)
    assert set(t.batches) == {10, 100}
    assert t.batches[100].chunk_size == 64 and t.batches[10].chunk_size == 10
    for n, b in t.batches.items():
        assert b.n_repeat == 1 and b.per_s == pytest.approx(n / b.median_s)
    d = json.loads(json.dumps(t.as_dict(), allow_nan=False))  # JSON-ready
    _positive_finite(d, ("single_call_us", "in_loop_us", "traces_per_s_1e1", "traces_per_s_1e2"))
    assert d["single_call_us"] == t.single_call.median and d["details"]["seed"] == 3
    assert d["details"]["batches"]["100"] == {
        "median_s": t.batches[100].median_s, "min_s": t.batches[100].min_s,
        "chunk_size": 64, "n_repeat": 1,
    }  # fmt: skip


def test_forward_timing_float32_and_bad_settings(emulators):
    e = emulators["nn_direct"][0]
    t = timing.forward_timing(e, n_repeat=3, n_loop=3, n_loop_repeat=1, batch_sizes=(), x64=False)
    assert t.x64 is False and t.batches == {}
    assert t.as_dict()["dtype"] == "network float32, GPs float32"
    with pytest.raises(ValueError, match="must be >= 1"):
        timing.forward_timing(e, n_loop=0)


def test_call_loop_and_batch_timing_of_any_function():
    f = lambda x: jnp.sin(x["a"]) * x["b"]  # a pytree argument
    xs = {"a": np.linspace(0, 1, 12).reshape(4, 3), "b": np.ones((4, 3))}
    rows = [jax.tree.map(lambda v, i=i: v[i], xs) for i in range(4)]
    _check_stats(timing.call_latency(jax.jit(f), rows, n_repeat=6, n_warmup=2), 6)
    _check_stats(timing.loop_latency(f, xs, n_repeat=3), 3)
    b = timing.batch_throughput(f, xs, chunk_size=100, n_repeat=2)
    assert b.chunk_size == 4 and b.n_repeat == 2 and b.per_s == pytest.approx(4 / b.median_s)
    with pytest.raises(ValueError, match="at least one input"):
        timing.call_latency(jax.jit(f), [])
    with pytest.raises(ValueError, match="chunk_size"):
        timing.batch_throughput(f, xs, chunk_size=0)


def test_loglike_timing(emulators, bench):
    ems = emulators["nn_direct"]
    src = bench.sources[bench.indices("validation")[0]]
    observed = np.stack([em.predict(e, src) for e in ems])
    obs = js.make_observation(
        observed, ems[0].dt, [e.receiver_km for e in ems], noise=js.WhiteNoise(0.05)
    )
    loglike = js.waveform_log_likelihood(ems, obs)  # float64 GPs by itself
    points = [np.r_[s, 0.01, 0.1] for s in timing.random_sources(4, seed=1)]  # all 5 parameters
    t = timing.loglike_timing(loglike, points, n_repeat=5)
    _check_stats(t.value, 5)
    _check_stats(t.value_and_grad, 5)
    assert t.finite is True and t.dispatch == timing.dispatch_mode()
    d = t.as_dict()
    _positive_finite(d, ("loglike_us", "loglike_grad_us"))
    # a log-likelihood that is NaN at the points is reported as not finite
    bad = timing.loglike_timing(lambda x: jnp.log(x[0] - 2.0), points, n_repeat=2)
    assert bad.finite is False


def test_enable_sync_dispatch_sets_the_flag():
    mode = timing.dispatch_mode()
    try:
        timing.enable_sync_dispatch()
        assert timing.dispatch_mode() == "sync"
        assert jax.config.read("jax_cpu_enable_async_dispatch") is False
        timing.enable_sync_dispatch(False)
        assert timing.dispatch_mode() == "async"
    finally:
        timing.enable_sync_dispatch(mode == "sync")


def test_batch_key_sources_and_machine_info():
    assert timing.batch_key(1_000) == "traces_per_s_1e3"
    assert timing.batch_key(100_000) == "traces_per_s_1e5"
    assert timing.batch_key(2_500) == "traces_per_s_2500"
    s = timing.random_sources(50, seed=1)
    assert s.shape == (50, 3)
    np.testing.assert_array_equal(s, timing.random_sources(50, seed=1))
    lo, hi = timing.SOURCE_BOX_KM
    assert np.all((s >= lo) & (s <= hi))
    t = timing.time_calls(lambda: None, 4, n_warmup=0)
    assert t.shape == (4,) and np.all(t >= 0)
    with pytest.raises(ValueError):
        timing.time_calls(lambda: None, 0)
    info = timing.machine_info()
    assert info["cores"] and info["jax"] == jax.__version__ and info["jaxseis"] == js.__version__
    json.dumps(info)


# --------------------------------------------------------------------------------------------
# bench/benchlib.py: the harness
# --------------------------------------------------------------------------------------------


def _test_sources(bench, receiver_km):
    """Held-out sources plus extreme ones: next to the receiver and in the far corners."""
    val = bench.sources[bench.indices("validation")[:6]]
    near = np.asarray(receiver_km) - np.array([0.0, 0.0, 0.02])
    corners = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 2.4]])
    return np.concatenate([val, near[None], corners])


@pytest.mark.parametrize("kind", ["nn_direct", "pca_nn"])
def test_numpy_forward_matches_jax(benchlib, emulators, bench, kind):
    e = emulators[kind][0]
    sources = _test_sources(bench, e.receiver_km)
    with jax.enable_x64(True):  # GPs in float64 in both (float32 GPs lose their digits)
        f = jax.jit(em.make_predictor(e))
        want = np.stack([np.asarray(f(jnp.asarray(s))) for s in sources])
    got = np.stack([benchlib.numpy_forward(e)(s) for s in sources])  # GPs in float64
    assert got.shape == want.shape == (len(sources), e.n_samples)
    assert got.dtype == np.float32
    scale = np.abs(want).max(axis=1, keepdims=True)
    assert np.all(scale > 0)
    # float32 networks; the fractional-shift weights differ by float32 rounding only
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=2e-4)


@pytest.mark.parametrize("shift_s", [0.0, 0.0123, -0.0417, 0.5, -0.9, 1.7, -2.5, 3.1])
def test_numpy_unalign_matches_fractional_shift(benchlib, emulators, shift_s):
    """The 16-tap correlation equals JAX's per-sample Kaiser-sinc weights, zero fill included
    (shifts beyond the trace length give zeros)."""
    e = emulators["nn_direct"][0]
    parts = benchlib.numpy_parts(e, np.float32, np.float64)
    trace = np.random.default_rng(3).normal(size=e.n_samples).astype(np.float32)
    want = e.alignment.ref_amplitude * np.asarray(
        unalign(jnp.asarray(trace), jnp.float32(0.3), jnp.float32(shift_s), e.dt)
    )
    got = parts.unalign(trace, 0.3, shift_s)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-4 * np.abs(want).max(initial=1e-3))


def test_numpy_forward_rejects_other_families(benchlib, emulators):
    with pytest.raises(ValueError, match="NumPy reference covers"):
        benchlib.numpy_forward(emulators["pca_gp"][0])
    with pytest.raises(TypeError):
        benchlib.numpy_forward("not an emulator")


@pytest.mark.parametrize("kind", ["nn_direct", "pca_nn"])
def test_measure_forward_beside_numpy(benchlib, emulators, kind):
    r = benchlib.measure_forward(
        emulators[kind][0], n_repeat=5, n_loop=4, n_loop_repeat=1, batch_sizes=(10,),
        n_batch_repeat=1, chunk_size=64,
    )  # fmt: skip
    keys = ("single_call_us", "in_loop_us", "numpy_in_loop_us", "in_loop_over_numpy")
    _positive_finite(r, (*keys, "traces_per_s_1e1"))
    assert r["in_loop_over_numpy"] == pytest.approx(r["in_loop_us"] / r["numpy_in_loop_us"])
    assert r["kind"] == kind and r["dispatch"] == timing.dispatch_mode()
    stages = r["details"]["stages_in_loop_us"]
    assert set(stages) == {"core", "gps", "unalign"}
    for s in stages.values():
        _positive_finite(s, ("jax_in_loop_us", "numpy_in_loop_us"))


def test_stage_throughputs_of_a_batch(benchlib, emulators):
    r = benchlib.stage_throughputs(emulators["nn_direct"][0], 12, chunk_size=8, n_repeat=1)
    assert set(r) == {"core", "gps", "unalign", "total"}
    _positive_finite(r, tuple(r))
    with pytest.raises(ValueError, match="chunk_size"):
        benchlib.stage_throughputs(emulators["nn_direct"][0], 12, chunk_size=0)


def test_measure_in_fresh_process_with_the_other_dispatch(benchlib, emulators, bench):
    """The child process runs with the dispatch asked for, whatever this process runs."""
    want_sync = timing.dispatch_mode() == "async"
    r = benchlib.in_fresh_process(
        "forward", emulators["nn_direct"][:1],
        {"n_repeat": 5, "n_loop": 4, "n_loop_repeat": 1, "components": False, "x64": False},
        sync_dispatch=want_sync,
    )  # fmt: skip
    _positive_finite(r, ("single_call_us", "in_loop_us", "numpy_in_loop_us"))
    assert r["dispatch"] == ("sync" if want_sync else "async")
    assert r["measured_in_subprocess"] is True
    assert r["x64"] is False and r["details"]["stages_in_loop_us"] == {}
    ems = emulators["nn_direct"]  # receivers 1 and 2: two of the paper event's receivers
    kw = {"n_repeat": 5, "seed": 0}
    here = benchlib.measure_loglike(ems, **kw)
    there = benchlib.in_fresh_process("loglike", ems, kw, sync_dispatch=want_sync)
    event = js.load_paper_event()
    rows = [event.receiver_index(e.receiver_km) for e in ems]
    sigma = js.noise.default_sigma(np.abs(event.traces[rows, 0]).max())
    for r in (here, there):
        _positive_finite(r, ("loglike_grad_us", "loglike_us"))
        assert r["n_receivers"] == 2 and r["finite"] is True and r["kinds"] == ["nn_direct"]
        assert r["sigma"] == pytest.approx(sigma, rel=1e-12) and r["x64"] is True
    assert there["dispatch"] != here["dispatch"]


def test_result_files_and_machine(benchlib, tmp_path, capsys):
    assert benchlib.result_name("latency", True) == "latency_quick"
    assert benchlib.result_name("latency", False) == "latency"
    machine = benchlib.machine_info()
    assert machine["load_start"] >= 0 and machine["cpu"]
    line = benchlib.machine_line(machine | {"load_end": 1.25})
    assert line.startswith("Machine: ") and "/ end" in line and line.endswith("1.25.")
    result = {"x": np.float32(1.5), "a": np.arange(3), "machine": machine}
    path = benchlib.write_results("r", result, "| md |\n", tmp_path / "out")
    assert json.loads(path.read_text())["a"] == [0, 1, 2]
    assert (tmp_path / "out" / "r.md").read_text() == "| md |\n"
    assert "| md |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="strict JSON"):
        benchlib.write_results("nan", {"x": float("nan")}, "", tmp_path, echo=False)
    assert not (tmp_path / "nan.json").exists()


@pytest.mark.parametrize("mode", ["plain", "even_odd"])
def test_gp_table_study_interpolates_the_gps_at_its_nodes(emulators, mode):
    """bench_gp_table: the prefiltered spline passes through the GP means at the nodes (the
    grid, margins and split are indexed right) and differs from them between nodes."""
    study = load_bench_script("bench_gp_table")
    e = emulators["nn_direct"][0]
    with jax.enable_x64(True):
        table = study.build_table(e, 0.25, mode)
        nodes = np.array([[0.0, 0.0, 0.0], [0.25, 0.5, 1.0], [1.0, 0.75, 2.25], [0.5, 1.0, 0.5]])
        between = nodes[:3] + np.array([0.1, 0.07, 0.13])
        exact = lambda s: np.asarray(predict_gps(e.peak_gps, source_features(s, e.receiver_km)))
        np.testing.assert_allclose(study.interpolate(table, e, nodes), exact(nodes), atol=1e-9)
        err = study.errors(table, e, between, exact(between))
    assert table["nodes"] == 13 * 13 * 19  # 5, 5 and 11 nodes (z to 2.5 km), 4 beyond each face
    assert set(err) == {"log_amplitude_max", "log_amplitude_p99", "shift_samples_max",
                        "shift_samples_p99"}  # fmt: skip
    assert err["log_amplitude_max"] > 1e-9
