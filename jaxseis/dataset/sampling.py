"""Seeded source positions on grid nodes and train/validation/test splits."""

from __future__ import annotations

import numpy as np

from jaxseis.dataset.container import SPLIT_CODES
from jaxseis.geometry import DEFAULT_GRID, SEABED_Z_KM, Grid

__all__ = ["SOURCE_Z_MAX_KM", "latin_hypercube_nodes", "random_nodes", "split_indices"]

SOURCE_Z_MAX_KM = SEABED_Z_KM - 0.01
"""Highest source height, km: sources lie in the rock, at least one node below the seabed."""


def split_indices(n_events: int, n_train: int, n_validation: int, seed: int) -> np.ndarray:
    """Seeded split codes ``[n_events]``: ``n_train`` train, ``n_validation`` validation, the
    rest test."""
    if n_train + n_validation > n_events or min(n_train, n_validation) < 0:
        raise ValueError(
            f"cannot split {n_events} events into {n_train} train and {n_validation} validation"
        )
    order = np.random.default_rng(seed).permutation(n_events)
    split = np.full(n_events, SPLIT_CODES["test"], dtype=np.int8)
    split[order[:n_train]] = SPLIT_CODES["train"]
    split[order[n_train : n_train + n_validation]] = SPLIT_CODES["validation"]
    return split


def _box_nodes(grid: Grid, z_max_km: float) -> np.ndarray:
    """Largest node index along each axis for sources (``[3]``)."""
    hi = np.asarray(grid.shape) - 1
    hi[2] = int(np.floor(grid.km_to_index([0, 0, z_max_km])[2] + 1e-9))
    return hi


def latin_hypercube_nodes(
    n: int, seed: int, grid: Grid = DEFAULT_GRID, z_max_km: float = SOURCE_Z_MAX_KM
) -> np.ndarray:
    """``n`` distinct grid nodes (km, ``[n, 3]``) by Latin hypercube sampling of the source box.

    A Latin hypercube over ``x, y`` in the grid and ``z`` in ``[0, z_max_km]`` is snapped to
    the nearest nodes (as in the paper); the few points that snap onto an already used node
    are redrawn uniformly from the unused nodes with the same seed.
    """
    from scipy.stats import qmc

    hi = _box_nodes(grid, z_max_km)
    u = qmc.LatinHypercube(d=3, seed=np.random.default_rng(seed)).random(n)
    nodes = np.rint(u * hi).astype(np.int64)
    rng = np.random.default_rng(seed + 1)
    flat = np.ravel_multi_index(tuple(nodes.T), tuple(hi + 1))
    _, first = np.unique(flat, return_index=True)
    dup = np.setdiff1d(np.arange(n), first)
    used = set(flat[first].tolist())
    for i in dup:
        while True:
            cand = rng.integers(0, hi + 1)
            f = int(np.ravel_multi_index(tuple(cand), tuple(hi + 1)))
            if f not in used:
                used.add(f)
                nodes[i] = cand
                break
    return grid.index_to_km(nodes)


def random_nodes(
    n: int,
    seed: int,
    grid: Grid = DEFAULT_GRID,
    z_max_km: float = SOURCE_Z_MAX_KM,
    exclude_km: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` distinct grid nodes (km, ``[n, 3]``) drawn uniformly from the source box.

    Nodes in ``exclude_km`` (e.g. the benchmark's sources) are never drawn.
    """
    hi = _box_nodes(grid, z_max_km)
    total = int(np.prod(hi + 1))
    excluded = np.array([], dtype=np.int64)
    if exclude_km is not None and len(exclude_km):
        ex = grid.nearest_node(exclude_km)
        excluded = np.ravel_multi_index(tuple(ex.T), tuple(hi + 1))
    if n > total - len(np.unique(excluded)):
        raise ValueError(f"cannot draw {n} distinct nodes from a box of {total} nodes")
    rng = np.random.default_rng(seed)
    chosen = np.array([], dtype=np.int64)
    while chosen.size < n:
        cand = rng.integers(0, total, size=2 * (n - chosen.size))
        cand = cand[~np.isin(cand, excluded) & ~np.isin(cand, chosen)]
        _, first = np.unique(cand, return_index=True)
        chosen = np.concatenate([chosen, cand[np.sort(first)]])[:n]
    return grid.index_to_km(np.stack(np.unravel_index(chosen, tuple(hi + 1)), axis=1))
