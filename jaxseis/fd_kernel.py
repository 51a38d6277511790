"""The kernel of the acoustic finite-difference solver of :mod:`jaxseis.simulate`: the 8th-order
staggered stencil, the convolutional PML, the one-step update and the compiled run.

**Implementation.** One step is a handful of fused XLA loops over the padded grid: a
zero-padded copy of ``p``, the three velocity updates, zero-padded copies of the velocities,
the pressure update. The CPML memory variables are non-zero only in the ``n_pml + 1`` nodes at
both ends of their axis, so they are stored and updated only on those slabs and added to the
plain stencil there (:func:`jaxseis.simulate.solver_memory` gives the buffers' size).

Points off the grid nodes enter through trilinear weights on the PML-padded grid
(:func:`point_set`); the same weights inject the source and record the pressure, which keeps
the scheme reciprocal. Everything here takes settings already checked by
:func:`jaxseis.simulate.check_config`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import Grid, check_points
from jaxseis.velocity import VelocityModel

if TYPE_CHECKING:
    from jaxseis.simulate import SolverConfig

__all__ = ["STAGGERED_COEFFS", "PointSet", "build_stepper", "compile_solver", "point_set"]

STAGGERED_COEFFS = np.array([1225.0 / 1024.0, -245.0 / 3072.0, 49.0 / 5120.0, -5.0 / 7168.0])
"""8th-order staggered first-derivative coefficients ``c_k`` for offsets ``k + 1/2``."""


class PointSet(NamedTuple):
    """Interpolation weights of points on the padded solver grid.

    Attributes:
        index: flat indices into the padded wavefield, ``[n_points, n_weights]`` (int32).
        weight: matching weights, ``[n_points, n_weights]``; 1 for points on nodes.
    """

    index: np.ndarray
    weight: np.ndarray


def point_set(points_km, grid: Grid, n_pml: int) -> PointSet:
    """Trilinear interpolation weights of points ``[n, 3]`` (km) on the PML-padded grid.

    Points on nodes get a single weight of 1; otherwise every point gets its 8 neighbours.
    """
    p = check_points(points_km, "points", grid)
    padded = tuple(n + 2 * n_pml for n in grid.shape)
    fidx = grid.km_to_index(p)
    if np.all(grid.on_node(p)):
        node = np.rint(fidx).astype(np.int64) + n_pml
        flat = np.ravel_multi_index(tuple(node.T), padded)
        return PointSet(flat[:, None].astype(np.int32), np.ones((len(p), 1)))
    upper = np.asarray(grid.shape) - 1
    base = np.clip(np.floor(fidx), 0, upper - 1).astype(np.int64)
    frac = fidx - base
    idx, wts = [], []
    for corner in np.ndindex(2, 2, 2):
        c = np.asarray(corner)
        w = np.prod(np.where(c == 1, frac, 1.0 - frac), axis=-1)
        node = base + c + n_pml
        idx.append(np.ravel_multi_index(tuple(node.T), padded))
        wts.append(w)
    return PointSet(np.stack(idx, -1).astype(np.int32), np.stack(wts, -1))


def _pad_edge(a: np.ndarray, n: int) -> np.ndarray:
    return np.pad(a, n, mode="edge") if n > 0 else a


def _cpml_profiles(n: int, n_pml: int, h: float, dt: float, vp_max: float, f0: float, r: float):
    """CPML coefficients ``(a, b)`` on nodes and on half nodes along one padded axis."""
    length = n_pml * h
    total = n + 2 * n_pml

    def coeffs(pos):
        # distance into the PML (m) of positions ``pos`` given in node units of the padded axis
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
    a_n, b_n = coeffs(nodes)
    a_h, b_h = coeffs(nodes + 0.5)
    return (a_n, b_n), (a_h, b_h)


def _padded(f, axes, m: int):
    """``f`` with ``m`` zero nodes on both sides of each axis in ``axes``."""
    return jnp.pad(f, [(m, m) if j in axes else (0, 0) for j in range(f.ndim)])


def _derivative(fp, axis: int, coeffs, forward: bool, shape, lo: int = 0, size=None):
    """Staggered 8th-order derivative along ``axis`` of a field of ``shape``.

    ``fp`` is the field zero-padded by the stencil half-width ``m = len(coeffs)`` along
    ``axis`` (and possibly the other axes too, by ``(fp.shape[j] - shape[j]) / 2``): the zeros
    outside the grid. The result covers ``shape``, or only the nodes ``lo .. lo + size - 1``
    along ``axis``. ``coeffs`` are the stencil coefficients divided by the spacing (1/m).
    ``forward``: derivative at ``i + 1/2`` from values at ``i``; otherwise at ``i`` from values
    at ``i + 1/2`` (stored at ``i``). The backward operator is minus the transpose of the
    forward one.
    """
    halo = [(p - n) // 2 for p, n in zip(fp.shape, shape, strict=True)]
    out_shape = list(shape)
    if size is not None:
        out_shape[axis] = size

    def sl(offset):
        start = list(halo)
        start[axis] += lo + offset
        return jax.lax.slice(fp, start, [s + n for s, n in zip(start, out_shape, strict=True)])

    out = 0.0
    for k, c in enumerate(coeffs):
        if forward:
            out = out + c * (sl(k + 1) - sl(-k))
        else:
            out = out + c * (sl(k) - sl(-k - 1))
    return out


def _slab_derivative(fp, axis: int, coeffs, forward: bool, shape, widths):
    """:func:`_derivative` on the first ``widths[0]`` and last ``widths[1]`` nodes along
    ``axis``, stacked along it."""
    lo_w, hi_w = widths
    lo = _derivative(fp, axis, coeffs, forward, shape, 0, lo_w)
    hi = _derivative(fp, axis, coeffs, forward, shape, shape[axis] - hi_w, hi_w)
    return jnp.concatenate([lo, hi], axis=axis)


def _unslab(s, axis: int, n: int, lo_width: int):
    """The stacked slabs ``s`` (see :func:`_slab_derivative`; the first ``lo_width`` layers
    from the start of the axis, the rest from its end) placed in an array of zeros of length
    ``n`` along ``axis``."""
    total = s.shape[axis]
    lo = jax.lax.slice_in_dim(s, 0, lo_width, axis=axis)
    hi = jax.lax.slice_in_dim(s, lo_width, total, axis=axis)
    pad_lo, pad_hi = [(0, 0, 0)] * 3, [(0, 0, 0)] * 3
    pad_lo[axis] = (0, n - lo_width, 0)
    pad_hi[axis] = (n - (total - lo_width), 0, 0)
    zero = jnp.zeros((), s.dtype)
    return jax.lax.pad(lo, zero, pad_lo) + jax.lax.pad(hi, zero, pad_hi)


def build_stepper(model: VelocityModel, config: SolverConfig, dt: float):
    """Static arrays and the one-step update function of the solver.

    The wavefields ``p`` and ``v_i`` cover the padded grid. The CPML memory variables are kept
    only on the slabs of ``n_pml + 1`` nodes at both ends of their axis, where the CPML
    coefficients are non-zero (elsewhere they would stay exactly zero): each full-grid update
    is the plain stencil plus the slabs' CPML terms, and XLA fuses it into one pass per field.

    Returns:
        ``(step, zero_state, fields, kappa, shape)``: the update ``step(state, fields)`` of the
        state ``(p, v, psi_p, psi_v)``, a function giving the state at rest, the coefficient
        arrays ``((dt / rho_x, dt / rho_y, dt / rho_z), dt * K)`` (padded shape, the run's
        arguments), the padded bulk modulus and the padded shape.
    """
    dtype = jnp.dtype(config.dtype)
    n_pml = config.n_pml
    # CPML slabs: the n_pml + 1 nodes at each end of an axis (the half nodes reach n_pml + 1);
    # with >= 2 grid nodes per axis they never overlap (the upper one is kept no wider than
    # what the lower one leaves)
    width = n_pml + 1 if n_pml > 0 else 0
    h = model.grid.spacing_m
    vp_max = float(model.vp.max())
    rho = _pad_edge(model.rho, n_pml)
    kappa = _pad_edge(model.bulk_modulus, n_pml)
    shape = rho.shape
    widths = [(width, min(width, n - width)) for n in shape]

    # buoyancy on the staggered points i + 1/2 (arithmetic mean of the density)
    buoy = []
    for axis in range(3):
        nxt = np.concatenate(
            [np.take(rho, np.arange(1, shape[axis]), axis=axis), np.take(rho, [-1], axis=axis)],
            axis=axis,
        )
        buoy.append(2.0 / (rho + nxt))

    prof = [
        _cpml_profiles(
            model.grid.shape[i], n_pml, h[i], dt, vp_max, config.f0, config.pml_reflection
        )
        for i in range(3)
    ]

    def slab_coeff(v, axis):
        s = [1, 1, 1]
        s[axis] = -1
        lo_w, hi_w = widths[axis]
        v = np.concatenate([v[:lo_w], v[len(v) - hi_w :]])
        return jnp.asarray(v.reshape(s), dtype=dtype)

    a_node = [slab_coeff(prof[i][0][0], i) for i in range(3)]
    b_node = [slab_coeff(prof[i][0][1], i) for i in range(3)]
    a_half = [slab_coeff(prof[i][1][0], i) for i in range(3)]
    b_half = [slab_coeff(prof[i][1][1], i) for i in range(3)]
    coeffs = [[float(c) / h[i] for c in STAGGERED_COEFFS] for i in range(3)]
    # dt / rho on the staggered points and dt * K on the nodes, passed to the compiled run
    fields = (tuple(np.asarray(dt * b, dtype=dtype) for b in buoy), np.asarray(dt * kappa, dtype))
    halo = len(STAGGERED_COEFFS)

    def step(state, fields):
        """Advance ``(p, v, psi_p, psi_v)`` by one time step, without the source."""
        p, v, psi_p, psi_v = state
        dtb, dtk = fields
        new_v, new_psi_p = [], []
        pp = _padded(p, (0, 1, 2), halo)  # one padded copy for the three derivatives
        for i in range(3):
            dp = _derivative(pp, i, coeffs[i], True, shape)
            if width:
                slab = _slab_derivative(pp, i, coeffs[i], True, shape, widths[i])
                ps = b_half[i] * psi_p[i] + a_half[i] * slab
                dp = dp + _unslab(ps, i, shape[i], widths[i][0])
            else:
                ps = psi_p[i]
            new_psi_p.append(ps)
            new_v.append(v[i] - dtb[i] * dp)
        div = 0.0
        new_psi_v = []
        for i in range(3):
            vp = _padded(new_v[i], (i,), halo)
            dv = _derivative(vp, i, coeffs[i], False, shape)
            if width:
                slab = _slab_derivative(vp, i, coeffs[i], False, shape, widths[i])
                ps = b_node[i] * psi_v[i] + a_node[i] * slab
                dv = dv + _unslab(ps, i, shape[i], widths[i][0])
            else:
                ps = psi_v[i]
            new_psi_v.append(ps)
            div = div + dv
        p = p - dtk * div
        return (p, tuple(new_v), tuple(new_psi_p), tuple(new_psi_v))

    def zero_state():
        """The state at rest (built inside the compiled run, so nothing is copied in)."""
        zeros = jnp.zeros(shape, dtype=dtype)
        psi = []
        for i in range(3):
            s = list(shape)
            s[i] = sum(widths[i])
            psi.append(jnp.zeros(s, dtype=dtype))
        return (zeros, (zeros,) * 3, tuple(psi), tuple(psi))

    return step, zero_state, fields, kappa, shape


def compile_solver(
    model: VelocityModel, config: SolverConfig, dt: float, src: PointSet, rec: PointSet, wavelet
):
    """The compiled solver run and its arguments: ``run(*args)`` gives the pressure at
    ``rec`` for each step ``[n_steps, n_rec]`` (Pa).

    Args:
        model: the velocity and density model.
        config: the solver settings (``dtype``, ``n_pml``, ``f0``, ``pml_reflection``).
        dt: the time step, s.
        src, rec: the source's and the receivers' interpolation weights (:func:`point_set`).
        wavelet: the source's volume injection rate ``q(t)`` at the half steps
            ``(n + 1/2) dt``, ``[n_steps]``, m^3/s.
    """
    step, zero_state, fields, kappa, shape = build_stepper(model, config, dt)
    dtype = jnp.dtype(config.dtype)
    cell = float(np.prod(model.grid.spacing_m))
    # source: dp = dt * K(x_s) * q(t_{n+1/2}) / V, spread with the interpolation weights
    k_src = kappa.ravel()[src.index]  # [n_src, n_w]
    src_w = jnp.asarray((dt * k_src * src.weight / cell).ravel(), dtype=dtype)
    src_i = jnp.asarray(src.index.ravel())
    wavelet = jnp.asarray(wavelet, dtype=dtype)
    rec_i = jnp.asarray(rec.index)
    rec_w = jnp.asarray(rec.weight, dtype=dtype)

    @jax.jit
    def run(fields, wavelet, src_w, rec_w):
        def body(state, q_t):
            p, v, psi_p, psi_v = step(state, fields)
            p = p.ravel().at[src_i].add(q_t * src_w)
            rec = jnp.sum(p[rec_i] * rec_w, axis=-1)
            return (p.reshape(shape), v, psi_p, psi_v), rec

        _, out = jax.lax.scan(body, zero_state(), wavelet)
        return out

    args = (jax.tree.map(jnp.asarray, fields), wavelet, src_w, rec_w)
    return run, args
