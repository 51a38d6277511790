"""Velocity models as NonLinLoc model grids: the P model exported (:func:`to_nonlinloc`, what
``Vel2Grid`` writes) and any velocity-like grid read as a
:class:`~jaxseis.velocity.VelocityModel` (:func:`read_velocity_grid`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nll_grid.buffer import read_nonlinloc_grid, write_nonlinloc_grid
from jaxseis.io.nll_grid.header import VELOCITY_GRID_TYPES, grid_paths
from jaxseis.velocity import VelocityModel, from_arrays

__all__ = ["read_velocity_grid", "to_nonlinloc"]


def to_nonlinloc(
    model: VelocityModel,
    root: str | Path,
    grid_type: str = "SLOW_LEN",
    *,
    transform: GeoTransform | None = None,
) -> tuple[Path, Path]:
    """Export the P model as a NonLinLoc model grid (what ``Vel2Grid`` writes).

    ``SLOW_LEN`` (slowness times cell length, s) is what NonLinLoc's ``Grid2Time`` reads and
    requires cubic cells; the paper's grid is not cubic (12.5 x 12.5 x 10 m), so for it use
    ``"VELOCITY"`` (km/s) or ``"SLOWNESS"`` (s/km), or resample the model first.

    Args:
        model: the model to export.
        root: output path without extension, e.g. ``"nll/model/marine.P.mod"``.
        grid_type: ``"SLOW_LEN"``, ``"VELOCITY"`` or ``"SLOWNESS"``.
        transform: geographic transform for the header (``None``: ``TRANSFORM NONE``).

    Returns:
        The header and buffer paths.
    """
    vp_km_s = model.vp / 1000.0
    if grid_type == "VELOCITY":
        values = vp_km_s
    elif grid_type == "SLOWNESS":
        values = 1.0 / vp_km_s
    elif grid_type == "SLOW_LEN":
        d = np.asarray(model.grid.spacing_km)
        if not np.allclose(d, d[0]):
            raise ValueError(
                f"SLOW_LEN grids need cubic cells; this grid has spacing {tuple(d)} km. "
                "Use grid_type='VELOCITY' or 'SLOWNESS', or resample the model to cubic cells."
            )
        values = d[0] / vp_km_s
    else:
        raise ValueError(f"grid_type must be SLOW_LEN, VELOCITY or SLOWNESS, got {grid_type!r}")
    return write_nonlinloc_grid(root, values, model.grid, grid_type, transform=transform)


def read_velocity_grid(
    root: str | Path,
    *,
    byte_order: str = "native",
    surface_z_km: float | None = None,
    name: str | None = None,
) -> VelocityModel:
    """Read a NonLinLoc velocity-like grid as a P-wave :class:`~jaxseis.velocity.VelocityModel`.

    Any of :data:`VELOCITY_GRID_TYPES` is converted to ``vp`` in m/s (``SLOW_LEN`` needs cubic
    cells, since it is the slowness times the cell side); the density follows Gardner's
    relation (:func:`~jaxseis.velocity.gardner_density`), as NonLinLoc grids carry none.

    Args:
        root, byte_order, surface_z_km: see :func:`read_nonlinloc_grid`.
        name: model label (default: the file name).

    Raises:
        ValueError: a grid that is not velocity-like, a ``SLOW_LEN`` grid with non-cubic cells,
            zero velocities or slownesses, and everything :func:`read_nonlinloc_grid` raises.
    """
    values, header = read_nonlinloc_grid(root, byte_order=byte_order, surface_z_km=surface_z_km)
    gtype = header.grid_type
    if gtype not in VELOCITY_GRID_TYPES:
        raise ValueError(
            f"{root}: grid type {gtype} is not a velocity model; expected one of "
            f"{VELOCITY_GRID_TYPES}"
        )
    if np.any(values <= 0):
        raise ValueError(f"{root}: {int(np.sum(values <= 0))} values <= 0 in a {gtype} grid")
    d = np.asarray(header.grid.spacing_km)
    if gtype == "SLOW_LEN" and not np.allclose(d, d[0], rtol=1e-6):
        raise ValueError(f"{root}: a SLOW_LEN grid needs cubic cells, spacing is {tuple(d)} km")
    vp = {
        "VELOCITY": lambda v: 1000.0 * v,
        "VELOCITY_METERS": lambda v: v,
        "SLOWNESS": lambda v: 1000.0 / v,
        "SLOW_LEN": lambda v: 1000.0 * d[0] / v,
        "VEL2": lambda v: 1000.0 * np.sqrt(v),
        "SLOW2": lambda v: 1000.0 / np.sqrt(v),
        "SLOW2_METERS": lambda v: 1.0 / np.sqrt(v),
    }[gtype](values)
    return from_arrays(vp, grid=header.grid, name=name or grid_paths(root)[0].name)
