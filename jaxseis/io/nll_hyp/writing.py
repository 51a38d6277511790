"""NonLinLoc location files written: one located event as a ``.hyp`` block
(:func:`hyp_block`), a file of one event (:func:`write_hyp`) or of many
(:func:`write_hyp_blocks`). The lines and conventions are described in
:mod:`jaxseis.io.nll_hyp`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from obspy import UTCDateTime

from jaxseis.files import write_text
from jaxseis.geometry import Grid
from jaxseis.io.coordinates import DEFAULT_SURFACE_Z_KM, GeoTransform
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

__all__ = ["hyp_block", "write_hyp", "write_hyp_blocks"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PHASE_HEADER = (
    "PHASE ID Ins Cmp On Pha  FM Date     HrMn   Sec     Err  ErrMag    Coda      Amp       Per"
    "  >   TTpred    Res       Weight    StaLoc(X  Y         Z)        SDist    SAzim  RAz  RDip"
    " RQual    Tcorr "
)


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
    """One event as a NonLinLoc ``.hyp`` block, ``NLLOC`` ... ``END_NLLOC``, as described in
    :mod:`jaxseis.io.nll_hyp`.

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
