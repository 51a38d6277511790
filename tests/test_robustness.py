"""Nothing silent: corrupt files, inputs outside the emulators' domain and bad settings are
refused with one clear line (or follow the user's policy), and large inputs run in chunks."""

import json
import subprocess
import sys
import warnings

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis as js
from jaxseis import dataset as ds
from jaxseis import emulators as em
from jaxseis.emulators import predictor
from jaxseis.emulators.batching import DEFAULT_MEMORY_BYTES, map_batches
from jaxseis.geometry import DEFAULT_GRID, Grid, check_points, grid_to_dict
from jaxseis.gp import GaussianProcesses, gps_to_dict
from jaxseis.preprocess import Standardizer
from jaxseis.pretrained import bundled_path, load_bundled
from jaxseis.simulate import SolverConfig, check_config, simulate
from jaxseis.train import TrainConfig
from jaxseis.velocity import VelocityModel, from_arrays

BUNDLED = bundled_path(1)
PAPER_EVENT_M = [375.0, 300.0, 1570.0]


@pytest.fixture(scope="module")
def emulator():
    return em.load(BUNDLED)


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


def _no_warnings():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    return ctx


# ------------------------------------------------------------------------- emulator files


def _rewrite(tmp_path, header=None, arrays=None, name="e.npz"):
    """A copy of the bundled file with its header and/or arrays changed."""
    with np.load(BUNDLED) as z:
        flat = {k: z[k] for k in z.files}
    h = json.loads(flat.pop("__header__").tobytes().decode())
    if header is not None:
        h = header(h)
    if arrays is not None:
        arrays(flat)
    text = h if isinstance(h, str) else json.dumps(h)
    flat["__header__"] = np.frombuffer(text.encode(), dtype=np.uint8)
    path = tmp_path / name
    np.savez(path, **flat)
    return path


def _nan_at(key, index=(0, 0)):
    def change(flat):
        a = flat[key].copy()
        a[index] = np.nan
        flat[key] = a

    return change


def _set(key, value):
    def change(h):
        h[key] = value
        return h

    return change


def _drop(key):
    def change(h):
        del h[key]
        return h

    return change


@pytest.mark.parametrize(
    "header, arrays, message",
    [
        (None, _nan_at("peak_gps/alpha"), r"peak_gps/alpha holds 1 NaN or infinite values"),
        (None, _nan_at("peak_gps/x_scaler_std", 0), r"peak_gps/x_scaler_std holds 1 NaN"),
        (None, _nan_at("core/net/layers/1/kernel"), r"core/net/layers/1/kernel holds 1 NaN"),
        (
            None,
            lambda f: f.update({"core/net/layers/3/bias": f["core/net/layers/3/bias"][:500]}),
            r"core/net/layers/3/bias has shape \(500,\), expected \(501,\)",
        ),
        (
            None,
            lambda f: f.update({"peak_gps/alpha": f["peak_gps/alpha"][:, :-1]}),
            r"peak_gps/alpha has shape \(2, 1999\), expected \(2, 2000\)",
        ),
        (None, lambda f: f.pop("peak_gps/log_amp"), r"arrays missing: peak_gps/log_amp"),
        (None, lambda f: f.update({"core/extra": np.ones(3)}), r"unexpected arrays: core/extra"),
        (
            None,
            lambda f: f.update({"feature_scaler/std": -f["feature_scaler/std"]}),
            r"feature_scaler/std must be positive",
        ),
        (
            None,
            lambda f: f.update({"peak_gps/y_mean": np.zeros(2, np.int64)}),
            r"peak_gps/y_mean has dtype int64, expected floating point",
        ),
        (_set("kind", "nope"), None, r"unknown emulator family 'nope'"),
        (_drop("kind"), None, r"header lacks the keys \['kind'\]"),
        (_set("kind", "pca_nn"), None, r"config does not describe a pca_nn core"),
        (_set("kind", "d18"), None, r"a d18 emulator has no peak alignment"),
        (lambda h: json.dumps([1, 2]), None, r"its header is a JSON array, not a JSON object"),
        (_set("dt", -0.004), None, r"dt must be a finite positive number"),
        (_set("n_samples", "501"), None, r"n_samples must be an integer > 1"),
        (_set("receiver_km", [0.5, 0.5]), None, r"receiver_km must be 3 finite numbers"),
        (_set("receiver_km", [5.0, 0.5, 2.43]), None, r"receiver \[5.0, 0.5, 2.43\] km lies out"),
        (_set("alignment", None), None, r"a nn_direct emulator needs peak alignment"),
        (_set("grid", {"shape": [0, 81, 301]}), None, r"grid must be a JSON object with the keys"),
        (
            _set("grid", {"shape": [81, 81, 0], "spacing_km": [1, 1, 1], "origin_km": [0, 0, 0]}),
            None,
            r"grid shape \(81, 81, 0\) is empty",
        ),
        (
            lambda h: {**h, "config": {**h["config"], "net": {**h["config"]["net"],
                                                              "sizes": [4, 64, 128, 256, 400]}}},
            None,
            r"network \[4, 64, 128, 256, 400\] gives 400 outputs, expected 501",
        ),
        (_set("training_box_km", [[0, 0, 0], [1, 1]]), None, r"training_box_km must be"),
        (_set("format_version", "one"), None, r"format version 'one'; this jaxseis reads"),
    ],
)  # fmt: skip
def test_a_corrupt_emulator_file_is_refused_with_one_line(tmp_path, header, arrays, message):
    path = _rewrite(tmp_path, header, arrays)
    with pytest.raises(ValueError, match=message) as info:
        em.load(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text


def test_a_nan_peak_gp_weight_no_longer_reaches_a_prediction(tmp_path, emulator):
    """The reproduced failure: a NaN in a peak GP's alpha loaded and predicted NaN traces (a
    posterior 200 m off downstream)."""
    path = _rewrite(tmp_path, arrays=_nan_at("peak_gps/alpha", (0, 5)))
    with pytest.raises(ValueError, match="is corrupt: peak_gps/alpha holds 1 NaN"):
        em.load(path)


def test_every_family_describes_its_core():
    for kind, family in em.FAMILIES.items():
        assert callable(getattr(family, "core_shapes", None)), kind


def test_the_bundled_files_load_unchanged_with_a_derived_training_box(bench):
    train = bench.sources[bench.indices("train")]
    for e in load_bundled(range(5)):
        assert e.grid == DEFAULT_GRID
        lower, upper = em.training_box(e)
        np.testing.assert_allclose(lower, train.min(axis=0), atol=1e-9)
        np.testing.assert_allclose(upper, train.max(axis=0), atol=1e-9)


# ------------------------------------------------------------------------- domain checks


def test_sources_in_metres_are_refused_with_a_hint(emulator):
    with pytest.raises(ValueError, match=r"outside the model grid .*look like metres: give km "
                                         r"\(e\.g\. \[0\.375, 0\.3, 1\.57\]\)"):  # fmt: skip
        em.predict(emulator, PAPER_EVENT_M)


@pytest.mark.parametrize("source", [[100.0, 0.5, 1.0], [0.5, 0.5, -5.0], [0.5, -0.1, 1.0]])
def test_sources_outside_the_grid_are_refused(emulator, source):
    with pytest.raises(ValueError, match=r"sources\[0\] = .* lies outside the model grid"):
        em.predict(emulator, source)


def test_sources_outside_the_training_box_follow_the_policy(emulator):
    water = [[0.375, 0.3, 1.57], [0.5, 0.5, 2.6]]  # the second lies in the water
    with pytest.warns(em.DomainWarning, match=r"1 of 2 sources lie outside .* training box"):
        warned = em.predict(emulator, water)
    with pytest.raises(ValueError, match=r"sources\[1\] = \[0.5, 0.5, 2.6\] km: the emulators"):
        em.predict(emulator, water, policy="error")
    ctx = _no_warnings()
    try:
        ignored = em.predict(emulator, water, policy="ignore")
        em.predict(emulator, water[:1])  # inside: no warning with the default policy
    finally:
        ctx.__exit__(None, None, None)
    np.testing.assert_array_equal(warned, ignored)
    with pytest.raises(ValueError, match=r"policy must be one of \('warn', 'error', 'ignore'\)"):
        em.predict(emulator, water, policy="loud")


def test_check_sources_and_check_box_for_several_emulators(emulator):
    ems = load_bundled((1, 2))
    out = em.check_sources(ems, [0.375, 0.3, 1.57])
    assert out.shape == (1, 3) and out.dtype == np.float64
    em.check_box(ems, [0.0, 0.0, 0.0], [1.0, 1.0, 2.42], policy="error")
    with pytest.raises(ValueError, match=r"corners of the prior box lie outside"):
        em.check_box(ems, [0.0, 0.0, 0.0], [1.0, 1.0, 2.6], policy="error")
    with pytest.raises(ValueError, match=r"outside the model grid"):
        em.check_box(ems, [0.0, 0.0, 0.0], [1.0, 1.0, 3.5], policy="ignore")
    with pytest.raises(ValueError, match=r"NaN"):
        em.check_sources(ems, [[0.1, np.nan, 1.0]])


def test_an_emulator_whose_receiver_lies_outside_the_grid_is_refused(emulator, tmp_path, bench):
    with pytest.raises(ValueError, match=r"receiver \[0.5, 0.5, 3.5\] km lies outside its grid"):
        em.save(emulator._replace(receiver_km=np.array([0.5, 0.5, 3.5])), tmp_path / "x.npz")
    data = em.training_data(bench, 1, n_train=20)
    with pytest.raises(ValueError, match=r"training data: its receiver .* lies outside its grid"):
        em.fit("nn_direct", data._replace(receiver_km=np.array([0.5, 0.5, 3.5])))
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def fitted(bench):
    data = em.training_data(bench, 1, n_train=20)
    data = data._replace(val_sources=data.val_sources[:20], val_traces=data.val_traces[:20])
    config = TrainConfig(max_epochs=2, epochs_per_call=1, progress=False)
    gp = {"n_iter": 5, "n_restarts": 1, "n_subset": 20}
    return data, em.fit("nn_direct", data, config=config, gp_options=gp)


def test_fit_records_the_training_box_and_grid_in_the_file(fitted, tmp_path):
    data, e = fitted
    np.testing.assert_array_equal(e.training_box_km[0], data.train_sources.min(axis=0))
    np.testing.assert_array_equal(e.training_box_km[1], data.train_sources.max(axis=0))
    path = em.save(e, tmp_path / "e.npz")
    with np.load(path) as z:
        header = json.loads(z["__header__"].tobytes().decode())
    assert header["grid"] == grid_to_dict(DEFAULT_GRID)
    assert header["training_box_km"] == e.training_box_km.tolist()
    back = em.load(path)
    np.testing.assert_array_equal(back.training_box_km, e.training_box_km)
    assert back.grid == e.grid


# ------------------------------------------------------------------------- bounded memory


def test_chunked_prediction_equals_unchunked(emulator, bench):
    src = bench.sources[bench.indices("test")[:23]]
    whole = em.predict(emulator, src)
    for size in (1, 7, 23, 100):
        chunked = em.predict(emulator, src, batch_size=size)
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6 * np.abs(whole).max())
    single = em.predict(emulator, src[0])
    np.testing.assert_allclose(single, whole[0], rtol=0, atol=1e-6 * np.abs(whole).max())
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        em.predict(emulator, src, batch_size=0)


def test_predict_calls_the_compiled_function_one_chunk_at_a_time(emulator, bench, monkeypatch):
    shapes = []

    def spy(fn, inputs, batch_size):
        return map_batches(lambda x: shapes.append(x.shape) or fn(x), inputs, batch_size)

    monkeypatch.setattr(predictor, "map_batches", spy)
    em.predict(emulator, bench.sources[:50], batch_size=16)
    assert shapes == [(16, 3)] * 4  # the last chunk padded: one compilation
    shapes.clear()
    em.predict(emulator, bench.sources[:5], batch_size=16)
    assert shapes == [(5, 3)]  # a small batch: one call on its own shape, as before


def test_map_batches_pads_and_trims_pytrees():
    x = np.arange(10.0)[:, None]
    calls = []

    def fn(a):
        calls.append(len(a))
        return a[:, 0] * 2, {"sq": a**2}

    doubled, rest = map_batches(fn, x, 4)
    np.testing.assert_array_equal(doubled, np.arange(10.0) * 2)
    np.testing.assert_array_equal(rest["sq"], x**2)
    assert calls == [4, 4, 4]


def _synthetic_d18(like, n_points=500, seed=0):
    rng = np.random.default_rng(seed)
    m = 200
    gps = GaussianProcesses(
        x=rng.normal(size=(n_points, 4)), alpha=rng.normal(size=(m, n_points)),
        log_amp=np.zeros(m), log_scales=np.zeros((m, 4)), log_noise=np.zeros(m),
        x_scaler=Standardizer(np.zeros(4), np.ones(4)), y_mean=np.zeros(m), y_std=np.ones(m),
    )  # fmt: skip
    return em.Emulator(
        "d18", like.receiver_km, like.dt, 501, like.feature_scaler, None, None,
        {"gps": gps_to_dict(gps)}, {"k": 100, "n_samples": 501, "collision": "mean"}, {},
    )  # fmt: skip


def test_the_default_chunk_fits_the_memory_budget(emulator):
    """Compiled memory of one default chunk (the quantity that grew to 68 GB for 1e6 sources
    when everything ran in one call) stays within the documented budget, for a network with
    peak GPs and for D18's 200 GPs."""
    d18 = _synthetic_d18(emulator)
    sizes = {}
    for e in (emulator, d18):
        size = em.default_batch_size(e)
        with jax.enable_x64(True):
            f = jax.jit(jax.vmap(em.make_predictor(e)))
            compiled = f.lower(jnp.zeros((size, 3), jnp.float64)).compile()
        analysis = compiled.memory_analysis()
        assert analysis.temp_size_in_bytes <= DEFAULT_MEMORY_BYTES, (e.kind, size)
        sizes[e.kind] = size
    assert sizes["d18"] < sizes["nn_direct"]


# ------------------------------------------------------------------------- dataset files


def _tiny():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 64)
    traces = np.sin(2 * np.pi * 3 * t) * (1.0 + rng.random((2, 6, 1)))
    return ds.Dataset(
        rng.uniform(0.1, 0.9, (6, 3)), np.array([[0.5, 0.5, 2.43], [0.25, 0.25, 2.43]]),
        traces.astype(np.float32), 0.004, np.array([0, 0, 0, 1, 1, 2], np.int8), {"n": 1},
    )  # fmt: skip


@pytest.mark.parametrize("array", ["traces", "sources"])
def test_a_flipped_byte_in_a_dataset_fails_its_checksum(tmp_path, array):
    path = ds.save(_tiny(), tmp_path / "d.h5")
    with h5py.File(path, "r") as f:
        info = f[array].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    expected = rf"{path} is corrupt: reading {array} failed its checksum"
    with pytest.raises(ValueError, match=expected) as err:
        ds.load(path)
    assert "\n" not in str(err.value)


def test_a_dataset_with_sources_outside_its_grid_is_refused(tmp_path):
    d = _tiny()
    bad = d._replace(sources=d.sources.copy())
    bad.sources[2] = [1.5, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"sources\[2\] = \[1.5, 0.5, 1.0\] km lies outside the "
                                         r"dataset's grid"):  # fmt: skip
        ds.save(bad, tmp_path / "x.h5")
    metres = d._replace(sources=d.sources * 1000.0)
    with pytest.raises(ValueError, match="look like metres"):
        ds.save(metres, tmp_path / "x.h5")
    path = ds.save(d, tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        f["sources"][2] = [0.5, 0.5, 9.0]
    with pytest.raises(ValueError, match=r"d.h5: sources\[2\] = \[0.5, 0.5, 9.0\] km lies outside"):
        ds.load(path)
    # a dataset made on another grid records it and validates against it
    small = Grid(shape=(41, 41, 61), spacing_km=(0.0125, 0.0125, 0.01))
    other = d._replace(
        sources=d.sources * 0.5, receivers=np.array([[0.25, 0.25, 0.45], [0.1, 0.1, 0.45]]),
        provenance={"grid": grid_to_dict(small)},
    )  # fmt: skip
    assert ds.load(ds.save(other, tmp_path / "small.h5")).grid == small
    with pytest.raises(ValueError, match="outside the dataset's grid"):
        ds.save(other._replace(sources=d.sources), tmp_path / "y.h5")


def test_a_dataset_with_an_absurd_trace_scale_is_refused(tmp_path):
    for scale, message in [
        (1e10, r"traces reach 8.39e\+16 \(receiver 0, event 1\), more than 1e\+12 Pa: not "
               r"pressures in Pa"),
        (-1e-3, "trace_scale holds NaN, infinite or non-positive values"),
        (0.0, "trace_scale holds NaN, infinite or non-positive values"),
    ]:  # fmt: skip
        path = ds.save(_tiny(), tmp_path / "d.h5")
        with h5py.File(path, "a") as f:
            f["trace_scale"][0, 1] = scale
        with pytest.raises(ValueError, match=message):
            ds.load(path)
    with h5py.File(path, "a") as f:  # the encoded samples no longer match their scale
        f["trace_scale"][0, 1] = 1e-3
        f["traces"][0, 1, 10] = f["traces"][0, 1, 10] + 1000
    with pytest.raises(ValueError, match="trace_scale or the encoded traces do not match"):
        ds.load(path)
    d = _tiny()
    with pytest.raises(ValueError, match=r"not pressures in Pa"):
        ds.save(d._replace(traces=d.traces * np.float32(1e20)), tmp_path / "x.h5")
    zero = d.traces.copy()
    zero[1, 3] = 0.0
    with pytest.raises(ValueError, match=r"event 3 at receiver 1 is all zeros"):
        ds.save(d._replace(traces=zero), tmp_path / "x.h5")


def test_a_non_integer_format_version_gets_a_clear_message(tmp_path):
    path = ds.save(_tiny(), tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = "one"
    with pytest.raises(ValueError, match=r"format version 'one'; this jaxseis reads version 1"):
        ds.load(path)


def test_the_bundled_datasets_pass_the_new_checks():
    bench = js.load_benchmark()
    assert bench.grid == DEFAULT_GRID
    assert js.load_paper_event().n_receivers == 23


# ------------------------------------------------------------------------- settings


@pytest.fixture(scope="module")
def water():
    grid = Grid(shape=(11, 11, 11))
    return from_arrays(np.full(grid.shape, 1500.0), grid=grid, name="water")


@pytest.mark.parametrize(
    "config, message",
    [
        (SolverConfig(source_delay=-1.0), r"source_delay = -1.0 s cuts the 8.0 Hz Ricker"),
        (SolverConfig(source_delay=0.0), r"give source_delay >= 1 / f0 = 0.125 s"),
        (SolverConfig(source_delay=float("nan")), r"source_delay must be a finite number"),
        (SolverConfig(source_delay=3.0), r"starts after the end of the traces"),
        (SolverConfig(f0=float("nan")), r"f0 must be a finite positive number \(Hz\), got nan"),
        (SolverConfig(duration=float("nan")), r"duration must be a finite positive number"),
        (SolverConfig(record_dt=0.0), r"record_dt must be a finite positive number"),
        (SolverConfig(dt=float("nan")), r"dt must be a finite positive number \(s\) or None"),
        (SolverConfig(pml_reflection=0.0), r"pml_reflection must lie in \(0, 1\)"),
        (SolverConfig(n_pml=2.5), r"n_pml must be a whole number"),
    ],
)
def test_bad_solver_settings_are_refused(water, config, message):
    with pytest.raises(ValueError, match=message):
        check_config(water, config)


def test_a_source_delay_of_minus_one_no_longer_gives_silent_zero_traces(water):
    with pytest.raises(ValueError, match=r"cuts the 8\.0 Hz Ricker wavelet at t = 0"):
        simulate(water, [0.06, 0.06, 0.06], [[0.07, 0.06, 0.06]], SolverConfig(source_delay=-1))


def test_velocities_in_km_per_s_are_recognised(water):
    with pytest.raises(ValueError, match=r"vp looks like km/s \(largest value 4.5\); give it in "
                                         r"m/s \(multiply by 1000\)"):  # fmt: skip
        from_arrays(np.full(water.grid.shape, 4.5), grid=water.grid)
    kms = VelocityModel(water.vp / 1000.0, water.rho, water.grid)  # built without validation
    with pytest.raises(ValueError, match="vp looks like km/s"):
        check_config(kms, SolverConfig())
    with pytest.raises(ValueError, match=r"rho looks like g/cm\^3"):
        from_arrays(water.vp, np.full(water.grid.shape, 1.0), grid=water.grid)


def test_complex_velocities_are_refused(water):
    with pytest.raises(ValueError, match="vp must be real numbers, got complex values"):
        from_arrays(water.vp + 1j, grid=water.grid)


@pytest.mark.parametrize(
    "grid, message",
    [
        (Grid(shape=(11, 11, 11), spacing_km=(-0.0125, 0.0125, 0.01)), "spacing must be 3 finite"),
        (Grid(shape=(0, 11, 11)), r"grid shape \(0, 11, 11\) is empty"),
        (Grid(shape=(11, 11, 1)), r"is empty or flat"),
        (Grid(shape=(11, 11, 11), origin_km=(0.0, float("nan"), 0.0)), "origin must be 3 finite"),
    ],
)
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ValueError, match=message):
        from_arrays(np.full(grid.shape, 1500.0), grid=grid)
    with pytest.raises(ValueError, match=message):
        check_points([[0.0, 0.0, 0.0]], "points", grid)


@pytest.mark.parametrize(
    "receivers, message",
    [
        (("1.7",), r"whole numbers 0-4, got '1.7'"),
        ((1.7,), r"whole numbers 0-4, got 1.7"),
        ((True,), r"whole numbers 0-4, got True"),
        (1, r"receivers must be a sequence of benchmark receiver indices 0-4, e.g. \(1,\)"),
        ((), r"receivers is empty"),
        ((5,), r"bundled receiver index 5 out of range 0-4"),
    ],
)
def test_load_bundled_refuses_bad_indices(receivers, message):
    with pytest.raises(ValueError, match=message):
        load_bundled(receivers)


def test_python_dash_m_jaxseis_runs_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "jaxseis", "--version"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert js.__version__ in out.stdout + out.stderr


def test_too_few_training_events_are_refused_up_front(bench):
    with pytest.raises(ValueError, match=r"n_train = 1 is too small: an emulator needs at least "
                                         r"10 training events"):  # fmt: skip
        em.training_data(bench, 1, n_train=1)
    data = em.training_data(bench, 1, n_train=15)
    with pytest.raises(ValueError, match=r"15 training .* needs at least 21 training events"):
        em.fit("pca_nn", data)  # PCA of 15 traces cannot give 20 components
    few = data._replace(train_sources=data.train_sources[:3], train_traces=data.train_traces[:3])
    with pytest.raises(ValueError, match=r"3 training and 1000 validation; it needs at least 10"):
        em.fit("nn_direct", few)
    with pytest.raises(ValueError, match=r"3 training .* at least 10"):
        em.fit_peaks(few)


def test_non_finite_training_diagnostics_are_saved_as_null(emulator, tmp_path):
    e = emulator._replace(info={**emulator.info, "best_val_loss": float("nan")})
    back = em.load(em.save(e, tmp_path / "e.npz"))
    assert back.info["best_val_loss"] is None
    assert back.info["n_train"] == emulator.info["n_train"]
