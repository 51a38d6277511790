"""The emulator protocol on the families nn_direct and pca_nn (small subsets)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis as js
from jaxseis import emulators as em
from jaxseis.metrics import r2d
from jaxseis.train import TrainConfig

FAST = TrainConfig(max_epochs=300, patience=30, epochs_per_call=50, progress=False)
GP_FAST = {"n_subset": 120, "n_iter": 80, "n_restarts": 1}
N_TRAIN = 300


@pytest.fixture(scope="module")
def bench():
    return js.load_benchmark()


@pytest.fixture(scope="module")
def data(bench):
    d = em.training_data(bench, 0, n_train=N_TRAIN)
    return d._replace(val_sources=d.val_sources[:150], val_traces=d.val_traces[:150])


@pytest.fixture(scope="module")
def heldout(bench):
    idx = bench.indices("validation")[150:400]
    return bench.sources[idx], bench.traces[0, idx]


@pytest.fixture(scope="module", params=["nn_direct", "pca_nn"])
def fitted(request, data):
    return em.fit(request.param, data, seed=0, config=FAST, gp_options=GP_FAST)


def test_beats_the_mean_trace_on_heldout_sources(fitted, data, heldout):
    src, truth = heldout
    pred = em.predict(fitted, src)
    mean_trace = np.broadcast_to(data.train_traces.mean(axis=0), truth.shape)
    mse_model = np.mean((pred - truth) ** 2)
    mse_mean = np.mean((mean_trace - truth) ** 2)
    assert mse_model < 0.25 * mse_mean, (fitted.kind, mse_model / mse_mean)
    assert r2d(truth, pred) > 0.8


def test_save_load_round_trip_is_identical(fitted, tmp_path, heldout):
    path = em.save(fitted, tmp_path / f"{fitted.kind}.npz")
    back = em.load(path, kind=fitted.kind)
    src = heldout[0][:20]
    np.testing.assert_array_equal(em.predict(back, src), em.predict(fitted, src))
    assert back.info == fitted.info and back.config == fitted.config


def test_prediction_works_under_jit_vmap_and_grad(fitted, heldout):
    src = jnp.asarray(heldout[0][:8], jnp.float32)
    with pytest.raises(ValueError, match="need float64"):
        em.make_predictor(fitted)  # x64 off: float32 GPs only when asked for
    f32 = em.make_predictor(fitted, gp_dtype=jnp.float32)
    batch = np.asarray(jax.jit(jax.vmap(f32))(src))
    peak = np.abs(batch).max()
    # float32: the GP mean k @ alpha loses digits to cancellation (see predictor_parts)
    np.testing.assert_allclose(batch[3], np.asarray(jax.jit(f32)(src[3])), atol=5e-2 * peak)
    w = jnp.asarray(np.random.default_rng(0).normal(size=batch.shape[1]))
    with jax.enable_x64(True):
        mixed = em.make_predictor(fitted)  # float32 networks, float64 peak GPs
        bm = np.asarray(jax.jit(jax.vmap(mixed))(src))
        np.testing.assert_allclose(bm[3], np.asarray(jax.jit(mixed)(src[3])), atol=1e-5 * peak)
        f64 = em.make_predictor(fitted, dtype=jnp.float64)
        s64 = jnp.asarray(heldout[0][:8], jnp.float64)
        b64 = np.asarray(jax.jit(jax.vmap(f64))(s64))
        np.testing.assert_allclose(b64[3], np.asarray(jax.jit(f64)(s64[3])), atol=1e-9 * peak)
        np.testing.assert_allclose(bm, b64, atol=1e-4 * peak)

        @jax.jit
        def loss(s):
            return jnp.sum(w * f64(s))

        s0 = s64[5]
        grad = np.asarray(jax.jit(jax.grad(loss))(s0))
        h = 1e-5
        fd = np.array([(loss(s0 + h * e) - loss(s0 - h * e)) / (2 * h) for e in jnp.eye(3)])
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-3 * np.abs(fd).max())
    with pytest.raises(ValueError, match="need float64"):
        jax.jit(mixed)(src[3])  # built under x64, traced without it


def test_fitting_never_reads_the_test_split(bench):
    """Replacing every test trace by garbage leaves the fitted emulator bit-identical."""
    test = bench.indices("test")
    garbage = bench.traces.copy()
    garbage[:, test] = np.random.default_rng(0).normal(size=garbage[:, test].shape) * 1e3
    poisoned = bench._replace(traces=garbage.astype(np.float32))
    a = em.fit(
        "nn_direct",
        em.training_data(bench, 0, n_train=100),
        seed=1,
        config=FAST._replace(max_epochs=20),
        gp_options=GP_FAST,
    )
    b = em.fit(
        "nn_direct",
        em.training_data(poisoned, 0, n_train=100),
        seed=1,
        config=FAST._replace(max_epochs=20),
        gp_options=GP_FAST,
    )
    src = bench.sources[test[:10]]
    np.testing.assert_array_equal(em.predict(a, src), em.predict(b, src))


def test_same_seed_same_emulator(data, heldout):
    small = data._replace(
        train_sources=data.train_sources[:120], train_traces=data.train_traces[:120]
    )
    kw = {"config": FAST._replace(max_epochs=30), "gp_options": GP_FAST}
    a = em.fit("pca_nn", small, seed=4, **kw)
    b = em.fit("pca_nn", small, seed=4, **kw)
    np.testing.assert_array_equal(em.predict(a, heldout[0][:5]), em.predict(b, heldout[0][:5]))


def test_bad_input_errors(fitted, tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        em.predict(fitted, [[0.1, np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"shape \[n, 3\]"):
        em.predict(fitted, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="fitted Emulator"):
        em.make_predictor(None)
    with pytest.raises(ValueError, match="unknown emulator family"):
        em.fit("transformer", None)
    with pytest.raises(FileNotFoundError):
        em.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable"):
        em.load(bad)
    path = em.save(fitted, tmp_path / "e.npz")
    with pytest.raises(ValueError, match="not 'd18'"):
        em.load(path, kind="d18")


def test_other_format_version_is_refused(fitted, tmp_path):
    import json

    path = em.save(fitted, tmp_path / "e.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["__header__"].tobytes())
    header["format_version"] = 99
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="format version 99"):
        em.load(path)


def test_r2d_metric():
    g = np.random.default_rng(0).normal(size=(20, 30))
    assert r2d(g, g) == pytest.approx(1.0)
    assert r2d(g, -g) == pytest.approx(-1.0)
    assert r2d(g, 3 * g + 1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        r2d(g, g[:5])


def test_fit_receivers_one_emulator_per_receiver(bench):
    tiny = TrainConfig(max_epochs=10, patience=10, epochs_per_call=10, progress=False)
    gp = {"n_subset": 60, "n_iter": 10, "n_restarts": 1}
    ems = em.fit_receivers("nn_direct", bench, [3, 1], seed=0, n_train=80, config=tiny,
                           gp_options=gp)  # fmt: skip
    assert [e.info["n_train"] for e in ems] == [80, 80]
    np.testing.assert_allclose([e.receiver_km for e in ems], bench.receivers[[3, 1]])
    with pytest.raises(ValueError, match="at least one receiver"):
        em.fit_receivers("nn_direct", bench, [])


def test_stacked_training_equals_one_receiver_at_a_time(bench):
    tiny = TrainConfig(max_epochs=40, patience=8, epochs_per_call=10, progress=False)
    gp = {"n_subset": 60, "n_iter": 10, "n_restarts": 1}
    kw = {"seed": 2, "n_train": 120, "config": tiny, "gp_options": gp}
    seq = em.fit_receivers("nn_direct", bench, [1, 4], **kw)
    stk = em.fit_receivers("nn_direct", bench, [1, 4], stacked=True, **kw)
    src = bench.sources[bench.indices("validation")[:20]]
    for a, b in zip(seq, stk, strict=True):
        assert b.info["stacked_receivers"] == 2
        assert a.info["best_epoch"] == b.info["best_epoch"]
        np.testing.assert_allclose(a.info["best_val_loss"], b.info["best_val_loss"], rtol=1e-4)
        pa, pb = em.predict(a, src), em.predict(b, src)
        np.testing.assert_allclose(pb, pa, atol=1e-4 * np.abs(pa).max())
    with pytest.raises(ValueError, match="no stacked training"):
        em.fit_receivers("pca_nn", bench, [1, 4], stacked=True, **kw)


def test_shared_peaks_give_the_same_emulator(data, heldout):
    peaks = em.fit_peaks(data, seed=0, gp_options=GP_FAST)
    assert peaks.fit_s > 0
    cfg = FAST._replace(max_epochs=60)
    own = em.fit("pca_nn", data, seed=0, config=cfg, gp_options=GP_FAST)
    shared = em.fit("pca_nn", data, seed=0, config=cfg, peaks=peaks)
    np.testing.assert_array_equal(
        em.predict(shared, heldout[0][:10]), em.predict(own, heldout[0][:10])
    )
    assert shared.info["peaks_reused"] and not own.info["peaks_reused"]
    assert shared.info["fit_s"] >= peaks.fit_s
    with pytest.raises(ValueError, match="seed 0 and rule 'first_peak'"):
        em.fit("pca_nn", data, seed=1, config=cfg, peaks=peaks)
    other = data._replace(train_traces=data.train_traces * 1.01)
    with pytest.raises(ValueError, match="other training data"):
        em.fit("pca_nn", other, seed=0, config=cfg, peaks=peaks)
    with pytest.raises(TypeError, match="fit_peaks"):
        em.fit("pca_nn", data, seed=0, config=cfg, peaks=(peaks.alignment, peaks.peak_gps))
