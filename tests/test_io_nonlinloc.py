"""NonLinLoc export: time grids, NLLOC_OBS phase files and the NLLoc control file."""

import datetime as dt

import numpy as np
import pytest
from obspy import UTCDateTime

from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.nonlinloc import (
    REFERENCE_TIME,
    export_nonlinloc,
    from_nonlinloc_km,
    read_grid_header,
    read_nlloc_obs,
    read_nonlinloc_grid,
    read_time_grids,
    to_nonlinloc_km,
    write_control_file,
    write_nlloc_obs,
    write_time_grids,
)
from jaxseis.picking import Picks
from jaxseis.traveltime import traveltime_tables

RECEIVERS = np.array([[0.1, 0.1, 0.45], [0.4, 0.15, 0.45], [0.25, 0.4, 0.45]])


@pytest.fixture(scope="module")
def tables(layered_model, tmp_path_factory):
    return traveltime_tables(
        layered_model, RECEIVERS, labels=["AB1", "CD22", "EFG333"],
        cache_dir=tmp_path_factory.mktemp("cache"),
    )  # fmt: skip


def test_time_grids_read_back_identically(tables, tmp_path):
    paths = write_time_grids(tables, tmp_path / "time" / "layer")
    assert [p[0].name for p in paths] == [
        "layer.P.AB1.time.hdr", "layer.P.CD22.time.hdr", "layer.P.EFG333.time.hdr",
    ]  # fmt: skip
    back = read_time_grids(tmp_path / "time" / "layer", tables.labels)
    assert back.grid == tables.grid and back.labels == tables.labels
    np.testing.assert_array_equal(back.times, tables.times)  # float32, bit for bit
    np.testing.assert_allclose(back.receivers_km, tables.receivers_km, atol=1e-6)


def test_time_grid_header_and_buffer_layout(tables, tmp_path):
    """Checked against the NonLinLoc format, independently of the reader."""
    hdr, buf = write_time_grids(tables, tmp_path / "t")[1]
    lines = hdr.read_text().splitlines()
    f = lines[0].split()
    assert f[:3] == ["41", "41", "61"] and f[9:] == ["TIME", "FLOAT"]
    np.testing.assert_allclose([float(v) for v in f[3:9]], [0, 0, 0, 0.0125, 0.0125, 0.01])
    label, x, y, depth = lines[1].split()
    assert label == "CD22"
    np.testing.assert_allclose([float(x), float(y), float(depth)], [0.4, 0.15, 0.6 - 0.45])
    assert lines[2].split() == ["TRANSFORM", "NONE"]
    raw = np.fromfile(buf, dtype="<f4")
    nx, ny, nz = tables.grid.shape
    assert raw.size == nx * ny * nz
    t = tables.times[1]
    # z fastest, from the top of the model (depth 0) down; then y; then x
    assert raw[0] == t[0, 0, nz - 1] and raw[nz - 1] == t[0, 0, 0]
    assert raw[nz] == t[0, 1, nz - 1] and raw[ny * nz] == t[1, 0, nz - 1]
    values, header = read_nonlinloc_grid(str(hdr)[: -len(".hdr")])
    assert header.grid_type == "TIME" and header.station[0] == "CD22"
    assert header.grid == tables.grid and header.transform is None
    np.testing.assert_array_equal(values, t)


@pytest.mark.parametrize(
    "reference",
    [dt.datetime(2000, 1, 1), dt.datetime(2021, 12, 31, 23, 59, 30), UTCDateTime(2021, 6, 1, 5)],
)
def test_obs_file_parses_back_to_the_same_picks(tmp_path, reference):
    picks = Picks(
        times_s=np.array([0.40589, 59.99994, 61.5, -0.25, 3600.123]),
        errors_s=np.array([0.005, 0.005, 0.01, 0.002, 0.005]),
        labels=("R01", "R02", "R03", "LONGER", "X"),
    )
    path = write_nlloc_obs(tmp_path / "e.obs", picks, reference_time=reference, comment="test")
    [event] = read_nlloc_obs(path, reference_time=reference)
    back = event.picks
    assert back.labels == picks.labels and event.line_numbers == (2, 3, 4, 5, 6)
    np.testing.assert_allclose(back.times_s, picks.times_s, atol=0.6e-4)  # %9.4f seconds
    np.testing.assert_allclose(back.errors_s, picks.errors_s, rtol=1e-2)  # %9.2e


def test_obs_line_format(tmp_path):
    picks = Picks(np.array([0.4059]), np.array([0.005]), ("R01",))
    line = write_nlloc_obs(tmp_path / "e.obs", picks).read_text().splitlines()[0]
    assert line.split() == [
        "R01", "?", "?", "?", "P", "?", "20000101", "0000", "0.4059", "GAU",
        "5.00e-03", "-1.00e+00", "-1.00e+00", "-1.00e+00",
    ]  # fmt: skip
    assert line.startswith("R01    ?    ?    ? P      ? 20000101 0000    0.4059 GAU  5.00e-03")


def test_control_file(tables, tmp_path):
    path = write_control_file(
        tmp_path / "nlloc.in", tables, obs_file="obs/e.obs", time_root="time/layer",
        output_root="loc/e", traveltime_error_s=0.002,
        search_box_km=[[0.0, 0.0, 0.1], [0.5, 0.5, 0.45]],
    )  # fmt: skip
    text = path.read_text()
    stmt = {ln.split()[0]: ln.split()[1:] for ln in text.splitlines() if ln and ln[0] != "#"}
    assert stmt["TRANS"] == ["NONE"]
    assert stmt["LOCFILES"] == ["obs/e.obs", "NLLOC_OBS", "time/layer", "loc/e"]
    assert stmt["LOCMETH"][0] == "EDT"
    assert stmt["LOCGAU"] == ["0.002", "0.0"]
    assert stmt["LOCSEARCH"][:4] == ["OCT", "10", "10", "7"]  # 0.05 km initial cells
    grid = stmt["LOCGRID"]
    assert grid[:3] == ["41", "41", "36"] and grid[9:] == ["PROB_DENSITY", "SAVE"]
    x0, y0, d0, dx, dy, dz = (float(v) for v in grid[3:9])
    assert (dx, dy, dz) == pytest.approx(tables.grid.spacing_km)
    # depth of the box top = z_top - z_max = 0.6 - 0.45; the box bottom at z = 0.1
    assert (x0, y0, d0) == pytest.approx((0.0, 0.0, 0.15))
    assert d0 + 35 * dz == pytest.approx(0.6 - 0.1)
    srce = [ln.split() for ln in text.splitlines() if ln.startswith("LOCSRCE")]
    assert [s[1] for s in srce] == list(tables.labels)
    np.testing.assert_allclose([float(v) for v in srce[2][3:6]], [0.25, 0.4, 0.15])


def test_export_writes_everything(tables, tmp_path):
    picks = Picks(np.array([0.41, 0.47]), np.array([0.005, 0.005]), ("EFG333", "AB1"))
    out = export_nonlinloc(tmp_path / "nll", tables, picks, method="EDT_OT_WT")
    assert out["control"].exists() and out["obs"].exists() and out["loc"].is_dir()
    names = sorted(p[0].name for p in out["time_grids"])
    assert names == ["jaxseis.P.AB1.time.hdr", "jaxseis.P.EFG333.time.hdr"]
    assert "LOCMETH EDT_OT_WT" in out["control"].read_text()
    [event] = read_nlloc_obs(out["obs"], reference_time=REFERENCE_TIME)
    assert event.picks.labels == ("EFG333", "AB1")
    np.testing.assert_allclose(event.picks.times_s, [0.41, 0.47], atol=1e-9)


def test_coordinate_flip_round_trip(tables):
    p = np.array([[0.375, 0.3, 0.2], [0.1, 0.2, 0.45]])
    nll = to_nonlinloc_km(p, tables.grid)
    np.testing.assert_allclose(nll[:, 2], [0.4, 0.15])
    np.testing.assert_allclose(from_nonlinloc_km(nll, tables.grid), p)
    np.testing.assert_allclose(to_nonlinloc_km(p, surface_z_km=1.0)[:, 2], [0.8, 0.55])
    with pytest.raises(ValueError, match="surface_z_km"):
        to_nonlinloc_km(p)


def test_export_with_a_geographic_transform(tables, tmp_path):
    """TRANS SIMPLE in the control file, TRANSFORM SIMPLE in every header, depths from the
    transform's sea surface (here 0.1 km above the grid top)."""
    geo = GeoTransform(57.5, 1.8, x_azimuth_deg=120.0, surface_z_km=0.7)
    picks = Picks(np.array([0.41]), np.array([0.005]), ("CD22",))
    out = export_nonlinloc(tmp_path / "nll", tables, picks, transform=geo)
    text = out["control"].read_text()
    trans = next(ln.split() for ln in text.splitlines() if ln.startswith("TRANS "))
    assert trans[1] == "SIMPLE"
    np.testing.assert_allclose([float(v) for v in trans[2:]], [57.5, 1.8, -30.0])
    srce = next(ln.split() for ln in text.splitlines() if ln.startswith("LOCSRCE"))
    np.testing.assert_allclose([float(v) for v in srce[3:6]], [0.4, 0.15, 0.7 - 0.45])
    header = read_grid_header(str(out["time_grids"][0][0]), surface_z_km=0.7)
    assert header.transform == geo and header.origin_depth_km == pytest.approx(0.1)
    assert header.grid == tables.grid
    back = read_time_grids(tmp_path / "nll" / "time" / "jaxseis", surface_z_km=0.7)
    np.testing.assert_allclose(back.receivers_km, tables.receivers_km[[1]], atol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda t, d: write_control_file(d / "c", t, obs_file="o", time_root="t",
                                         output_root="l", method="GRID"), "method must be"),
        (lambda t, d: write_control_file(d / "c", t, obs_file="o", time_root="t",
                                         output_root="l", traveltime_error_s=-1), ">= 0"),
        (lambda t, d: write_control_file(d / "c", t, obs_file="o", time_root="t", output_root="l",
                                         search_box_km=[[0, 0, 0], [2, 1, 1]]), "in the grid"),
        (lambda t, d: write_nlloc_obs(d / "o", Picks(np.array([np.nan]), np.array([0.005]),
                                                     ("A",))), "NaN"),
        (lambda t, d: write_nlloc_obs(d / "o", Picks(np.array([0.1]), np.array([0.0]),
                                                     ("A",))), "positive"),
        (lambda t, d: write_nlloc_obs(d / "o", Picks(np.array([0.1]), np.array([0.005]),
                                                     ("A B",))), "no spaces"),
        (lambda t, d: export_nonlinloc(d, t, Picks(np.array([0.1]), np.array([0.005]),
                                                   ("ZZZ",))), "no travel-time table"),
    ],
)  # fmt: skip
def test_bad_input(tables, tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tables, tmp_path)
