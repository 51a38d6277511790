"""Acoustic finite-difference solver in JAX, with source-receiver reciprocity.

The solver integrates the variable-density acoustic wave equation written as a first-order
system for pressure ``p`` and particle velocity ``v``::

    (1 / K) dp/dt + div v = q(t) delta(x - x_s)        K = rho * vp**2   (bulk modulus)
    rho dv/dt + grad p = 0

on a staggered grid (``v_i`` half a cell from the pressure nodes along axis ``i``), with the
8th-order staggered first-derivative stencil in space and the leapfrog scheme in time
(second-order accurate; eliminating ``v`` gives the usual second-order-in-time pressure update
``p'' = K div(grad(p) / rho) + K dq/dt``). A convolutional PML (Komatitsch & Martin 2007)
surrounds the physical grid on all six faces.

**Source.** A point source of volume injection rate ``q(t)`` [m^3/s] whose time derivative, the
volume acceleration, is a Ricker wavelet of unit peak [m^3/s^2]. In a homogeneous medium the
pressure is ``p(r, t) = rho * ricker(t - r / vp) / (4 pi r)`` [Pa].

**Reciprocity.** Eliminating ``v`` gives ``M p'' = -A p + s`` with ``M = diag(1 / K)`` and ``A``
symmetric (the backward staggered derivative is minus the transpose of the forward one), so the
discrete Green's function is symmetric *provided the source enters as* ``K(x_s) q``. The solver
injects exactly that, and uses the same interpolation weights to inject and to record, so that
the pressure at B from a source at A equals the pressure at A from a source at B. One
simulation with the source at a receiver therefore yields the traces of every source position
at that receiver (:func:`reciprocal_traces`). Without the ``K(x_s)`` factor the two differ by
the ratio of the bulk moduli at the two points.

**Sampling.** Points off the grid nodes are handled with trilinear weights (as Devito does);
points on nodes use the node itself. Traces are recorded every solver step and decimated to the
output interval with a zero-phase Kaiser-windowed FIR anti-alias filter
(:func:`scipy.signal.resample_poly`).

**Implementation.** One step is a handful of fused XLA loops over the padded grid: a
zero-padded copy of ``p``, the three velocity updates, zero-padded copies of the velocities,
the pressure update. The CPML memory variables are non-zero only in the ``n_pml + 1`` nodes at
both ends of their axis, so they are stored and updated only on those slabs and added to the
plain stencil there (:func:`solver_memory` gives the buffers' size).

**Defaults.** Ricker peak frequency 8 Hz: its spectrum is 3 % of its peak at 2.5 f0 = 20 Hz,
which the 12.5 m grid resolves with 1500 / (20 * 12.5) = 6 points per minimum wavelength in
water (the slowest medium); the solver refuses fewer than 5. The time step is the largest
divisor of the 4 ms output interval below 90 % of the CFL limit (1 ms on the paper's grid).
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import Grid, check_points
from jaxseis.velocity import VelocityModel, from_arrays

__all__ = [
    "STAGGERED_COEFFS",
    "PointSet",
    "SolverConfig",
    "check_config",
    "courant_limit",
    "point_set",
    "points_per_wavelength",
    "reciprocal_traces",
    "ricker",
    "ricker_integral",
    "simulate",
    "solver_memory",
]

STAGGERED_COEFFS = np.array([1225.0 / 1024.0, -245.0 / 3072.0, 49.0 / 5120.0, -5.0 / 7168.0])
"""8th-order staggered first-derivative coefficients ``c_k`` for offsets ``k + 1/2``."""

_RICKER_BANDWIDTH = 2.5  # highest significant frequency of a Ricker wavelet, in units of f0
MIN_POINTS_PER_WAVELENGTH = 5.0


class SolverConfig(NamedTuple):
    """Settings of the finite-difference solver.

    Attributes:
        f0: Ricker peak frequency, Hz.
        source_delay: time of the Ricker peak, s (``None``: ``1.5 / f0``).
        duration: length of the output traces, s.
        record_dt: sampling interval of the output traces, s.
        dt: solver time step, s (``None``: the largest divisor of ``record_dt`` below 90 % of
            the CFL limit).
        n_pml: thickness of the absorbing layer on each face, in nodes.
        pml_reflection: theoretical normal-incidence reflection coefficient of the PML.
        dtype: floating-point type of the wavefield (``"float32"`` or ``"float64"``).
    """

    f0: float = 8.0
    source_delay: float | None = None
    duration: float = 2.0
    record_dt: float = 0.004
    dt: float | None = None
    n_pml: int = 10
    pml_reflection: float = 1e-4
    dtype: str = "float32"

    @property
    def t0(self) -> float:
        """Time of the Ricker peak, s."""
        return 1.5 / self.f0 if self.source_delay is None else float(self.source_delay)

    @property
    def n_samples(self) -> int:
        """Number of output samples (``duration / record_dt + 1``)."""
        return round(self.duration / self.record_dt) + 1


class PointSet(NamedTuple):
    """Interpolation weights of points on the padded solver grid.

    Attributes:
        index: flat indices into the padded wavefield, ``[n_points, n_weights]`` (int32).
        weight: matching weights, ``[n_points, n_weights]``; 1 for points on nodes.
    """

    index: np.ndarray
    weight: np.ndarray


def ricker(t, f0: float, t0: float):
    """Ricker wavelet of unit peak at ``t0``: ``(1 - 2 a) exp(-a)``, ``a = (pi f0 (t - t0))**2``."""
    a = (np.pi * f0 * (np.asarray(t) - t0)) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def ricker_integral(t, f0: float, t0: float):
    """Time integral of :func:`ricker`: ``(t - t0) exp(-(pi f0 (t - t0))**2)`` (s)."""
    u = np.asarray(t) - t0
    return u * np.exp(-((np.pi * f0 * u) ** 2))


def courant_limit(vp_max: float, spacing_m) -> float:
    """Largest stable time step (s) of the 8th-order staggered leapfrog scheme.

    The scheme is stable when ``vp_max * dt * sum|c_k| * sqrt(sum_i 1 / h_i**2) <= 1``.
    """
    h = np.asarray(spacing_m, dtype=np.float64)
    return 1.0 / (vp_max * np.sum(np.abs(STAGGERED_COEFFS)) * np.sqrt(np.sum(1.0 / h**2)))


def points_per_wavelength(vp_min: float, spacing_m, f0: float) -> float:
    """Nodes per shortest wavelength: ``vp_min / (2.5 f0 * max(h))``."""
    return vp_min / (_RICKER_BANDWIDTH * f0 * float(np.max(spacing_m)))


def check_config(model: VelocityModel, config: SolverConfig) -> float:
    """Validate the settings against the model and return the solver time step (s).

    The model is re-validated too (:func:`jaxseis.velocity.from_arrays`: units, finiteness,
    the grid), so that velocities in km/s are reported as such.

    Raises:
        ValueError: for settings that are not finite positive numbers, a source delay that
            cuts the wavelet at ``t = 0`` or puts it after the end of the traces, an unstable
            time step, or a grid too coarse for the wavelet.
    """
    if not isinstance(config, SolverConfig):
        raise ValueError(f"config must be a SolverConfig, got {type(config).__name__}")
    from_arrays(model.vp, model.rho, model.grid, model.name)  # units, finiteness, grid
    for name, unit in (("f0", "Hz"), ("duration", "s"), ("record_dt", "s")):
        value = getattr(config, name)
        if not (_is_real(value) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite positive number ({unit}), got {value!r}")
    if config.record_dt > config.duration:
        raise ValueError(
            f"record_dt ({config.record_dt} s) must not exceed duration ({config.duration} s)"
        )
    if config.source_delay is not None:
        delay = config.source_delay
        if not (_is_real(delay) and math.isfinite(delay)):
            raise ValueError(f"source_delay must be a finite number (s) or None, got {delay!r}")
        if delay < 1.0 / config.f0:
            raise ValueError(
                f"source_delay = {delay} s cuts the {config.f0} Hz Ricker wavelet at t = 0 "
                f"(traces would start mid-wavelet or stay zero); give source_delay >= "
                f"1 / f0 = {1.0 / config.f0:.4g} s, or None for 1.5 / f0"
            )
    if config.t0 - 1.0 / config.f0 >= config.duration:
        raise ValueError(
            f"the Ricker wavelet (peak at {config.t0:.4g} s) starts after the end of the traces "
            f"(duration {config.duration} s): the traces would be all zeros; lengthen duration "
            "or lower source_delay"
        )
    if not (isinstance(config.n_pml, int | np.integer) and config.n_pml >= 0):
        raise ValueError(f"n_pml must be a whole number >= 0, got {config.n_pml!r}")
    r = config.pml_reflection
    if not (_is_real(r) and 0 < r < 1):
        raise ValueError(f"pml_reflection must lie in (0, 1), got {r!r}")
    if config.dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {config.dtype!r}")
    h = model.grid.spacing_m
    ppw = points_per_wavelength(float(model.vp.min()), h, config.f0)
    if ppw < MIN_POINTS_PER_WAVELENGTH:
        f_max = float(model.vp.min()) / (MIN_POINTS_PER_WAVELENGTH * np.max(h) * _RICKER_BANDWIDTH)
        raise ValueError(
            f"grid too coarse for a {config.f0} Hz Ricker wavelet: {ppw:.2f} points per minimum "
            f"wavelength (need {MIN_POINTS_PER_WAVELENGTH:.0f}); use f0 <= {f_max:.2f} Hz or a "
            "finer grid"
        )
    limit = courant_limit(float(model.vp.max()), h)
    if config.dt is None:
        n_sub = math.ceil(config.record_dt / (0.9 * limit))
        return config.record_dt / n_sub
    dt = config.dt
    if not (_is_real(dt) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite positive number (s) or None, got {dt!r}")
    dt = float(dt)
    if dt > limit:
        raise ValueError(
            f"unstable time step: dt = {dt * 1e3:.4f} ms exceeds the CFL limit "
            f"{limit * 1e3:.4f} ms for vp_max = {model.vp.max():.0f} m/s"
        )
    ratio = config.record_dt / dt
    if abs(ratio - round(ratio)) > 1e-6:
        raise ValueError(
            f"record_dt ({config.record_dt} s) must be a whole multiple of dt ({dt} s)"
        )
    return dt


def _is_real(x) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


# --------------------------------------------------------------------------------------------
# Points on the padded grid
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------


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


def _build_stepper(model: VelocityModel, config: SolverConfig, dt: float):
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


def _compiled(model, config, dt, src: PointSet, rec: PointSet, n_steps: int):
    """The compiled solver run and its arguments: ``run(*args)`` gives the pressure at
    ``rec`` for each step ``[n_steps, n_rec]``."""
    step, zero_state, fields, kappa, shape = _build_stepper(model, config, dt)
    dtype = jnp.dtype(config.dtype)
    cell = float(np.prod(model.grid.spacing_m))
    # source: dp = dt * K(x_s) * q(t_{n+1/2}) / V, spread with the interpolation weights
    k_src = kappa.ravel()[src.index]  # [n_src, n_w]
    src_w = jnp.asarray((dt * k_src * src.weight / cell).ravel(), dtype=dtype)
    src_i = jnp.asarray(src.index.ravel())
    t_half = (np.arange(n_steps) + 0.5) * dt
    wavelet = ricker_integral(t_half, config.f0, config.t0)  # volume rate q(t), m^3/s
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


def _run(model, config, dt, src: PointSet, rec: PointSet, n_steps: int):
    """Run the solver; returns the pressure at ``rec`` for each step ``[n_steps, n_rec]``."""
    run, args = _compiled(model, config, dt, src, rec, n_steps)
    return run(*args)


def solver_memory(model: VelocityModel, config: SolverConfig = SolverConfig()) -> int:
    """Bytes the compiled solver holds for one simulation of ``model`` with one source and
    one receiver: the coefficients, the wavefields and CPML slabs, XLA's temporaries (from
    XLA's buffer assignment; the recorded traces add one value per step and receiver).
    """
    model = from_arrays(model.vp, model.rho, model.grid, model.name)
    dt = check_config(model, config)
    centre = model.grid.index_to_km(np.asarray(model.grid.shape)[None] // 2)
    pts = point_set(centre, model.grid, config.n_pml)
    run, args = _compiled(model, config, dt, pts, pts, 2)
    stats = run.lower(*args).compile().memory_analysis()
    return int(stats.argument_size_in_bytes + stats.temp_size_in_bytes + stats.output_size_in_bytes)


def _decimate(traces: np.ndarray, factor: int, n_out: int) -> np.ndarray:
    """Zero-phase anti-alias filter and decimation along the last axis."""
    from scipy.signal import resample_poly

    if factor == 1:
        return traces[..., :n_out]
    return resample_poly(traces, 1, factor, axis=-1)[..., :n_out]


def simulate(
    model: VelocityModel,
    source_km,
    receivers_km,
    config: SolverConfig = SolverConfig(),
    *,
    verbose: bool = False,
) -> np.ndarray:
    """Pressure traces at receivers for a point source (direct mode).

    Args:
        model: velocity and density model.
        source_km: source position ``[3]`` in km (volume-injection source, see module docs).
        receivers_km: recording points ``[n, 3]`` in km.
        config: solver settings.
        verbose: print the wall time.

    Returns:
        Pressure in Pa, ``[n, n_samples]`` float32, sample ``k`` at time ``k * record_dt``.

    Raises:
        ValueError: for points outside the grid or NaN, a bad model or unstable settings.
    """
    model = from_arrays(model.vp, model.rho, model.grid, model.name)  # re-validate
    dt = check_config(model, config)
    src = check_points(source_km, "source_km", model.grid)
    if src.shape[0] != 1:
        raise ValueError(f"source_km must be a single point [3]; got shape {np.shape(source_km)}")
    rec = check_points(receivers_km, "receivers_km", model.grid)
    factor = round(config.record_dt / dt)
    n_out = config.n_samples
    # simulate 10 output samples beyond the end so the anti-alias filter has no edge effect
    n_steps = (n_out - 1 + 10) * factor
    tic = time.perf_counter()
    raw = _run(
        model,
        config,
        dt,
        point_set(src, model.grid, config.n_pml),
        point_set(rec, model.grid, config.n_pml),
        n_steps,
    )
    raw = np.asarray(raw, dtype=np.float64).T  # [n_rec, n_steps], times dt..n_steps*dt
    raw = np.concatenate([np.zeros((raw.shape[0], 1)), raw], axis=1)
    out = _decimate(raw, factor, n_out).astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("the simulation produced non-finite values (unstable settings?)")
    if verbose:
        print(
            f"simulated {n_steps} steps on {model.grid.shape} in {time.perf_counter() - tic:.1f} s"
        )
    return out


def reciprocal_traces(
    model: VelocityModel,
    receiver_km,
    sources_km,
    config: SolverConfig = SolverConfig(),
    *,
    verbose: bool = False,
) -> np.ndarray:
    """Traces at one receiver for many sources, from a single simulation (reciprocity).

    The source is placed at the receiver and pressure is recorded at every source position;
    by the reciprocity of the discrete scheme (see module docs) this equals the pressure at
    the receiver from a source at each position.

    Args:
        model: velocity and density model.
        receiver_km: receiver position ``[3]``, km.
        sources_km: source positions ``[n, 3]``, km.
        config: solver settings.

    Returns:
        ``[n, n_samples]`` float32 traces, in Pa.
    """
    return simulate(model, receiver_km, sources_km, config, verbose=verbose)
