"""NonLinLoc 3-D grids: jaxseis's own round trip, files in other tools' conventions (written here
with NumPy), and every bad file refused with its message."""

import sys

import numpy as np
import pytest

from jaxseis.geometry import Grid
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nll_grid import (
    VELOCITY_GRID_TYPES,
    read_grid_header,
    read_nonlinloc_grid,
    read_time_grids,
    read_velocity_grid,
    to_nonlinloc,
    write_nonlinloc_grid,
    write_time_grids,
)
from jaxseis.traveltime import TravelTimeTables
from jaxseis.velocity import marine_model

NX, NY, NZ = 4, 5, 6
D = 0.05  # km, cubic cells


@pytest.fixture(scope="module")
def marine():
    return marine_model()


def _depth_axis(origz=0.0):
    return origz + D * np.arange(NZ)


def _velocity_kms(origz=0.0):
    """km/s on NonLinLoc's [x, y, depth] nodes: rising with depth, varying with x and y."""
    x = D * np.arange(NX)[:, None, None]
    y = D * np.arange(NY)[None, :, None]
    depth = _depth_axis(origz)[None, None, :]
    return 1.5 + 2.0 * depth + 0.1 * x - 0.05 * y


def _foreign(
    root,
    values_nll,
    grid_type,
    *,
    float_type="FLOAT",
    order="<",
    origz=0.0,
    station=None,
    transform="TRANSFORM  NONE",
    write_float_type=True,
):
    """Write a grid as NonLinLoc (GridLib.c WriteGrid3dHdr) does, values [x, y, depth]."""
    head = f"{NX} {NY} {NZ}  {0.0:f} {0.0:f} {origz:f}  {D:f} {D:f} {D:f} {grid_type}"
    lines = [head + (f" {float_type}" if write_float_type else "")]
    if station is not None:
        lines.append("{} {:f} {:f} {:f}".format(*station))
    if transform:
        lines.append(transform)
    (root.parent / (root.name + ".hdr")).write_text("\n".join(lines) + "\n")
    dtype = order + ("f4" if float_type == "FLOAT" else "f8")
    np.ascontiguousarray(values_nll, dtype=dtype).tofile(root.parent / (root.name + ".buf"))
    return root


# --------------------------------------------------------------------------------------------
# jaxseis's own files
# --------------------------------------------------------------------------------------------


def test_nonlinloc_round_trip(tmp_path, marine):
    hdr, buf = to_nonlinloc(marine, tmp_path / "model" / "marine.P.mod", grid_type="VELOCITY")
    first = hdr.read_text().splitlines()[0].split()
    assert first[:3] == ["81", "81", "301"] and first[9:] == ["VELOCITY", "FLOAT"]
    assert buf.stat().st_size == 81 * 81 * 301 * 4
    values, header = read_nonlinloc_grid(tmp_path / "model" / "marine.P.mod")
    assert header.grid_type == "VELOCITY" and header.grid == marine.grid
    np.testing.assert_allclose(values, marine.vp / 1000.0, rtol=1e-6)
    # NonLinLoc's z is depth: the first value of each buffer column is the top of the model
    raw = np.fromfile(buf, dtype="<f4").reshape(81, 81, 301)
    assert raw[0, 0, 0] == pytest.approx(1.5)  # water at the top
    model = read_velocity_grid(tmp_path / "model" / "marine.P.mod.hdr")  # suffix accepted
    assert model.grid == marine.grid
    np.testing.assert_allclose(model.vp, marine.vp, rtol=1e-6)


def test_time_grid_station_line(tmp_path):
    g = Grid(shape=(5, 6, 7), spacing_km=(0.1, 0.1, 0.1))
    vals = np.arange(5 * 6 * 7, dtype=float).reshape(g.shape)
    write_nonlinloc_grid(tmp_path / "t.P.R01.time", vals, g, "TIME", ("R01", 0.2, 0.3, 0.6))
    assert (tmp_path / "t.P.R01.time.hdr").read_text().splitlines()[1] == "R01 0.2 0.3 0"
    back, header = read_nonlinloc_grid(tmp_path / "t.P.R01.time")
    np.testing.assert_array_equal(back, vals)
    assert header.grid_type == "TIME" and header.station == ("R01", 0.2, 0.3, 0.6)


def test_round_trip_with_a_transform_and_a_grid_above_the_bottom(tmp_path):
    """A grid whose bottom is not at z = 0 reads back equal once surface_z_km is given."""
    g = Grid(shape=(3, 4, 5), spacing_km=(0.0125, 0.02, 0.01), origin_km=(-0.1, 0.35, 0.5))
    geo = GeoTransform(-33.25, 151.5, x_azimuth_deg=200.0, surface_z_km=1.2)
    vals = np.random.default_rng(1).uniform(1.5, 4.0, g.shape)
    write_nonlinloc_grid(tmp_path / "m", vals, g, "VELOCITY", transform=geo)
    header = read_grid_header(tmp_path / "m", surface_z_km=1.2)
    assert header.grid == g and header.transform == geo
    assert header.origin_depth_km == pytest.approx(1.2 - 0.54)
    np.testing.assert_array_equal(read_nonlinloc_grid(tmp_path / "m", surface_z_km=1.2)[0],
                                  vals.astype(np.float32))  # fmt: skip
    # without surface_z_km the bottom node (depth 0.70 km) is put at z = 0
    default = read_grid_header(tmp_path / "m")
    assert default.grid.origin_km[2] == 0.0 and default.surface_z_km == 0.7


def test_time_grids_of_a_directory(tmp_path):
    g = Grid(shape=(3, 3, 4), spacing_km=(0.1, 0.1, 0.1))
    times = np.random.default_rng(2).uniform(0, 1, (2, *g.shape)).astype(np.float32)
    tables = TravelTimeTables(g, np.array([[0.1, 0.1, 0.3], [0.2, 0.1, 0.3]]), times, ("B", "A"))
    write_time_grids(tables, tmp_path / "tt")
    write_time_grids(tables, tmp_path / "tt", phase="S")  # another phase: not picked up
    back = read_time_grids(tmp_path / "tt")  # every P grid, sorted by label
    assert back.labels == ("A", "B") and back.grid == g
    np.testing.assert_array_equal(back.times, times[::-1])


def test_slow_len_needs_cubic_cells(tmp_path, marine):
    with pytest.raises(ValueError, match="cubic"):
        to_nonlinloc(marine, tmp_path / "m", grid_type="SLOW_LEN")


# --------------------------------------------------------------------------------------------
# Files in other tools' conventions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("float_type", ["FLOAT", "DOUBLE"])
@pytest.mark.parametrize("order", ["<", ">"])
def test_foreign_velocity_grid_in_either_float_type_and_byte_order(tmp_path, float_type, order):
    v = _velocity_kms()
    root = _foreign(tmp_path / "layer.P.mod", v, "VELOCITY", float_type=float_type, order=order)
    byte_order = {"<": "little", ">": "big"}[order]
    values, header = read_nonlinloc_grid(root, byte_order=byte_order)
    assert header.float_type == float_type
    assert header.grid == Grid((NX, NY, NZ), (D, D, D), (0.0, 0.0, 0.0))
    tol = 1e-6 if float_type == "FLOAT" else 1e-15
    np.testing.assert_allclose(values, v[:, :, ::-1], rtol=tol)  # z up: index -1 is the top
    model = read_velocity_grid(root, byte_order=byte_order)
    np.testing.assert_allclose(model.vp[:, :, -1], 1000 * v[:, :, 0], rtol=tol)
    native = {"little": "<", "big": ">"}[sys.byteorder]
    if order == native:
        np.testing.assert_array_equal(read_nonlinloc_grid(root)[0], values)  # default: native
    wrong = {"little": "big", "big": "little"}[byte_order]
    with pytest.raises(ValueError, match=f"byte_order='{byte_order}'"):
        read_nonlinloc_grid(root, byte_order=wrong)


@pytest.mark.parametrize("grid_type", VELOCITY_GRID_TYPES)
def test_every_velocity_grid_type_gives_the_same_model(tmp_path, grid_type):
    v = _velocity_kms()
    stored = {
        "VELOCITY": v, "VELOCITY_METERS": 1000 * v, "SLOWNESS": 1 / v, "SLOW_LEN": D / v,
        "VEL2": v**2, "SLOW2": v**-2.0, "SLOW2_METERS": (1000 * v) ** -2.0,
    }[grid_type]  # fmt: skip
    root = _foreign(tmp_path / "m", stored, grid_type, float_type="DOUBLE")
    model = read_velocity_grid(root)
    np.testing.assert_allclose(model.vp, 1000 * v[:, :, ::-1], rtol=1e-12)
    assert model.name == "m"


def test_foreign_time_grid_with_simple_transform_and_station(tmp_path):
    """A Grid2Time-style grid: old header without float type, grid top 0.2 km above sea level,
    TRANSFORM SIMPLE; the station line gives the receiver in model coordinates."""
    depth = _depth_axis(-0.2)
    x = D * np.arange(NX)[:, None, None]
    t = np.sqrt((x - 0.1) ** 2 + (depth[None, None, :] - 0.05) ** 2) / 2.0
    t = np.broadcast_to(t, (NX, NY, NZ))
    line = "TRANSFORM  SIMPLE LatOrig 46.123456  LongOrig 7.654321  RotCW 12.500000"
    root = _foreign(
        tmp_path / "nll.P.ST01.time", t, "TIME", origz=-0.2, station=("ST01", 0.1, 0.0, 0.05),
        transform=line, write_float_type=False,
    )  # fmt: skip
    header = read_grid_header(root, surface_z_km=2.0)
    assert header.float_type == "FLOAT" and header.origin_depth_km == pytest.approx(-0.2)
    # z of the top node = surface - zOrig; the bottom node 0.25 km below it
    assert header.grid.extent_km[1, 2] == pytest.approx(2.2)
    assert header.grid.origin_km[2] == pytest.approx(1.95)
    assert header.station[0] == "ST01" and header.station[3] == pytest.approx(1.95)
    geo = header.transform
    assert (geo.latitude_deg, geo.longitude_deg, geo.rot_cw_deg) == (46.123456, 7.654321, 12.5)
    assert geo.x_azimuth_deg == pytest.approx(77.5) and geo.surface_z_km == 2.0
    tables = read_time_grids(tmp_path / "nll", ["ST01"], surface_z_km=2.0)
    np.testing.assert_allclose(tables.receivers_km, [[0.1, 0.0, 1.95]])
    np.testing.assert_allclose(tables.times[0], t[:, :, ::-1], rtol=1e-6)
    # the same grid from a big-endian machine
    _foreign(tmp_path / "be.P.ST01.time", t, "TIME", order=">", station=("ST01", 0.1, 0, 0.05))
    with pytest.raises(ValueError, match=r"TIME values are implausible .*byte_order='big'"):
        read_time_grids(tmp_path / "be", byte_order="little")
    big = read_time_grids(tmp_path / "be", byte_order="big")
    np.testing.assert_array_equal(big.times, read_time_grids(tmp_path / "nll").times)


def test_transform_none_and_a_missing_transform_line(tmp_path):
    root = _foreign(tmp_path / "a", _velocity_kms(), "VELOCITY")
    assert read_grid_header(root).transform is None
    root = _foreign(tmp_path / "b", _velocity_kms(), "VELOCITY", transform="")
    header = read_grid_header(root)
    assert header.transform is None and header.transform_line == ""


def test_probability_grids_read_as_plain_arrays(tmp_path):
    """Probability densities may be tiny (here down to 1e-300): only NaN is implausible."""
    pdf = np.random.default_rng(3).uniform(0, 1e-3, (NX, NY, NZ))
    pdf[0, 0, :] = 1e-300
    root = _foreign(tmp_path / "loc", pdf, "PROB_DENSITY", float_type="DOUBLE")
    values, header = read_nonlinloc_grid(root)
    assert header.grid_type == "PROB_DENSITY"
    np.testing.assert_array_equal(values, pdf[:, :, ::-1])


# --------------------------------------------------------------------------------------------
# Bad files: each refused with a message that names the problem
# --------------------------------------------------------------------------------------------


def _good(tmp_path, **kw):
    return _foreign(tmp_path / "g", _velocity_kms(), "VELOCITY", **kw)


def _header_line1(text):
    def make(tmp_path):
        root = _good(tmp_path)
        (tmp_path / "g.hdr").write_text(text)
        return root

    return make


def _extra_line(line):
    def make(tmp_path):
        root = _good(tmp_path)
        with open(tmp_path / "g.hdr", "a") as f:
            f.write(line + "\n")
        return root

    return make


def _transform(line):
    return lambda tmp_path: _good(tmp_path, transform=line)


def _time(station_line):
    def make(tmp_path):
        root = _foreign(tmp_path / "g", _velocity_kms(), "TIME", transform="")
        head = (tmp_path / "g.hdr").read_text()
        (tmp_path / "g.hdr").write_text(head + station_line + "TRANSFORM  NONE\n")
        return root

    return make


def _buffer(values, dtype):
    def make(tmp_path):
        root = _good(tmp_path)
        np.asarray(values, dtype=dtype).tofile(tmp_path / "g.buf")
        return root

    return make


def _binary_header(tmp_path):
    root = _good(tmp_path)
    (tmp_path / "g.hdr").write_bytes(b"\x89\xff\x00\x10binary")
    return root


def _no_buffer(tmp_path):
    root = _good(tmp_path)
    (tmp_path / "g.buf").unlink()
    return root


HEAD = f"{NX} {NY} {NZ} 0 0 0 {D} {D} {D}"
N = NX * NY * NZ
BAD_GRID_FILES = {
    "no header": (lambda p: p / "absent", FileNotFoundError, "header .* does not exist"),
    "no buffer": (_no_buffer, FileNotFoundError, "buffer .* does not exist"),
    "binary header": (_binary_header, ValueError, "not a text file"),
    "empty header": (_header_line1("\n"), ValueError, "empty first line"),
    "short first line": (_header_line1("4 5 6 0 0 0 0.05 0.05\n"), ValueError, "got 8 fields"),
    "non-integer counts": (_header_line1(f"4 5 x 0 0 0 {D} {D} {D} VELOCITY\n"), ValueError,
                           "node counts must be integers"),
    "non-numeric spacing": (_header_line1(f"{NX} {NY} {NZ} 0 0 0 {D} a {D} VELOCITY\n"),
                            ValueError, "origin and spacing must be numbers"),
    "zero spacing": (_header_line1(f"{NX} {NY} {NZ} 0 0 0 {D} 0 {D} VELOCITY\n"), ValueError,
                     "spacings must be positive"),
    "zero node count": (_header_line1(f"{NX} 0 {NZ} 0 0 0 {D} {D} {D} VELOCITY\n"), ValueError,
                        "node counts must be >= 1"),
    "unknown grid type": (_header_line1(f"{HEAD} DENSITY FLOAT\n"), ValueError,
                          "unknown grid type 'DENSITY'"),
    "2-D time grid": (_header_line1(f"{HEAD} TIME2D FLOAT\nS 0 0 0\n"), ValueError,
                      "TIME2D is a 2-D .* GRID3D"),
    "angle grid": (_header_line1(f"{HEAD} ANGLE FLOAT\nS 0 0 0\n"), ValueError,
                   "ANGLE is bit-packed take-off angles"),
    "bad float type": (_header_line1(f"{HEAD} VELOCITY INT\n"), ValueError,
                       "float type 'INT'; NonLinLoc grids are FLOAT or DOUBLE"),
    "cascading grid": (_extra_line("CASCADING_GRID 2 1.0,2.0,"), ValueError, "cascading grids"),
    "Lambert transform": (_transform("TRANSFORM  LAMBERT RefEllipsoid Clarke-1880  LatOrig 40.0 "
                                     " LongOrig 15.0  FirstStdParal 43.0  SecondStdParal 45.0  "
                                     "RotCW 0.0"), ValueError, "LAMBERT .* not supported"),
    "global transform": (_transform("TRANSFORM  GLOBAL"), ValueError, "GLOBAL .* not supported"),
    "incomplete SIMPLE": (_transform("TRANSFORM  SIMPLE LatOrig 46.0  LongOrig 7.0"), ValueError,
                          "needs LatOrig, LongOrig and RotCW"),
    "non-numeric SIMPLE": (_transform("TRANSFORM  SIMPLE LatOrig 46.0  LongOrig x  RotCW 0"),
                           ValueError, "non-numeric"),
    "SIMPLE latitude out of range": (_transform("TRANSFORM SIMPLE LatOrig 95 LongOrig 0 RotCW 0"),
                                     ValueError, r"latitude_deg must lie in \(-90, 90\)"),
    "time grid without station": (_time(""), ValueError, "needs the station line"),
    "malformed station line": (_time("ST01 0.1 zero 0.0\n"), ValueError, "malformed station"),
    "short buffer": (_buffer(np.ones(N - 1), "<f4"), ValueError, f"need {4 * N}$"),
    "buffer of the other float type": (_buffer(np.ones(N), "<f8"), ValueError,
                                       "it fits DOUBLE values"),
    "NaN values": (_buffer(np.full(N, np.nan), "<f4"), ValueError,
                   "implausible VELOCITY values in either byte order .*NaN"),
    "negative velocities": (_buffer(np.full(N, -2.0), "<f4"), ValueError,
                            "implausible VELOCITY values in either byte order"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_GRID_FILES))
def test_bad_grid_file(tmp_path, case):
    make, error, match = BAD_GRID_FILES[case]
    with pytest.raises(error, match=match):
        read_nonlinloc_grid(make(tmp_path), byte_order="little")


def test_bad_byte_order_argument(tmp_path):
    with pytest.raises(ValueError, match="byte_order must be one of"):
        read_nonlinloc_grid(_good(tmp_path), byte_order="swapped")


def _time_grid(tmp_path, label, station_label=None, spacing=D, grid_type="TIME"):
    root = tmp_path / f"tt.P.{label}.time"
    station = (station_label or label, 0.0, 0.0, 0.0) if grid_type == "TIME" else None
    _foreign(root, np.ones((NX, NY, NZ)), grid_type, station=station)
    if spacing != D:
        hdr = root.parent / (root.name + ".hdr")
        hdr.write_text(hdr.read_text().replace(f"{D:f} {D:f} {D:f}", f"{spacing:f} {D:f} {D:f}"))


BAD_TIME_SETS = {
    "no grid of the phase": (lambda p: None, FileNotFoundError, r"no NonLinLoc time grid .*tt\.P"),
    "station renamed": (lambda p: _time_grid(p, "A", station_label="B"), ValueError,
                        "header names station 'B', the file name 'A'"),
    "grids differ": (lambda p: (_time_grid(p, "A"), _time_grid(p, "B", spacing=0.1)), ValueError,
                     "another grid or transform than the first"),
    "velocity in place of time": (lambda p: _time_grid(p, "A", grid_type="VELOCITY"),
                                  ValueError, "grid type VELOCITY, not TIME"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_TIME_SETS))
def test_bad_time_grid_set(tmp_path, case):
    make, error, match = BAD_TIME_SETS[case]
    make(tmp_path)
    with pytest.raises(error, match=match):
        read_time_grids(tmp_path / "tt")


BAD_VELOCITY_FILES = {
    "time grid as a model": (lambda p: _foreign(p / "t", np.ones((NX, NY, NZ)), "TIME",
                                                station=("S", 0, 0, 0)),
                             "grid type TIME is not a velocity model"),
    "non-cubic SLOW_LEN": (lambda p: _header_line1(f"{NX} {NY} {NZ} 0 0 0 {D} {D} 0.01 "
                                                   "SLOW_LEN FLOAT\n")(p),
                           "SLOW_LEN grid needs cubic cells"),
    "zero velocities": (lambda p: _foreign(p / "z", np.zeros((NX, NY, NZ)), "VELOCITY"),
                        r"values <= 0 in a VELOCITY grid"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_VELOCITY_FILES))
def test_bad_velocity_file(tmp_path, case):
    make, match = BAD_VELOCITY_FILES[case]
    with pytest.raises(ValueError, match=match):
        read_velocity_grid(make(tmp_path))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"grid_type": "DENSITY"}, "unknown NonLinLoc grid type"),
        ({"values": np.ones((2, 2, 2))}, "values have shape"),
        ({"values": np.full((3, 3, 3), np.nan)}, "NaN or infinite"),
        ({"grid_type": "TIME"}, "TIME grids need a station"),
        ({"station": ("A B", 0, 0, 0), "grid_type": "TIME"}, "without spaces"),
    ],
)
def test_write_refuses_bad_input(tmp_path, kwargs, match):
    args = {"values": np.ones((3, 3, 3)), "grid_type": "VELOCITY", **kwargs}
    with pytest.raises(ValueError, match=match):
        write_nonlinloc_grid(tmp_path / "w", grid=Grid((3, 3, 3)), **args)
