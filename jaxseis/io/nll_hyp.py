"""NonLinLoc location files (``.hyp``, "Hypocenter-Phase" format) out and in.

:func:`hyp_block` writes one located event as NonLinLoc's ``WriteLocation`` does (NonLinLoc
7), so that NonLinLoc-based tools and ``obspy.read_events(path, format="NLLOC_HYP")`` read it:

``NLLOC``, ``PUBLIC_ID``, ``SIGNATURE``, ``COMMENT``, ``GRID`` (the model grid in NonLinLoc
coordinates, or ``NULLGRID``), ``SEARCH`` (the method and diagnostics as key-value pairs),
``HYPOCENTER`` (the posterior mean; type ``EXPECTATION``), ``GEOGRAPHIC`` (origin time,
latitude, longitude, depth), ``QUALITY``, ``VPVSRATIO``, ``STATISTICS`` (expectation,
covariance and the 68 % ellipsoid as NonLinLoc writes them), ``STAT_GEOG``, ``TRANSFORM``,
``QML_OriginQuality``, ``QML_OriginUncertainty``, ``QML_ConfidenceEllipsoid``, ``PHASE`` ...
``END_PHASE`` (one line per pick, when picks are given) and ``END_NLLOC``.

**Conventions** (NonLinLoc's). Positions are in the rectangular frame (x, y, depth) in km and
the covariance (km^2) in the same frame; ``STATISTICS`` gives the ellipsoid at
``delta chi^2 = 3.53`` (68 %, 3-D) with azimuths from the frame's ``y`` axis. The ``QML_``
lines give the horizontal ellipse at ``delta chi^2 = 2.30`` (68 %, 2-D) and the ellipsoid in
QuakeML's angles, lengths in km as NonLinLoc writes them (ObsPy's reader copies the ellipsoid's
km values into its m fields unchanged, and converts the horizontal ones to m). Unlike NonLinLoc,
whose ``QML_`` azimuths are those of its rectangular frame, jaxseis gives geographic azimuths
(they agree when the frame is not rotated). Without a transform (``TRANSFORM NONE``)
``GEOGRAPHIC`` holds ``Lat = y`` and ``Long = x`` in km, as in NonLinLoc. Unknown values are
-1.

**jaxseis's additions** are in the free-text ``SEARCH`` line: ``JAXSEIS method <m>
surface_z_km <z> free <0/1 x 5> t0_s .. t0_std_s .. log_amplitude .. log_amplitude_std ..``
and the diagnostics present, so :func:`read_hyp` can return model coordinates (``z`` =
``surface_z_km - depth``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from obspy import UTCDateTime

from jaxseis.files import write_text
from jaxseis.geometry import Grid
from jaxseis.io.coordinates import DEFAULT_SURFACE_Z_KM, GeoTransform, parse_transform_line
from jaxseis.io.ellipsoid import (
    DELTA_CHI2_68_2,
    DELTA_CHI2_68_3,
    Ellipsoid,
    HorizontalEllipse,
    confidence_ellipsoid,
    horizontal_ellipse,
    nonlinloc_ellipsoid,
)
from jaxseis.io.quakeml import station_geometry
from jaxseis.io.summary import DIAGNOSTICS, check_summary
from jaxseis.picking import Picks

__all__ = [
    "HypArrival",
    "HypEvent",
    "hyp_block",
    "read_hyp",
    "write_hyp",
    "write_hyp_blocks",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PHASE_HEADER = (
    "PHASE ID Ins Cmp On Pha  FM Date     HrMn   Sec     Err  ErrMag    Coda      Amp       Per"
    "  >   TTpred    Res       Weight    StaLoc(X  Y         Z)        SDist    SAzim  RAz  RDip"
    " RQual    Tcorr "
)
_REQUIRED = ("HYPOCENTER", "GEOGRAPHIC", "STATISTICS")


def _g(v: float) -> str:
    """A number as ``%.10g`` (NonLinLoc writes ``%lg``, 6 digits; more digits read the same)."""
    return f"{float(v):.10g}"


def _text(value: str, what: str) -> str:
    value = " ".join(str(value).split())
    if '"' in value:
        raise ValueError(f"{what} must not contain double quotes: {value!r}")
    return value


def _run_stamp(t: UTCDateTime) -> str:
    """NonLinLoc's run stamp, ``run:17Nov2022 15h49m52`` (English months in every locale)."""
    day = f"{t.day:02d}{_MONTHS[t.month - 1]}{t.year:04d}"
    return f"run:{day} {t.hour:02d}h{t.minute:02d}m{t.second:02d}"


def _minute_split(t: UTCDateTime, decimals: int) -> tuple[UTCDateTime, float]:
    """The minute of ``t`` (rounded to ``decimals`` of a second) and the seconds within it."""
    step = 10 ** (9 - decimals)
    t = UTCDateTime(ns=round(t.ns / step) * step)
    minute = UTCDateTime(t.year, t.month, t.day, t.hour, t.minute)
    return minute, float(t - minute)


def _arrival_line(label, phase, time, error, predicted, residual, sta_local, dist, azim) -> str:
    minute, sec = _minute_split(time, 4)
    obs = (
        f"{label:<6.6s} {'?':<4s} {'?':<4s} ? {phase:<6.6s} ? {minute.strftime('%Y%m%d')} "
        f"{minute.strftime('%H%M')} {sec:9.4f} GAU {error:9.2e} {-1.0:9.2e} {-1.0:9.2e} "
        f"{-1.0:9.2e}"
    )
    x, y, z = sta_local
    calc = (
        f" > {predicted:9.4f} {residual:9.4f} {1.0:9.4f} {x:9.4f} {y:9.4f} {z:9.4f} {dist:9.4f} "
        f"{azim:6.2f} {-1.0:5.1f} {-1.0:5.1f} {0:2d}  {0.0:9.4f}"
    )
    return obs + calc


def hyp_block(
    summary,
    reference_time,
    *,
    transform: GeoTransform | None = None,
    surface_z_km: float | None = None,
    stations: Sequence[str] = (),
    receivers_km=None,
    picks: Picks | None = None,
    predicted_s=None,
    phase: str = "P",
    rms: float | None = None,
    grid: Grid | None = None,
    event_id: str | None = None,
    comment: str = "",
    signature: str = "jaxseis",
    fileroot: str = "jaxseis",
    creation_time=None,
) -> str:
    """One event as a NonLinLoc ``.hyp`` block, ``NLLOC`` ... ``END_NLLOC`` (module docs).

    Args:
        summary: the location summary (:mod:`jaxseis.io.summary`).
        reference_time: the observation's reference time (``obspy.UTCDateTime``); the origin
            time is ``reference_time + t0``.
        transform: the geographic transform (``None``: ``TRANSFORM NONE``).
        surface_z_km: model ``z`` of depth 0 without a transform (default: the top of ``grid``,
            or 3.0 km, the top of the default grid); with a transform, its own.
        stations: codes of the stations used; ``receivers_km`` ``[n, 3]``: their model positions
            (for the gap, the distances and the arrival lines).
        picks: arrival picks (s after ``reference_time``) written as ``PHASE`` lines, with
            ``predicted_s`` ``[n]`` predicted travel times (s) for the residuals.
        phase: phase code of the picks.
        rms: RMS of the residual (``RMS``, ``stdErr``).
        grid: the model grid, written as ``GRID`` in NonLinLoc coordinates (``NULLGRID``
            without it).
        event_id: event name; ``PUBLIC_ID`` is then ``smi:local/jaxseis/<id>/event``, the id
            :func:`jaxseis.io.quakeml.event_from_summary` gives the same event.
        comment, signature, fileroot: ``COMMENT``, the author in ``SIGNATURE``, and the name
            in the ``NLLOC`` line.
        creation_time: the run time of ``SIGNATURE`` (default: now).

    Raises:
        ValueError: a bad summary, text with double quotes, picks without positions or
            predictions of the right size, or a ``surface_z_km`` that contradicts the
            transform's.
    """
    s = check_summary(summary)
    ref = UTCDateTime(reference_time)
    if transform is not None:
        if surface_z_km is not None and not math.isclose(surface_z_km, transform.surface_z_km):
            raise ValueError(
                f"surface_z_km {surface_z_km} contradicts the transform's "
                f"{transform.surface_z_km}; give one of them"
            )
        surface = transform.surface_z_km
    elif surface_z_km is not None:
        surface = float(surface_z_km)
    else:
        surface = DEFAULT_SURFACE_Z_KM if grid is None else float(grid.extent_km[1, 2])
    geo = transform if transform is not None else GeoTransform(0.0, 0.0, 90.0, surface)
    stations = tuple(str(v) for v in stations)
    receivers = None if receivers_km is None else np.asarray(receivers_km, float).reshape(-1, 3)
    if receivers is not None and len(receivers) != len(stations):
        raise ValueError(f"receivers_km has {len(receivers)} rows for {len(stations)} stations")
    comment = _text(comment, "comment")
    signature = _text(signature, "signature")
    fileroot = _text(fileroot, "fileroot")
    stamp = _run_stamp(UTCDateTime() if creation_time is None else UTCDateTime(creation_time))
    from jaxseis import __version__

    local = geo.to_local_km(s.position_km)
    flip = np.diag([1.0, 1.0, -1.0])  # model (x, y, z up) -> local (x, y, depth) for vectors
    cov_local = flip @ s.position_cov_km2 @ flip
    ned = geo.ned_matrix()
    cov_ned = ned @ s.position_cov_km2 @ ned.T
    origin_time = ref + float(s.mean[3])
    minute, sec = _minute_split(origin_time, 6)
    if transform is None:
        lat, lon, depth = local[1], local[0], local[2]  # NonLinLoc's TRANSFORM NONE
    else:
        lat, lon, depth = transform.to_geographic(s.position_km)
    n_sta = len(stations)
    n_phases = len(picks.labels) if picks is not None else n_sta
    geom = None if receivers is None else station_geometry(s.position_km, receivers)
    gap = -1.0 if geom is None else geom["gap_deg"]
    dists = (-1.0,) * 3 if geom is None else (geom["min_km"], geom["max_km"], geom["median_km"])
    rms_v = -1.0 if rms is None else float(rms)
    mag = (-9.9, 0) if s.relative_magnitude is None else (s.relative_magnitude[0], n_sta)

    search = ["JAXSEIS", "method", s.method, "surface_z_km", _g(surface)]
    search += ["free", ",".join(str(int(v)) for v in s.free)]
    search += ["t0_s", _g(s.mean[3]), "t0_std_s", _g(s.std[3])]
    search += ["log_amplitude", _g(s.mean[4]), "log_amplitude_std", _g(s.std[4])]
    for key in DIAGNOSTICS:
        if s.diagnostics.get(key) is not None:
            search += [key, _g(s.diagnostics[key])]

    if grid is None:
        grid_line = "GRID  -1 -1 -1  0 0 0  0 0 0 NULLGRID"
    else:
        nx, ny, nz = grid.shape
        top = surface - float(grid.extent_km[1, 2])
        o, d = grid.origin_km, grid.spacing_km
        grid_line = (
            f"GRID  {nx} {ny} {nz}  {_g(o[0])} {_g(o[1])} {_g(top)}  {_g(d[0])} {_g(d[1])} "
            f"{_g(d[2])} PROB_DENSITY"
        )

    nll = nonlinloc_ellipsoid(cov_local, DELTA_CHI2_68_3)
    nll_v = [-1.0] * 7 if nll is None else list(nll)
    if np.any(cov_ned):
        e = confidence_ellipsoid(cov_ned, math.sqrt(DELTA_CHI2_68_3))
        h = horizontal_ellipse(cov_ned[:2, :2], math.sqrt(DELTA_CHI2_68_2))
    else:
        e, h = Ellipsoid(*([-1.0] * 6)), HorizontalEllipse(-1.0, -1.0, -1.0)
    c = cov_local
    public_id = "None" if event_id is None else f"smi:local/jaxseis/{event_id}/event"
    lines = [
        f'NLLOC "{fileroot}" "LOCATED" "Location completed."',
        f"PUBLIC_ID {public_id}",
        f'SIGNATURE "{signature} jaxseis:v{__version__} {stamp}"',
        f'COMMENT "{comment}"',
        grid_line,
        "SEARCH " + " ".join(search),
        f"HYPOCENTER  x {local[0]:.9f} y {local[1]:.9f} z {local[2]:.9f}  OT {sec:.6f}  "
        "ix -1 iy -1 iz -1 EXPECTATION",
        f"GEOGRAPHIC  OT {minute.year:04d} {minute.month:02d} {minute.day:02d}  "
        f"{minute.hour:02d} {minute.minute:02d} {sec:.6f}  Lat {lat:.9f} Long {lon:.9f} "
        f"Depth {depth:.9f}",
        f"QUALITY  Pmax -1 MFmin -1 MFmax -1 RMS {_g(rms_v)} Nphs {n_phases} Gap {_g(gap)} "
        f"Dist {_g(dists[0])} Mamp {mag[0]:5.2f} {mag[1]} Mdur -9.90 0",
        "VPVSRATIO  VpVsRatio -1  Npair 0  Diff -1",
        f"STATISTICS  ExpectX {local[0]:.9f} Y {local[1]:.9f} Z {local[2]:.9f}  "
        f"CovXX {_g(c[0, 0])} XY {_g(c[0, 1])} XZ {_g(c[0, 2])} YY {_g(c[1, 1])} "
        f"YZ {_g(c[1, 2])} ZZ {_g(c[2, 2])} EllAz1  {_g(nll_v[0])} Dip1  {_g(nll_v[1])} "
        f"Len1  {_g(nll_v[2])} Az2  {_g(nll_v[3])} Dip2  {_g(nll_v[4])} Len2  {_g(nll_v[5])} "
        f"Len3  {nll_v[6]:e}",
        f"STAT_GEOG  ExpectLat {lat:.9f} Long {lon:.9f} Depth {depth:.9f}",
        "TRANSFORM  NONE" if transform is None else transform.transform_line(),
        f"QML_OriginQuality  assocPhCt {n_phases}  usedPhCt {n_phases}  assocStaCt {n_sta}  "
        f"usedStaCt {n_sta}  depthPhCt -1  stdErr {_g(rms_v)}  azGap {_g(gap)}  secAzGap -1  "
        f"gtLevel -  minDist {_g(dists[0])} maxDist {_g(dists[1])} medDist {_g(dists[2])}",
        f"QML_OriginUncertainty  horUnc -1  minHorUnc {_g(h.semi_minor)}  maxHorUnc "
        f"{_g(h.semi_major)}  azMaxHorUnc {_g(h.azimuth_major_deg)}",
        f"QML_ConfidenceEllipsoid  semiMajorAxisLength {_g(e.semi_major)}  semiMinorAxisLength "
        f"{_g(e.semi_minor)}  semiIntermediateAxisLength {_g(e.semi_intermediate)}  "
        f"majorAxisPlunge {_g(e.plunge_deg)}  majorAxisAzimuth {_g(e.azimuth_deg)}  "
        f"majorAxisRotation {_g(e.rotation_deg)}",
    ]
    if picks is not None:
        lines += [_PHASE_HEADER, *_arrivals(picks, predicted_s, phase, ref, origin_time,
                                            stations, receivers, s.position_km, geo)]  # fmt: skip
        lines.append("END_PHASE")
    lines.append("END_NLLOC")
    return "\n".join(lines) + "\n\n"


def _arrivals(picks, predicted_s, phase, ref, origin_time, stations, receivers, position, geo):
    labels = tuple(picks.labels)
    times = np.asarray(picks.times_s, dtype=np.float64).reshape(-1)
    errors = np.broadcast_to(np.asarray(picks.errors_s, dtype=np.float64), times.shape)
    if len(labels) != times.size or not np.all(np.isfinite(times)):
        raise ValueError("picks need one label per pick and finite times")
    if predicted_s is not None:
        predicted_s = np.asarray(predicted_s, dtype=np.float64).reshape(-1)
        if predicted_s.shape != times.shape:
            raise ValueError(f"predicted_s has {predicted_s.size} values for {times.size} picks")
    if receivers is None:
        raise ValueError("arrival lines need the station positions: pass receivers_km")
    out = []
    for i, (label, t, err) in enumerate(zip(labels, times, errors, strict=True)):
        if label not in stations:
            raise ValueError(f"pick station {label!r} is not in stations {stations}")
        rec = receivers[stations.index(label)]
        d = rec[:2] - position[:2]
        dist = float(np.hypot(*d))
        azim = float(geo.azimuth_deg(math.degrees(math.atan2(d[0], d[1]))))
        arrival = ref + float(t)
        if predicted_s is None:
            pred, res = -1.0, 0.0
        else:
            pred = float(predicted_s[i])
            res = float(arrival - origin_time) - pred
        out.append(
            _arrival_line(label, phase, arrival, float(err), pred, res, geo.to_local_km(rec),
                          dist, azim)
        )  # fmt: skip
    return out


def write_hyp(path: str | Path, summary, reference_time, **options) -> Path:
    """Write one event as a NonLinLoc ``.hyp`` file (atomically); ``options`` are those of
    :func:`hyp_block`. Returns the path."""
    return write_text(path, hyp_block(summary, reference_time, **options))


def write_hyp_blocks(path: str | Path, blocks: Sequence[str]) -> Path:
    """Write several :func:`hyp_block` events to one file (NonLinLoc's summary files hold many
    events this way). Returns the path.

    Raises:
        ValueError: no blocks, or a block that is not ``NLLOC`` ... ``END_NLLOC``.
    """
    if not blocks:
        raise ValueError("blocks is empty: nothing to write")
    for b in blocks:
        if not b.startswith("NLLOC ") or "END_NLLOC" not in b:
            raise ValueError("each block must run from an NLLOC line to END_NLLOC (hyp_block)")
    return write_text(path, "".join(b if b.endswith("\n\n") else b + "\n" for b in blocks))


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class HypArrival(NamedTuple):
    """One ``PHASE`` line: station, phase, absolute time, error (s), predicted travel time
    (s, -1: unknown), residual (s) and weight."""

    label: str
    phase: str
    time: UTCDateTime
    error_s: float
    predicted_s: float
    residual_s: float
    weight: float


class HypEvent(NamedTuple):
    """One event of a ``.hyp`` file.

    Attributes:
        origin_time: ``GEOGRAPHIC`` origin time.
        expectation_local_km: ``STATISTICS`` expectation ``[3]`` in NonLinLoc's frame
            (x, y, depth).
        hypocenter_local_km: ``HYPOCENTER`` ``[3]`` (x, y, depth).
        covariance_local_km2: ``[3, 3]`` covariance in NonLinLoc's frame (x, y, depth).
        latitude_deg, longitude_deg, depth_km: ``GEOGRAPHIC`` position.
        transform: the ``TRANSFORM`` line as a :class:`GeoTransform` (``None`` for ``NONE``,
            or a transform jaxseis does not map; ``transform_line`` holds it).
        transform_line: the ``TRANSFORM`` line.
        surface_z_km: model ``z`` of depth 0 (given, or from a jaxseis ``SEARCH`` line), or
            ``None`` when unknown.
        status: the location status (``LOCATED``, ``ABORTED``, ...).
        public_id, signature, comment: the text lines (``public_id`` ``None`` for ``None``).
        search: the ``SEARCH`` line's tokens after the first, as key -> value text.
        quality: ``QUALITY`` values (``RMS``, ``Nphs``, ``Gap``, ``Dist``, ``Mamp``, ...).
        ellipsoid_km: ``QML_ConfidenceEllipsoid`` (km, degrees), or ``None``.
        horizontal_km: ``QML_OriginUncertainty`` ellipse (km, degrees), or ``None``.
        arrivals: the ``PHASE`` lines.
        line: 1-based line of the ``NLLOC`` line in the file.
    """

    origin_time: UTCDateTime
    expectation_local_km: np.ndarray
    hypocenter_local_km: np.ndarray
    covariance_local_km2: np.ndarray
    latitude_deg: float
    longitude_deg: float
    depth_km: float
    transform: GeoTransform | None
    transform_line: str
    surface_z_km: float | None
    status: str
    public_id: str | None
    signature: str
    comment: str
    search: dict[str, str]
    quality: dict[str, float]
    ellipsoid_km: Ellipsoid | None
    horizontal_km: HorizontalEllipse | None
    arrivals: tuple[HypArrival, ...]
    line: int

    def _surface(self) -> float:
        if self.surface_z_km is None:
            raise ValueError(
                "the model z of depth 0 is unknown (not a jaxseis .hyp): pass surface_z_km to "
                "read_hyp"
            )
        return self.surface_z_km

    @property
    def expectation_km(self) -> np.ndarray:
        """``STATISTICS`` expectation ``[3]`` in model coordinates (km, ``z`` up)."""
        p = self.expectation_local_km.copy()
        p[2] = self._surface() - p[2]
        return p

    @property
    def hypocenter_km(self) -> np.ndarray:
        """``HYPOCENTER`` ``[3]`` in model coordinates (km, ``z`` up)."""
        p = self.hypocenter_local_km.copy()
        p[2] = self._surface() - p[2]
        return p

    @property
    def covariance_km2(self) -> np.ndarray:
        """The covariance ``[3, 3]`` in the model frame (``z`` up), km^2."""
        flip = np.diag([1.0, 1.0, -1.0])
        return flip @ self.covariance_local_km2 @ flip

    def t0_s(self, reference_time) -> float:
        """Origin time minus ``reference_time`` (s)."""
        return float(self.origin_time - UTCDateTime(reference_time))


def _floats(tokens: list[str], where: str) -> list[float]:
    try:
        return [float(v) for v in tokens]
    except ValueError:
        raise ValueError(f"{where}: expected numbers, got {' '.join(tokens)!r}") from None


def _keyed(tokens: list[str], keys: Sequence[str], where: str) -> dict[str, float]:
    """Values following each of ``keys`` in ``tokens`` (``KEY value KEY value ...``)."""
    out = {}
    for key in keys:
        if key not in tokens:
            raise ValueError(f"{where}: no {key} value")
        i = tokens.index(key)
        if i + 1 >= len(tokens):
            raise ValueError(f"{where}: {key} without a value")
        out[key] = _floats([tokens[i + 1]], f"{where} ({key})")[0]
    return out


def _quoted(line: str) -> list[str]:
    parts = line.split('"')
    return [parts[i] for i in range(1, len(parts) - 1, 2)]


def _parse_block(lines: list[tuple[int, str]], path, surface_z_km) -> HypEvent:
    first_n, first = lines[0]
    q = _quoted(first)
    status = q[1] if len(q) > 1 else ""
    tagged: dict[str, tuple[int, list[str], str]] = {}
    arrivals_raw: list[tuple[int, str]] = []
    in_phase = False
    for n, line in lines[1:-1]:
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "PHASE":
            in_phase = True
            continue
        if tokens[0] == "END_PHASE":
            in_phase = False
            continue
        if in_phase:
            arrivals_raw.append((n, line))
        else:
            tagged[tokens[0]] = (n, tokens[1:], line)
    if in_phase:
        raise ValueError(f"{path}:{first_n}: PHASE block without END_PHASE")
    missing = [k for k in _REQUIRED if k not in tagged]
    if missing:
        raise ValueError(f"{path}:{first_n}: event without {', '.join(missing)} line(s)")

    n, t, _ = tagged["HYPOCENTER"]
    where = f"{path}:{n}"
    hv = _keyed(t, ("x", "y", "z"), where)
    hypocenter = np.array([hv["x"], hv["y"], hv["z"]])

    n, t, _ = tagged["GEOGRAPHIC"]
    where = f"{path}:{n}"
    if len(t) < 7 or t[0] != "OT":
        raise ValueError(f"{where}: GEOGRAPHIC needs 'OT yyyy mm dd hh mm ss.s', got {t[:7]}")
    ymdhm = _floats(t[1:6], where)
    sec = _floats([t[6]], where)[0]
    try:
        origin_time = UTCDateTime(*(int(v) for v in ymdhm)) + sec
    except ValueError:
        raise ValueError(f"{where}: invalid origin time {' '.join(t[1:7])}") from None
    gv = _keyed(t, ("Lat", "Long", "Depth"), where)

    n, t, _ = tagged["STATISTICS"]
    where = f"{path}:{n}"
    sv = _keyed(t, ("ExpectX", "Y", "Z", "CovXX", "XY", "XZ", "YY", "YZ", "ZZ"), where)
    expectation = np.array([sv["ExpectX"], sv["Y"], sv["Z"]])
    cov = np.array(
        [
            [sv["CovXX"], sv["XY"], sv["XZ"]],
            [sv["XY"], sv["YY"], sv["YZ"]],
            [sv["XZ"], sv["YZ"], sv["ZZ"]],
        ]
    )

    search: dict[str, str] = {}
    if "SEARCH" in tagged:
        t = tagged["SEARCH"][1][1:]
        search = {t[i]: t[i + 1] for i in range(0, len(t) - 1, 2)}
    surface = surface_z_km
    if surface is None and tagged.get("SEARCH", (0, [""]))[1][:1] == ["JAXSEIS"]:
        surface = _floats([search.get("surface_z_km", "nan")], f"{path}: SEARCH surface_z_km")[0]
        surface = surface if math.isfinite(surface) else None

    transform_line = tagged["TRANSFORM"][2].strip() if "TRANSFORM" in tagged else ""
    transform = None
    if transform_line:
        try:
            transform = parse_transform_line(
                transform_line, DEFAULT_SURFACE_Z_KM if surface is None else surface
            )
        except ValueError:
            transform = None  # another projection: GEOGRAPHIC still holds the position

    quality: dict[str, float] = {}
    if "QUALITY" in tagged:
        n, t, _ = tagged["QUALITY"]
        for key in ("Pmax", "MFmin", "MFmax", "RMS", "Nphs", "Gap", "Dist", "Mamp", "Mdur"):
            if key in t and t.index(key) + 1 < len(t):
                quality[key] = _floats([t[t.index(key) + 1]], f"{path}:{n} ({key})")[0]

    ellipsoid = horizontal = None
    if "QML_ConfidenceEllipsoid" in tagged:
        n, t, _ = tagged["QML_ConfidenceEllipsoid"]
        keys = (
            "semiMajorAxisLength", "semiMinorAxisLength", "semiIntermediateAxisLength",
            "majorAxisPlunge", "majorAxisAzimuth", "majorAxisRotation",
        )  # fmt: skip
        ev = _keyed(t, keys, f"{path}:{n}")
        ellipsoid = Ellipsoid(*(ev[k] for k in keys))
    if "QML_OriginUncertainty" in tagged:
        n, t, _ = tagged["QML_OriginUncertainty"]
        hv = _keyed(t, ("minHorUnc", "maxHorUnc", "azMaxHorUnc"), f"{path}:{n}")
        horizontal = HorizontalEllipse(hv["minHorUnc"], hv["maxHorUnc"], hv["azMaxHorUnc"])

    arrivals = []
    for n, line in arrivals_raw:
        obs, _, calc = line.partition(">")
        f = obs.split()
        c = calc.split()
        where = f"{path}:{n}"
        if len(f) < 11 or len(c) < 3:
            raise ValueError(f"{where}: malformed PHASE line {line.strip()[:80]!r}")
        try:
            hour, minute = divmod(int(f[7]), 100)
            day = f[6]
            time = UTCDateTime(int(day[:4]), int(day[4:6]), int(day[6:8])) + (
                3600 * hour + 60 * minute + float(f[8])
            )
        except ValueError:
            raise ValueError(f"{where}: bad arrival time {' '.join(f[6:9])!r}") from None
        err, pred, res, weight = _floats([f[10], c[0], c[1], c[2]], where)
        arrivals.append(HypArrival(f[0], f[4], time, err, pred, res, weight))

    def text(key):
        if key not in tagged:
            return ""
        q = _quoted(tagged[key][2])
        return q[0] if q else " ".join(tagged[key][1])

    public_id = " ".join(tagged["PUBLIC_ID"][1]) if "PUBLIC_ID" in tagged else ""
    return HypEvent(
        origin_time=origin_time,
        expectation_local_km=expectation,
        hypocenter_local_km=hypocenter,
        covariance_local_km2=cov,
        latitude_deg=gv["Lat"],
        longitude_deg=gv["Long"],
        depth_km=gv["Depth"],
        transform=transform,
        transform_line=transform_line,
        surface_z_km=surface,
        status=status,
        public_id=None if public_id in ("", "None") else public_id,
        signature=text("SIGNATURE"),
        comment=text("COMMENT"),
        search=search,
        quality=quality,
        ellipsoid_km=ellipsoid,
        horizontal_km=horizontal,
        arrivals=tuple(arrivals),
        line=first_n,
    )


def read_hyp(path: str | Path, *, surface_z_km: float | None = None) -> list[HypEvent]:
    """Read the events of a NonLinLoc ``.hyp`` file (jaxseis's or NonLinLoc's own).

    Args:
        path: the file.
        surface_z_km: model ``z`` of depth 0 (km), for the model coordinates of the events
            (default: the value a jaxseis file records in its ``SEARCH`` line; unknown for other
            files, whose local coordinates are still read).

    Returns:
        A list of :class:`HypEvent`, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is not text, holds no ``NLLOC`` event, an ``NLLOC`` line without
            its ``END_NLLOC`` (or the reverse), an event without ``HYPOCENTER``,
            ``GEOGRAPHIC`` or ``STATISTICS``, a ``PHASE`` block without ``END_PHASE``, or a
            malformed value (each with its line number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NonLinLoc location file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (a .hyp file is text)") from None
    events, block = [], None
    for n, line in enumerate(text.splitlines(), start=1):
        head = line.split()[:1]
        if head == ["NLLOC"]:
            if block is not None:
                raise ValueError(
                    f"{path}:{n}: NLLOC line before the END_NLLOC of the event of line "
                    f"{block[0][0]}"
                )
            block = [(n, line)]
        elif head == ["END_NLLOC"]:
            if block is None:
                raise ValueError(f"{path}:{n}: END_NLLOC without an NLLOC line")
            block.append((n, line))
            events.append(_parse_block(block, path, surface_z_km))
            block = None
        elif block is not None:
            block.append((n, line))
    if block is not None:
        raise ValueError(f"{path}:{block[0][0]}: NLLOC event without END_NLLOC (truncated file?)")
    if not events:
        raise ValueError(f"{path}: no NonLinLoc event (no line starts with NLLOC)")
    return events
