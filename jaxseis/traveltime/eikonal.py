"""Fast-marching travel times from one source, with a straight-ray start and optional refinement
(see :mod:`jaxseis.traveltime` for the method and its accuracy)."""

from __future__ import annotations

import numpy as np

from jaxseis.geometry import Grid, check_points
from jaxseis.velocity import VelocityModel

__all__ = ["DEFAULT_INIT_RADIUS_KM", "eikonal_traveltimes", "straight_ray_time"]

DEFAULT_INIT_RADIUS_KM = 0.1
"""Radius of the ball around the source initialised with straight-ray times, km."""


def _trilinear(values: np.ndarray, fidx: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of ``values [nx, ny, nz]`` at fractional indices ``[..., 3]``."""
    upper = np.asarray(values.shape) - 1
    fidx = np.clip(fidx, 0, upper)
    base = np.minimum(np.floor(fidx).astype(np.int64), np.maximum(upper - 1, 0))
    frac = fidx - base
    out = np.zeros(fidx.shape[:-1])
    for corner in np.ndindex(2, 2, 2):
        c = np.asarray(corner)
        w = np.prod(np.where(c == 1, frac, 1.0 - frac), axis=-1)
        node = np.minimum(base + c, upper)
        out += w * values[node[..., 0], node[..., 1], node[..., 2]]
    return out


def straight_ray_time(model: VelocityModel, source_km, points_km, n_steps: int = 16) -> np.ndarray:
    """Travel time (s) along straight rays from ``source_km`` to ``points_km [n, 3]``.

    The slowness is integrated with the midpoint rule over ``n_steps`` segments, with trilinear
    interpolation of ``1 / vp``. Accurate near the source, where rays are nearly straight.
    Returns ``[n]`` times in s.
    """
    src = np.asarray(source_km, dtype=np.float64).reshape(3)
    pts = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    s = (np.arange(n_steps) + 0.5) / n_steps
    path = src + s[None, :, None] * (pts - src)[:, None, :]  # [n, n_steps, 3]
    slowness = _trilinear(1.0 / model.vp, model.grid.km_to_index(path))  # s/m
    length_m = np.linalg.norm(pts - src, axis=-1) * 1000.0
    return slowness.mean(axis=-1) * length_m


def _refine_linear(values: np.ndarray, factor: int) -> np.ndarray:
    """Separable linear interpolation of ``[nx, ny, nz]`` onto a grid ``factor`` times finer.

    The output has shape ``(n - 1) * factor + 1`` along each axis and equals ``values`` on the
    original nodes (every ``factor``-th node).
    """
    out = np.asarray(values, dtype=np.float64)
    for axis in range(3):
        n = out.shape[axis]
        pos = np.arange((n - 1) * factor + 1) / factor
        i0 = np.minimum(np.floor(pos).astype(np.int64), n - 2)
        w = pos - i0
        shape = [1, 1, 1]
        shape[axis] = -1
        w = w.reshape(shape)
        out = np.take(out, i0, axis=axis) * (1.0 - w) + np.take(out, i0 + 1, axis=axis) * w
    return out


def eikonal_traveltimes(
    model: VelocityModel,
    source_km,
    init_radius_km: float = DEFAULT_INIT_RADIUS_KM,
    *,
    refine: int = 1,
) -> np.ndarray:
    """First-arrival P travel times (s) from ``source_km`` to every node, ``[nx, ny, nz]``.

    Solves the eikonal equation with pykonal's fast marching method on the model's grid (or on
    a grid ``refine`` times finer, sampled back on the model's nodes), after setting the nodes
    within ``init_radius_km`` of the source to their straight-ray times and freezing them (see
    the module docs). By reciprocity of travel times, a table computed from a receiver gives the
    travel time from any source position to that receiver.

    Args:
        model: the velocity model (``vp`` in m/s on its grid).
        source_km: source position ``[3]`` in km, inside the grid.
        init_radius_km: radius of the analytically initialised ball, km (at least the nearest
            node is initialised when it holds no node).
        refine: integer refinement factor of the marching grid (1: the model's grid).

    Returns:
        ``[nx, ny, nz]`` float64 travel times in s on the model's grid.

    Raises:
        ValueError: for a source outside the grid, ``refine < 1`` or a negative radius.
    """
    import pykonal

    src = check_points(source_km, "source_km", model.grid)
    if src.shape[0] != 1:
        raise ValueError(f"source_km must be a single point [3]; got shape {np.shape(source_km)}")
    src = src[0]
    if int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer, got {refine}")
    if not init_radius_km >= 0:
        raise ValueError(f"init_radius_km must be >= 0, got {init_radius_km}")
    refine = int(refine)
    coarse = model.grid
    if refine == 1:
        grid, vp = coarse, np.asarray(model.vp, dtype=np.float64)
    else:
        grid = Grid(
            shape=tuple((n - 1) * refine + 1 for n in coarse.shape),
            spacing_km=tuple(d / refine for d in coarse.spacing_km),
            origin_km=tuple(coarse.origin_km),
        )
        vp = 1.0 / _refine_linear(1.0 / np.asarray(model.vp, dtype=np.float64), refine)
    fine_model = VelocityModel(vp=vp, rho=vp, grid=grid, name=model.name)

    solver = pykonal.EikonalSolver(coord_sys="cartesian")
    solver.velocity.min_coords = tuple(grid.origin_km)
    solver.velocity.node_intervals = tuple(grid.spacing_km)
    solver.velocity.npts = tuple(grid.shape)
    solver.velocity.values = vp / 1000.0  # km/s, so that times are in s

    # the analytically initialised ball, in a box of nodes around the source
    lo = np.maximum(np.floor(grid.km_to_index(src - init_radius_km)), 0).astype(int)
    hi = np.minimum(np.ceil(grid.km_to_index(src + init_radius_km)), np.asarray(grid.shape) - 1)
    hi = hi.astype(int)
    axes = [np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)]
    box = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # [bx, by, bz, 3]
    dist = np.linalg.norm(grid.index_to_km(box) - src, axis=-1)
    ball = dist <= init_radius_km
    if not np.any(ball):  # radius below one cell: use the nearest node
        ball = dist == dist.min()
    # interior nodes (all six neighbours in the ball) are frozen; the shell starts the marching
    # (nodes on the grid's faces count as shell: harmless, they keep their analytic times)
    padded = np.pad(ball, 1, constant_values=False)
    interior = ball.copy()
    for axis in range(3):
        for shift in (-1, 1):
            interior &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    nodes = box[ball]
    times = straight_ray_time(fine_model, src, grid.index_to_km(nodes))
    tt = solver.traveltime.values
    known = solver.known
    unknown = solver.unknown
    is_interior = interior[ball]
    for (i, j, k), t, inner in zip(nodes, times, is_interior, strict=True):
        tt[i, j, k] = t
        unknown[i, j, k] = False
        if inner:
            known[i, j, k] = True
        else:
            solver.trial.push(i, j, k)
    solver.solve()
    out = np.array(solver.traveltime.values)
    if refine > 1:
        out = out[::refine, ::refine, ::refine]
    return np.ascontiguousarray(out)
