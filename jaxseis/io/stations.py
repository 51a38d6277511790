"""Station positions in model coordinates: from a StationXML inventory or a station table.

Two sources of station positions feed :func:`jaxseis.io.waveforms.read_waveforms`:

* an ObsPy :class:`~obspy.core.inventory.Inventory` (StationXML): geographic coordinates
  mapped to model ``(x, y, z)`` km by a :class:`~jaxseis.io.coordinates.GeoTransform`; the
  sensor's depth below sea level is ``local_depth - elevation`` (m). Inventories written by
  :func:`station_inventory` also carry the model coordinates themselves (``model_x_km``,
  ``model_y_km``, ``model_z_km`` elements in the :data:`NAMESPACE`), used when no transform is
  given;
* a station table (:class:`StationTable`, CSV with the header
  ``network,station,x_km,y_km,z_km``): model coordinates directly.

:func:`station_inventory` builds an inventory for receivers in model coordinates (one pressure
channel per station, optionally with an instrument sensitivity in counts per pascal), so that
synthetic events can be written as StationXML (:func:`write_stationxml`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from obspy import UTCDateTime, read_inventory
from obspy.core.inventory import (
    Channel,
    InstrumentSensitivity,
    Inventory,
    Network,
    PolesZerosResponseStage,
    Response,
    Station,
)
from obspy.core.util import AttribDict

from jaxseis.files import atomic_path
from jaxseis.io.coordinates import GeoTransform

__all__ = [
    "NAMESPACE",
    "TABLE_COLUMNS",
    "StationTable",
    "read_station_table",
    "read_stations",
    "station_inventory",
    "station_positions",
    "write_station_table",
    "write_stationxml",
]

NAMESPACE = "urn:jaxseis:stationxml:1"
"""XML namespace of the model coordinates in StationXML written by :func:`station_inventory`."""

TABLE_COLUMNS = ("network", "station", "x_km", "y_km", "z_km")
"""The columns of a station table (CSV header)."""

_MODEL_KEYS = ("model_x_km", "model_y_km", "model_z_km")


class StationTable(NamedTuple):
    """Station positions in model coordinates.

    Attributes:
        codes: ``(network, station)`` per station.
        positions_km: ``[n_stations, 3]`` model ``(x, y, z)`` km.
    """

    codes: tuple[tuple[str, str], ...]
    positions_km: np.ndarray


def read_station_table(path: str | Path) -> StationTable:
    """A :class:`StationTable` from a CSV file with the header :data:`TABLE_COLUMNS`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column, a non-numeric or non-finite coordinate, an empty table or
            a station listed twice (the line is named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"station table {path} not found")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in TABLE_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"station table {path} lacks the column(s) {missing}; the header must be "
                f"{','.join(TABLE_COLUMNS)} (model coordinates in km)"
            )
        codes, rows = [], []
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            try:
                xyz = [float(row[c]) for c in TABLE_COLUMNS[2:]]
            except ValueError:
                raise ValueError(
                    f"station table {path} line {line}: coordinates must be numbers, got "
                    f"{[row[c] for c in TABLE_COLUMNS[2:]]}"
                ) from None
            if not np.all(np.isfinite(xyz)):
                raise ValueError(f"station table {path} line {line}: non-finite coordinate")
            code = (row["network"], row["station"])
            if not code[1]:
                raise ValueError(f"station table {path} line {line}: empty station code")
            if code in codes:
                raise ValueError(f"station table {path} line {line}: {'.'.join(code)} twice")
            codes.append(code)
            rows.append(xyz)
    if not codes:
        raise ValueError(f"station table {path} has no stations")
    return StationTable(tuple(codes), np.asarray(rows, dtype=np.float64))


def write_station_table(path: str | Path, table: StationTable) -> Path:
    """Write a station table as CSV (atomically); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(TABLE_COLUMNS)
        for (net, sta), p in zip(table.codes, np.asarray(table.positions_km), strict=True):
            w.writerow([net, sta, *(repr(float(v)) for v in p)])
    return path


def read_stations(source) -> Inventory | StationTable:
    """An inventory or station table from an object or a file (``.csv``: a station table;
    anything else: StationXML or another format ObsPy's ``read_inventory`` reads).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is neither.
    """
    if isinstance(source, Inventory | StationTable):
        return source
    path = Path(source)
    if path.suffix.lower() == ".csv":
        return read_station_table(path)
    if not path.is_file():
        raise FileNotFoundError(f"station file {path} not found")
    try:
        return read_inventory(str(path))
    except Exception as exc:  # ObsPy raises many types for an unreadable file
        raise ValueError(
            f"cannot read the station file {path} as StationXML (or another inventory format "
            f"ObsPy reads): {type(exc).__name__}: {exc}"
        ) from None


def _model_extra(station: Station) -> np.ndarray | None:
    extra = getattr(station, "extra", None) or {}
    try:
        return np.array([float(extra[k]["value"]) for k in _MODEL_KEYS])
    except (KeyError, TypeError, ValueError):
        return None


def station_positions(
    stations: Inventory | StationTable,
    seed_ids: Sequence[str],
    time,
    transform: GeoTransform | None = None,
) -> np.ndarray:
    """Model positions ``[n, 3]`` km of the channels ``seed_ids`` (``NET.STA.LOC.CHA``).

    Args:
        stations: an inventory (channel coordinates at ``time``) or a station table (matched by
            network and station).
        seed_ids: the channels.
        time: when (``obspy.UTCDateTime``): the inventory's epoch that holds it is used.
        transform: maps an inventory's latitude, longitude and depth to model coordinates;
            without it the model coordinates stored by :func:`station_inventory` are used.

    Raises:
        ValueError: a channel without coordinates (named), or an inventory without model
            coordinates and no ``transform``.
    """
    out = []
    if isinstance(stations, StationTable):
        index = {code: i for i, code in enumerate(stations.codes)}
        for sid in seed_ids:
            net, sta = sid.split(".")[:2]
            if (net, sta) not in index:
                raise ValueError(
                    f"channel {sid}: station {net}.{sta} is not in the station table (it lists "
                    + ", ".join(".".join(c) for c in stations.codes)
                    + ")"
                )
            out.append(stations.positions_km[index[(net, sta)]])
        return np.asarray(out, dtype=np.float64).reshape(-1, 3)
    t = UTCDateTime(time)
    for sid in seed_ids:
        try:
            c = stations.get_coordinates(sid, t)
        except Exception:
            raise ValueError(
                f"channel {sid} has no coordinates in the inventory at {t} (add the channel, "
                "or an epoch covering that time, to the StationXML)"
            ) from None
        if transform is None:
            net, sta = sid.split(".")[:2]
            found = stations.select(network=net, station=sta, time=t)
            model = _model_extra(found[0][0]) if len(found) and len(found[0]) else None
            if model is None:
                raise ValueError(
                    f"channel {sid}: the inventory gives geographic coordinates only; pass "
                    "transform=GeoTransform(latitude_deg, longitude_deg, x_azimuth_deg, "
                    "surface_z_km) to map them to model coordinates"
                )
            out.append(model)
        else:
            depth_km = (float(c.get("local_depth") or 0.0) - float(c["elevation"])) / 1000.0
            out.append(transform.from_geographic([c["latitude"], c["longitude"], depth_km]))
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def station_inventory(
    receivers_km,
    codes: Sequence[str],
    transform: GeoTransform | None = None,
    *,
    network: str = "XX",
    channel: str = "HDH",
    location: str = "",
    sample_rate: float = 250.0,
    sensitivity: float | None = None,
    sensitivity_frequency_hz: float = 1.0,
    start_date=UTCDateTime(2000, 1, 1),
    source: str = "jaxseis",
) -> Inventory:
    """An ObsPy inventory of pressure channels at receivers given in model coordinates.

    Args:
        receivers_km: ``[n, 3]`` model ``(x, y, z)`` km.
        codes: station codes, one per receiver (a code ``NET.STA`` sets its own network).
        transform: places the model on the Earth (latitude, longitude, elevation). Without it
            the geographic coordinates are those of ``GeoTransform(0, 0)`` and are meaningful
            only together with the model coordinates the inventory also stores (read them back
            with ``transform=None``).
        network, channel, location: SEED codes.
        sample_rate: the channels' sampling rate, Hz.
        sensitivity: instrument sensitivity in counts per pascal (a flat, gain-only response),
            or ``None`` for channels without a response (data in pascals).
        sensitivity_frequency_hz: the frequency the sensitivity is stated at, Hz.
        start_date: start of the stations' and channels' epoch.
        source: the inventory's ``source``.

    Raises:
        ValueError: shapes that do not match, or a non-positive sensitivity.
    """
    r = np.asarray(receivers_km, dtype=np.float64)
    codes = [str(c) for c in codes]
    if r.ndim != 2 or r.shape[1] != 3 or r.shape[0] != len(codes):
        raise ValueError(
            f"receivers_km must be [n, 3] with one row per code ({len(codes)}); got "
            f"shape {list(r.shape)}"
        )
    if sensitivity is not None and not (np.isfinite(sensitivity) and sensitivity > 0):
        raise ValueError(
            f"sensitivity must be a positive number of counts per Pa, got {sensitivity}"
        )
    geo = transform if transform is not None else GeoTransform(0.0, 0.0)
    start = UTCDateTime(start_date)
    networks: dict[str, list[Station]] = {}
    for code, p in zip(codes, r, strict=True):
        net, sta = code.split(".", 1) if "." in code else (network, code)
        lat, lon, depth_km = (float(v) for v in geo.to_geographic(p))
        elevation = -1000.0 * depth_km
        ch = Channel(
            channel, location, lat, lon, elevation, 0.0,
            azimuth=0.0, dip=0.0, sample_rate=float(sample_rate), start_date=start,
        )  # fmt: skip
        if sensitivity is not None:
            ch.response = Response(
                instrument_sensitivity=InstrumentSensitivity(
                    float(sensitivity), float(sensitivity_frequency_hz), "PA", "COUNTS"
                ),
                response_stages=[
                    PolesZerosResponseStage(
                        1,
                        float(sensitivity),
                        float(sensitivity_frequency_hz),
                        "PA",
                        "COUNTS",
                        pz_transfer_function_type="LAPLACE (RADIANS/SECOND)",
                        normalization_frequency=float(sensitivity_frequency_hz),
                        zeros=[],
                        poles=[],
                        normalization_factor=1.0,
                    )
                ],
            )
        station = Station(
            sta, lat, lon, elevation, channels=[ch], creation_date=start, start_date=start
        )
        station.extra = AttribDict(
            {
                k: {"value": repr(float(v)), "namespace": NAMESPACE}
                for k, v in zip(_MODEL_KEYS, p, strict=True)
            }
        )
        networks.setdefault(net, []).append(station)
    return Inventory(
        [Network(net, stations=st, start_date=start) for net, st in networks.items()],
        source=source,
    )


def write_stationxml(path: str | Path, inventory: Inventory) -> Path:
    """Write an inventory as StationXML (atomically, validated); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        inventory.write(str(tmp), format="STATIONXML", validate=True, nsmap={"jaxseis": NAMESPACE})
    return path
