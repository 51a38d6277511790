"""NonLinLoc 3-D grid files (``.hdr`` + ``.buf``): velocity models and travel-time tables.

**The format** (NonLinLoc's ``GridLib.c``). A grid ``root`` is two files. ``root.hdr`` is text:

* line 1: ``xNum yNum zNum xOrig yOrig zOrig dx dy dz gridType [FLOAT|DOUBLE]`` (km; the
  float type is absent in old files, meaning ``FLOAT``);
* for time (and angle) grids, line 2: ``label x y depth``, the station (the source of the
  eikonal solution);
* a line ``TRANSFORM ...`` (the map projection of the rectangular frame).

``root.buf`` holds ``xNum * yNum * zNum`` values, ``z`` varying fastest, then ``y``, then ``x``;
``z`` is depth, positive down, node ``k`` at depth ``zOrig + k dz``. NonLinLoc writes the buffer
in the byte order of the machine that made it (and can swap bytes on reading); jaxseis writes
little-endian float32.

**Coordinates.** jaxseis's ``z`` points up from the model bottom: a NonLinLoc grid is read with
its vertical axis flipped, model ``z = surface_z_km - depth``. ``surface_z_km`` (the model ``z``
of depth 0) defaults to the value that puts the grid's bottom node at ``z = 0``; give it to read
a grid into a model frame whose bottom lies elsewhere. ``x`` and ``y`` are NonLinLoc's own.
The writer inverts this: ``zOrig = surface_z_km - z_top`` (0 for a jaxseis grid whose top is
the sea surface), so a grid written by jaxseis reads back on the same :class:`Grid`.

**Grid types.** Velocity-like grids (``VELOCITY`` km/s, ``VELOCITY_METERS`` m/s, ``SLOWNESS``
s/km, ``SLOW_LEN`` s, ``VEL2`` (km/s)^2, ``SLOW2`` (s/km)^2, ``SLOW2_METERS`` (s/m)^2) become a
:class:`~jaxseis.velocity.VelocityModel` (:func:`read_velocity_grid`); ``TIME`` grids (s) become
:class:`~jaxseis.traveltime.TravelTimeTables` (:func:`read_time_grids`); ``PROB_DENSITY``,
``MISFIT``, ``LIKELIHOOD``, ``DEPTH``, ``LENGTH``, ``COULOMB`` and ``SSST_TIMECORR`` grids are read
as plain arrays. ``TIME2D``/``ANGLE2D``/``INCLINATION2D`` (2-D tables of a 1-D model), ``ANGLE``
and ``INCLINATION`` (bit-packed take-off angles) and cascading grids are refused with a message
that says why.

**Byte order.** ``byte_order`` is ``"native"`` (NonLinLoc's default), ``"little"`` or
``"big"``. The values are checked for plausibility (finite; for velocity and time grids also
non-negative, with magnitudes between 1e-30 and 1e15, which a float read in the wrong byte order
almost never has); a buffer that fails in the requested order but passes in the other raises a
``ValueError`` that names the order to use.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxseis.files import atomic_path
from jaxseis.geometry import Grid
from jaxseis.io.coordinates import GeoTransform, parse_transform_line
from jaxseis.traveltime import TravelTimeTables, check_tables
from jaxseis.velocity import VelocityModel, from_arrays

__all__ = [
    "BYTE_ORDERS",
    "GRID_TYPES",
    "VELOCITY_GRID_TYPES",
    "GridHeader",
    "NonLinLocGrid",
    "read_grid_header",
    "read_nonlinloc_grid",
    "read_time_grids",
    "read_velocity_grid",
    "to_nonlinloc",
    "write_nonlinloc_grid",
    "write_time_grids",
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
_NON_NEGATIVE = (*VELOCITY_GRID_TYPES, "TIME")

BYTE_ORDERS = ("native", "little", "big")
"""Accepted ``byte_order`` values of the readers."""

_FLOAT_TYPES = {"FLOAT": 4, "DOUBLE": 8}


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


class NonLinLocGrid(NamedTuple):
    """A NonLinLoc grid read into jaxseis orientation.

    Attributes:
        values: ``[nx, ny, nz]`` float64 in the grid type's units, ``z`` index upward.
        header: the :class:`GridHeader`.
    """

    values: np.ndarray
    header: GridHeader


# --------------------------------------------------------------------------------------------
# Paths and numbers
# --------------------------------------------------------------------------------------------


def _paths(root: str | Path) -> tuple[Path, Path, Path]:
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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


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

    The vertical axis is flipped to NonLinLoc depth (see the module docs): depth ``=
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
    _, hdr, buf = _paths(root)
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
    with atomic_path(buf) as tmp:
        np.ascontiguousarray(values[:, :, ::-1], dtype="<f4").tofile(tmp)
    with atomic_path(hdr) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return hdr, buf


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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


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
    _, hdr, _ = _paths(root)
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
    if float_type not in _FLOAT_TYPES:
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
    _, _, buf = _paths(root)
    if not buf.is_file():
        raise FileNotFoundError(f"NonLinLoc grid buffer {buf} does not exist (header found)")
    nx, ny, nz = header.grid.shape
    n = nx * ny * nz
    width = _FLOAT_TYPES[header.float_type]
    size = buf.stat().st_size
    if size != n * width:
        hint = ""
        for other, w in _FLOAT_TYPES.items():
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
    return from_arrays(vp, grid=header.grid, name=name or _paths(root)[0].name)


# --------------------------------------------------------------------------------------------
# Travel-time grids of many stations
# --------------------------------------------------------------------------------------------


def _labels(tables: TravelTimeTables) -> tuple[str, ...]:
    if tables.labels and len(tables.labels) == tables.n_receivers:
        return tuple(tables.labels)
    from jaxseis.geometry import receiver_labels

    return receiver_labels(tables.n_receivers)


def write_time_grids(
    tables: TravelTimeTables,
    time_root: str | Path,
    phase: str = "P",
    *,
    transform: GeoTransform | None = None,
) -> list[tuple[Path, Path]]:
    """Write every table as a NonLinLoc time grid ``<time_root>.<phase>.<STA>.time.{hdr,buf}``.

    Args:
        tables: the travel-time tables (times in s).
        time_root: path prefix, e.g. ``"nll/time/jaxseis"`` (NLLoc's ``LOCFILES`` time root).
        phase: phase code in the file names.
        transform: geographic transform for the headers (``None``: ``TRANSFORM NONE``).

    Returns:
        ``[(hdr_path, buf_path), ...]``, one per station.
    """
    check_tables(tables)
    out = []
    for label, rec, times in zip(_labels(tables), tables.receivers_km, tables.times, strict=True):
        station = (label, float(rec[0]), float(rec[1]), float(rec[2]))
        root = f"{time_root}.{phase}.{label}.time"
        out.append(
            write_nonlinloc_grid(root, times, tables.grid, "TIME", station, transform=transform)
        )
    return out


def read_time_grids(
    time_root: str | Path,
    labels: Sequence[str] | None = None,
    phase: str = "P",
    *,
    byte_order: str = "native",
    surface_z_km: float | None = None,
) -> TravelTimeTables:
    """Read NonLinLoc 3-D time grids (``Grid2Time`` or :func:`write_time_grids`) into tables.

    Args:
        time_root: path prefix of the grids, ``<time_root>.<phase>.<label>.time.{hdr,buf}``.
        labels: the stations to read, in this order (default: every grid of ``phase`` under
            ``time_root``, sorted by label).
        phase: phase code in the file names.
        byte_order, surface_z_km: see :func:`read_nonlinloc_grid`.

    Returns:
        :class:`~jaxseis.traveltime.TravelTimeTables` (float32 times in s, receivers at the
        header's station positions in model coordinates).

    Raises:
        FileNotFoundError: no grid for ``phase`` under ``time_root``, or a missing grid file.
        ValueError: grids that are not ``TIME`` grids, differ between stations in their nodes
            or transform, name another station in their header than in their file name, and
            everything :func:`read_nonlinloc_grid` raises.
    """
    time_root = Path(time_root)
    if labels is None:
        pattern = f"{time_root.name}.{phase}.*.time.hdr"
        found = sorted(time_root.parent.glob(pattern))
        if not found:
            raise FileNotFoundError(f"no NonLinLoc time grid {time_root.parent / pattern}")
        prefix = f"{time_root.name}.{phase}."
        labels = [p.name[len(prefix) : -len(".time.hdr")] for p in found]
    labels = tuple(labels)
    if not labels:
        raise ValueError("labels is empty: name at least one station")
    first, receivers, times = None, [], []
    for label in labels:
        root = time_root.with_name(f"{time_root.name}.{phase}.{label}.time")
        values, header = read_nonlinloc_grid(root, byte_order=byte_order, surface_z_km=surface_z_km)
        if header.grid_type != "TIME":
            raise ValueError(f"{root}.hdr: grid type {header.grid_type}, not TIME")
        if header.station[0] != label:
            raise ValueError(
                f"{root}.hdr: the header names station {header.station[0]!r}, the file name "
                f"{label!r}; rename the files or fix the header"
            )
        if first is None:
            first = header
        elif header.grid != first.grid or header.transform != first.transform:
            raise ValueError(
                f"{root}.hdr: another grid or transform than the first station's "
                f"({header.grid} {header.transform_line!r} vs {first.grid} "
                f"{first.transform_line!r})"
            )
        receivers.append(header.station[1:])
        times.append(values.astype(np.float32))
    tables = TravelTimeTables(first.grid, np.array(receivers), np.stack(times), labels)
    check_tables(tables)
    return tables
