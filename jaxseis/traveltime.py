"""P travel times by fast marching (pykonal) and first-arrival picking on traces.

Fast marching started from a single node makes an error of a fraction of a cell at the
source that then propagates everywhere (about 16 ms here). As careful users of fast marching
do, :func:`eikonal_traveltimes` initialises every node within ``init_radius_km`` of the source
analytically, with the straight-ray travel time through the model's slowness, and lets fast
marching continue from that sphere.
"""

from __future__ import annotations

import numpy as np

from jaxseis.geometry import check_points
from jaxseis.velocity import VelocityModel

__all__ = ["eikonal_traveltimes", "pick_first_arrival", "straight_ray_time"]


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
    """
    src = np.asarray(source_km, dtype=np.float64).reshape(3)
    pts = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    s = (np.arange(n_steps) + 0.5) / n_steps
    path = src + s[None, :, None] * (pts - src)[:, None, :]  # [n, n_steps, 3]
    slowness = _trilinear(1.0 / model.vp, model.grid.km_to_index(path))  # s/m
    length_m = np.linalg.norm(pts - src, axis=-1) * 1000.0
    return slowness.mean(axis=-1) * length_m


def eikonal_traveltimes(
    model: VelocityModel, source_km, init_radius_km: float = 0.05
) -> np.ndarray:
    """First-arrival P travel times (s) from ``source_km`` to every node, ``[nx, ny, nz]``.

    Solves the eikonal equation with pykonal's fast marching method on the model's grid, after
    setting the nodes within ``init_radius_km`` of the source to their straight-ray times.
    By reciprocity of travel times, a table computed from a receiver gives the travel time from
    any source position to that receiver.
    """
    import pykonal

    src = check_points(source_km, "source_km", model.grid)[0]
    grid = model.grid
    solver = pykonal.EikonalSolver(coord_sys="cartesian")
    solver.velocity.min_coords = tuple(grid.origin_km)
    solver.velocity.node_intervals = tuple(grid.spacing_km)
    solver.velocity.npts = tuple(grid.shape)
    solver.velocity.values = model.vp / 1000.0  # km/s, so that times are in s

    lo = np.maximum(np.floor(grid.km_to_index(src - init_radius_km)), 0).astype(int)
    hi = np.minimum(np.ceil(grid.km_to_index(src + init_radius_km)), np.asarray(grid.shape) - 1)
    hi = hi.astype(int)
    axes = [np.arange(a, b + 1) for a, b in zip(lo, hi, strict=False)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    pos = grid.index_to_km(nodes)
    near = np.linalg.norm(pos - src, axis=-1) <= init_radius_km
    if not np.any(near):  # radius below one cell: use the nearest node
        near = np.argmin(np.linalg.norm(pos - src, axis=-1)) == np.arange(len(pos))
    nodes, pos = nodes[near], pos[near]
    times = straight_ray_time(model, src, pos)
    for idx, t in zip(map(tuple, nodes), times, strict=False):
        solver.traveltime.values[idx] = t
        solver.unknown[idx] = False
        solver.trial.push(*idx)
    solver.solve()
    return np.array(solver.traveltime.values)


def pick_first_arrival(
    traces: np.ndarray, dt: float, wavelet_peak_time: float, threshold: float = 0.2
) -> np.ndarray:
    """Automatic first-arrival picks (s after the source's origin time), ``[...]``.

    The picker takes the first local maximum of the trace whose amplitude exceeds
    ``threshold`` times the trace's largest absolute value, refines its time with a parabola
    through the three samples around it, and subtracts the time of the peak of the source
    wavelet (``wavelet_peak_time``, e.g. ``SolverConfig.t0``), since a zero-phase wavelet's
    peak arrives that long after its onset time. Traces are ``[..., n_samples]``.

    Raises:
        ValueError: for non-finite traces, ``threshold`` outside ``(0, 1]`` or ``dt <= 0``.
    """
    x = np.asarray(traces, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("traces contain NaN or infinite values")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    flat = x.reshape(-1, x.shape[-1])
    picks = np.empty(flat.shape[0])
    for i, tr in enumerate(flat):
        level = threshold * np.max(np.abs(tr))
        mid = tr[1:-1]
        is_peak = (mid >= tr[:-2]) & (mid > tr[2:]) & (mid >= level) & (level > 0)
        cand = np.flatnonzero(is_peak)
        if cand.size == 0:
            picks[i] = np.nan
            continue
        k = cand[0] + 1
        y0, y1, y2 = tr[k - 1], tr[k], tr[k + 1]
        denom = y0 - 2 * y1 + y2
        offset = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
        picks[i] = (k + offset) * dt - wavelet_peak_time
    return picks.reshape(x.shape[:-1])
