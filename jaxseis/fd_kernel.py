"""The kernel of the acoustic finite-difference solver of :mod:`jaxseis.simulate`: the 8th-order
staggered stencil, the convolutional PML, the one-step update and the compiled run.

**Implementation.** The padded grid is cut along axis 0 into blocks of rows, one per core and
at least two (:func:`build_stepper`). One step is, per block, three fused XLA loops for the
velocity components and one for the pressure, each reading its inputs once and writing its
field in place; XLA's CPU runtime runs the blocks' loops side by side. Each block of the
pressure is stored with a zero halo of the stencil's half-width on every axis and each
velocity component with one along its own axis, so the stencils read the state directly (no
padded copies); the halo rows between blocks are refreshed from the neighbours once per step
and field. The CPML memory variables are non-zero only in the ``n_pml + 1`` nodes at both
ends of their axis, so they are stored and updated only on those slabs and added to the plain
stencil there (:func:`jaxseis.simulate.solver_memory` gives the buffers' size).

Points off the grid nodes enter through trilinear weights on the PML-padded grid
(:func:`point_set`); the same weights inject the source and record the pressure, which keeps
the scheme reciprocal. Everything here takes settings already checked by
:func:`jaxseis.simulate.check_config`.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import Grid, check_points
from jaxseis.velocity import VelocityModel

if TYPE_CHECKING:
    from jaxseis.simulate import SolverConfig

__all__ = [
    "MAX_CHUNKS",
    "STAGGERED_COEFFS",
    "PointSet",
    "build_stepper",
    "compile_solver",
    "point_set",
]

STAGGERED_COEFFS = np.array([1225.0 / 1024.0, -245.0 / 3072.0, 49.0 / 5120.0, -5.0 / 7168.0])
"""8th-order staggered first-derivative coefficients ``c_k`` for offsets ``k + 1/2``."""

MAX_CHUNKS = 16
"""The most blocks of rows the grid is cut into (:func:`build_stepper`)."""


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
    from the start of the axis, the rest from its end; either part may be empty) placed in an
    array of zeros of length ``n`` along ``axis``."""
    total = s.shape[axis]
    zero = jnp.zeros((), s.dtype)
    parts = []
    if lo_width > 0:
        pad = [(0, 0, 0)] * 3
        pad[axis] = (0, n - lo_width, 0)
        parts.append(jax.lax.pad(jax.lax.slice_in_dim(s, 0, lo_width, axis=axis), zero, pad))
    if total > lo_width:
        pad = [(0, 0, 0)] * 3
        pad[axis] = (n - (total - lo_width), 0, 0)
        hi = jax.lax.slice_in_dim(s, lo_width, total, axis=axis)
        parts.append(jax.lax.pad(hi, zero, pad))
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _chunk_bounds(n: int, min_rows: int, n_chunks: int | None) -> np.ndarray:
    """Boundaries ``[k + 1]`` of ``k`` near-equal blocks of rows ``0 .. n`` along axis 0, each
    at least ``min_rows`` long (``n_chunks`` ``None``: one per available core, at least 2).

    Any two or more blocks give the same result bit for bit; a single block (a grid too thin
    to cut, or ``n_chunks=1``) can differ in the last bit (XLA fuses the one-block program
    differently), so the default never depends on the machine below two blocks.
    """
    if n_chunks is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        n_chunks = min(max(cores or 1, 2), MAX_CHUNKS)
    k = max(1, min(int(n_chunks), n // max(min_rows, 1)))
    return np.linspace(0, n, k + 1).round().astype(np.int64)


def build_stepper(
    model: VelocityModel, config: SolverConfig, dt: float, n_chunks: int | None = None
):
    """Static arrays and the one-step update function of the solver.

    The padded grid is cut along axis 0 into blocks of rows (``n_chunks``; ``None``: one per
    available core, each at least as thick as the CPML slab and the stencil's half-width):
    every field is a tuple of blocks, and each block's update is its own loop, so that XLA's
    CPU runtime runs the blocks' updates side by side on different cores. Two or more blocks
    give the same result bit for bit (see :func:`_chunk_bounds`).

    Each block of the pressure carries a halo of ``len(STAGGERED_COEFFS)`` nodes on every
    axis, and each block of ``v_i`` one along axis ``i``: zeros at the grid's faces, and along
    axis 0 between blocks the neighbours' edge rows, refreshed once per step. The stencils read
    the state directly (no padded copies) and each update writes the block's grid part in
    place.
    The CPML memory variables are kept only on the slabs of ``n_pml + 1`` nodes at both ends of
    their axis, where the CPML coefficients are non-zero (elsewhere they would stay exactly
    zero): each update is the plain stencil plus the slabs' CPML terms, fused into one pass.

    Returns:
        ``(step, zero_state, fields, kappa, shape, bounds)``: the update ``step(state, fields)``
        of the state ``(p, v, psi_p, psi_v)`` (blocks), a function giving the state at rest,
        the coefficient arrays ``((dt / rho_x, dt / rho_y, dt / rho_z), dt * K)`` as blocks
        (the run's arguments), the padded bulk modulus, the padded shape and the blocks' row
        boundaries ``[n_blocks + 1]``.
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
    halo = len(STAGGERED_COEFFS)
    bounds = _chunk_bounds(shape[0], max(width, halo), n_chunks)
    n_blocks = len(bounds) - 1
    rows = np.diff(bounds)
    block_shapes = [(int(r), shape[1], shape[2]) for r in rows]
    # the axis-0 slabs: the lower one in the first block, the upper one in the last
    widths0 = [
        (widths[0][0] if c == 0 else 0, widths[0][1] if c == n_blocks - 1 else 0)
        for c in range(n_blocks)
    ]

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

    def slab_coeff(v, axis, lo_w, hi_w):
        s = [1, 1, 1]
        s[axis] = -1
        v = np.concatenate([v[:lo_w], v[len(v) - hi_w :]])
        return jnp.asarray(v.reshape(s), dtype=dtype)

    def block_slab_coeffs(values, i):
        """``[n_blocks]`` coefficient arrays of axis ``i``'s slabs in each block."""
        ws = widths0 if i == 0 else [widths[i]] * n_blocks
        return [slab_coeff(values, i, *w) for w in ws]

    a_node = [block_slab_coeffs(prof[i][0][0], i) for i in range(3)]
    b_node = [block_slab_coeffs(prof[i][0][1], i) for i in range(3)]
    a_half = [block_slab_coeffs(prof[i][1][0], i) for i in range(3)]
    b_half = [block_slab_coeffs(prof[i][1][1], i) for i in range(3)]
    coeffs = [[float(c) / h[i] for c in STAGGERED_COEFFS] for i in range(3)]

    def blocks(a):
        return tuple(np.asarray(a[lo:hi], dtype=dtype) for lo, hi in itertools.pairwise(bounds))

    # dt / rho on the staggered points and dt * K on the nodes, passed to the compiled run
    fields = (tuple(blocks(dt * b) for b in buoy), blocks(dt * kappa))

    def slab_widths(c, i):
        return widths0[c] if i == 0 else widths[i]

    def refresh(xs):
        """The blocks ``xs`` (each with a halo of ``halo`` rows along axis 0) with their halo
        rows set to their neighbours' edge rows; the grid's outer halo rows stay zero."""
        # block c reads its upper neighbour's edge from that block once refreshed: the chain
        # of data dependencies orders every read of a block before the write into it, which
        # lets XLA update all the blocks in place instead of copying them
        out = list(xs)
        for c in range(n_blocks):
            if c > 0:
                r = int(rows[c - 1])
                top = jax.lax.slice_in_dim(out[c - 1], r, r + halo, axis=0)
                out[c] = jax.lax.dynamic_update_slice_in_dim(out[c], top, 0, axis=0)
            if c < n_blocks - 1:
                bottom = jax.lax.slice_in_dim(xs[c + 1], halo, 2 * halo, axis=0)
                start = int(rows[c]) + halo
                out[c] = jax.lax.dynamic_update_slice_in_dim(out[c], bottom, start, axis=0)
        return tuple(out)

    def with_cpml(d, fp, i, c, psi, a, b, forward):
        """``(d + CPML term, new psi)`` of axis ``i`` in block ``c``."""
        lo_w, hi_w = slab_widths(c, i)
        if lo_w + hi_w == 0:  # no absorbing layer, or a block between the axis-0 slabs
            return d, psi
        shape_c = block_shapes[c]
        slab = _slab_derivative(fp, i, coeffs[i], forward, shape_c, (lo_w, hi_w))
        ps = b[i][c] * psi + a[i][c] * slab
        return d + _unslab(ps, i, shape_c[i], lo_w), ps

    def grid_part(f, axes, c):
        """The grid part of ``f`` (block ``c``), which carries a zero halo on ``axes``."""
        start = [halo if j in axes else 0 for j in range(3)]
        return jax.lax.slice(f, start, [s + n for s, n in zip(start, block_shapes[c], strict=True)])

    def step(state, fields):
        """Advance ``(p, v, psi_p, psi_v)`` by one time step, without the source."""
        p, v, psi_p, psi_v = state
        dtb, dtk = fields
        p = refresh(p)
        new_v = [[], [], []]
        new_psi_p = [[], [], []]
        for c in range(n_blocks):
            for i in range(3):
                d = _derivative(p[c], i, coeffs[i], True, block_shapes[c])
                d, ps = with_cpml(d, p[c], i, c, psi_p[i][c], a_half, b_half, True)
                new_psi_p[i].append(ps)
                vi = grid_part(v[i][c], (i,), c) - dtb[i][c] * d
                start = [halo if j == i else 0 for j in range(3)]
                new_v[i].append(jax.lax.dynamic_update_slice(v[i][c], vi, start))
        new_v[0] = refresh(new_v[0])
        new_p = []
        new_psi_v = [[], [], []]
        for c in range(n_blocks):
            div = 0.0
            for i in range(3):
                d = _derivative(new_v[i][c], i, coeffs[i], False, block_shapes[c])
                d, ps = with_cpml(d, new_v[i][c], i, c, psi_v[i][c], a_node, b_node, False)
                new_psi_v[i].append(ps)
                div = div + d
            pc = grid_part(p[c], (0, 1, 2), c) - dtk[c] * div
            new_p.append(jax.lax.dynamic_update_slice(p[c], pc, (halo,) * 3))

        def tup(x):
            return tuple(tuple(b) for b in x)

        return (tuple(new_p), tup(new_v), tup(new_psi_p), tup(new_psi_v))

    def zero_state():
        """The state at rest (built inside the compiled run, so nothing is copied in)."""

        def zeros(c, halo_axes=(), slab_axis=None):
            s = list(block_shapes[c])
            for j in halo_axes:
                s[j] += 2 * halo
            if slab_axis is not None:
                s[slab_axis] = sum(slab_widths(c, slab_axis))
            return jnp.zeros(s, dtype=dtype)

        p = tuple(zeros(c, (0, 1, 2)) for c in range(n_blocks))
        v = tuple(tuple(zeros(c, (i,)) for c in range(n_blocks)) for i in range(3))
        psi = tuple(tuple(zeros(c, slab_axis=i) for c in range(n_blocks)) for i in range(3))
        return (p, v, psi, psi)

    return step, zero_state, fields, kappa, shape, bounds


def compile_solver(
    model: VelocityModel,
    config: SolverConfig,
    dt: float,
    src: PointSet,
    rec: PointSet,
    wavelet,
    n_chunks: int | None = None,
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
        n_chunks: blocks of rows the grid is cut into (:func:`build_stepper`; the result
            does not depend on it).
    """
    step, zero_state, fields, kappa, shape, bounds = build_stepper(model, config, dt, n_chunks)
    dtype = jnp.dtype(config.dtype)
    halo = len(STAGGERED_COEFFS)
    cell = float(np.prod(model.grid.spacing_m))

    def block_index(flat):
        """(block, in-block index with the pressure's halo) of flat indices."""
        i0, i1, i2 = np.unravel_index(np.asarray(flat), shape)
        block = np.searchsorted(bounds, i0, side="right") - 1
        return block, (i0 - bounds[block] + halo, i1 + halo, i2 + halo)

    # source: dp = dt * K(x_s) * q(t_{n+1/2}) / V, spread with the interpolation weights
    k_src = kappa.ravel()[src.index]  # [n_src, n_w]
    src_w = np.asarray((dt * k_src * src.weight / cell).ravel())
    src_block, src_local = block_index(src.index.ravel())
    # the source's points in each block: (block, indices, positions in src_w)
    src_sets = [
        (
            int(c),
            tuple(jnp.asarray(x[src_block == c]) for x in src_local),
            np.flatnonzero(src_block == c),
        )
        for c in np.unique(src_block)
    ]
    wavelet = jnp.asarray(wavelet, dtype=dtype)
    rec_block, rec_local = block_index(rec.index)
    rec_w = jnp.asarray(rec.weight, dtype=dtype)

    def record(p, rec_w):
        """Pressure at the receivers from the blocks: each weight's node read from its block."""
        out = None
        for c in np.unique(rec_block):
            idx = tuple(jnp.asarray(np.where(rec_block == c, x, 0)) for x in rec_local)
            vals = p[int(c)][idx]
            out = vals if out is None else jnp.where(jnp.asarray(rec_block == c), vals, out)
        return jnp.sum(out * rec_w, axis=-1)

    @jax.jit
    def run(fields, wavelet, src_w, rec_w):
        def body(state, q_t):
            p, v, psi_p, psi_v = step(state, fields)
            p = list(p)
            for c, idx, pos in src_sets:
                p[c] = p[c].at[idx].add(q_t * src_w[pos])
            return (tuple(p), v, psi_p, psi_v), record(p, rec_w)

        _, out = jax.lax.scan(body, zero_state(), wavelet)
        return out

    args = (jax.tree.map(jnp.asarray, fields), wavelet, jnp.asarray(src_w, dtype), rec_w)
    return run, args
