"""Travel-time tables as NonLinLoc 3-D time grids, one per station,
``<time_root>.<phase>.<STA>.time.{hdr,buf}``: written (:func:`write_time_grids`) and read
(:func:`read_time_grids`, ``Grid2Time``'s output or jaxseis's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nll_grid.buffer import read_nonlinloc_grid, write_nonlinloc_grid
from jaxseis.traveltime import TravelTimeTables, check_tables

__all__ = ["read_time_grids", "write_time_grids"]


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
