"""Physics and error-path tests of the finite-difference solver (small grids)."""

import numpy as np
import pytest

from jaxseis.geometry import Grid
from jaxseis.picking import pick_first_arrival
from jaxseis.simulate import (
    SolverConfig,
    check_config,
    courant_limit,
    reciprocal_traces,
    ricker,
    ricker_integral,
    simulate,
)
from jaxseis.traveltime import eikonal_traveltimes
from jaxseis.velocity import VelocityModel, from_arrays

VP, RHO = 2000.0, 1500.0
HOMOGENEOUS_GRID = Grid(shape=(61, 61, 61), spacing_km=(0.01, 0.01, 0.01))


def homogeneous(grid=HOMOGENEOUS_GRID, vp=VP, rho=RHO):
    return from_arrays(np.full(grid.shape, vp), np.full(grid.shape, rho), grid, "homogeneous")


def test_ricker_integral_is_antiderivative():
    t = np.linspace(0, 0.4, 4001)
    num = np.gradient(ricker_integral(t, 10.0, 0.15), t)
    np.testing.assert_allclose(num, ricker(t, 10.0, 0.15), atol=2e-4)


def test_homogeneous_arrival_time_and_greens_function_amplitude():
    """p(r, t) = rho * ricker(t - r / v) / (4 pi r) for a volume-acceleration Ricker source."""
    cfg = SolverConfig(f0=15.0, duration=0.3, record_dt=0.0005, n_pml=10)
    src = np.array([0.3, 0.3, 0.3])
    rec = np.array([[0.4, 0.3, 0.3], [0.3, 0.3, 0.5], [0.42, 0.42, 0.3], [0.2, 0.35, 0.15]])
    traces = simulate(homogeneous(), src, rec, cfg)
    t = np.arange(traces.shape[1]) * cfg.record_dt
    for r, tr in zip(rec, traces, strict=False):
        dist_m = np.linalg.norm(r - src) * 1000.0
        analytic = RHO * ricker(t - dist_m / VP, cfg.f0, cfg.t0) / (4 * np.pi * dist_m)
        assert tr.max() == pytest.approx(analytic.max(), rel=0.02)
        # peak time within one output sample of t0 + r / v
        assert abs(t[np.argmax(tr)] - (cfg.t0 + dist_m / VP)) <= cfg.record_dt
        assert np.linalg.norm(tr - analytic) / np.linalg.norm(analytic) < 0.02


@pytest.mark.parametrize("vp", [2000.0, 4500.0])
def test_absorbing_boundary_reflection_below_one_percent(vp):
    """The small domain must match a domain large enough that its boundaries are not reached."""
    cfg = SolverConfig(f0=12.0, duration=0.45, record_dt=0.002, n_pml=10)
    small = Grid(shape=(31, 31, 31), spacing_km=(0.01, 0.01, 0.01))
    big = Grid(shape=(111, 111, 111), spacing_km=(0.01, 0.01, 0.01), origin_km=(-0.4,) * 3)
    src = np.array([0.15, 0.15, 0.15])
    rec = np.array([[0.25, 0.15, 0.15], [0.28, 0.28, 0.15], [0.15, 0.15, 0.02]])
    a = simulate(homogeneous(small, vp=vp), src, rec, cfg)
    b = simulate(homogeneous(big, vp=vp), src, rec, cfg)
    reflection = np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)
    assert np.all(reflection < 0.01), reflection


def test_reciprocity_variable_density(layered_model):
    cfg = SolverConfig(f0=9.0, duration=0.8)
    a = np.array([0.1, 0.2, 0.1])  # in the fast bottom layer
    b = np.array([0.35, 0.3, 0.45])  # on the seabed
    ab = simulate(layered_model, a, b[None], cfg)[0]  # source at A, recorded at B
    ba = reciprocal_traces(layered_model, b, a[None], cfg)[0]  # source at B, recorded at A
    assert np.abs(ab).max() > 0
    assert np.linalg.norm(ab - ba) / np.linalg.norm(ab) < 1e-3
    # off-node points: trilinear injection is the adjoint of trilinear recording
    a_off = a + np.array([0.0031, 0.0047, 0.0023])
    ab = simulate(layered_model, a_off, b[None], cfg)[0]
    ba = simulate(layered_model, b, a_off[None], cfg)[0]
    assert np.linalg.norm(ab - ba) / np.linalg.norm(ab) < 1e-3


def test_reciprocity_needs_the_bulk_modulus_scaling(layered_model):
    """Injecting without K(x_s) would break reciprocity by the ratio of the bulk moduli."""
    m = layered_model
    ka = m.bulk_modulus[8, 16, 10]
    kb = m.bulk_modulus[28, 24, 45]
    assert abs(ka / kb - 1) > 0.5  # so a naive injection would be off by more than 50 %


def test_first_arrivals_match_fast_marching(layered_model):
    """Median |simulated first arrival - pykonal| within one 4 ms sample on the layered model."""
    cfg = SolverConfig(f0=9.0, duration=0.6)
    src = np.array([0.25, 0.25, 0.45])  # a seabed receiver, by reciprocity
    rng = np.random.default_rng(0)
    idx = np.stack([rng.integers(2, 39, 60), rng.integers(2, 39, 60), rng.integers(2, 43, 60)], 1)
    pts = layered_model.grid.index_to_km(idx)
    pts = pts[np.linalg.norm(pts - src, axis=1) > 0.1]
    traces = simulate(layered_model, src, pts, cfg)
    picks = pick_first_arrival(traces, cfg.record_dt, cfg.t0)
    table = eikonal_traveltimes(layered_model, src)
    tt = table[tuple(layered_model.grid.nearest_node(pts).T)]
    err = np.abs(picks - tt)
    assert np.median(err) <= cfg.record_dt, np.median(err)


def test_direct_and_reciprocal_modes_share_sampling():
    cfg = SolverConfig(f0=15.0, duration=0.1, record_dt=0.002)
    out = simulate(homogeneous(), [0.3, 0.3, 0.3], [[0.35, 0.3, 0.3]], cfg)
    assert out.shape == (1, cfg.n_samples) and out.dtype == np.float32


# ---------------------------------------------------------------------------------- errors


def test_cfl_violation_is_refused():
    m = homogeneous()
    limit = courant_limit(VP, m.grid.spacing_m)
    with pytest.raises(ValueError, match="unstable time step"):
        check_config(m, SolverConfig(f0=15.0, dt=1.01 * limit, record_dt=1.01 * limit))


def test_grid_too_coarse_is_refused():
    with pytest.raises(ValueError, match="grid too coarse"):
        check_config(homogeneous(), SolverConfig(f0=40.0))


def test_record_dt_must_be_a_multiple_of_dt():
    with pytest.raises(ValueError, match="whole multiple"):
        check_config(homogeneous(), SolverConfig(f0=15.0, dt=0.0007, record_dt=0.002))


@pytest.mark.parametrize(
    "src, rec, match",
    [
        ([0.3, 0.3, 0.7], [[0.3, 0.3, 0.3]], "outside the grid"),
        ([0.3, 0.3, 0.3], [[0.3, 1.3, 0.3]], "outside the grid"),
        ([0.3, np.nan, 0.3], [[0.3, 0.3, 0.3]], "NaN"),
        ([0.3, 0.3, 0.3], [[0.3, 0.3]], r"shape \[n, 3\]"),
    ],
)
def test_bad_points_are_refused(src, rec, match):
    with pytest.raises(ValueError, match=match):
        simulate(homogeneous(), src, rec, SolverConfig(f0=15.0, duration=0.05))


@pytest.mark.parametrize(
    "vp, rho, match",
    [
        (np.nan, 1000.0, "NaN"),
        (-1.0, 1000.0, "positive"),
        (2000.0, 0.0, "positive"),
    ],
)
def test_bad_models_are_refused(vp, rho, match):
    g = HOMOGENEOUS_GRID
    v = np.full(g.shape, 2000.0)
    r = np.full(g.shape, 1500.0)
    v[3, 4, 5], r[3, 4, 5] = vp, rho
    with pytest.raises(ValueError, match=match):
        from_arrays(v, r, g)
    with pytest.raises(ValueError, match=match):  # simulate re-validates hand-made models
        simulate(VelocityModel(v, r, g), [0.3] * 3, [[0.35, 0.3, 0.3]], SolverConfig(f0=15.0))


def test_model_shape_must_match_grid():
    with pytest.raises(ValueError, match="shape"):
        from_arrays(np.full((10, 10, 10), 2000.0), None, HOMOGENEOUS_GRID)
