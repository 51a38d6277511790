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

**Implementation.** The stencil, the CPML and the compiled run are in
:mod:`jaxseis.fd_kernel`; this module checks the settings, runs the kernel and decimates its
traces.

**Defaults.** Ricker peak frequency 8 Hz: its spectrum is 3 % of its peak at 2.5 f0 = 20 Hz,
which the 12.5 m grid resolves with 1500 / (20 * 12.5) = 6 points per minimum wavelength in
water (the slowest medium); the solver refuses fewer than 5. The time step is the largest
divisor of the 4 ms output interval below 90 % of the CFL limit (1 ms on the paper's grid).
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from jaxseis.fd_kernel import STAGGERED_COEFFS, PointSet, compile_solver, point_set
from jaxseis.geometry import check_points
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


def _compiled(model, config, dt, src: PointSet, rec: PointSet, n_steps: int):
    """The compiled solver run and its arguments for ``n_steps`` steps of the configured
    Ricker source (:func:`jaxseis.fd_kernel.compile_solver`)."""
    t_half = (np.arange(n_steps) + 0.5) * dt
    wavelet = ricker_integral(t_half, config.f0, config.t0)  # volume rate q(t), m^3/s
    return compile_solver(model, config, dt, src, rec, wavelet)


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
