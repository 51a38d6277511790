"""The model grid, receiver layouts and source features.

Conventions shared by every module of jaxseis:

* positions are in kilometres, as ``(x, y, z)`` with ``x`` and ``y`` horizontal and ``z``
  measured **upward from the bottom of the model** (as in Spurio Mancini et al. 2021);
* the default grid is the paper's: 81 x 81 x 301 nodes with spacing 12.5 m, 12.5 m and 10 m,
  i.e. a 1 km x 1 km x 3 km block whose node ``(i, j, k)`` (0-based) sits at
  ``(i * 0.0125, j * 0.0125, k * 0.01)`` km;
* receivers lie in the seabed plane ``z = 2.43`` km (node ``k = 243``), water above it, sources
  below it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "CENTRAL_RECEIVER_KM",
    "DEFAULT_GRID",
    "LAYOUT_23_INDEX",
    "LOCATION_RECEIVER_INDEX",
    "SEABED_Z_KM",
    "Grid",
    "benchmark_receivers_km",
    "check_grid",
    "check_inside",
    "check_points",
    "check_position",
    "describe_extent",
    "grid_from_dict",
    "grid_to_dict",
    "layout_23_km",
    "location_receivers_km",
    "metres_hint",
    "nearest_points",
    "real_array",
    "receiver_labels",
    "source_features",
]

SEABED_Z_KM = 2.43
"""Height of the seabed (the receiver plane) above the model bottom, km."""


class Grid(NamedTuple):
    """A regular 3-D grid of nodes.

    Attributes:
        shape: number of nodes ``(nx, ny, nz)``.
        spacing_km: node spacing ``(dx, dy, dz)`` in km.
        origin_km: position of node ``(0, 0, 0)`` in km.
    """

    shape: tuple[int, int, int] = (81, 81, 301)
    spacing_km: tuple[float, float, float] = (0.0125, 0.0125, 0.01)
    origin_km: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def extent_km(self) -> np.ndarray:
        """Lower and upper corners of the grid, shape ``[2, 3]`` in km."""
        lo = np.asarray(self.origin_km, dtype=np.float64)
        hi = lo + (np.asarray(self.shape) - 1) * np.asarray(self.spacing_km)
        return np.stack([lo, hi])

    @property
    def spacing_m(self) -> np.ndarray:
        """Node spacing in metres, shape ``[3]``."""
        return np.asarray(self.spacing_km, dtype=np.float64) * 1000.0

    def axes_km(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Node coordinates along each axis, in km."""
        return tuple(
            o + d * np.arange(n)
            for o, d, n in zip(self.origin_km, self.spacing_km, self.shape, strict=False)
        )

    def km_to_index(self, points_km: np.ndarray) -> np.ndarray:
        """Fractional 0-based node index of points ``[..., 3]`` given in km."""
        p = np.asarray(points_km, dtype=np.float64)
        return (p - np.asarray(self.origin_km)) / np.asarray(self.spacing_km)

    def index_to_km(self, index: np.ndarray) -> np.ndarray:
        """Position in km of (possibly fractional) 0-based node indices ``[..., 3]``."""
        i = np.asarray(index, dtype=np.float64)
        return np.asarray(self.origin_km) + i * np.asarray(self.spacing_km)

    def contains(self, points_km: np.ndarray, atol_km: float = 1e-9) -> np.ndarray:
        """Whether each point ``[..., 3]`` lies inside the grid (bounds included)."""
        p = np.asarray(points_km, dtype=np.float64)
        lo, hi = self.extent_km
        return np.all((p >= lo - atol_km) & (p <= hi + atol_km), axis=-1)

    def nearest_node(self, points_km: np.ndarray) -> np.ndarray:
        """Integer 0-based index ``[..., 3]`` of the node nearest to each point."""
        return np.rint(self.km_to_index(points_km)).astype(np.int64)

    def on_node(self, points_km: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        """Whether each point coincides with a node (to ``tol`` of a cell)."""
        idx = self.km_to_index(points_km)
        return np.all(np.abs(idx - np.rint(idx)) <= tol, axis=-1)


DEFAULT_GRID = Grid()
"""The paper's 81 x 81 x 301 grid (1 km x 1 km x 3 km)."""

LAYOUT_23_INDEX = np.array(
    [
        (11, 31), (11, 51), (11, 71), (21, 21), (21, 41), (21, 61), (31, 11), (31, 31),
        (31, 51), (31, 71), (41, 21), (41, 41), (41, 61), (51, 11), (51, 31), (51, 51),
        (51, 71), (61, 21), (61, 41), (61, 61), (71, 11), (71, 31), (71, 51),
    ],
    dtype=np.int64,
)  # fmt: skip
"""The 23-receiver seabed layout as 1-based grid indices ``(ix, iy)`` (Das et al. 2018)."""

LOCATION_RECEIVER_INDEX = np.array([(11, 31), (11, 71), (31, 51), (51, 71)], dtype=np.int64)
"""The 4 receivers used for the location experiment, 1-based ``(ix, iy)``.

The paper used "four receivers in the upper-diagonal part of the detection plane" without listing
them. jaxseis takes four receivers of the 23-receiver layout that lie above the diagonal
``y = x`` and span it: (0.125, 0.375), (0.125, 0.875), (0.375, 0.625) and (0.625, 0.875) km.
The event of the paper, at (0.375, 0.3) km in plan, lies outside their hull, to the south, so
the horizontal position is less constrained than depth, as in the paper's Table 2.
"""

CENTRAL_RECEIVER_KM = np.array([0.5, 0.5, SEABED_Z_KM])
"""The central receiver used for the single-receiver emulator studies, km."""


def _index_layout_to_km(index_1based: np.ndarray, grid: Grid) -> np.ndarray:
    xy = (np.asarray(index_1based, dtype=np.float64) - 1.0) * np.asarray(grid.spacing_km[:2])
    xy = xy + np.asarray(grid.origin_km[:2])
    z = np.full((xy.shape[0], 1), SEABED_Z_KM)
    return np.concatenate([xy, z], axis=1)


def layout_23_km(grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """The 23-receiver seabed layout, ``[23, 3]`` in km."""
    return _index_layout_to_km(LAYOUT_23_INDEX, grid)


def location_receivers_km(grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """The 4 receivers of the location experiment, ``[4, 3]`` in km."""
    return _index_layout_to_km(LOCATION_RECEIVER_INDEX, grid)


def benchmark_receivers_km(grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """Receivers of the benchmark dataset: the central one, then the 4 location ones, ``[5, 3]``."""
    return np.concatenate([CENTRAL_RECEIVER_KM[None, :], location_receivers_km(grid)], axis=0)


def check_grid(grid) -> Grid:
    """Validate a grid: 3 whole node counts of at least 2, finite positive spacings (km) and a
    finite origin (km). Returns it as a :class:`Grid` of Python numbers.

    Raises:
        ValueError: naming the bad entry (an empty grid, a negative or NaN spacing, ...).
    """
    if not isinstance(grid, Grid):
        raise ValueError(f"expected a jaxseis Grid, got {type(grid).__name__}")
    shape, spacing, origin = (_three(grid, name) for name in grid._fields)
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in shape):
        raise ValueError(f"grid shape must be 3 whole node counts, got {grid.shape}")
    if min(shape) < 2:
        raise ValueError(f"grid shape {tuple(shape)} is empty or flat: need >= 2 nodes per axis")
    if not all(_real(d) and math.isfinite(d) and d > 0 for d in spacing):
        raise ValueError(f"grid spacing must be 3 finite positive numbers (km), got {spacing}")
    if not all(_real(o) and math.isfinite(o) for o in origin):
        raise ValueError(f"grid origin must be 3 finite numbers (km), got {origin}")
    return Grid(
        tuple(int(n) for n in shape),
        tuple(float(d) for d in spacing),
        tuple(float(o) for o in origin),
    )


def _three(grid: Grid, name: str) -> tuple:
    value = getattr(grid, name)
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"grid {name} must have 3 entries, got {value!r}") from None
    if len(items) != 3:
        raise ValueError(f"grid {name} must have 3 entries, got {value!r}")
    return items


def _real(x) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def grid_to_dict(grid: Grid) -> dict:
    """JSON-ready description of a grid (for file headers and provenance)."""
    g = check_grid(grid)
    return {
        "shape": list(g.shape),
        "spacing_km": list(g.spacing_km),
        "origin_km": list(g.origin_km),
    }


def grid_from_dict(d) -> Grid:
    """Inverse of :func:`grid_to_dict`, validated (raises ``ValueError`` on a bad entry)."""
    if not isinstance(d, dict) or set(d) != {"shape", "spacing_km", "origin_km"}:
        raise ValueError(
            "a grid must be a JSON object with the keys shape, spacing_km and origin_km"
        )
    return check_grid(Grid(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}))


def check_points(points_km, name: str, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """Validate an array of points ``[n, 3]`` in km: finite, right shape, inside ``grid``.

    Returns the points as a float64 NumPy array; raises ``ValueError`` naming ``name`` otherwise
    (with a hint when the points lie outside the grid in km but inside it in metres).
    """
    grid = check_grid(grid)
    p = real_array(points_km, name)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[-1] != 3:
        raise ValueError(
            f"{name} must have shape [n, 3] (x, y, z in km); got {np.shape(points_km)}"
        )
    if not np.all(np.isfinite(p)):
        bad = np.flatnonzero(~np.all(np.isfinite(p), axis=-1))
        raise ValueError(f"{name} contains NaN or infinite coordinates (rows {bad[:5].tolist()})")
    check_inside(p, grid, name)
    return p


def check_inside(points_km, grid: Grid, name: str, what: str = "the grid") -> None:
    """Refuse points ``[n, 3]`` (km) outside ``grid``.

    Raises:
        ValueError: ``"{name}[i] = [x, y, z] km lies outside {what} (extent)"`` for the first
            such point, with a hint when the numbers look like metres.
    """
    p = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    inside = grid.contains(p)
    if not np.all(inside):
        i = int(np.flatnonzero(~inside)[0])
        raise ValueError(
            f"{name}[{i}] = {p[i].tolist()} km lies outside {what} ({describe_extent(grid)})"
            + metres_hint(p, grid)
        )


def nearest_points(points_km, reference_km) -> tuple[np.ndarray, np.ndarray]:
    """For each point ``[n, 3]`` (km), the nearest of ``reference_km [m, 3]``.

    Returns:
        ``(index [n] int, distance [n] km)``: the row of ``reference_km`` nearest to each point
        and the distance to it.
    """
    p = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    r = np.asarray(reference_km, dtype=np.float64).reshape(-1, 3)
    dist = np.linalg.norm(p[:, None, :] - r[None, :, :], axis=-1)
    index = np.argmin(dist, axis=1)
    return index, dist[np.arange(len(p)), index]


def real_array(values, name: str) -> np.ndarray:
    """``values`` as a float64 array, refusing complex numbers and non-numbers.

    Raises:
        ValueError: ``"{name} must be real numbers ..."`` or ``"{name} must be numbers ..."``.
    """
    if np.iscomplexobj(values):
        raise ValueError(f"{name} must be real numbers, got complex values")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r:.80}") from None


def describe_extent(grid: Grid) -> str:
    """``"x in [a, b], y in [c, d], z in [e, f] km"`` for a grid."""
    lo, hi = grid.extent_km
    return ", ".join(f"{axis} in [{lo[k]:g}, {hi[k]:g}]" for k, axis in enumerate("xyz")) + " km"


def metres_hint(points_km, grid: Grid) -> str:
    """``"; the numbers look like metres: ..."`` when points outside ``grid`` (km) lie inside it
    once divided by 1000 and are over 100 times the grid's largest coordinate, else ``""``."""
    p = np.asarray(points_km, dtype=np.float64).reshape(-1, 3)
    outside = p[~grid.contains(p)]
    scale = float(np.max(np.abs(grid.extent_km)))
    if not outside.size or not np.all(grid.contains(p / 1000.0)):
        return ""
    if np.max(np.abs(outside)) < 100.0 * scale:  # metres are ~1000 times the grid's numbers
        return ""
    example = np.round(outside[0] / 1000.0, 6).tolist()
    return f"; the numbers look like metres: give km (e.g. {example})"


def source_features(sources_km, receiver_km) -> np.ndarray:
    """Features ``[dx, dy, dz, d]`` (km) of sources ``[..., 3]`` relative to one receiver ``[3]``.

    ``d`` is the Euclidean source-receiver distance in km (physical units, unlike the original
    code, which measured it in anisotropic grid indices). Works on NumPy and JAX arrays.
    """
    xp = _array_namespace(sources_km)
    delta = sources_km - receiver_km
    d = xp.sqrt(xp.sum(delta**2, axis=-1, keepdims=True))
    return xp.concatenate([delta, d], axis=-1)


def _array_namespace(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import jax.numpy as jnp

    return jnp


def receiver_labels(n: int, prefix: str = "R") -> tuple[str, ...]:
    """Default station codes ``R01, R02, ...`` (at most 6 characters, as NonLinLoc wants)."""
    return tuple(f"{prefix}{i + 1:02d}" for i in range(n))


def check_position(position_km, extent_km, what: str = "the model") -> None:
    """Raise ``ValueError`` if a position ``[3]`` km lies outside ``extent_km [2, 3]`` (a
    grid's or a table's corners), with a hint when the numbers look like metres."""
    p = np.asarray(position_km, dtype=np.float64).reshape(3)
    lo, hi = np.asarray(extent_km, dtype=np.float64)
    tol = 1e-6 * np.maximum(hi - lo, 1.0)
    if np.all(p >= lo - tol) and np.all(p <= hi + tol):
        return
    grid = Grid(shape=(2, 2, 2), spacing_km=tuple(hi - lo), origin_km=tuple(lo))
    raise ValueError(
        f"position {p.tolist()} km lies outside {what} ({describe_extent(grid)})"
        f"{metres_hint(p, grid)}"
    )
