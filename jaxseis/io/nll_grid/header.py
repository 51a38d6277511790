"""NonLinLoc grid headers (``root.hdr``): the grid types jaxseis reads, the header's text
(:func:`format_grid_header`, :func:`read_grid_header`) and the grid's file names
(:func:`grid_paths`). The format is described in :mod:`jaxseis.io.nll_grid`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from jaxseis.geometry import Grid
from jaxseis.io.coordinates import GeoTransform, parse_transform_line

__all__ = [
    "FLOAT_TYPES",
    "GRID_TYPES",
    "VELOCITY_GRID_TYPES",
    "GridHeader",
    "format_grid_header",
    "grid_paths",
    "read_grid_header",
]

VELOCITY_GRID_TYPES = (
    "VELOCITY", "VELOCITY_METERS", "SLOWNESS", "SLOW_LEN", "VEL2", "SLOW2", "SLOW2_METERS",
)  # fmt: skip
"""NonLinLoc grid types that describe a velocity model."""

GRID_TYPES = (
    *VELOCITY_GRID_TYPES, "TIME", "PROB_DENSITY", "MISFIT", "LIKELIHOOD", "DEPTH", "LENGTH",
    "COULOMB", "SSST_TIMECORR",
)  # fmt: skip
"""NonLinLoc 3-D grid types jaxseis reads (values are plain numbers)."""

_REFUSED_TYPES = {
    "TIME2D": "a 2-D (distance, depth) travel-time table of a 1-D model; jaxseis needs 3-D "
    "TIME grids (Grid2Time with GTMODE GRID3D)",
    "ANGLE2D": "2-D take-off angles of a 1-D model, not used by jaxseis",
    "INCLINATION2D": "2-D inclination angles of a 1-D model, not used by jaxseis",
    "ANGLE": "bit-packed take-off angles, not used by jaxseis",
    "INCLINATION": "bit-packed inclination angles, not used by jaxseis",
}
_STATION_TYPES = ("TIME", "TIME2D", "ANGLE", "ANGLE2D", "INCLINATION", "INCLINATION2D")

FLOAT_TYPES = {"FLOAT": 4, "DOUBLE": 8}
"""Float types of a grid buffer and their widths, bytes."""


class GridHeader(NamedTuple):
    """The header of a NonLinLoc grid, in jaxseis coordinates.

    Attributes:
        grid: the nodes as a jaxseis :class:`~jaxseis.geometry.Grid` (``z`` up, km).
        grid_type: NonLinLoc grid type, e.g. ``"VELOCITY"`` or ``"TIME"``.
        float_type: ``"FLOAT"`` (4 bytes) or ``"DOUBLE"`` (8 bytes).
        origin_depth_km: NonLinLoc ``zOrig``, the depth of the top node (km).
        surface_z_km: model ``z`` of depth 0 (km).
        station: for time grids, ``(label, x, y, z)`` with ``z`` in model coordinates (km);
            otherwise ``None``.
        transform: the geographic transform (``None`` for ``TRANSFORM NONE`` or no line).
        transform_line: the header's ``TRANSFORM`` line as written (``""`` if absent).
    """

    grid: Grid
    grid_type: str
    float_type: str
    origin_depth_km: float
    surface_z_km: float
    station: tuple[str, float, float, float] | None
    transform: GeoTransform | None
    transform_line: str


def grid_paths(root: str | Path) -> tuple[Path, Path, Path]:
    """``(root, root.hdr, root.buf)``; a root given with its ``.hdr``/``.buf`` is accepted."""
    root = Path(root)
    if root.suffix in (".hdr", ".buf"):
        root = root.with_suffix("")
    return root, root.with_name(root.name + ".hdr"), root.with_name(root.name + ".buf")


def _num(v: float) -> str:
    """A header number: 12 significant digits (NonLinLoc's ``%lf`` has 6 decimals)."""
    return f"{_snap(v):.12g}"


def _snap(v: float) -> float:
    """``v`` rounded to 1e-12 km, so that sums of header numbers read back as written."""
    return round(float(v), 12) + 0.0  # + 0.0 turns -0.0 into 0.0


def format_grid_header(
    grid: Grid,
    grid_type: str,
    station: tuple[str, float, float, float] | None = None,
    *,
    transform: GeoTransform | None = None,
) -> str:
    """The text of a grid's header (``root.hdr``), as :func:`write_nonlinloc_grid` writes it.

    Depth is ``surface_z_km - z`` with ``surface_z_km`` the transform's, or the top of ``grid``
    without a transform (``TRANSFORM NONE``).

    Args:
        grid: the grid.
        grid_type: a grid type of :data:`GRID_TYPES`.
        station: for ``TIME`` grids, ``(label, x_km, y_km, z_km)`` in model coordinates.
        transform: the geographic transform written as the ``TRANSFORM`` line.

    Raises:
        ValueError: a station label that is empty or holds spaces.
    """
    z_top = float(grid.extent_km[1, 2])
    surface = z_top if transform is None else transform.surface_z_km
    nx, ny, nz = grid.shape
    x0, y0, _ = grid.origin_km
    dx, dy, dz = grid.spacing_km
    head = [nx, ny, nz, _num(x0), _num(y0), _num(surface - z_top), _num(dx), _num(dy), _num(dz)]
    lines = [" ".join(str(v) for v in head) + f" {grid_type} FLOAT"]
    if station is not None:
        label, sx, sy, sz = station
        if not label or any(ch.isspace() for ch in label):
            raise ValueError(f"station label {label!r} must be non-empty without spaces")
        lines.append(f"{label} {_num(sx)} {_num(sy)} {_num(surface - sz)}")
    lines.append("TRANSFORM  NONE" if transform is None else transform.transform_line())
    return "\n".join(lines) + "\n"


def read_grid_header(root: str | Path, *, surface_z_km: float | None = None) -> GridHeader:
    """Read the header of a NonLinLoc grid (``root.hdr``).

    Args:
        root: the grid path without extension (``.hdr``/``.buf`` are also accepted).
        surface_z_km: model ``z`` of depth 0, km (default: the value that puts the bottom node
            at ``z = 0``).

    Raises:
        FileNotFoundError: no header file.
        ValueError: a malformed first line, an unknown or refused grid type, an unsupported
            float type or transform, a cascading grid, or a missing or malformed station line.
    """
    _, hdr, _ = grid_paths(root)
    if not hdr.is_file():
        raise FileNotFoundError(f"NonLinLoc grid header {hdr} does not exist")
    try:
        lines = hdr.read_text(encoding="ascii").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{hdr}: not a text file (a grid header is ASCII text)") from None
    if not lines or not lines[0].strip():
        raise ValueError(f"{hdr}: empty first line; expected 'xNum yNum zNum ... gridType'")
    f = lines[0].split()
    if len(f) < 10:
        raise ValueError(
            f"{hdr}:1: expected 'xNum yNum zNum xOrig yOrig zOrig dx dy dz gridType [FLOAT|"
            f"DOUBLE]', got {len(f)} fields: {lines[0]!r}"
        )
    try:
        counts = [int(v) for v in f[:3]]
    except ValueError:
        raise ValueError(f"{hdr}:1: node counts must be integers, got {f[:3]}") from None
    try:
        x0, y0, z0, dx, dy, dz = (float(v) for v in f[3:9])
    except ValueError:
        raise ValueError(f"{hdr}:1: origin and spacing must be numbers, got {f[3:9]}") from None
    grid_type = f[9]
    float_type = f[10].upper() if len(f) > 10 else "FLOAT"
    if grid_type in _REFUSED_TYPES:
        raise ValueError(f"{hdr}: grid type {grid_type} is {_REFUSED_TYPES[grid_type]}")
    if grid_type not in GRID_TYPES:
        raise ValueError(f"{hdr}: unknown grid type {grid_type!r}; jaxseis reads {GRID_TYPES}")
    if float_type not in FLOAT_TYPES:
        raise ValueError(f"{hdr}:1: float type {f[10]!r}; NonLinLoc grids are FLOAT or DOUBLE")
    if min(counts) < 1:
        raise ValueError(f"{hdr}:1: node counts must be >= 1, got {counts}")
    spacing = (dx, dy, dz)
    if not all(math.isfinite(v) for v in (x0, y0, z0, *spacing)) or min(spacing) <= 0:
        raise ValueError(f"{hdr}:1: spacings must be positive and finite, got {spacing}")
    if any(ln.split()[:1] == ["CASCADING_GRID"] for ln in lines):
        raise ValueError(f"{hdr}: cascading grids (CASCADING_GRID) are not supported")
    nz = counts[2]
    surface = _snap(z0 + (nz - 1) * dz) if surface_z_km is None else float(surface_z_km)
    bottom = _snap(surface - z0 - (nz - 1) * dz)
    grid = Grid(shape=tuple(counts), spacing_km=spacing, origin_km=(x0, y0, bottom))
    transform_lines = [ln for ln in lines[1:] if ln.split()[:1] == ["TRANSFORM"]]
    transform_line = transform_lines[-1].strip() if transform_lines else ""
    transform = parse_transform_line(transform_line, surface) if transform_line else None
    station = None
    if grid_type in _STATION_TYPES:
        s = lines[1].split() if len(lines) > 1 else []
        if len(s) < 4 or s[0] == "TRANSFORM":
            raise ValueError(f"{hdr}:2: a {grid_type} grid needs the station line 'label x y z'")
        try:
            sx, sy, sdepth = (float(v) for v in s[1:4])
        except ValueError:
            raise ValueError(f"{hdr}:2: malformed station line {lines[1]!r}") from None
        station = (s[0], sx, sy, _snap(surface - sdepth))
    return GridHeader(grid, grid_type, float_type, z0, surface, station, transform, transform_line)
