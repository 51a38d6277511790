"""NonLinLoc grids (``root.hdr`` + ``root.buf``) written and read as arrays: the buffer's
values, ``z`` flipped to jaxseis's upward index, its byte order and the plausibility checks
that detect the wrong one. The format is described in :mod:`jaxseis.io.nll_grid`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxseis.files import atomic_path
from jaxseis.geometry import Grid
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nll_grid.header import (
    FLOAT_TYPES,
    GRID_TYPES,
    VELOCITY_GRID_TYPES,
    GridHeader,
    format_grid_header,
    grid_paths,
    read_grid_header,
)

__all__ = ["BYTE_ORDERS", "NonLinLocGrid", "read_nonlinloc_grid", "write_nonlinloc_grid"]

_NON_NEGATIVE = (*VELOCITY_GRID_TYPES, "TIME")

BYTE_ORDERS = ("native", "little", "big")
"""Accepted ``byte_order`` values of the readers."""


class NonLinLocGrid(NamedTuple):
    """A NonLinLoc grid read into jaxseis orientation.

    Attributes:
        values: ``[nx, ny, nz]`` float64 in the grid type's units, ``z`` index upward.
        header: the :class:`GridHeader`.
    """

    values: np.ndarray
    header: GridHeader


def write_nonlinloc_grid(
    root: str | Path,
    values: np.ndarray,
    grid: Grid,
    grid_type: str,
    station: tuple[str, float, float, float] | None = None,
    *,
    transform: GeoTransform | None = None,
) -> tuple[Path, Path]:
    """Write a NonLinLoc 3-D grid (``root.hdr`` + ``root.buf``), little-endian float32.

    The vertical axis is flipped to NonLinLoc depth (see :mod:`jaxseis.io.nll_grid`): depth ``=
    surface_z_km - z`` with ``surface_z_km`` the transform's, or the top of ``grid`` without a
    transform (``TRANSFORM NONE``). Both files are written atomically.

    Args:
        root: path without extension, e.g. ``"model/layers.P.mod"``.
        values: ``[nx, ny, nz]`` on ``grid`` (jaxseis orientation, ``z`` index upward).
        grid: the grid.
        grid_type: a NonLinLoc grid type of :data:`GRID_TYPES` (``"VELOCITY"`` km/s,
            ``"SLOW_LEN"``, ``"TIME"`` s, ...).
        station: for ``TIME`` grids, ``(label, x_km, y_km, z_km)`` in model coordinates.
        transform: the geographic transform written as the ``TRANSFORM`` line (``None``:
            ``TRANSFORM NONE``).

    Returns:
        The header and buffer paths.

    Raises:
        ValueError: an unknown grid type, a shape mismatch, non-finite values, or a time grid
            without a station (or a station on another grid type).
    """
    if grid_type not in GRID_TYPES:
        raise ValueError(f"unknown NonLinLoc grid type {grid_type!r}; use one of {GRID_TYPES}")
    values = np.asarray(values)
    if values.shape != tuple(grid.shape):
        raise ValueError(f"values have shape {values.shape}, grid has {tuple(grid.shape)}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"values hold {int(np.sum(~np.isfinite(values)))} NaN or infinite values")
    if (grid_type == "TIME") != (station is not None):
        raise ValueError("TIME grids need a station (label, x, y, z); other grids take none")
    _, hdr, buf = grid_paths(root)
    text = format_grid_header(grid, grid_type, station, transform=transform)
    with atomic_path(buf) as tmp:
        np.ascontiguousarray(values[:, :, ::-1], dtype="<f4").tofile(tmp)
    with atomic_path(hdr) as tmp:
        tmp.write_text(text)
    return hdr, buf


def _implausible(values: np.ndarray, grid_type: str) -> str | None:
    """Why ``values`` cannot be a grid of ``grid_type`` (``None`` when plausible)."""
    finite = np.isfinite(values)
    if not np.all(finite):
        return f"{int(np.sum(~finite))} NaN or infinite values"
    if grid_type not in _NON_NEGATIVE:
        return None  # probabilities and misfits may be tiny or huge: only finiteness is checked
    mag = np.abs(values)
    odd = (mag > 1e15) | ((mag < 1e-30) & (mag > 0))
    if np.any(odd):
        i = int(np.flatnonzero(odd.ravel())[0])
        n = int(np.sum(odd))
        return f"{n} values of magnitude < 1e-30 or > 1e15 (e.g. {values.flat[i]:.3g})"
    if grid_type in _NON_NEGATIVE and np.any(values < 0):
        i = int(np.flatnonzero(values.ravel() < 0)[0])
        return f"{int(np.sum(values < 0))} negative values (e.g. {values.flat[i]:.3g})"
    return None


def _byte_char(byte_order: str) -> str:
    if byte_order not in BYTE_ORDERS:
        raise ValueError(f"byte_order must be one of {BYTE_ORDERS}, got {byte_order!r}")
    if byte_order == "native":
        byte_order = sys.byteorder
    return "<" if byte_order == "little" else ">"


def read_nonlinloc_grid(
    root: str | Path, *, byte_order: str = "native", surface_z_km: float | None = None
) -> NonLinLocGrid:
    """Read a NonLinLoc grid written by jaxseis, NonLinLoc or another tool.

    Args:
        root: the grid path without extension (``.hdr``/``.buf`` are also accepted).
        byte_order: byte order of the buffer: ``"native"`` (as NonLinLoc writes it),
            ``"little"`` or ``"big"``.
        surface_z_km: model ``z`` of depth 0, km (default: the grid's bottom node at ``z = 0``).

    Returns:
        :class:`NonLinLocGrid`: values ``[nx, ny, nz]`` (float64, ``z`` index upward) and the
        header.

    Raises:
        FileNotFoundError: a missing header or buffer.
        ValueError: any header problem (:func:`read_grid_header`), a buffer of the wrong size
            (with a hint when it fits the other float type), a buffer in the other byte order
            (naming the ``byte_order`` to use), or implausible values (NaN, huge, negative
            velocities or times).
    """
    char = _byte_char(byte_order)
    header = read_grid_header(root, surface_z_km=surface_z_km)
    _, _, buf = grid_paths(root)
    if not buf.is_file():
        raise FileNotFoundError(f"NonLinLoc grid buffer {buf} does not exist (header found)")
    nx, ny, nz = header.grid.shape
    n = nx * ny * nz
    width = FLOAT_TYPES[header.float_type]
    size = buf.stat().st_size
    if size != n * width:
        hint = ""
        for other, w in FLOAT_TYPES.items():
            if other != header.float_type and size == n * w:
                hint = f"; it fits {other} values: is the header's float type wrong?"
        raise ValueError(
            f"{buf}: {size} bytes, but {nx} x {ny} x {nz} {header.float_type} values need "
            f"{n * width}{hint}"
        )
    kind = "f4" if width == 4 else "f8"
    raw = np.fromfile(buf, dtype=char + kind)
    problem = _implausible(raw, header.grid_type)
    if problem is not None:
        other = ">" if char == "<" else "<"
        name = {"<": "little", ">": "big"}
        swapped = raw.view(raw.dtype.newbyteorder())  # the same bytes, other order
        if _implausible(swapped, header.grid_type) is None:
            raise ValueError(
                f"{buf}: read as {name[char]}-endian, the {header.grid_type} values are "
                f"implausible ({problem}) but they are plausible {name[other]}-endian: the "
                f"file was written on a machine of the other byte order; read it with "
                f"byte_order={name[other]!r}"
            )
        raise ValueError(
            f"{buf}: implausible {header.grid_type} values in either byte order ({problem})"
        )
    values = raw.reshape(nx, ny, nz)[:, :, ::-1].astype(np.float64)
    return NonLinLocGrid(values, header)
