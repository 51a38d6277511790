"""Travel-time tables (pykonal), their cache and the differentiable interpolation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxseis.traveltime.tables as tt_mod
from jaxseis.geometry import Grid
from jaxseis.traveltime import (
    TravelTimeTables,
    eikonal_traveltimes,
    interpolate_traveltimes,
    table_cache_key,
    table_contains,
    traveltime_tables,
)
from jaxseis.velocity import from_arrays

SMALL = Grid(shape=(41, 41, 61), spacing_km=(0.0125, 0.0125, 0.01))
SRC = np.array([0.2537, 0.2411, 0.3023])  # off the nodes


def _radius_m(grid, src):
    x, y, z = np.meshgrid(*grid.axes_km(), indexing="ij")
    return np.sqrt((x - src[0]) ** 2 + (y - src[1]) ** 2 + (z - src[2]) ** 2) * 1000.0


@pytest.fixture(scope="module")
def tables(layered_model, tmp_path_factory):
    rec = np.array([[0.1, 0.1, 0.45], [0.4, 0.15, 0.45], [0.25, 0.4, 0.45]])
    return traveltime_tables(layered_model, rec, cache_dir=tmp_path_factory.mktemp("cache"))


# ------------------------------------------------------------------------- eikonal accuracy


def test_homogeneous_medium_matches_straight_rays():
    vp = 3000.0
    model = from_arrays(np.full(SMALL.shape, vp), None, SMALL)
    exact = _radius_m(SMALL, SRC) / vp
    err = np.abs(eikonal_traveltimes(model, SRC) - exact)
    assert err.max() < 0.4e-3, err.max()


def test_gradient_medium_matches_analytic_and_beats_a_point_start():
    """v = v0 + g * depth: t = arccosh(1 + g^2 r^2 / (2 v_s v)) / g (exact)."""
    z = np.meshgrid(*SMALL.axes_km(), indexing="ij")[2]
    v0, grad = 2500.0, 1500.0  # m/s at the source, m/s per km downward
    vp = v0 - grad * (z - SRC[2])
    model = from_arrays(vp, None, SMALL)
    g = grad / 1000.0
    exact = np.arccosh(1 + g**2 * _radius_m(SMALL, SRC) ** 2 / (2 * v0 * vp)) / g
    err = np.abs(eikonal_traveltimes(model, SRC) - exact).max()
    err_point = np.abs(eikonal_traveltimes(model, SRC, init_radius_km=0.0) - exact).max()
    assert err < 0.5e-3, err
    assert err_point > 3e-3 > 6 * err  # the analytic initialisation is what makes it accurate


def test_refined_marching_is_more_accurate():
    model = from_arrays(np.full(SMALL.shape, 2000.0), None, SMALL)
    exact = _radius_m(SMALL, SRC) / 2000.0
    e1 = np.abs(eikonal_traveltimes(model, SRC, 0.05) - exact).max()
    e2 = np.abs(eikonal_traveltimes(model, SRC, 0.05, refine=2) - exact).max()
    assert e2 < 0.6 * e1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source_km": [0.2, 0.2, 0.7]}, "outside the grid"),
        ({"source_km": [0.2, 0.2, 0.3], "refine": 0}, "positive integer"),
        ({"source_km": [0.2, 0.2, 0.3], "init_radius_km": -1.0}, ">= 0"),
    ],
)
def test_eikonal_bad_input(layered_model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        eikonal_traveltimes(layered_model, **kwargs)


# ------------------------------------------------------------------------------------ tables


def test_tables_container(tables, layered_model):
    assert isinstance(tables, TravelTimeTables)
    assert tables.times.shape == (3, *layered_model.grid.shape)
    assert tables.times.dtype == np.float32
    assert tables.labels == ("R01", "R02", "R03")
    node = tuple(layered_model.grid.nearest_node(tables.receivers_km[1]))
    assert tables.times[1][node] == pytest.approx(0.0, abs=1e-9)
    sub = tables.select([2, 0])
    assert sub.labels == ("R03", "R01") and np.array_equal(sub.times[1], tables.times[0])


def test_cache_is_reused_and_invalidated_by_a_changed_model(layered_model, tmp_path, monkeypatch):
    rec = np.array([[0.2, 0.2, 0.45]])
    calls = []
    real = tt_mod.eikonal_traveltimes

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tt_mod, "eikonal_traveltimes", counting)
    a = traveltime_tables(layered_model, rec, cache_dir=tmp_path)
    b = traveltime_tables(layered_model, rec, cache_dir=tmp_path)
    assert len(calls) == 1 and np.array_equal(a.times, b.times)
    assert len(list((tmp_path / "traveltime").glob("tt_*.npz"))) == 1
    slower = layered_model._replace(vp=layered_model.vp * 0.99)
    c = traveltime_tables(slower, rec, cache_dir=tmp_path)
    assert len(calls) == 2 and np.all(c.times >= a.times)
    traveltime_tables(layered_model, rec, cache_dir=tmp_path, init_radius_km=0.05)  # settings
    traveltime_tables(layered_model, rec, cache=False, cache_dir=tmp_path)
    assert len(calls) == 4


def test_cache_key_depends_on_everything(layered_model):
    rec = [0.2, 0.2, 0.45]
    key = table_cache_key(layered_model, rec)
    vp = layered_model.vp.copy()
    vp[3, 4, 5] += 1.0
    assert table_cache_key(layered_model._replace(vp=vp), rec) != key
    assert table_cache_key(layered_model, [0.2, 0.2125, 0.45]) != key
    assert table_cache_key(layered_model, rec, init_radius_km=0.05) != key
    assert table_cache_key(layered_model, rec, refine=2) != key
    assert table_cache_key(layered_model, list(rec)) == key


@pytest.mark.parametrize(
    "receivers, labels, match",
    [
        ([[0.2, 0.2, 0.9]], None, "outside the grid"),
        ([[0.2, 0.2, 0.45]], ["A", "B"], "labels for 1 receivers"),
        ([[0.2, 0.2, 0.45]], ["TOO_LONG_NAME"], "1-6 characters"),
        ([[0.2, 0.2, 0.45], [0.3, 0.2, 0.45]], ["A", "A"], "unique"),
    ],
)
def test_tables_bad_input(layered_model, tmp_path, receivers, labels, match):
    with pytest.raises(ValueError, match=match):
        traveltime_tables(layered_model, receivers, labels=labels, cache_dir=tmp_path)


# ------------------------------------------------------------------------------ interpolation


def test_interpolation_matches_the_table_at_nodes(tables):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, np.asarray(tables.grid.shape), size=(50, 3))
    idx[0] = 0
    idx[1] = np.asarray(tables.grid.shape) - 1  # the corners too
    got = np.asarray(interpolate_traveltimes(tables, tables.grid.index_to_km(idx)))
    want = tables.times[:, idx[:, 0], idx[:, 1], idx[:, 2]].T
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


def test_interpolation_is_trilinear_between_nodes(tables):
    """Halfway between two nodes along x the value is their mean."""
    idx = np.array([10, 12, 20])
    p = tables.grid.index_to_km(idx + np.array([0.5, 0.0, 0.0]))
    got = np.asarray(interpolate_traveltimes(tables, p))
    a = tables.times[:, 10, 12, 20]
    b = tables.times[:, 11, 12, 20]
    np.testing.assert_allclose(got, 0.5 * (a + b), rtol=1e-6)


def test_interpolation_gradient_matches_finite_differences(tables):
    rng = np.random.default_rng(1)
    cells = rng.integers(1, np.asarray(tables.grid.shape) - 2, size=(6, 3))
    frac = rng.uniform(0.3, 0.7, size=(6, 3))  # inside a cell, away from its faces
    points = tables.grid.index_to_km(cells + frac)
    h = 0.1 * np.asarray(tables.grid.spacing_km)
    jac = jax.jit(jax.jacfwd(lambda p: interpolate_traveltimes(tables, p)))
    for p in points:
        got = np.asarray(jac(jnp.asarray(p)))  # [n_rec, 3], s/km
        for axis in range(3):
            step = np.zeros(3)
            step[axis] = h[axis]
            plus = np.asarray(interpolate_traveltimes(tables, p + step), dtype=np.float64)
            minus = np.asarray(interpolate_traveltimes(tables, p - step), dtype=np.float64)
            fd = (plus - minus) / (2 * h[axis])
            np.testing.assert_allclose(got[:, axis], fd, rtol=5e-3, atol=2e-3)


def test_interpolation_under_jit_and_vmap(tables):
    pts = np.random.default_rng(2).uniform([0, 0, 0], [0.5, 0.5, 0.6], size=(20, 3))
    eager = np.asarray(interpolate_traveltimes(tables, pts))
    assert eager.shape == (20, 3)
    f = jax.jit(jax.vmap(lambda p: interpolate_traveltimes(tables, p)))
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(pts))), eager, rtol=1e-6)


def test_source_outside_the_table(tables):
    with pytest.raises(ValueError, match="outside the travel-time table"):
        interpolate_traveltimes(tables, [0.2, 0.2, 0.61])
    with pytest.raises(ValueError, match="outside the travel-time table"):
        interpolate_traveltimes(tables, [[0.2, 0.2, 0.3], [-0.01, 0.2, 0.3]])
    with pytest.raises(ValueError, match="NaN"):
        interpolate_traveltimes(tables, [0.2, np.nan, 0.3])
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        interpolate_traveltimes(tables, [0.2, 0.3])
    traced = jax.jit(lambda p: interpolate_traveltimes(tables, p))
    assert np.all(np.isnan(np.asarray(traced(jnp.array([0.2, 0.2, 0.61])))))
    inside = table_contains(tables, jnp.array([[0.2, 0.2, 0.6], [0.2, 0.2, 0.61]]))
    assert np.asarray(inside).tolist() == [True, False]
