import numpy as np
import pytest

from jaxseis import geometry as geo


def test_default_grid_is_the_papers():
    g = geo.DEFAULT_GRID
    assert g.shape == (81, 81, 301)
    np.testing.assert_allclose(g.extent_km, [[0, 0, 0], [1.0, 1.0, 3.0]])
    np.testing.assert_allclose(g.spacing_m, [12.5, 12.5, 10.0])


def test_km_index_round_trip():
    g = geo.DEFAULT_GRID
    p = np.array([[0.375, 0.3, 1.57], [0.0, 1.0, 3.0], [0.123, 0.456, 0.789]])
    np.testing.assert_allclose(g.index_to_km(g.km_to_index(p)), p, atol=1e-12)
    np.testing.assert_array_equal(g.nearest_node(p[:1]), [[30, 24, 157]])
    assert g.on_node(p[:2]).all() and not g.on_node(p[2])


def test_receiver_layouts():
    r23 = geo.layout_23_km()
    assert r23.shape == (23, 3) and np.all(r23[:, 2] == geo.SEABED_Z_KM)
    # 1-based index (11, 31) -> (0.125, 0.375) km
    np.testing.assert_allclose(r23[0, :2], [0.125, 0.375])
    assert any(np.allclose(r, geo.CENTRAL_RECEIVER_KM) for r in r23)
    loc = geo.location_receivers_km()
    assert loc.shape == (4, 3)
    assert np.all(loc[:, 1] > loc[:, 0])  # the upper-diagonal part of the plane
    assert all(any(np.allclose(r, q) for q in r23) for r in loc)
    bench = geo.benchmark_receivers_km()
    np.testing.assert_allclose(bench[0], geo.CENTRAL_RECEIVER_KM)
    np.testing.assert_allclose(bench[1:], loc)


def test_source_features_numpy_and_jax():
    import jax.numpy as jnp

    src = np.array([[0.375, 0.3, 1.57], [0.5, 0.5, 0.43]])
    f = geo.source_features(src, geo.CENTRAL_RECEIVER_KM)
    np.testing.assert_allclose(f[1], [0.0, 0.0, -2.0, 2.0])
    np.testing.assert_allclose(f[:, 3], np.linalg.norm(src - geo.CENTRAL_RECEIVER_KM, axis=1))
    fj = geo.source_features(jnp.asarray(src), jnp.asarray(geo.CENTRAL_RECEIVER_KM))
    np.testing.assert_allclose(np.asarray(fj), f, rtol=1e-6)


@pytest.mark.parametrize(
    "pts, match",
    [
        (np.zeros((3, 2)), "shape"),
        ([[0.1, np.nan, 0.2]], "NaN"),
        ([[0.1, 0.2, 3.5]], "outside the grid"),
        ([[-0.01, 0.2, 1.0]], "outside the grid"),
    ],
)
def test_check_points_errors(pts, match):
    with pytest.raises(ValueError, match=match):
        geo.check_points(pts, "sources")
