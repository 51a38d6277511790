"""QuakeML out: the round trip through obspy.read_events, the ellipsoid, the magnitude, and the
summaries and inputs that are refused."""

import json
import math

import numpy as np
import pytest
from io_summaries import make_summary
from obspy import UTCDateTime, read_events
from scipy.stats import chi2

from jaxseis import __version__
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.quakeml import (
    MAGNITUDE_TYPE,
    NAMESPACE,
    event_from_summary,
    make_catalog,
    model_location,
    write_quakeml,
)
from jaxseis.io.summary import check_summary, relative_magnitude

REF = UTCDateTime(2021, 6, 1, 12, 0, 0.25)
STATIONS = ["XX.R01", "XX.R02", "XX.R03", "XX.R04"]
RECEIVERS = np.array([[0.125, 0.375, 2.43], [0.125, 0.875, 2.43], [0.375, 0.625, 2.43],
                      [0.625, 0.875, 2.43]])  # fmt: skip
TRANSFORMS = [
    GeoTransform(57.5, 1.8),
    GeoTransform(-21.1, 55.5, x_azimuth_deg=212.0, surface_z_km=3.0),
    GeoTransform(64.2, -21.9, x_azimuth_deg=8.0, surface_z_km=2.5),
]


def _events(n=24):
    """Events across the volume with random posterior covariances."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        mean = (*rng.uniform([0.05, 0.05, 0.2], [0.95, 0.95, 2.3]), rng.uniform(-0.05, 0.05),
                rng.normal(0, 1))  # fmt: skip
        stds = rng.uniform([0.003, 0.003, 0.002, 0.001, 0.01], [0.05, 0.05, 0.03, 0.01, 0.2])
        out.append(make_summary(i, mean=mean, stds=stds))
    return out


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_quakeml_round_trip_on_many_events(tmp_path, transform):
    summaries = _events()
    level = 68.0
    events = [
        event_from_summary(s, REF + 60 * i, stations=STATIONS, transform=transform,
                           rms=0.01 * (i + 1), emulators="mlp-23 (test)",
                           receivers_km=RECEIVERS, confidence_level=level, event_id=f"e{i}")
        for i, s in enumerate(summaries)
    ]  # fmt: skip
    path = write_quakeml(tmp_path / "events.xml", make_catalog(events, description="test"))
    catalog = read_events(str(path))
    assert len(catalog) == len(summaries) and catalog.description == "test"
    k3 = math.sqrt(chi2.ppf(level / 100, 3))
    worst = {"origin_km": 0.0, "axes_rel": 0.0, "time_s": 0.0}
    for i, (s, event) in enumerate(zip(summaries, catalog, strict=True)):
        origin = event.preferred_origin()
        loc = model_location(event, transform, REF + 60 * i)
        worst["origin_km"] = max(worst["origin_km"], np.abs(loc.position_km - s["mean"][:3]).max())
        worst["time_s"] = max(worst["time_s"], abs(loc.t0_s - s["mean"][3]))
        cov = np.asarray(s["cov"])[:3, :3]
        ce = origin.origin_uncertainty.confidence_ellipsoid
        axes = np.array([ce.semi_minor_axis_length, ce.semi_intermediate_axis_length,
                         ce.semi_major_axis_length])  # fmt: skip
        want = 1000 * k3 * np.sqrt(np.linalg.eigvalsh(cov))  # m
        worst["axes_rel"] = max(worst["axes_rel"], np.abs(axes / want - 1).max())
        np.testing.assert_allclose(loc.covariance_km2, cov, rtol=1e-6, atol=1e-12)
        assert origin.origin_uncertainty.confidence_level == level
        assert origin.quality.used_station_count == 4
        assert origin.quality.standard_error == pytest.approx(0.01 * (i + 1))
        assert origin.depth_errors.uncertainty == pytest.approx(1000 * s["std"][2])
        assert origin.time_errors.uncertainty == pytest.approx(s["std"][3])
        assert str(origin.resource_id) == f"smi:local/jaxseis/e{i}/origin"
    assert worst["origin_km"] < 1e-6
    assert worst["axes_rel"] < 0.01
    assert worst["time_s"] < 1e-6  # QuakeML keeps microseconds


def test_event_content(tmp_path):
    s = make_summary(3, mean=(0.375, 0.3, 1.57, 0.012, 0.4))
    t = TRANSFORMS[1]
    event = event_from_summary(
        s, REF, stations=STATIONS, transform=t, rms=0.02, emulators="mlp-23, 4 receivers",
        receivers_km=RECEIVERS, event_id="paper", event_type="induced or triggered event",
        agency_id="JXS", creation_time=UTCDateTime(2024, 1, 2),
    )  # fmt: skip
    path = write_quakeml(tmp_path / "e.xml", event)  # an Event is accepted
    [back] = read_events(str(path))
    origin, mag = back.preferred_origin(), back.preferred_magnitude()
    assert back.event_type == "induced or triggered event"
    for info in (back.creation_info, origin.creation_info, mag.creation_info):
        assert info.author == "jaxseis" and info.version == __version__
        assert info.agency_id == "JXS" and info.creation_time == UTCDateTime(2024, 1, 2)
    assert str(origin.method_id) == "smi:local/jaxseis/method/nuts"
    assert origin.time == REF + s["mean"][3]
    lat, lon, depth = t.to_geographic(s["mean"][:3])
    assert (origin.latitude, origin.longitude, origin.depth) == pytest.approx(
        (lat, lon, 1000 * depth), abs=1e-9
    )
    assert origin.depth_type == "from location" and origin.evaluation_mode == "automatic"
    assert {k: float(v.value) for k, v in origin.extra.items()} == pytest.approx(
        dict(zip(["model_x_km", "model_y_km", "model_z_km"], s["mean"][:3], strict=True))
    )
    assert all(v.namespace == NAMESPACE for v in origin.extra.values())
    texts = [c.text for c in origin.comments]
    summary = json.loads(next(t for t in texts if t.startswith("jaxseis location summary"))
                         .split(": ", 1)[1])  # fmt: skip
    np.testing.assert_allclose(summary["cov"], s["cov"], rtol=1e-15)
    assert summary["ess_min"] == 3150.0 and summary["method"] == "nuts"
    assert "stations used: XX.R01 XX.R02 XX.R03 XX.R04" in texts
    assert any("RMS of the residual in trace amplitude units" in t for t in texts)
    assert any(c.text == "emulator set: mlp-23, 4 receivers" for c in back.comments)
    # the horizontal ellipse of the horizontal covariance (2 degrees of freedom)
    unc = origin.origin_uncertainty
    ned = t.ned_matrix() @ np.asarray(s["cov"])[:3, :3] @ t.ned_matrix().T
    k2 = math.sqrt(chi2.ppf(0.68, 2))
    lam = np.linalg.eigvalsh(ned[:2, :2])
    assert unc.min_horizontal_uncertainty == pytest.approx(1000 * k2 * math.sqrt(lam[0]))
    assert unc.max_horizontal_uncertainty == pytest.approx(1000 * k2 * math.sqrt(lam[1]))
    assert unc.horizontal_uncertainty == unc.max_horizontal_uncertainty
    assert unc.preferred_description == "confidence ellipsoid"
    # the relative magnitude
    m = (2 / 3) * math.log10(math.exp(s["mean"][4]))
    assert mag.mag == pytest.approx(m) and mag.magnitude_type == MAGNITUDE_TYPE
    assert mag.mag_errors.uncertainty == pytest.approx(relative_magnitude(s["std"][4]))
    assert mag.origin_id == origin.resource_id and mag.station_count == 4
    assert "unit source of the training simulations (M_rel = 0)" in mag.comments[0].text
    assert origin.quality.azimuthal_gap > 0 and origin.quality.minimum_distance > 0


def test_unit_source_has_magnitude_zero_and_a_given_magnitude_is_kept():
    s = make_summary(1, mean=(0.5, 0.5, 1.0, 0.0, 0.0))
    s["mean"][4] = 0.0
    assert event_from_summary(s, REF).magnitudes[0].mag == 0.0
    s["relative_magnitude"] = {"mean": 0.7, "std": 0.05}
    mag = event_from_summary(s, REF).magnitudes[0]
    assert (mag.mag, mag.mag_errors.uncertainty) == (0.7, 0.05)


def test_fixed_parameters(tmp_path):
    s = make_summary(2, free=(True, True, False, False, False))
    event = event_from_summary(s, REF, transform=TRANSFORMS[0])
    origin = event.origins[0]
    assert event.magnitudes == [] and event.preferred_magnitude_id is None
    assert origin.time_fixed and not origin.epicenter_fixed
    assert origin.time_errors.uncertainty is None
    e = origin.origin_uncertainty.confidence_ellipsoid
    assert e.semi_minor_axis_length == 0.0 and e.semi_major_axis_length > 0
    back = model_location(read_events(str(write_quakeml(tmp_path / "f.xml", event)))[0],
                          TRANSFORMS[0])  # fmt: skip
    np.testing.assert_allclose(back.covariance_km2, np.asarray(s["cov"])[:3, :3], atol=1e-12)
    s = make_summary(2, free=(False, False, False, True, True))
    origin = event_from_summary(s, REF, transform=TRANSFORMS[0]).origins[0]
    assert origin.origin_uncertainty is None and origin.epicenter_fixed


def test_confidence_level_scales_the_axes():
    s = make_summary(4)
    axes = {}
    for level in (68.0, 95.0):
        unc = event_from_summary(s, REF, confidence_level=level).origins[0].origin_uncertainty
        axes[level] = unc.confidence_ellipsoid.semi_major_axis_length
    ratio = math.sqrt(chi2.ppf(0.95, 3) / chi2.ppf(0.68, 3))
    assert axes[95.0] / axes[68.0] == pytest.approx(ratio)


def test_without_a_transform_the_event_cannot_be_written(tmp_path):
    event = event_from_summary(make_summary(5), REF)
    origin = event.origins[0]
    assert origin.latitude is None and origin.depth is None
    assert float(origin.extra["model_z_km"]["value"]) == pytest.approx(1.57, abs=0.01)
    with pytest.raises(ValueError, match="locate with a geographic transform"):
        write_quakeml(tmp_path / "e.xml", [event])
    assert not (tmp_path / "e.xml").exists()


def _bad(**changes):
    s = make_summary(6)
    for key, value in changes.items():
        if value is KeyError:
            del s[key]
        else:
            s[key] = value
    return s


BAD_SUMMARIES = {
    "not a dict": ([1, 2], "a location summary is a dict"),
    "missing cov": (_bad(cov=KeyError), r"lacks \['cov'\]"),
    "other parameters": (_bad(params=["x", "y", "z", "t0"]), "summary\\['params'\\] must be"),
    "free not bools": (_bad(free=[1, 1, 1, 1, 1]), "must be 5 bools"),
    "short mean": (_bad(mean=[0.1, 0.2]), "must hold 5 numbers"),
    "NaN mean": (_bad(mean=[0.1, float("nan"), 1, 0, 0]), "NaN or infinite"),
    "text in std": (_bad(std=["a"] * 5), "must be 5 numbers"),
    "negative std": (_bad(std=[-0.1, 0.1, 0.1, 0.1, 0.1]), "must be >= 0"),
    "cov 3 x 3": (_bad(cov=np.eye(3).tolist()), "5 x 5"),
    "asymmetric cov": (_bad(cov=(np.eye(5) + np.eye(5, k=1)).tolist()), "not symmetric"),
    "indefinite cov": (_bad(cov=np.diag([1.0, 1, 1, 1, -1]).tolist()), "not positive semi"),
    "fixed with variance": (_bad(free=[True, True, True, True, False]),
                            r"fixed parameters \['log_amplitude'\] must have std 0"),
    "bad method": (_bad(method="NUTS sampler"), "must be a short name"),
    "bad magnitude": (_bad(relative_magnitude={"mean": 1.0}), "relative_magnitude"),
    "bad diagnostic": (_bad(rhat_max="1.01"), "rhat_max"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_SUMMARIES))
def test_bad_summaries(case):
    summary, match = BAD_SUMMARIES[case]
    with pytest.raises(ValueError, match=match):
        event_from_summary(summary, REF)


def test_summary_diagnostics_and_to_dict():
    s = make_summary(8)
    s["log_evidence"] = float("nan")  # written as None (strict JSON)
    checked = check_summary(s)
    assert checked.diagnostics["log_evidence"] is None
    assert checked.diagnostics["divergences"] == 0
    again = check_summary(checked.to_dict())
    np.testing.assert_array_equal(again.cov, checked.cov)
    assert again.relative_magnitude == pytest.approx(checked.relative_magnitude)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reference_time": "yesterday"}, "reference_time must be an obspy.UTCDateTime"),
        ({"event_id": "a b"}, "event_id"),
        ({"rms": -1.0}, "rms must be"),
        ({"confidence_level": 100.0}, "confidence_level"),
    ],
)
def test_bad_event_inputs(kwargs, match):
    args = {"reference_time": REF, **kwargs}
    with pytest.raises(ValueError, match=match):
        event_from_summary(make_summary(9), **args)


def test_model_location_needs_an_origin():
    from obspy.core.event import Event

    with pytest.raises(ValueError, match="the event has no origin"):
        model_location(Event(), TRANSFORMS[0])
    with pytest.raises(ValueError, match="no latitude"):
        model_location(event_from_summary(make_summary(9), REF), TRANSFORMS[0])
