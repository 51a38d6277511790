"""NonLinLoc .hyp files: written by jaxseis, read back by jaxseis's reader and ObsPy's
NLLOC_HYP reader; a file in NonLinLoc's own style; every bad file refused."""

import math

import numpy as np
import pytest
from io_summaries import make_summary
from obspy import UTCDateTime, read_events

from jaxseis.geometry import DEFAULT_GRID
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.ellipsoid import DELTA_CHI2_68_2, DELTA_CHI2_68_3
from jaxseis.io.nll_hyp import hyp_block, read_hyp, write_hyp, write_hyp_blocks
from jaxseis.io.quakeml import event_from_summary
from jaxseis.picking import Picks

REF = UTCDateTime(2021, 6, 1, 12, 0, 59.995)  # the origin time falls in the next minute
STATIONS = ["R01", "R02", "R03", "R04"]
RECEIVERS = np.array([[0.125, 0.375, 2.43], [0.125, 0.875, 2.43], [0.375, 0.625, 2.43],
                      [0.625, 0.875, 2.43]])  # fmt: skip
GEO = GeoTransform(57.5, 1.8, x_azimuth_deg=75.0)


def _write(tmp_path, s, transform=GEO, **kw):
    args = {"stations": STATIONS, "receivers_km": RECEIVERS, "rms": 0.013, "grid": DEFAULT_GRID,
            "event_id": "ev1", "comment": "paper event", **kw}  # fmt: skip
    return write_hyp(tmp_path / "e.hyp", s, REF, transform=transform, **args)


@pytest.mark.parametrize("transform", [GEO, GeoTransform(-21.1, 55.5, 212.0), None])
def test_round_trip_with_jaxseis_reader(tmp_path, transform):
    s = make_summary(11)
    picks = Picks(np.array([0.41, 0.52]), np.array([0.005, 0.004]), ("R03", "R01"))
    path = _write(tmp_path, s, transform, picks=picks, predicted_s=[0.39, 0.5])
    [e] = read_hyp(path)
    np.testing.assert_allclose(e.expectation_km, s["mean"][:3], atol=1e-9)
    np.testing.assert_allclose(e.hypocenter_km, s["mean"][:3], atol=1e-9)
    np.testing.assert_allclose(e.covariance_km2, np.asarray(s["cov"])[:3, :3], rtol=1e-9)
    assert e.t0_s(REF) == pytest.approx(s["mean"][3], abs=1e-6)
    assert e.surface_z_km == 3.0 and e.status == "LOCATED"
    assert e.public_id == "smi:local/jaxseis/ev1/event" and e.comment == "paper event"
    assert e.signature.startswith("jaxseis jaxseis:v")
    assert e.search["method"] == "nuts" and float(e.search["ess_min"]) == 3150
    assert float(e.search["t0_std_s"]) == pytest.approx(s["std"][3], rel=1e-9)
    assert e.quality["RMS"] == 0.013 and e.quality["Nphs"] == 2
    assert e.quality["Mamp"] == pytest.approx((2 / 3) * s["mean"][4] / math.log(10), abs=0.005)
    assert e.transform == transform
    k3 = math.sqrt(DELTA_CHI2_68_3)
    lam = np.linalg.eigvalsh(np.asarray(s["cov"])[:3, :3])
    np.testing.assert_allclose(
        [e.ellipsoid_km.semi_minor, e.ellipsoid_km.semi_intermediate, e.ellipsoid_km.semi_major],
        k3 * np.sqrt(lam), rtol=1e-8,
    )  # fmt: skip
    assert [a.label for a in e.arrivals] == ["R03", "R01"]
    a = e.arrivals[0]
    assert a.time == REF + 0.41 and a.predicted_s == 0.39 and a.error_s == 0.005
    assert a.residual_s == pytest.approx(0.41 - s["mean"][3] - 0.39, abs=1e-4)
    if transform is None:  # NonLinLoc's TRANSFORM NONE: Lat = y, Long = x (km)
        assert (e.latitude_deg, e.longitude_deg) == pytest.approx(tuple(s["mean"][1::-1]))
        assert e.transform_line == "TRANSFORM  NONE"
    else:
        lat, lon, depth = transform.to_geographic(s["mean"][:3])
        assert (e.latitude_deg, e.longitude_deg, e.depth_km) == pytest.approx(
            (lat, lon, depth), abs=1e-9
        )


def test_obspy_reads_what_quakeml_says(tmp_path):
    """ObsPy's NLLOC_HYP reader gives the origin and uncertainties of jaxseis's QuakeML."""
    s = make_summary(12)
    picks = Picks(np.array([0.41, 0.52]), np.array([0.005, 0.004]), ("R03", "R01"))
    path = _write(tmp_path, s, picks=picks, predicted_s=[0.39, 0.5])
    [hyp_event] = read_events(str(path), format="NLLOC_HYP")
    qml = event_from_summary(s, REF, stations=STATIONS, transform=GEO, rms=0.013,
                             receivers_km=RECEIVERS, event_id="ev1").origins[0]  # fmt: skip
    o = hyp_event.origins[0]
    assert str(hyp_event.resource_id) == "smi:local/jaxseis/ev1/event"
    assert (o.latitude, o.longitude) == pytest.approx((qml.latitude, qml.longitude), abs=1e-9)
    assert o.depth == pytest.approx(qml.depth, abs=1e-6)  # m
    assert abs(o.time - qml.time) < 1e-6
    assert o.depth_errors.uncertainty == pytest.approx(qml.depth_errors.uncertainty, rel=1e-8)
    q = o.quality
    assert (q.used_station_count, q.used_phase_count, q.standard_error) == (4, 2, 0.013)
    assert q.azimuthal_gap == pytest.approx(qml.quality.azimuthal_gap, rel=1e-8)
    # ObsPy converts km to degrees on a 6371 km sphere, NonLinLoc and jaxseis on 6371.0088 km
    assert q.minimum_distance == pytest.approx(qml.quality.minimum_distance, rel=2e-6)
    # NonLinLoc's 68 % regions: the same ellipse and ellipsoid as QuakeML's at its scaling
    unc, qunc = o.origin_uncertainty, qml.origin_uncertainty
    k = math.sqrt(DELTA_CHI2_68_2 / (2 * math.log(1 / (1 - 0.68))))  # chi2 2-dof quantile
    assert unc.max_horizontal_uncertainty == pytest.approx(
        qunc.max_horizontal_uncertainty * k, rel=1e-8
    )
    assert unc.azimuth_max_horizontal_uncertainty == pytest.approx(
        qunc.azimuth_max_horizontal_uncertainty, abs=1e-6
    )
    ce, qce = unc.confidence_ellipsoid, qunc.confidence_ellipsoid
    from scipy.stats import chi2

    k3 = math.sqrt(DELTA_CHI2_68_3 / chi2.ppf(0.68, 3))
    # ObsPy copies NonLinLoc's km values into its metre fields
    assert 1000 * ce.semi_major_axis_length == pytest.approx(qce.semi_major_axis_length * k3)
    assert 1000 * ce.semi_minor_axis_length == pytest.approx(qce.semi_minor_axis_length * k3)
    for angle in ("major_axis_plunge", "major_axis_azimuth", "major_axis_rotation"):
        assert ce[angle] == pytest.approx(qce[angle], abs=1e-6)
    # picks and arrivals
    assert [p.waveform_id.station_code for p in hyp_event.picks] == ["R03", "R01"]
    assert hyp_event.picks[0].time == REF + 0.41
    arrival = o.arrivals[0]
    assert arrival.time_residual == pytest.approx(0.41 - s["mean"][3] - 0.39, abs=1e-4)
    assert arrival.distance == pytest.approx(
        math.hypot(*(RECEIVERS[2, :2] - s["mean"][:2])) / 111.19508, rel=1e-3
    )


def test_several_events_in_one_file(tmp_path):
    blocks = [
        hyp_block(make_summary(i), REF + 10 * i, transform=GEO, event_id=f"e{i}") for i in range(3)
    ]
    path = write_hyp_blocks(tmp_path / "sum.hyp", blocks)
    events = read_hyp(path)
    assert [e.public_id for e in events] == [f"smi:local/jaxseis/e{i}/event" for i in range(3)]
    assert [e.line for e in events] == [1, 19, 37]
    assert [e.t0_s(REF + 10 * i) for i, e in enumerate(events)] == pytest.approx(
        [make_summary(i)["mean"][3] for i in range(3)], abs=1e-6
    )
    assert len(read_events(str(path), format="NLLOC_HYP")) == 3


def test_fixed_position_writes_nonlinlocs_null_values(tmp_path):
    s = make_summary(13, free=(False, False, False, True, False))
    [e] = read_hyp(_write(tmp_path, s))
    assert e.ellipsoid_km.semi_major == -1 and e.horizontal_km.semi_major == -1
    assert e.quality["Mamp"] == pytest.approx(-9.9)
    np.testing.assert_array_equal(e.covariance_local_km2, np.zeros((3, 3)))
    o = read_events(str(tmp_path / "e.hyp"), format="NLLOC_HYP")[0].origins[0]
    assert o.origin_uncertainty.max_horizontal_uncertainty is None  # -1: unset


# A location as NonLinLoc 7 writes it (values made up): its frame, an AZIMUTHAL_EQUIDIST
# transform, the maximum-likelihood hypocentre, PHASE lines with a priori weights.
NONLINLOC_HYP = """\
NLLOC "loc/test.20210601.120001.grid0" "LOCATED" "Location completed."
PUBLIC_ID None
SIGNATURE "tester   obs:obs/test.obs   NLLoc:v7.00.16(20Jan2023)   run:02Jun2021 08h15m30"
COMMENT "sample"
GRID  81 81 61  0 0 0.2  0.0125 0.0125 0.0125 PROB_DENSITY
SEARCH OCTREE nInitial 1000 nEvaluated 20000 smallestNodeSide 0.002/0.002/0.002 oct_tree_integral 1.0 scatter_volume 0.1
HYPOCENTER  x 0.37 y 0.31 z 1.42  OT 1.25  ix -1 iy -1 iz -1
GEOGRAPHIC  OT 2021 06 01  12 00 1.250000  Lat 57.502790 Long 1.806227 Depth 1.420000
QUALITY  Pmax 1.2e+08 MFmin 0.5 MFmax 0.9 RMS 0.003 Nphs 2 Gap 120 Dist 0.4 Mamp -9.90 0 Mdur -9.90 0
VPVSRATIO  VpVsRatio -1  Npair 0  Diff -1
STATISTICS  ExpectX 0.372 Y 0.312 Z 1.43  CovXX 0.0004 XY 1e-05 XZ 2e-05 YY 0.0009 YZ -3e-05 ZZ 0.0001 EllAz1  95.2 Dip1  80.1 Len1  0.0185 Az2  92.3 Dip2  -9.8 Len2  0.0375 Len3  5.64e-02
STAT_GEOG  ExpectLat 57.502798 Long 1.806260 Depth 1.430000
TRANSFORM  AZIMUTHAL_EQUIDIST RefEllipsoid WGS-84  LatOrig 57.500000  LongOrig 1.800000  RotCW 0.000000
QML_OriginQuality  assocPhCt 2  usedPhCt 2  assocStaCt -1  usedStaCt 2  depthPhCt -1  stdErr 0.003  azGap 120  secAzGap 150  gtLevel -  minDist 0.4 maxDist 0.7 medDist 0.55
QML_OriginUncertainty  horUnc -1  minHorUnc 0.0303  maxHorUnc 0.0455  azMaxHorUnc 1.2
QML_ConfidenceEllipsoid  semiMajorAxisLength 0.0564  semiMinorAxisLength 0.0185  semiIntermediateAxisLength 0.0375  majorAxisPlunge 2.1  majorAxisAzimuth 1.5  majorAxisRotation 10.2
FOCALMECH  Hyp  57.502790 1.806227 1.420000 Mech  0 0 0 mf  0 nObs 0
PHASE ID    Ins Cmp   On Pha  FM   Date    HrMn   Sec     Err  ErrMag    Coda      Amp       Per       PriorWt  >   TTpred    Res       Weight    StaLoc(X  Y           Z)      SDist    SAzim  RAz  RDip RQual   Tcorr     TTerr
R01          ?    ?    ? P      ? 20210601 1200    1.6600 GAU  5.00e-03 -1.00e+00 -1.00e+00 -1.00e+00    1.0000 >    0.4100    0.0000    1.0000    0.1250    0.3750    0.5700    0.2487 277.40  40.0 100.0  0     0.0000    0.0000
R03          ?    ?    ? P      ? 20210601 1200    1.6900 GAU  5.00e-03 -1.00e+00 -1.00e+00 -1.00e+00    1.0000 >    0.4350    0.0050    1.0000    0.3750    0.6250    0.5700    0.3150   0.50  40.0 100.0  0     0.0000    0.0000
END_PHASE
END_NLLOC

"""  # noqa: E501


def test_a_file_written_by_nonlinloc(tmp_path):
    path = tmp_path / "nll.hyp"
    path.write_text(NONLINLOC_HYP)
    [e] = read_hyp(path)
    assert e.status == "LOCATED" and e.public_id is None and e.comment == "sample"
    assert e.signature.startswith("tester")
    np.testing.assert_allclose(e.expectation_local_km, [0.372, 0.312, 1.43])
    np.testing.assert_allclose(e.hypocenter_local_km, [0.37, 0.31, 1.42])
    assert e.covariance_local_km2[1, 2] == -3e-05 and e.covariance_km2[1, 2] == 3e-05
    assert e.origin_time == UTCDateTime(2021, 6, 1, 12, 0, 1.25)
    assert (e.latitude_deg, e.longitude_deg, e.depth_km) == (57.50279, 1.806227, 1.42)
    assert e.transform is None and e.transform_line.split()[1] == "AZIMUTHAL_EQUIDIST"
    assert e.search["nEvaluated"] == "20000" and e.surface_z_km is None
    assert [(a.label, a.residual_s, a.weight) for a in e.arrivals] == [
        ("R01", 0.0, 1.0), ("R03", 0.005, 1.0),
    ]  # fmt: skip
    assert e.arrivals[1].time == UTCDateTime(2021, 6, 1, 12, 0, 1.69)
    with pytest.raises(ValueError, match="pass surface_z_km to read_hyp"):
        _ = e.expectation_km
    [e] = read_hyp(path, surface_z_km=3.0)
    np.testing.assert_allclose(e.expectation_km, [0.372, 0.312, 1.57])
    assert len(read_events(str(path), format="NLLOC_HYP")) == 1  # ObsPy reads it too


# --------------------------------------------------------------------------------------------
# Bad files
# --------------------------------------------------------------------------------------------


def _good_text():
    return hyp_block(make_summary(14), REF, transform=GEO,
                     picks=Picks(np.array([0.4]), np.array([0.005]), ("R01",)),
                     stations=STATIONS, receivers_km=RECEIVERS)  # fmt: skip


def _edit(fn):
    return lambda: fn(_good_text())


def _replace_line(key, new):
    def edit(text):
        return "\n".join(new if ln.startswith(key) else ln for ln in text.splitlines()) + "\n"

    return _edit(edit)


BAD_HYP_FILES = {
    "no event": (lambda: "# nothing here\n", "no NonLinLoc event"),
    "truncated": (_edit(lambda t: t.split("STAT_GEOG")[0]), "NLLOC event without END_NLLOC"),
    "END_NLLOC first": (lambda: "END_NLLOC\n", "END_NLLOC without an NLLOC line"),
    "two NLLOC lines": (_edit(lambda t: t.replace("END_NLLOC\n", "", 1) + t),
                        "NLLOC line before the END_NLLOC"),
    "no STATISTICS": (_replace_line("STATISTICS", ""), "event without STATISTICS"),
    "no HYPOCENTER or GEOGRAPHIC": (_edit(lambda t: "\n".join(
        ln for ln in t.splitlines() if not ln.startswith(("HYPOCENTER", "GEOGRAPHIC")))),
        "without HYPOCENTER, GEOGRAPHIC"),
    "non-numeric HYPOCENTER": (_replace_line("HYPOCENTER", "HYPOCENTER  x 0.1 y abc z 1  OT 1"),
                               r":7 \(y\): expected numbers, got 'abc'"),
    "HYPOCENTER without z": (_replace_line("HYPOCENTER", "HYPOCENTER  x 0.1 y 0.2"),
                             "no z value"),
    "bad GEOGRAPHIC time": (_replace_line("GEOGRAPHIC", "GEOGRAPHIC  OT 2021 13 01  12 00 1.0  "
                                          "Lat 1 Long 2 Depth 3"), "invalid origin time"),
    "short GEOGRAPHIC": (_replace_line("GEOGRAPHIC", "GEOGRAPHIC  Lat 1 Long 2 Depth 3"),
                         "GEOGRAPHIC needs 'OT yyyy"),
    "STATISTICS without covariance": (_replace_line("STATISTICS",
                                                    "STATISTICS  ExpectX 1 Y 2 Z 3"),
                                      "no CovXX value"),
    "PHASE without END_PHASE": (_replace_line("END_PHASE", ""), "PHASE block without END_PHASE"),
    "malformed PHASE line": (_replace_line("R01 ", "R01 ? ? ? P ? 20210601"),
                             "malformed PHASE line"),
    "bad PHASE time": (_edit(lambda t: t.replace(" 20210601 1201 ", " 20210601 12x1 ")),
                       "bad arrival time"),
    "bad ellipsoid": (_edit(lambda t: t.replace("semiMajorAxisLength ", "semiMajorAxisLength x")),
                      r"\(semiMajorAxisLength\): expected numbers, got 'x"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_HYP_FILES))
def test_bad_hyp_file(tmp_path, case):
    make, match = BAD_HYP_FILES[case]
    path = tmp_path / "bad.hyp"
    path.write_text(make())
    with pytest.raises(ValueError, match=match):
        read_hyp(path)


def test_missing_and_binary_hyp_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_hyp(tmp_path / "absent.hyp")
    (tmp_path / "b.hyp").write_bytes(b"NLLOC \xff\xfe\x00")
    with pytest.raises(ValueError, match="not a text file"):
        read_hyp(tmp_path / "b.hyp")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"comment": 'a "quoted" word'}, "must not contain double quotes"),
        ({"receivers_km": RECEIVERS[:2]}, "2 rows for 4 stations"),
        ({"picks": Picks(np.array([0.4]), np.array([0.005]), ("R01",)), "receivers_km": None},
         "pass receivers_km"),
        ({"picks": Picks(np.array([0.4]), np.array([0.005]), ("R09",))}, "not in stations"),
        ({"picks": Picks(np.array([0.4]), np.array([0.005]), ("R01",)), "predicted_s": [1, 2]},
         "2 values for 1 picks"),
        ({"surface_z_km": 2.0}, "contradicts the transform"),
    ],
)  # fmt: skip
def test_bad_writer_inputs(tmp_path, kwargs, match):
    args = {"stations": STATIONS, "receivers_km": RECEIVERS, **kwargs}
    with pytest.raises(ValueError, match=match):
        write_hyp(tmp_path / "w.hyp", make_summary(15), REF, transform=GEO, **args)
    assert not (tmp_path / "w.hyp").exists()
    with pytest.raises(ValueError, match="nothing to write"):
        write_hyp_blocks(tmp_path / "w.hyp", [])
