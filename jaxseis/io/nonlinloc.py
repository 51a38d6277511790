"""NonLinLoc interoperability: export a location problem for ``NLLoc``, and the file formats.

The formats live in their own modules and are re-exported here: 3-D grids (``.hdr`` +
``.buf``, :mod:`jaxseis.io.nll_grid`), phase files (``NLLOC_OBS``, :mod:`jaxseis.io.nll_obs`);
location files (``.hyp``) are in :mod:`jaxseis.io.nll_hyp`. This module writes, for one event:

* the P travel-time tables (:class:`~jaxseis.traveltime.TravelTimeTables`, computed by pykonal)
  as NonLinLoc 3-D time grids, ``<time_root>.P.<STA>.time.hdr`` + ``.buf`` (float32, ``z``
  fastest), one per station, whose header's second line holds the station position;
* the picks as a NonLinLoc phase file (``NLLOC_OBS`` format, :func:`write_nlloc_obs`);
* an ``NLLoc`` control file (:func:`write_control_file`): ``TRANS NONE`` (the jaxseis
  coordinates are used as they are) or ``TRANS SIMPLE`` with a
  :class:`~jaxseis.io.coordinates.GeoTransform`, ``LOCMETH EDT`` (the likelihood of
  :func:`jaxseis.likelihood.edt.edt_log_likelihood` with ``convention="nonlinloc"``),
  ``LOCGAU`` with the travel-time error, an oct-tree search (``LOCSEARCH OCT``) over a
  ``LOCGRID`` covering the prior box, and one ``LOCSRCE`` line per station.

**Coordinates.** NonLinLoc measures ``z`` as depth, positive down; jaxseis measures it upward
from the model bottom. Everything exported uses NonLinLoc depth ``= surface_z - z`` with
``surface_z`` the transform's model ``z`` of depth 0, or the top of the grid without a
transform, so the seabed ``z = 2.43`` km of the paper's grid is at depth 0.57 km. Convert
NonLinLoc results back with :func:`from_nonlinloc_km`. ``x`` and ``y`` are unchanged (km).

**Cells.** NonLinLoc's own travel-time calculator ``Grid2Time`` (Podvin-Lecomte finite
differences) needs cubic cells, which the paper's grid (12.5 x 12.5 x 10 m) does not have. That
does not matter here: the time grids are computed by pykonal and read directly by ``NLLoc``,
which interpolates any regular grid, so ``Vel2Grid`` and ``Grid2Time`` are not run.

**Running NLLoc** (NonLinLoc 7, ``NLLoc`` on the ``PATH``)::

    # 1. export (Python)
    import jaxseis as js
    from jaxseis import picking, traveltime
    from jaxseis.io import nonlinloc
    model = js.marine_model()
    event = js.load_paper_event()
    receivers = js.location_receivers_km()
    tables = traveltime.traveltime_tables(model, receivers)
    config = js.SolverConfig()  # the source wavelet: 8 Hz Ricker peaking at t0 = 0.1875 s
    idx = [event.receiver_index(r) for r in receivers]
    picks = picking.pick_arrivals(event.traces[idx, 0], event.dt, config.t0,
                                  wavelet_f0=config.f0, labels=tables.labels)
    paths = nonlinloc.export_nonlinloc("nll", tables, picks)  # LOCMETH EDT, 5 ms picks

    # 2. locate (shell)
    cd nll && NLLoc nlloc.in

    # 3. results: nll/loc/event.*.grid0.loc.hyp (maximum-likelihood hypocentre, expectation and
    #    covariance, in NonLinLoc depth coordinates) and ...loc.scat (posterior samples; convert
    #    to text with `scat2latlon 1 loc loc/event.*.grid0.loc`); back to jaxseis z with
    #    nonlinloc.from_nonlinloc_km.

NonLinLoc's oct-tree evaluates each cell with an extra travel-time variance equal to the squared
half-diagonal travel time of the cell (it smooths the PDF while cells are large), so its PDF
matches the jaxseis one once the cells are small (``minNodeSize`` of a few metres).
``LOCMETH EDT_OT_WT`` (the variant most NonLinLoc users choose) multiplies the EDT likelihood by
a penalty on the spread of the origin times implied by each pick; it is not the jaxseis
likelihood, so the export writes ``EDT`` unless asked otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxseis.files import write_text
from jaxseis.geometry import SEABED_Z_KM, Grid
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nll_grid import (
    BYTE_ORDERS,
    GRID_TYPES,
    VELOCITY_GRID_TYPES,
    GridHeader,
    NonLinLocGrid,
    read_grid_header,
    read_nonlinloc_grid,
    read_time_grids,
    read_velocity_grid,
    to_nonlinloc,
    write_nonlinloc_grid,
    write_time_grids,
)
from jaxseis.io.nll_obs import (
    REFERENCE_TIME,
    PickEvent,
    format_nlloc_obs,
    read_nlloc_obs,
    write_nlloc_obs,
    write_nlloc_obs_events,
)
from jaxseis.picking import Picks
from jaxseis.traveltime import TravelTimeTables, check_tables

__all__ = [
    "BYTE_ORDERS",
    "GRID_TYPES",
    "LOC_METHODS",
    "REFERENCE_TIME",
    "VELOCITY_GRID_TYPES",
    "GridHeader",
    "NonLinLocGrid",
    "PickEvent",
    "export_nonlinloc",
    "format_nlloc_obs",
    "from_nonlinloc_km",
    "read_grid_header",
    "read_nlloc_obs",
    "read_nonlinloc_grid",
    "read_time_grids",
    "read_velocity_grid",
    "to_nonlinloc",
    "to_nonlinloc_km",
    "write_control_file",
    "write_nlloc_obs",
    "write_nlloc_obs_events",
    "write_nonlinloc_grid",
    "write_time_grids",
]

LOC_METHODS = ("EDT", "EDT_OT_WT", "EDT_OT_WT_ML", "GAU_ANALYTIC")
"""NLLoc location methods accepted by :func:`write_control_file`."""


def _surface(grid: Grid | None, surface_z_km: float | None) -> float:
    if surface_z_km is not None:
        return float(surface_z_km)
    if grid is None:
        raise ValueError("give the grid (its top is depth 0) or surface_z_km")
    return float(grid.extent_km[1, 2])


def to_nonlinloc_km(
    points_km, grid: Grid | None = None, *, surface_z_km: float | None = None
) -> np.ndarray:
    """jaxseis ``(x, y, z)`` (km, z up from the bottom) to NonLinLoc ``(x, y, depth)``.

    ``depth = surface_z_km - z``, by default with ``surface_z_km`` the top of ``grid``; points
    are ``[..., 3]`` in km.
    """
    p = np.array(points_km, dtype=np.float64)
    p[..., 2] = _surface(grid, surface_z_km) - p[..., 2]
    return p


def from_nonlinloc_km(
    points_nll_km, grid: Grid | None = None, *, surface_z_km: float | None = None
) -> np.ndarray:
    """NonLinLoc ``(x, y, depth)`` (km) back to jaxseis ``(x, y, z)``, ``[..., 3]``."""
    return to_nonlinloc_km(points_nll_km, grid, surface_z_km=surface_z_km)  # its own inverse


def _labels(tables: TravelTimeTables) -> tuple[str, ...]:
    if tables.labels and len(tables.labels) == tables.n_receivers:
        return tuple(tables.labels)
    from jaxseis.geometry import receiver_labels

    return receiver_labels(tables.n_receivers)


def write_control_file(
    path: str | Path,
    tables: TravelTimeTables,
    *,
    obs_file: str,
    time_root: str,
    output_root: str,
    method: str = "EDT",
    traveltime_error_s: float = 0.0,
    search_box_km=None,
    search_spacing_km=None,
    init_cell_km: float = 0.05,
    min_node_size_km: float = 0.002,
    max_num_nodes: int = 200000,
    num_scatter: int = 20000,
    seed: int = 20210601,
    comment: str = "jaxseis export",
    transform: GeoTransform | None = None,
) -> Path:
    """Write an ``NLLoc`` control file for the exported grids and picks.

    Args:
        path: the control file to write.
        tables: the exported tables (for the grid and the stations).
        obs_file, time_root, output_root: paths as ``NLLoc`` should see them (relative to the
            directory ``NLLoc`` runs in), for ``LOCFILES``.
        method: ``LOCMETH`` method (:data:`LOC_METHODS`); ``"EDT"`` is jaxseis' EDT likelihood.
        traveltime_error_s: ``LOCGAU SigmaTime`` (s), with zero correlation length.
        search_box_km: ``[[x0, y0, z0], [x1, y1, z1]]`` in jaxseis coordinates (km): the prior
            box (default: the paper's prior, x, y in [0, 1], z in [0, 2.43] km, clipped to the
            grid).
        search_spacing_km: ``LOCGRID`` node spacing (default: the tables' spacing).
        init_cell_km: size of the initial oct-tree cells (km; their number along each axis is
            the box size divided by it, rounded up).
        min_node_size_km, max_num_nodes, num_scatter: ``LOCSEARCH OCT`` settings.
        seed: NonLinLoc's random seed (``CONTROL``).
        comment: ``LOCCOM`` text.
        transform: the geographic transform (``TRANS SIMPLE``; its ``surface_z_km`` is depth
            0); ``None``: ``TRANS NONE`` with depth 0 at the top of the grid.

    Returns:
        The path written.

    Raises:
        ValueError: an unknown method, a negative error, or a search box outside the grid.
    """
    check_tables(tables)
    if method not in LOC_METHODS:
        raise ValueError(f"method must be one of {LOC_METHODS}, got {method!r}")
    if not (np.isfinite(traveltime_error_s) and traveltime_error_s >= 0):
        raise ValueError(f"traveltime_error_s must be >= 0, got {traveltime_error_s}")
    grid = tables.grid
    lo_g, hi_g = grid.extent_km
    if search_box_km is None:
        box = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, SEABED_Z_KM]])
        box = np.stack([np.maximum(box[0], lo_g), np.minimum(box[1], hi_g)])
    else:
        box = np.asarray(search_box_km, dtype=np.float64).reshape(2, 3)
        if np.any(box[0] < lo_g - 1e-9) or np.any(box[1] > hi_g + 1e-9) or np.any(box[1] <= box[0]):
            raise ValueError(f"search_box_km {box.tolist()} must be a non-empty box in the grid")
    step = np.asarray(grid.spacing_km if search_spacing_km is None else search_spacing_km, float)
    step = np.broadcast_to(step, (3,))
    num = np.floor((box[1] - box[0]) / step + 1e-6).astype(int) + 1
    surface = float(grid.extent_km[1, 2]) if transform is None else transform.surface_z_km
    depth0 = surface - box[1, 2]  # NonLinLoc depth of the top of the box
    if not (np.isfinite(init_cell_km) and init_cell_km > 0):
        raise ValueError(f"init_cell_km must be positive, got {init_cell_km}")
    init_cells = np.maximum(1, np.ceil((box[1] - box[0]) / init_cell_km - 1e-9)).astype(int)
    lines = [
        "# NLLoc control file written by jaxseis (jaxseis.io.nonlinloc.write_control_file)",
        "# Coordinates: km; z is depth (positive down) = surface_z - z_jaxseis,",
        f"# surface_z = {surface:g} km. Travel-time grids computed by pykonal.",
        f"CONTROL 1 {int(seed)}",
        _trans_line(transform),
        "LOCSIG jaxseis",
        f"LOCCOM {comment}",
        f"LOCFILES {obs_file} NLLOC_OBS {time_root} {output_root}",
        "LOCHYPOUT SAVE_NLLOC_ALL",
        f"LOCSEARCH OCT {init_cells[0]} {init_cells[1]} {init_cells[2]} {min_node_size_km:g} "
        f"{int(max_num_nodes)} {int(num_scatter)} 0 1",
        f"LOCGRID {num[0]} {num[1]} {num[2]} {box[0, 0]:.6f} {box[0, 1]:.6f} {depth0:.6f} "
        f"{step[0]:.6f} {step[1]:.6f} {step[2]:.6f} PROB_DENSITY SAVE",
        f"LOCMETH {method} 9999.0 2 -1 -1 -1.0 -1 -1.0 1",
        f"LOCGAU {traveltime_error_s:g} 0.0",
        "LOCPHASEID P P p",
        "LOCQUAL2ERR 0.1 0.5 1.0 2.0 99999.9",
        "LOCANGLES ANGLES_NO 5",
        "LOCPHSTAT 9999.0 -1 9999.0 1.0 1.0 9999.9 -9999.9 9999.9",
        "# stations: LOCSRCE label XYZ x y depth elevation (km); NLLoc also reads them from the",
        "# time-grid headers",
    ]
    nll = to_nonlinloc_km(tables.receivers_km, surface_z_km=surface)
    for label, (x, y, d) in zip(_labels(tables), nll, strict=True):
        lines.append(f"LOCSRCE {label:<6s} XYZ {x:.6f} {y:.6f} {d:.6f} 0.0")
    return write_text(path, "\n".join(lines) + "\n")


def _trans_line(transform: GeoTransform | None) -> str:
    if transform is None:
        return "TRANS NONE"
    t = transform
    return f"TRANS SIMPLE {t.latitude_deg:.9f} {t.longitude_deg:.9f} {t.rot_cw_deg:.9f}"


def export_nonlinloc(
    directory: str | Path,
    tables: TravelTimeTables,
    picks: Picks,
    *,
    name: str = "event",
    time_name: str = "jaxseis",
    method: str = "EDT",
    traveltime_error_s: float = 0.0,
    search_box_km=None,
    reference_time=REFERENCE_TIME,
    transform: GeoTransform | None = None,
) -> dict:
    """Export tables, picks and a control file into ``directory`` for ``NLLoc``.

    Writes ``time/<time_name>.P.<STA>.time.{hdr,buf}``, ``obs/<name>.obs`` and ``nlloc.in``
    (paths inside the control file are relative to ``directory``; run ``NLLoc nlloc.in`` there)
    and creates ``loc/`` for the results. Only the tables of the picked stations are written.

    Args:
        directory: output directory (created).
        tables: travel-time tables with station labels.
        picks: :class:`~jaxseis.picking.Picks` whose labels name stations of ``tables``.
        name: event name (phase file and output root).
        time_name: time-grid root name.
        method, traveltime_error_s, search_box_km: see :func:`write_control_file`.
        reference_time: absolute time of pick time 0 (:class:`obspy.UTCDateTime` or
            :class:`datetime.datetime`).
        transform: geographic transform of the grids and the control file (see
            :func:`write_control_file`).

    Returns:
        ``{"control": path, "obs": path, "time_grids": [(hdr, buf), ...], "loc": dir}``.

    Raises:
        ValueError: a pick whose station has no table.
    """
    labels = _labels(tables)
    missing = [s for s in picks.labels if s not in labels]
    if missing:
        raise ValueError(f"picks of {missing} have no travel-time table (tables: {labels})")
    sub = tables.select([labels.index(s) for s in picks.labels])
    directory = Path(directory)
    grids = write_time_grids(sub, directory / "time" / time_name, transform=transform)
    obs = write_nlloc_obs(directory / "obs" / f"{name}.obs", picks, reference_time=reference_time)
    (directory / "loc").mkdir(parents=True, exist_ok=True)
    control = write_control_file(
        directory / "nlloc.in", sub,
        obs_file=f"obs/{name}.obs", time_root=f"time/{time_name}", output_root=f"loc/{name}",
        method=method, traveltime_error_s=traveltime_error_s, search_box_km=search_box_km,
        transform=transform,
    )  # fmt: skip
    return {"control": control, "obs": obs, "time_grids": grids, "loc": directory / "loc"}
