import json

import h5py
import numpy as np
import pytest

from jaxseis import dataset as ds
from jaxseis.geometry import benchmark_receivers_km, layout_23_km


def tiny(n_events=6, n_rec=2, n_samples=11, seed=0):
    rng = np.random.default_rng(seed)
    return ds.Dataset(
        sources=rng.uniform(0, 1, (n_events, 3)),
        receivers=rng.uniform(0, 1, (n_rec, 3)),
        traces=rng.normal(size=(n_rec, n_events, n_samples)).astype(np.float32),
        dt=0.004,
        split=ds.split_indices(n_events, 3, 2, seed),
        provenance={"name": "tiny"},
    )


def test_save_load_round_trip(tmp_path):
    d = tiny()
    back = ds.load(ds.save(d, tmp_path / "d.h5", encoding="float32"))
    for name in ("sources", "receivers", "traces", "split"):
        np.testing.assert_array_equal(getattr(back, name), getattr(d, name))
    assert back.dt == d.dt and back.provenance == d.provenance


def test_quantised_encoding_is_float32_accurate(tmp_path):
    d = tiny(n_events=50, n_samples=301)
    t = np.linspace(0, 1, 301)
    smooth = np.sin(40 * t)[None, None] * np.exp(np.arange(50) / 10.0)[None, :, None]
    d = d._replace(traces=(d.traces * 1e-3 + smooth).astype(np.float32))
    back = ds.load(ds.save(d, tmp_path / "q.h5"))
    peak = np.abs(d.traces).max(axis=-1, keepdims=True)
    assert np.max(np.abs(back.traces - d.traces) / peak) <= 2.0**-23
    np.testing.assert_array_equal(back.sources, d.sources)
    with pytest.raises(ValueError, match="encoding"):
        ds.save(d, tmp_path / "x.h5", encoding="zip")


def test_split_is_seeded_and_sized():
    a = ds.split_indices(4000, 2000, 1000, seed=3)
    b = ds.split_indices(4000, 2000, 1000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert [int(np.sum(a == c)) for c in (0, 1, 2)] == [2000, 1000, 1000]
    assert not np.array_equal(a, ds.split_indices(4000, 2000, 1000, seed=4))
    with pytest.raises(ValueError, match="cannot split"):
        ds.split_indices(10, 8, 5, 0)


def test_source_sampling_is_seeded_distinct_and_on_nodes():
    from jaxseis.geometry import DEFAULT_GRID

    a = ds.latin_hypercube_nodes(500, seed=1)
    np.testing.assert_array_equal(a, ds.latin_hypercube_nodes(500, seed=1))
    assert len(np.unique(a, axis=0)) == 500 and DEFAULT_GRID.on_node(a).all()
    assert a[:, 2].max() <= ds.SOURCE_Z_MAX_KM + 1e-12
    b = ds.random_nodes(800, seed=2, exclude_km=a)
    assert len(np.unique(np.concatenate([a, b]), axis=0)) == 1300


def test_load_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ds.load(tmp_path / "nope.h5")
    (tmp_path / "junk.h5").write_bytes(b"this is not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        ds.load(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not a jaxseis dataset"):
        ds.load(tmp_path / "other.h5")


def test_load_rejects_other_versions_and_bad_content(tmp_path):
    path = ds.save(tiny(), tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ValueError, match="format version 99"):
        ds.load(path)
    path = ds.save(tiny(), tmp_path / "nan.h5", encoding="float32")
    with h5py.File(path, "a") as f:
        t = f["traces"][...]
        t[0, 0, 0] = np.nan
        f["traces"][...] = t
    with pytest.raises(ValueError, match="NaN"):
        ds.load(path)
    path = ds.save(tiny(), tmp_path / "nanscale.h5")
    with h5py.File(path, "a") as f:
        f["trace_scale"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ds.load(path)
    path = ds.save(tiny(), tmp_path / "noscale.h5")
    with h5py.File(path, "a") as f:
        del f["trace_scale"]
    with pytest.raises(ValueError, match="corrupt"):
        ds.load(path)
    path = ds.save(tiny(), tmp_path / "shape.h5")
    with h5py.File(path, "a") as f:
        del f["sources"]
        f["sources"] = np.zeros((5, 3))
    with pytest.raises(ValueError, match="traces must have shape"):
        ds.load(path)


def test_validation_on_construction_paths():
    d = tiny()
    with pytest.raises(ValueError, match="float32"):
        ds.save(d._replace(traces=d.traces.astype(np.float64)), "/tmp/never.h5")
    with pytest.raises(ValueError, match="split codes"):
        ds.save(d._replace(split=np.full(6, 7, dtype=np.int8)), "/tmp/never.h5")


def test_bundled_benchmark_loads_and_validates():
    b = ds.load_benchmark()
    assert b.traces.shape == (5, 4000, 501) and b.dt == pytest.approx(0.004)
    assert [len(b.indices(s)) for s in ("train", "validation", "test")] == [2000, 1000, 1000]
    np.testing.assert_allclose(b.receivers, benchmark_receivers_km())
    assert b.provenance["seed"] == ds.BENCHMARK_SEED
    np.testing.assert_array_equal(b.sources, ds.latin_hypercube_nodes(4000, ds.BENCHMARK_SEED))
    np.testing.assert_array_equal(b.split, ds.split_indices(4000, 2000, 1000, ds.BENCHMARK_SEED))
    assert "benchmark" in b.summary()
    # every trace carries a real arrival well above float32 noise
    assert np.all(np.abs(b.traces).max(axis=-1) > 1e-4)
    assert b.receiver_index(benchmark_receivers_km()[2]) == 2
    with pytest.raises(ValueError, match="no receiver"):
        b.receiver_index([0.9, 0.9, 2.43])


def test_bundled_paper_event():
    e = ds.load_paper_event()
    assert e.traces.shape == (23, 1, 501)
    np.testing.assert_allclose(e.sources[0], ds.PAPER_EVENT_KM)
    np.testing.assert_allclose(e.receivers, layout_23_km())
    assert "direct" in e.provenance["method"]
    json.dumps(e.provenance)


@pytest.mark.slow
def test_bundled_benchmark_regenerates_and_matches_direct_simulation():
    """One full-grid reciprocal simulation reproduces the bundled central-receiver traces to
    float32 round-off, and its trace at the paper's event equals the bundled *direct*
    simulation of that event (reciprocity on the full 3-D model)."""
    from jaxseis.simulate import reciprocal_traces
    from jaxseis.velocity import marine_model

    b = ds.load_benchmark()
    event = ds.load_paper_event()
    pts = np.concatenate([b.sources[:200], ds.PAPER_EVENT_KM[None]])
    out = reciprocal_traces(marine_model(), b.receivers[0], pts)
    scale = np.abs(b.traces[0, :200]).max()
    assert np.abs(out[:200] - b.traces[0, :200]).max() < 1e-5 * scale
    direct = event.traces[event.receiver_index(b.receivers[0]), 0]
    assert np.linalg.norm(out[200] - direct) / np.linalg.norm(direct) < 1e-3
