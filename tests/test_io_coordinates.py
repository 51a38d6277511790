"""The geographic transform: NonLinLoc's SIMPLE definition, invertibility, the NED frame."""

import math

import numpy as np
import pytest

from jaxseis.io.coordinates import (
    DEFAULT_SURFACE_Z_KM,
    KM_PER_DEGREE,
    GeoTransform,
    parse_transform_line,
)

TRANSFORMS = [
    GeoTransform(57.5, 1.8),
    GeoTransform(-33.9, 151.2, x_azimuth_deg=0.0, surface_z_km=2.5),
    GeoTransform(64.1, -21.9, x_azimuth_deg=237.5),
    GeoTransform(0.0, 179.999, x_azimuth_deg=135.0),  # the antimeridian is crossed
]


def _nonlinloc_rect2latlon(t: GeoTransform, x, y):
    """GridLib.c rect2latlon for MAP_TRANS_SIMPLE, transcribed statement by statement."""
    angle = -math.pi / 180 * t.rot_cw_deg
    xtemp = x * math.cos(angle) + y * math.sin(angle)
    ytemp = y * math.cos(angle) - x * math.sin(angle)
    lat = t.latitude_deg + ytemp / KM_PER_DEGREE
    lon = t.longitude_deg + xtemp / (KM_PER_DEGREE * math.cos(math.pi / 180 * lat))
    lon = lon + 360 if lon < -180 else lon - 360 if lon > 180 else lon
    return lat, lon


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    return rng.uniform([-2.0, -2.0, 0.0], [3.0, 3.0, 3.0], size=(200, 3))


@pytest.mark.parametrize("t", TRANSFORMS)
def test_matches_nonlinloc_simple_and_inverts_to_round_off(t, points):
    geo = t.to_geographic(points)
    for p, g in zip(points[:20], geo[:20], strict=True):
        lat, lon = _nonlinloc_rect2latlon(t, p[0], p[1])
        assert g[0] == pytest.approx(lat, abs=1e-12) and g[1] == pytest.approx(lon, abs=1e-12)
    np.testing.assert_allclose(geo[:, 2], t.surface_z_km - points[:, 2])
    np.testing.assert_allclose(t.from_geographic(geo), points, atol=1e-9)  # km: 1 micrometre


def test_x_azimuth_orients_the_model_axes():
    east = GeoTransform(45.0, 10.0, x_azimuth_deg=90.0)
    lat, lon, _ = east.to_geographic([1.0, 0.0, 3.0])
    assert lat == pytest.approx(45.0) and lon > 10.0  # x east
    lat, lon, _ = east.to_geographic([0.0, 1.0, 3.0])
    assert lat > 45.0 and lon == pytest.approx(10.0)  # y north
    north = GeoTransform(45.0, 10.0, x_azimuth_deg=0.0)
    lat, lon, _ = north.to_geographic([1.0, 0.0, 3.0])
    assert lat == pytest.approx(45.0 + 1 / KM_PER_DEGREE) and lon == pytest.approx(10.0)
    lat, lon, _ = north.to_geographic([0.0, 1.0, 3.0])
    assert lon < 10.0  # y points west when x points north (right-handed with z up)
    assert north.rot_cw_deg == 90.0 and east.rot_cw_deg == 0.0


@pytest.mark.parametrize("t", TRANSFORMS)
@pytest.mark.parametrize("p, tol", [((0.0, 0.0, 1.5), 1e-6), ((0.4, 0.3, 1.5), 1e-4)])
def test_ned_matrix_is_the_local_jacobian(t, p, tol):
    """Columns: the (north, east, down) km moved per model km along x, y, z (central
    differences of 1 m); exact at the origin, within the SIMPLE map's distortion (distance /
    Earth radius) elsewhere."""
    p = np.asarray(p)
    h = 1e-3
    lat0, _, _ = t.to_geographic(p)
    jac = np.empty((3, 3))
    for i in range(3):
        lat1, lon1, d1 = t.to_geographic(p - h * np.eye(3)[i])
        lat2, lon2, d2 = t.to_geographic(p + h * np.eye(3)[i])
        dlon = (lon2 - lon1 + 180) % 360 - 180
        jac[:, i] = [
            (lat2 - lat1) * KM_PER_DEGREE,
            dlon * KM_PER_DEGREE * math.cos(math.radians(lat0)),
            d2 - d1,
        ]
    np.testing.assert_allclose(jac / (2 * h), t.ned_matrix(), atol=tol)
    np.testing.assert_allclose(t.ned_matrix() @ t.ned_matrix().T, np.eye(3), atol=1e-15)


@pytest.mark.parametrize("t", TRANSFORMS)
def test_transform_line_reads_back(t):
    back = parse_transform_line(t.transform_line(), t.surface_z_km)
    assert back.latitude_deg == t.latitude_deg and back.longitude_deg == t.longitude_deg
    assert back.x_azimuth_deg == pytest.approx(t.x_azimuth_deg % 360, abs=1e-9)


def test_transform_lines_of_headers_and_control_files():
    t = parse_transform_line("TRANSFORM  SIMPLE LatOrig 46.0  LongOrig 7.0  RotCW -10.0", 1.0)
    assert (t.latitude_deg, t.longitude_deg, t.x_azimuth_deg, t.surface_z_km) == (
        46.0, 7.0, 100.0, 1.0,
    )  # fmt: skip
    assert parse_transform_line("TRANS SIMPLE 46.0 7.0 -10.0", 1.0) == t
    assert parse_transform_line("TRANSFORM  NONE", 1.0) is None
    assert GeoTransform(1.0, 2.0).surface_z_km == DEFAULT_SURFACE_Z_KM == 3.0
    assert t.with_surface(2.0).surface_z_km == 2.0


@pytest.mark.parametrize(
    "line, match",
    [
        ("GRID 1 2 3", "not a TRANSFORM line"),
        ("TRANSFORM", "without a transform type"),
        ("TRANSFORM  SDC LatOrig 46.0  LongOrig 7.0  RotCW 0.0", "SDC .*not supported"),
        ("TRANSFORM  MERCATOR", "MERCATOR \\(an unknown transform\\) is not supported"),
        ("TRANSFORM  SIMPLE LatOrig 46.0  LongOrig 7.0  RotCW 400", "RotCW must lie in"),
    ],
)
def test_bad_transform_lines(line, match):
    with pytest.raises(ValueError, match=match):
        parse_transform_line(line, 0.0)


@pytest.mark.parametrize(
    "args, match",
    [
        ((90.0, 0.0), "latitude_deg must lie in"),
        ((0.0, 181.0), "longitude_deg must lie in"),
        ((0.0, 0.0, float("nan")), "x_azimuth_deg must be finite"),
        ((0.0, 0.0, 90.0, "top"), "surface_z_km must be a number"),
    ],
)
def test_bad_transforms(args, match):
    with pytest.raises(ValueError, match=match):
        GeoTransform(*args)


def test_bad_point_shapes():
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 3\]"):
        GeoTransform(0.0, 0.0).to_geographic([1.0, 2.0])
