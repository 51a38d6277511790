import numpy as np
import pytest

from jaxseis.geometry import SEABED_Z_KM, Grid
from jaxseis.velocity import (
    MARINE_LAYERS,
    from_arrays,
    gardner_density,
    marine_model,
)


@pytest.fixture(scope="module")
def marine():
    return marine_model()


def test_marine_model_water_and_seabed(marine):
    z = marine.grid.axes_km()[2]
    water = z > SEABED_Z_KM + 1e-9
    assert np.all(marine.vp[:, :, water] == 1500.0)
    assert np.all(marine.rho[:, :, water] == 1000.0)
    assert np.all(marine.vp[:, :, ~water] > 1550.0)


def test_marine_model_layers_rise_to_4500(marine):
    assert len(MARINE_LAYERS) >= 8
    column = marine.vp[40, 40, : round(SEABED_Z_KM / 0.01) + 1]
    # velocity increases with depth (z decreasing) apart from the lateral perturbation
    assert column[0] > 4300 and column[-1] < 1800
    assert 4400 < marine.vp.max() < 4700
    # at least 8 distinct velocity jumps down the column
    jumps = np.sum(np.abs(np.diff(column)) > 40.0)
    assert jumps >= 8


def test_marine_model_is_truly_3d(marine):
    below = marine.vp[:, :, 100]  # a horizontal slice at z = 1 km
    rel = (below.max() - below.min()) / below.mean()
    assert 0.02 < rel < 0.25  # a few per cent of lateral variation

    # interfaces dip and undulate: the depth of the same velocity jump varies across the model
    def jump_index(col):
        return int(np.argmax(np.abs(np.diff(col[150:230]))))

    depths = {jump_index(marine.vp[i, j]) for i in range(0, 81, 10) for j in range(0, 81, 10)}
    assert len(depths) > 3


def test_marine_model_density_is_gardner(marine):
    rock = marine.vp > 1500.0
    np.testing.assert_allclose(marine.rho[rock], gardner_density(marine.vp[rock]))
    assert marine_model().vp.tobytes() == marine.vp.tobytes()  # deterministic


def test_from_arrays_defaults_to_gardner():
    g = Grid(shape=(3, 3, 3))
    m = from_arrays(np.full(g.shape, 2500.0), grid=g)
    np.testing.assert_allclose(m.rho, 310.0 * 2500.0**0.25)
