"""Differentiable trilinear interpolation of travel-time tables (``jit``, ``vmap``, ``grad``),
and where the tables are defined (see :mod:`jaxseis.traveltime` for sources outside them)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.geometry import Grid
from jaxseis.traveltime.tables import TravelTimeTables, check_tables

__all__ = [
    "check_inside_table",
    "interpolate_point",
    "interpolate_traveltimes",
    "make_interpolator",
    "table_contains",
]


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _grid_arrays(grid: Grid):
    return (
        jnp.asarray(grid.origin_km),
        jnp.asarray(grid.spacing_km),
        jnp.asarray(np.asarray(grid.shape) - 1),
    )


def _inside(fidx, upper, tol: float = 1e-4):
    """Whether fractional indices lie in ``[0, upper]`` to ``tol`` cells (float32 rounding)."""
    return jnp.all((fidx >= -tol) & (fidx <= upper + tol), axis=-1)


def _interp_point(times, origin, spacing, upper, point):
    """Trilinear interpolation of ``times [n_rec, nx, ny, nz]`` at one point ``[3]`` (km).

    Returns ``(values [n_rec], inside)``; outside the grid the position is clamped to it, so the
    values stay finite and differentiable (the caller masks them with ``inside``).
    """
    fidx = (point - origin) / spacing
    inside = _inside(fidx, upper)
    f = jnp.clip(fidx, 0.0, upper.astype(fidx.dtype))
    base = jnp.clip(jnp.floor(f), 0, upper - 1).astype(jnp.int32)
    w = f - base.astype(f.dtype)
    start = (jnp.zeros((), jnp.int32), base[0], base[1], base[2])  # int32 also under x64
    cube = jax.lax.dynamic_slice(times, start, (times.shape[0], 2, 2, 2))  # [n_rec, 2, 2, 2]
    wx = jnp.stack([1.0 - w[0], w[0]])
    wy = jnp.stack([1.0 - w[1], w[1]])
    wz = jnp.stack([1.0 - w[2], w[2]])
    values = jnp.einsum("rijk,i,j,k->r", cube.astype(w.dtype), wx, wy, wz)
    return values, inside


def interpolate_point(times, grid: Grid, point):
    """Trilinear interpolation of ``times [n_rec, nx, ny, nz]`` on ``grid`` at ``point [3]`` km.

    Pure (``times`` may be a traced argument, ``grid`` is static): returns
    ``(values [n_rec] s, inside bool)``; outside the grid the position is clamped, so the
    values stay finite and differentiable, and ``inside`` is False.
    """
    point = jnp.asarray(point)
    dtype = jnp.result_type(point.dtype, jnp.float32)
    origin, spacing, upper = _grid_arrays(grid)
    return _interp_point(
        times, origin.astype(dtype), spacing.astype(dtype), upper, point.astype(dtype)
    )


def make_interpolator(tables: TravelTimeTables) -> Callable:
    """A pure function ``f(point [3] km) -> (times [n_rec] s, inside bool)`` over ``tables``.

    The tables are converted to a JAX array once and closed over. Outside the grid the values
    are those of the clamped position (finite) and ``inside`` is False. Internal building block
    of :func:`interpolate_traveltimes` and the likelihoods.
    """
    times = jnp.asarray(tables.times)
    origin, spacing, upper = _grid_arrays(tables.grid)

    def interp(point):
        point = jnp.asarray(point)
        dtype = jnp.result_type(point.dtype, jnp.float32)
        return _interp_point(
            times, origin.astype(dtype), spacing.astype(dtype), upper, point.astype(dtype)
        )

    return interp


def table_contains(tables: TravelTimeTables, sources_km) -> jax.Array:
    """Whether each source ``[..., 3]`` (km) lies inside the tables' grid (bounds included)."""
    origin, spacing, upper = _grid_arrays(tables.grid)
    p = jnp.asarray(sources_km)
    return _inside((p - origin) / spacing, upper)


def check_inside_table(grid: Grid, points_km) -> None:
    """Raise ``ValueError`` if a concrete point ``[..., 3]`` (km) lies outside ``grid``.

    Uses the tolerance of the traced check (1e-4 of a cell), so float32 positions on the
    grid's faces are accepted.
    """
    pts = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    fidx = grid.km_to_index(pts)
    upper = np.asarray(grid.shape) - 1
    outside = ~np.all((fidx >= -1e-4) & (fidx <= upper + 1e-4), axis=-1)
    if np.any(outside):
        i = int(np.flatnonzero(outside)[0])
        lo, hi = grid.extent_km
        raise ValueError(
            f"source {pts[i].tolist()} km lies outside the travel-time table "
            f"(x in [{lo[0]:g}, {hi[0]:g}], y in [{lo[1]:g}, {hi[1]:g}], "
            f"z in [{lo[2]:g}, {hi[2]:g}] km)"
        )


def interpolate_traveltimes(tables: TravelTimeTables, sources_km) -> jax.Array:
    """Travel times (s) from sources ``[..., 3]`` (km) to every receiver, ``[..., n_receivers]``.

    Trilinear interpolation of the tables in ``jax.numpy``: usable under ``jit``, ``vmap`` and
    ``grad`` (exact gradient with respect to the source position; see the module docs). At grid
    nodes it returns the table values exactly (to float rounding).

    Raises:
        ValueError: when called with concrete positions of which one lies outside the table.
            Traced positions (inside ``jit``/``vmap``/``grad``) cannot raise: outside the table
            the result is NaN.
    """
    check_tables(tables)
    if not _is_traced(sources_km):
        pts = np.asarray(sources_km, dtype=np.float64)
        if pts.shape[-1:] != (3,):
            raise ValueError(f"sources_km must have shape [..., 3] (km); got {pts.shape}")
        pts = pts.reshape(-1, 3)
        if not np.all(np.isfinite(pts)):
            raise ValueError("sources_km contains NaN or infinite coordinates")
        check_inside_table(tables.grid, pts)
    p = jnp.asarray(sources_km)
    if p.shape[-1:] != (3,):
        raise ValueError(f"sources_km must have shape [..., 3] (km); got {p.shape}")
    interp = make_interpolator(tables)
    flat = p.reshape(-1, 3)
    values, inside = jax.vmap(interp)(flat)
    values = jnp.where(inside[:, None], values, jnp.nan)
    return values.reshape(*p.shape[:-1], tables.n_receivers)
