"""Model coordinates <-> latitude, longitude and depth: the transform every writer shares.

jaxseis places positions in a local Cartesian frame: ``(x, y, z)`` in km, ``x`` and ``y``
horizontal, ``z`` measured **upward from the model bottom**. NonLinLoc uses a rectangular frame
``(x, y, depth)`` in km with depth positive down, and maps its ``(x, y)`` to latitude and
longitude with a ``TRANSFORM`` (QuakeML needs latitude, longitude and depth below sea level).

:class:`GeoTransform` holds the three things that connect the frames:

* the geographic position ``(latitude_deg, longitude_deg)`` of the model point
  ``x = y = 0``;
* ``x_azimuth_deg``, the azimuth of the model's ``x`` axis (degrees clockwise from north; the
  ``y`` axis points 90 degrees anticlockwise of it, so ``x`` east and ``y`` north is 90);
* ``surface_z_km``, the model ``z`` of depth 0 (the sea surface). For
  :data:`jaxseis.geometry.DEFAULT_GRID` it is the top of the grid, 3.0 km; depth is then
  ``surface_z_km - z`` km.

The horizontal mapping is NonLinLoc's ``TRANSFORM SIMPLE`` (``GridLib.c``): a rotation of the
frame by ``RotCW = 90 - x_azimuth_deg`` degrees, then ``latitude = lat0 + north / K`` and
``longitude = lon0 + east / (K cos(latitude))`` with ``K`` = :data:`KM_PER_DEGREE` (NonLinLoc's
``DEG2KM``) and the cosine taken at the point's own latitude. The inverse uses the same
latitude, so the round trip is exact to floating-point round-off (below 1e-9 km over a
kilometre-scale model). Exported grids, ``.hyp`` files and QuakeML all use this one mapping, so
their coordinates agree. The map distorts distances by less than 1e-4 relative over a few km
at mid latitudes, far below location uncertainties of metres.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from jaxseis.geometry import DEFAULT_GRID

__all__ = [
    "DEFAULT_SURFACE_Z_KM",
    "KM_PER_DEGREE",
    "SUPPORTED_TRANSFORMS",
    "GeoTransform",
    "parse_transform_line",
]

KM_PER_DEGREE = math.pi * 6371.0087714 / 180.0
"""Kilometres per degree of latitude in NonLinLoc's ``SIMPLE`` transform (``DEG2KM``)."""

DEFAULT_SURFACE_Z_KM = float(DEFAULT_GRID.extent_km[1, 2])
"""Model ``z`` of depth 0 for the default grid: its top, 3.0 km (km)."""

SUPPORTED_TRANSFORMS = ("NONE", "SIMPLE")
"""NonLinLoc ``TRANSFORM`` types jaxseis reads and writes."""

_KNOWN_TRANSFORMS = ("GLOBAL", "SDC", "LAMBERT", "TRANS_MERC", "AZIMUTHAL_EQUIDIST")


def _finite(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


@dataclasses.dataclass(frozen=True)
class GeoTransform:
    """A local model frame placed on the Earth (NonLinLoc ``TRANSFORM SIMPLE``).

    Attributes:
        latitude_deg: latitude of the model point ``x = y = 0``, degrees in [-90, 90].
        longitude_deg: its longitude, degrees in [-180, 180].
        x_azimuth_deg: azimuth of the model ``x`` axis, degrees clockwise from north
            (90: ``x`` east, ``y`` north).
        surface_z_km: model ``z`` of depth 0 (sea level), km; depth = ``surface_z_km - z``.

    Raises:
        ValueError: for non-finite values or a latitude/longitude out of range.
    """

    latitude_deg: float
    longitude_deg: float
    x_azimuth_deg: float = 90.0
    surface_z_km: float = DEFAULT_SURFACE_Z_KM

    def __post_init__(self):
        for name in ("latitude_deg", "longitude_deg", "x_azimuth_deg", "surface_z_km"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        if not -90.0 < self.latitude_deg < 90.0:
            raise ValueError(f"latitude_deg must lie in (-90, 90), got {self.latitude_deg}")
        if not -180.0 <= self.longitude_deg <= 180.0:
            raise ValueError(f"longitude_deg must lie in [-180, 180], got {self.longitude_deg}")

    @classmethod
    def from_rot_cw(
        cls, latitude_deg: float, longitude_deg: float, rot_cw_deg: float, surface_z_km: float
    ) -> GeoTransform:
        """The transform of a NonLinLoc ``TRANSFORM SIMPLE`` line (``RotCW`` in degrees)."""
        rot = _finite(rot_cw_deg, "RotCW")
        return cls(latitude_deg, longitude_deg, (90.0 - rot) % 360.0, surface_z_km)

    @property
    def rot_cw_deg(self) -> float:
        """NonLinLoc's ``RotCW``: the rotation of north clockwise from the ``y`` axis, degrees
        in (-180, 180]."""
        rot = (90.0 - self.x_azimuth_deg) % 360.0
        return rot - 360.0 if rot > 180.0 else rot

    def transform_line(self) -> str:
        """The NonLinLoc header line, ``TRANSFORM  SIMPLE LatOrig .. LongOrig .. RotCW ..``."""
        return (
            f"TRANSFORM  SIMPLE LatOrig {self.latitude_deg:.9f}  "
            f"LongOrig {self.longitude_deg:.9f}  RotCW {self.rot_cw_deg:.9f}"
        )

    def with_surface(self, surface_z_km: float) -> GeoTransform:
        """The same transform with another model ``z`` of depth 0 (km)."""
        return dataclasses.replace(self, surface_z_km=surface_z_km)

    # -- frames ----------------------------------------------------------------------------

    def _axes(self) -> tuple[float, float]:
        a = math.radians(self.x_azimuth_deg)
        return math.sin(a), math.cos(a)

    def to_local_km(self, points_km) -> np.ndarray:
        """Model ``(x, y, z)`` to NonLinLoc's rectangular ``(x, y, depth)``, ``[..., 3]`` km."""
        p = np.array(points_km, dtype=np.float64)
        _check_last_axis(p, "points_km")
        p[..., 2] = self.surface_z_km - p[..., 2]
        return p

    def from_local_km(self, local_km) -> np.ndarray:
        """NonLinLoc ``(x, y, depth)`` to model ``(x, y, z)``, ``[..., 3]`` km."""
        return self.to_local_km(local_km)  # the depth flip is its own inverse

    def ned_matrix(self) -> np.ndarray:
        """``[3, 3]`` matrix taking model vectors ``(dx, dy, dz)`` to (north, east, down).

        A covariance ``C`` in model coordinates becomes ``R C R^T`` in the north-east-down
        frame of QuakeML's confidence ellipsoid.
        """
        s, c = self._axes()  # x axis = (east s, north c); y axis = (east -c, north s)
        return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])

    def to_geographic(self, points_km) -> np.ndarray:
        """Model ``(x, y, z)`` km to ``(latitude_deg, longitude_deg, depth_km)``, ``[..., 3]``."""
        p = np.asarray(points_km, dtype=np.float64)
        _check_last_axis(p, "points_km")
        s, c = self._axes()
        x, y = p[..., 0], p[..., 1]
        east = s * x - c * y
        north = c * x + s * y
        lat = self.latitude_deg + north / KM_PER_DEGREE
        lon = self.longitude_deg + east / (KM_PER_DEGREE * np.cos(np.radians(lat)))
        lon = (lon + 180.0) % 360.0 - 180.0
        return np.stack([lat, lon, self.surface_z_km - p[..., 2]], axis=-1)

    def from_geographic(self, geographic) -> np.ndarray:
        """``(latitude_deg, longitude_deg, depth_km)`` ``[..., 3]`` to model ``(x, y, z)`` km."""
        g = np.asarray(geographic, dtype=np.float64)
        _check_last_axis(g, "geographic")
        lat, lon = g[..., 0], g[..., 1]
        dlon = (lon - self.longitude_deg + 180.0) % 360.0 - 180.0
        east = dlon * KM_PER_DEGREE * np.cos(np.radians(lat))
        north = (lat - self.latitude_deg) * KM_PER_DEGREE
        s, c = self._axes()
        x = s * east + c * north
        y = -c * east + s * north
        return np.stack([x, y, self.surface_z_km - g[..., 2]], axis=-1)

    def azimuth_deg(self, model_azimuth_deg) -> np.ndarray:
        """Geographic azimuth (clockwise from north, [0, 360)) of a direction given by its
        azimuth clockwise from the model ``y`` axis (NonLinLoc's rectangular azimuth)."""
        return (np.asarray(model_azimuth_deg, dtype=np.float64) - self.rot_cw_deg) % 360.0


def _check_last_axis(a: np.ndarray, name: str) -> None:
    if a.shape[-1:] != (3,):
        raise ValueError(f"{name} must have shape [..., 3], got {a.shape}")


def parse_transform_line(line: str, surface_z_km: float) -> GeoTransform | None:
    """The transform of a NonLinLoc ``TRANSFORM`` (header, ``.hyp``) or ``TRANS`` (control
    file) line: ``None`` for ``NONE``, a :class:`GeoTransform` for ``SIMPLE``.

    Both forms are read: ``TRANSFORM  SIMPLE LatOrig 46.0  LongOrig 7.0  RotCW 10.0`` and
    ``TRANS SIMPLE 46.0 7.0 10.0``.

    Args:
        line: the line.
        surface_z_km: model ``z`` of depth 0 for the returned transform (km).

    Raises:
        ValueError: for another transform (named in the message), or a malformed ``SIMPLE``
            line.
    """
    f = line.split()
    if not f or f[0] not in ("TRANSFORM", "TRANS"):
        raise ValueError(f"not a TRANSFORM line: {line.strip()!r}")
    if len(f) < 2:
        raise ValueError(f"TRANSFORM line without a transform type: {line.strip()!r}")
    kind = f[1].upper()
    if kind == "NONE":
        return None
    if kind != "SIMPLE":
        what = "a NonLinLoc transform" if kind in _KNOWN_TRANSFORMS else "an unknown transform"
        raise ValueError(
            f"TRANSFORM {kind} ({what}) is not supported: jaxseis reads TRANSFORM NONE and "
            "SIMPLE only; re-create the grids with TRANS SIMPLE (or NONE) in NonLinLoc's "
            "control file"
        )
    numbers = [v for v in f[2:] if v not in ("LatOrig", "LongOrig", "RotCW")]
    if len(numbers) != 3:
        raise ValueError(
            f"TRANSFORM SIMPLE needs LatOrig, LongOrig and RotCW (3 numbers), got {line.strip()!r}"
        )
    try:
        lat, lon, rot = (float(v) for v in numbers)
    except ValueError:
        raise ValueError(f"TRANSFORM SIMPLE with a non-numeric value: {line.strip()!r}") from None
    if not -360.0 <= rot <= 360.0:
        raise ValueError(f"TRANSFORM SIMPLE RotCW must lie in [-360, 360], got {rot}")
    return GeoTransform.from_rot_cw(lat, lon, rot, surface_z_km)
