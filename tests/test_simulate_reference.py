"""The solver against the straightforward CPML kernel it replaced (small grids).

``_reference_traces`` is that kernel as it was: six full-grid CPML memory arrays, every update
over the whole padded grid. The solver keeps the memory variables only on the boundary slabs
and must give the same traces to float32 rounding.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import resample_poly

from jaxseis.fd_kernel import compile_solver
from jaxseis.geometry import Grid
from jaxseis.simulate import (
    STAGGERED_COEFFS,
    SolverConfig,
    check_config,
    point_set,
    ricker_integral,
    simulate,
    solver_memory,
)
from jaxseis.velocity import from_arrays

TOLERANCE = 1e-5  # relative L2 difference allowed (float32 rounding is ~1e-6)


def _cpml_profiles(n, n_pml, h, dt, vp_max, f0, r):
    length = n_pml * h
    total = n + 2 * n_pml

    def coeffs(pos):
        left = np.clip((n_pml - pos) * h, 0.0, None)
        right = np.clip((pos - (n_pml + n - 1)) * h, 0.0, None)
        depth = np.maximum(left, right)
        if n_pml == 0:
            return np.zeros_like(pos), np.ones_like(pos)
        frac = depth / length
        d0 = -3.0 * vp_max * math.log(r) / (2.0 * length)
        d = d0 * frac**2
        alpha = math.pi * f0 * (1.0 - frac) * (depth > 0)
        b = np.exp(-(d + alpha) * dt)
        a = np.where(d > 0, d * (b - 1.0) / np.maximum(d + alpha, 1e-30), 0.0)
        return a, b

    nodes = np.arange(total, dtype=np.float64)
    return coeffs(nodes), coeffs(nodes + 0.5)


def _shift_sum(f, axis, coeffs, h, forward):
    n = f.shape[axis]
    m = len(coeffs)
    pad = [(0, 0)] * f.ndim
    pad[axis] = (m, m)
    fp = jnp.pad(f, pad)

    def sl(start):
        return jax.lax.slice_in_dim(fp, start, start + n, axis=axis)

    out = 0.0
    for k, c in enumerate(coeffs):
        if forward:
            out = out + c * (sl(m + k + 1) - sl(m - k))
        else:
            out = out + c * (sl(m + k) - sl(m - k - 1))
    return out / h


def _reference_traces(model, source_km, receivers_km, config):
    """The replaced solver: ``simulate`` with full-grid CPML memory arrays."""
    dt = check_config(model, config)
    dtype = jnp.dtype(config.dtype)
    n_pml = config.n_pml
    h = model.grid.spacing_m
    pad = (lambda a: np.pad(a, n_pml, mode="edge")) if n_pml else (lambda a: a)
    rho, kappa = pad(model.rho), pad(model.bulk_modulus)
    shape = rho.shape
    buoy = []
    for axis in range(3):
        nxt = np.concatenate(
            [np.take(rho, np.arange(1, shape[axis]), axis=axis), np.take(rho, [-1], axis=axis)],
            axis=axis,
        )
        buoy.append(2.0 / (rho + nxt))
    vp_max = float(model.vp.max())
    prof = [
        _cpml_profiles(
            model.grid.shape[i], n_pml, h[i], dt, vp_max, config.f0, config.pml_reflection
        )
        for i in range(3)
    ]

    def bcast(v, axis):
        s = [1, 1, 1]
        s[axis] = -1
        return jnp.asarray(v.reshape(s), dtype=dtype)

    a_node = [bcast(prof[i][0][0], i) for i in range(3)]
    b_node = [bcast(prof[i][0][1], i) for i in range(3)]
    a_half = [bcast(prof[i][1][0], i) for i in range(3)]
    b_half = [bcast(prof[i][1][1], i) for i in range(3)]
    coeffs = [float(c) for c in STAGGERED_COEFFS]
    dtb = [jnp.asarray(dt * b, dtype=dtype) for b in buoy]
    dtk = jnp.asarray(dt * kappa, dtype=dtype)

    def step(state):
        p, v, psi_p, psi_v = state
        new_v, new_psi_p = [], []
        for i in range(3):
            dp = _shift_sum(p, i, coeffs, h[i], forward=True)
            ps = b_half[i] * psi_p[i] + a_half[i] * dp
            new_psi_p.append(ps)
            new_v.append(v[i] - dtb[i] * (dp + ps))
        div = 0.0
        new_psi_v = []
        for i in range(3):
            dv = _shift_sum(new_v[i], i, coeffs, h[i], forward=False)
            ps = b_node[i] * psi_v[i] + a_node[i] * dv
            new_psi_v.append(ps)
            div = div + dv + ps
        return (p - dtk * div, tuple(new_v), tuple(new_psi_p), tuple(new_psi_v))

    src = point_set(np.atleast_2d(source_km), model.grid, n_pml)
    rec = point_set(receivers_km, model.grid, n_pml)
    factor = round(config.record_dt / dt)
    n_out = config.n_samples
    n_steps = (n_out - 1 + 10) * factor
    cell = float(np.prod(h))
    src_w = jnp.asarray((dt * kappa.ravel()[src.index] * src.weight / cell).ravel(), dtype=dtype)
    src_i = jnp.asarray(src.index.ravel())
    wavelet = jnp.asarray(
        ricker_integral((np.arange(n_steps) + 0.5) * dt, config.f0, config.t0), dtype=dtype
    )
    rec_i, rec_w = jnp.asarray(rec.index), jnp.asarray(rec.weight, dtype=dtype)

    @jax.jit
    def run(wavelet):
        def body(state, q_t):
            p, v, psi_p, psi_v = step(state)
            p = p.ravel().at[src_i].add(q_t * src_w)
            return (p.reshape(shape), v, psi_p, psi_v), jnp.sum(p[rec_i] * rec_w, axis=-1)

        z = jnp.zeros(shape, dtype=dtype)
        _, out = jax.lax.scan(body, (z, (z,) * 3, (z,) * 3, (z,) * 3), wavelet)
        return out

    raw = np.asarray(run(wavelet), dtype=np.float64).T
    raw = np.concatenate([np.zeros((raw.shape[0], 1)), raw], axis=1)
    if factor > 1:
        raw = resample_poly(raw, 1, factor, axis=-1)
    return raw[..., :n_out].astype(np.float32)


def _rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_slab_cpml_matches_the_full_grid_kernel(layered_model):
    """Layered variable-density model; on-node and off-node sources, receivers in the PML's
    reach and near the surface."""
    cfg = SolverConfig(f0=9.0, duration=0.5)
    rec = np.array([[0.35, 0.3, 0.45], [0.02, 0.49, 0.58], [0.49, 0.01, 0.0], [0.25, 0.25, 0.3]])
    for src in ([0.1, 0.2, 0.1], [0.1031, 0.2047, 0.1023]):
        new = simulate(layered_model, src, rec, cfg)
        ref = _reference_traces(layered_model, np.asarray(src), rec, cfg)
        assert np.abs(ref).max() > 0
        assert _rel_l2(new, ref) < TOLERANCE, _rel_l2(new, ref)


@pytest.mark.parametrize(
    "shape, n_pml",
    [
        ((2, 16, 20), 4),  # the thinnest axis: the two CPML slabs meet in the middle
        ((12, 14, 16), 0),  # no absorbing layer at all
    ],
)
def test_slab_cpml_matches_on_thin_and_unpadded_grids(shape, n_pml):
    g = Grid(shape=shape, spacing_km=(0.01, 0.01, 0.01))
    rng = np.random.default_rng(3)
    vp = 2000.0 + 300.0 * rng.random(shape)
    model = from_arrays(vp, 1800.0 + 200.0 * rng.random(shape), g)
    cfg = SolverConfig(f0=15.0, duration=0.15, record_dt=0.002, n_pml=n_pml)
    ext = (np.asarray(shape) - 1) * 0.01
    src = ext * np.array([0.5, 0.4, 0.6])
    rec = ext * np.array([[0.0, 0.9, 0.1], [1.0, 0.2, 0.95], [0.5, 0.5, 0.5]])
    new = simulate(model, src, rec, cfg)
    ref = _reference_traces(model, src, rec, cfg)
    assert np.abs(ref).max() > 0
    assert _rel_l2(new, ref) < TOLERANCE, _rel_l2(new, ref)


def test_solver_memory_counts_the_fields_without_full_grid_cpml(layered_model):
    """At least the 4 coefficient and 4 wavefield arrays; well under the replaced kernel's 10
    state arrays held twice (the step's input and output) plus the 4 coefficients."""
    cfg = SolverConfig(f0=9.0, duration=0.5)
    padded = np.prod([n + 2 * cfg.n_pml for n in layered_model.grid.shape])
    per_point = solver_memory(layered_model, cfg) / padded
    assert 8 * 4 <= per_point < (2 * 10 + 4) * 4, per_point


def test_blocks_of_rows_give_the_same_traces():
    """The solver cuts the grid into blocks of rows along x that its CPU runtime updates side
    by side: two or more blocks give the same traces bit for bit (so the default, one per
    core and at least two, does not depend on the machine), one block the same to rounding.
    The source's trilinear weights straddle the boundary of the two-block cut, and the
    receivers sit on the grid's faces, in the CPML slabs and next to the source."""
    shape = (30, 14, 16)
    g = Grid(shape=shape, spacing_km=(0.01, 0.01, 0.01))
    rng = np.random.default_rng(5)
    model = from_arrays(2000.0 + 300.0 * rng.random(shape), 1800.0 + 200.0 * rng.random(shape), g)
    cfg = SolverConfig(f0=15.0, duration=0.15, record_dt=0.002, n_pml=4)
    dt = check_config(model, cfg)
    src = point_set(np.array([[0.1453, 0.061, 0.072]]), g, cfg.n_pml)
    rec = point_set(
        np.array([[0.0, 0.13, 0.15], [0.29, 0.0, 0.0], [0.1455, 0.05, 0.08], [0.15, 0.07, 0.075]]),
        g,
        cfg.n_pml,
    )
    padded = [n + 2 * cfg.n_pml for n in shape]
    rows = np.unique(src.index // (padded[1] * padded[2]))
    assert rows.tolist() == [padded[0] // 2 - 1, padded[0] // 2]  # across the two-block cut
    wavelet = ricker_integral((np.arange(150) + 0.5) * dt, cfg.f0, cfg.t0)
    out = {}
    for k in (1, 2, 3, 5):
        run, args = compile_solver(model, cfg, dt, src, rec, wavelet, n_chunks=k)
        out[k] = np.asarray(run(*args))
    assert np.abs(out[1]).max() > 0
    for k in (3, 5):
        np.testing.assert_array_equal(out[k], out[2])
    assert _rel_l2(out[2], out[1]) < 1e-6, _rel_l2(out[2], out[1])
