"""Located events as ObsPy ``Event``/``Catalog`` objects and QuakeML files.

:func:`event_from_summary` turns a location summary (:mod:`jaxseis.io.summary`) into an
:class:`obspy.core.event.Event`:

* ``Origin``: time = reference time + posterior mean ``t0`` (its std as the time uncertainty);
  with a :class:`~jaxseis.io.coordinates.GeoTransform`, latitude, longitude and depth (m below
  sea level) of the posterior mean position, and their standard deviations (degrees, m). The
  model coordinates are recorded as well: as ``model_x_km``, ``model_y_km``, ``model_z_km``
  elements in the jaxseis namespace (:data:`NAMESPACE`, ObsPy's ``extra``) and in a comment
  holding the whole summary as JSON.
* ``OriginUncertainty``: the ``ConfidenceEllipsoid`` of the 3 x 3 position covariance at
  ``confidence_level`` percent, scaled for 3 degrees of freedom (semi-axes in m, angles in
  QuakeML's conventions, :mod:`jaxseis.io.ellipsoid`), and the horizontal ellipse of the
  horizontal covariance at the same level (2 degrees of freedom); ``horizontal_uncertainty`` is
  its semi-major axis (the circle that contains it).
* ``OriginQuality``: stations used and, when given, ``standard_error`` = the RMS of the residual
  (waveforms: in the traces' amplitude units, stated in a comment; QuakeML defines the field for
  travel-time residuals in s), and with station positions the azimuthal gap and distances.
* ``Magnitude`` (when ``log_amplitude`` was free): the relative magnitude
  ``M_rel = (2/3) log10(A)``, ``A = exp(log_amplitude)``, i.e. 0 for the training simulations'
  unit source; type ``"Mrel"``, with a comment saying so. It ranks events by size; it is not a
  calibrated magnitude.
* ``creation_info``: author ``jaxseis`` and its version; the method as ``method_id``; the
  emulator set in a comment.

:func:`write_quakeml` writes a catalog through :func:`jaxseis.files.atomic_path` (validated
against the QuakeML schema); :func:`obspy.read_events` reads it back, and
:func:`model_location` maps an origin back to model coordinates and covariance.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from obspy import Catalog, UTCDateTime
from obspy.core.event import (
    Comment,
    ConfidenceEllipsoid,
    CreationInfo,
    Event,
    Magnitude,
    Origin,
    OriginQuality,
    OriginUncertainty,
    QuantityError,
    ResourceIdentifier,
)

from jaxseis.files import atomic_path
from jaxseis.io.coordinates import KM_PER_DEGREE, GeoTransform
from jaxseis.io.ellipsoid import (
    Ellipsoid,
    chi2_scale,
    confidence_ellipsoid,
    ellipsoid_covariance,
    horizontal_ellipse,
)
from jaxseis.io.summary import check_summary

__all__ = [
    "MAGNITUDE_TYPE",
    "NAMESPACE",
    "ModelLocation",
    "event_from_summary",
    "make_catalog",
    "model_location",
    "station_geometry",
    "write_quakeml",
]

NAMESPACE = "urn:jaxseis:quakeml:1"
"""XML namespace of jaxseis's extra QuakeML elements (``model_x_km``, ...)."""

MAGNITUDE_TYPE = "Mrel"
"""QuakeML magnitude type of jaxseis's relative magnitude."""

_ONE_SIGMA = 68.27  # percent: the probability of +-1 standard deviation of a 1-D Gaussian
_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def _reference(reference_time) -> UTCDateTime:
    try:
        return UTCDateTime(reference_time)
    except (TypeError, ValueError):
        raise ValueError(
            f"reference_time must be an obspy.UTCDateTime (or what it accepts), got "
            f"{reference_time!r}"
        ) from None


def _creation_info(creation_time, agency_id) -> CreationInfo:
    from jaxseis import __version__

    return CreationInfo(
        author="jaxseis",
        version=__version__,
        agency_id=agency_id,
        creation_time=UTCDateTime() if creation_time is None else UTCDateTime(creation_time),
    )


def _rid(event_id: str | None, kind: str) -> ResourceIdentifier:
    if event_id is None:
        return ResourceIdentifier(prefix=f"smi:local/jaxseis/{kind}")
    return ResourceIdentifier(f"smi:local/jaxseis/{event_id}/{kind}")


def station_geometry(position_km, receivers_km) -> dict[str, float]:
    """Azimuthal gap (degrees) and minimum, maximum and median epicentral distance (km) of the
    stations ``[n, 3]`` seen from ``position_km [3]`` (model coordinates; azimuths are measured
    in the model frame, and gaps do not depend on its orientation)."""
    p = np.asarray(position_km, dtype=np.float64).reshape(3)
    r = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
    d = r[:, :2] - p[:2]
    dist = np.hypot(d[:, 0], d[:, 1])
    az = np.sort(np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0)
    gaps = np.diff(np.concatenate([az, az[:1] + 360.0]))
    return {
        "gap_deg": float(gaps.max()) if len(az) > 1 else 360.0,
        "min_km": float(dist.min()),
        "max_km": float(dist.max()),
        "median_km": float(np.median(dist)),
    }


def event_from_summary(
    summary,
    reference_time,
    *,
    stations: Sequence[str] = (),
    transform: GeoTransform | None = None,
    rms: float | None = None,
    rms_unit: str = "trace amplitude units",
    emulators: str | None = None,
    receivers_km=None,
    confidence_level: float = 68.0,
    event_id: str | None = None,
    event_type: str | None = None,
    agency_id: str | None = None,
    creation_time=None,
) -> Event:
    """An ObsPy ``Event`` from a location summary (see the module docs for its content).

    Args:
        summary: the location summary (dict, :mod:`jaxseis.io.summary`).
        reference_time: the observation's reference time (``obspy.UTCDateTime``); the origin
            time is ``reference_time + t0``.
        stations: codes of the stations used (e.g. ``"XX.R01"``).
        transform: the geographic transform; without it latitude, longitude and depth stay
            unset (the event can be used in memory but not written as QuakeML) and the
            ellipsoid's azimuths are taken with model ``x`` east and ``y`` north.
        rms: RMS of the residual (``standard_error``), in ``rms_unit``.
        rms_unit: unit of ``rms``, stated in a comment.
        emulators: a description of the emulator set (a comment).
        receivers_km: station positions ``[n, 3]`` (model km) for the azimuthal gap and the
            distances of ``OriginQuality``.
        confidence_level: confidence level of the ellipsoid and ellipse, percent.
        event_id: a name for the event's resource ids (``smi:local/jaxseis/<id>/...``; default
            random ids).
        event_type: QuakeML event type (e.g. ``"induced or triggered event"``), or ``None``.
        agency_id: agency for ``creation_info``.
        creation_time: creation time (default: now).

    Raises:
        ValueError: a bad summary (:func:`~jaxseis.io.summary.check_summary`), reference time,
            event id, RMS or confidence level.
    """
    s = check_summary(summary)
    ref = _reference(reference_time)
    if event_id is not None and not _ID.fullmatch(event_id):
        raise ValueError(f"event_id {event_id!r} must be 1-64 letters, digits, '_', '.' or '-'")
    if rms is not None and not (math.isfinite(rms) and rms >= 0):
        raise ValueError(f"rms must be a finite number >= 0, got {rms}")
    stations = tuple(str(v) for v in stations)
    scale3 = chi2_scale(confidence_level, 3)
    scale2 = chi2_scale(confidence_level, 2)
    info = _creation_info(creation_time, agency_id)
    geo = transform if transform is not None else GeoTransform(0.0, 0.0)  # orientation only
    method_id = ResourceIdentifier(f"smi:local/jaxseis/method/{s.method}")

    origin = Origin(
        resource_id=_rid(event_id, "origin"),
        time=ref + float(s.mean[3]),
        time_fixed=not bool(s.free[3]),
        epicenter_fixed=not bool(s.free[0] and s.free[1]),
        depth_type="from location",
        origin_type="hypocenter",
        method_id=method_id,
        evaluation_mode="automatic",
        evaluation_status="preliminary",
        creation_info=info.copy(),
    )
    if s.free[3]:
        origin.time_errors = QuantityError(uncertainty=float(s.std[3]), confidence_level=_ONE_SIGMA)
    cov_ned_km2 = geo.ned_matrix() @ s.position_cov_km2 @ geo.ned_matrix().T
    if transform is not None:
        lat, lon, depth_km = transform.to_geographic(s.position_km)
        origin.latitude, origin.longitude, origin.depth = float(lat), float(lon), 1000 * depth_km
        k_lon = KM_PER_DEGREE * math.cos(math.radians(lat))
        origin.latitude_errors = QuantityError(
            uncertainty=math.sqrt(cov_ned_km2[0, 0]) / KM_PER_DEGREE, confidence_level=_ONE_SIGMA
        )
        origin.longitude_errors = QuantityError(
            uncertainty=math.sqrt(cov_ned_km2[1, 1]) / k_lon, confidence_level=_ONE_SIGMA
        )
        origin.depth_errors = QuantityError(
            uncertainty=1000 * float(s.std[2]), confidence_level=_ONE_SIGMA
        )
    origin.extra = {
        f"model_{axis}_km": {"value": float(v), "namespace": NAMESPACE}
        for axis, v in zip("xyz", s.position_km, strict=True)
    }

    quality = OriginQuality(
        used_station_count=len(stations) or None,
        associated_station_count=len(stations) or None,
        standard_error=None if rms is None else float(rms),
    )
    if receivers_km is not None:
        g = station_geometry(s.position_km, receivers_km)
        quality.azimuthal_gap = g["gap_deg"]
        quality.minimum_distance = g["min_km"] / KM_PER_DEGREE
        quality.maximum_distance = g["max_km"] / KM_PER_DEGREE
        quality.median_distance = g["median_km"] / KM_PER_DEGREE
    origin.quality = quality

    if np.any(s.position_cov_km2):
        e = confidence_ellipsoid(cov_ned_km2 * 1e6, scale3)
        h = horizontal_ellipse(cov_ned_km2[:2, :2] * 1e6, scale2)
        origin.origin_uncertainty = OriginUncertainty(
            horizontal_uncertainty=h.semi_major,
            min_horizontal_uncertainty=h.semi_minor,
            max_horizontal_uncertainty=h.semi_major,
            azimuth_max_horizontal_uncertainty=h.azimuth_major_deg,
            confidence_ellipsoid=ConfidenceEllipsoid(
                semi_major_axis_length=e.semi_major,
                semi_minor_axis_length=e.semi_minor,
                semi_intermediate_axis_length=e.semi_intermediate,
                major_axis_plunge=e.plunge_deg,
                major_axis_azimuth=e.azimuth_deg,
                major_axis_rotation=e.rotation_deg,
            ),
            preferred_description="confidence ellipsoid",
            confidence_level=float(confidence_level),
        )

    x, y, z = s.position_km
    frame = "no geographic transform" if transform is None else _describe(transform)
    texts = [
        f"model coordinates (km, z up from the model bottom): x {x:.6f} y {y:.6f} z {z:.6f}; "
        f"{frame}",
        "jaxseis location summary (JSON): " + json.dumps(s.to_dict(), allow_nan=False),
    ]
    if rms is not None:
        texts.append(f"standard_error is the RMS of the residual in {rms_unit}")
    if stations:
        texts.append("stations used: " + " ".join(stations))
    origin.comments = [Comment(text=t) for t in texts]

    event = Event(
        resource_id=_rid(event_id, "event"),
        event_type=event_type,
        origins=[origin],
        creation_info=info.copy(),
    )
    if emulators:
        event.comments.append(Comment(text=f"emulator set: {emulators}"))
    event.comments.append(Comment(text=f"located by jaxseis, method {s.method}"))
    event.preferred_origin_id = origin.resource_id
    if s.relative_magnitude is not None:
        m, m_std = s.relative_magnitude
        mag = Magnitude(
            resource_id=_rid(event_id, "magnitude"),
            mag=m,
            mag_errors=QuantityError(uncertainty=m_std, confidence_level=_ONE_SIGMA),
            magnitude_type=MAGNITUDE_TYPE,
            origin_id=origin.resource_id,
            method_id=ResourceIdentifier("smi:local/jaxseis/magnitude/relative_amplitude"),
            station_count=len(stations) or None,
            evaluation_mode="automatic",
            creation_info=info.copy(),
            comments=[
                Comment(
                    text="relative magnitude M_rel = (2/3) log10(A), A = exp(log_amplitude): "
                    "the source strength relative to the unit source of the training "
                    "simulations (M_rel = 0); not calibrated to a standard magnitude scale"
                )
            ],
        )
        event.magnitudes.append(mag)
        event.preferred_magnitude_id = mag.resource_id
    return event


def _describe(t: GeoTransform) -> str:
    return (
        f"transform: origin lat {t.latitude_deg:.9f} lon {t.longitude_deg:.9f}, x azimuth "
        f"{t.x_azimuth_deg:.9f} deg, model z of depth 0 {t.surface_z_km:.9f} km "
        f"(NonLinLoc {t.transform_line().strip()})"
    )


def make_catalog(
    events: Sequence[Event], *, description: str | None = None, creation_time=None
) -> Catalog:
    """A ``Catalog`` of ``events`` with jaxseis's ``creation_info``."""
    return Catalog(
        events=list(events),
        description=description,
        creation_info=_creation_info(creation_time, None),
    )


def write_quakeml(path: str | Path, catalog: Catalog | Event | Sequence[Event]) -> Path:
    """Write events as QuakeML (atomically), validated against the QuakeML 1.2 schema.

    Returns:
        The path written.

    Raises:
        ValueError: an origin without latitude, longitude or depth (made without a transform:
            pass ``transform=GeoTransform(...)`` to :func:`event_from_summary`), or a catalog
            that does not validate.
    """
    if isinstance(catalog, Event):
        catalog = make_catalog([catalog])
    elif not isinstance(catalog, Catalog):
        catalog = make_catalog(list(catalog))
    for i, event in enumerate(catalog):
        for origin in event.origins:
            if origin.latitude is None or origin.longitude is None or origin.depth is None:
                raise ValueError(
                    f"event {i} has an origin without latitude, longitude or depth: QuakeML "
                    "needs them; locate with a geographic transform (transform=GeoTransform("
                    "latitude_deg, longitude_deg, x_azimuth_deg, surface_z_km))"
                )
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            catalog.write(str(tmp), format="QUAKEML", validate=True, nsmap={"jaxseis": NAMESPACE})
        except AssertionError as exc:  # ObsPy reports a failed validation so
            raise ValueError(f"the catalog does not validate as QuakeML 1.2: {exc}") from None
    return path


class ModelLocation(NamedTuple):
    """An origin mapped back to model coordinates.

    Attributes:
        position_km: ``[3]`` model ``(x, y, z)`` km.
        covariance_km2: ``[3, 3]`` position covariance (model frame, km^2) from the confidence
            ellipsoid, or ``None`` without one.
        origin_time: the origin time.
        t0_s: origin time minus the reference time (s), or ``None`` without a reference time.
        confidence_level: the ellipsoid's confidence level (percent), or ``None``.
        ellipsoid: the ellipsoid as read (m, degrees), or ``None``.
    """

    position_km: np.ndarray
    covariance_km2: np.ndarray | None
    origin_time: UTCDateTime
    t0_s: float | None
    confidence_level: float | None
    ellipsoid: Ellipsoid | None


def model_location(
    event_or_origin: Event | Origin, transform: GeoTransform, reference_time=None
) -> ModelLocation:
    """The preferred (or only) origin of an event in model coordinates.

    The position comes from latitude, longitude and depth through ``transform`` (the inverse of
    the mapping :func:`event_from_summary` used); the covariance from the confidence ellipsoid
    at its stated confidence level (3 degrees of freedom).

    Raises:
        ValueError: an event without origins, or an origin without latitude, longitude or depth.
    """
    origin = event_or_origin
    if isinstance(event_or_origin, Event):
        origin = event_or_origin.preferred_origin() or (
            event_or_origin.origins[0] if event_or_origin.origins else None
        )
        if origin is None:
            raise ValueError("the event has no origin")
    if origin.latitude is None or origin.longitude is None or origin.depth is None:
        raise ValueError("the origin has no latitude, longitude or depth")
    position = transform.from_geographic([origin.latitude, origin.longitude, origin.depth / 1000])
    cov = ellipsoid = level = None
    unc = origin.origin_uncertainty
    if unc is not None and unc.confidence_ellipsoid is not None:
        c = unc.confidence_ellipsoid
        level = float(unc.confidence_level) if unc.confidence_level is not None else _ONE_SIGMA
        ellipsoid = Ellipsoid(
            c.semi_major_axis_length, c.semi_minor_axis_length, c.semi_intermediate_axis_length,
            c.major_axis_plunge, c.major_axis_azimuth, c.major_axis_rotation,
        )  # fmt: skip
        ned = ellipsoid_covariance(ellipsoid, chi2_scale(level, 3)) / 1e6
        r = transform.ned_matrix()
        cov = r.T @ ned @ r
    t0 = None if reference_time is None else float(origin.time - _reference(reference_time))
    return ModelLocation(position, cov, origin.time, t0, level, ellipsoid)
