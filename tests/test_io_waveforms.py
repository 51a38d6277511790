"""Waveforms in: miniSEED/SAC + StationXML (or a station table) written by ObsPy from the
bundled data are read back equal; sensitivity, resampling, band-pass and the noise window; every
bad input has a clear error; and an event read from files is located."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from obspy import Stream, UTCDateTime, read

import jaxseis as js
from jaxseis import catalogue as cat
from jaxseis.io import stations as stn
from jaxseis.io import waveforms as wf
from jaxseis.io.coordinates import GeoTransform
from jaxseis.noise import ColouredNoise, coloured_noise, coloured_psd, marine_psd

REF = UTCDateTime(2024, 5, 1, 12, 0, 0)
GEO = GeoTransform(60.5, 4.25, 70.0)
SENS = 2.0e6  # counts per Pa
TRUTH_T0, TRUTH_LOGA = 0.05, 0.3


@pytest.fixture(scope="module")
def obs(emulators):
    """A test-split event of the bundled benchmark, delayed and scaled, with seeded noise."""
    bench = js.load_benchmark()
    test = bench.indices("test")
    src = bench.sources[test]
    inside = np.all((src > [0.2, 0.2, 0.8]) & (src < [0.8, 0.8, 2.0]), axis=1)
    event = int(test[np.flatnonzero(inside)[0]])  # the first test event well inside the box
    return js.observe(
        bench, emulators, event=event, noise_key=jax.random.key(7), t0=TRUTH_T0,
        log_amplitude=TRUTH_LOGA, event_id=f"ev{event}",
    )  # fmt: skip


@pytest.fixture(scope="module")
def clean(obs):
    """The same event without noise (band-limited: resampling and filtering keep it)."""
    bench = js.load_benchmark()
    return js.observe(bench, obs.receivers_km, event=int(obs.event_id[2:]), t0=TRUTH_T0,
                      event_id=obs.event_id, log_amplitude=TRUTH_LOGA, noise=obs.noise)  # fmt: skip


@pytest.fixture(scope="module")
def files(obs, tmp_path_factory):
    """miniSEED in counts (int32) + StationXML with the sensitivity and a geographic transform."""
    d = tmp_path_factory.mktemp("waveforms")
    inv = stn.station_inventory(obs.receivers_km, obs.stations, GEO, sensitivity=SENS)
    stn.write_stationxml(d / "stations.xml", inv)
    wf.write_waveforms(obs, d / "{network}.{station}.mseed", REF, sensitivity=SENS, dtype=np.int32)
    return d


def _white(obs, **changes):
    """White noise at the observation's level; no detrend (the round trips compare samples:
    the default ``"demean"`` removes the noisy window's mean)."""
    changes.setdefault("detrend", None)
    return wf.WaveformOptions(noise_sigma=float(obs.noise.sigma[0]), **changes)


def _peak_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_miniseed_stationxml_round_trip(obs, files, model):
    back = wf.read_waveforms(
        str(files / "*.mseed"), files / "stations.xml", model, REF, transform=GEO,
        options=_white(obs), event_id=obs.event_id, truth=obs.truth,
    )  # fmt: skip
    assert back.stations == tuple(f"XX.{s}" for s in obs.stations)
    assert UTCDateTime(back.reference_time) == REF and back.dt == obs.dt
    np.testing.assert_allclose(back.receivers_km, obs.receivers_km, atol=1e-9)
    # whole counts at 2e6 counts/Pa
    assert _peak_err(back.traces, obs.traces) < 2e-5
    demeaned = wf.read_waveforms(files / "*.mseed", files / "stations.xml", model, REF,
                                 transform=GEO, options=_white(obs, detrend="demean"))  # fmt: skip
    expected = obs.traces - obs.traces.mean(axis=1, keepdims=True)
    assert _peak_err(demeaned.traces, expected) < 2e-5
    np.testing.assert_allclose(back.noise.sigma, obs.noise.sigma)


def test_receivers_reorder_and_model_coordinates_without_transform(obs, files, emulators):
    """Emulators in another order get the traces in their order; the inventory's own model
    coordinates serve without a transform."""
    rev = emulators[::-1]
    back = wf.read_waveforms(
        files / "*.mseed", files / "stations.xml", rev, REF, options=_white(obs)
    )
    assert back.stations == tuple(f"XX.{s}" for s in obs.stations[::-1])
    assert _peak_err(back.traces, obs.traces[::-1]) < 2e-5


@pytest.mark.filterwarnings("ignore:Sample spacing read from SAC file")
def test_sac_and_station_table_and_explicit_receivers(obs, tmp_path):
    paths = wf.write_waveforms(obs, tmp_path / "{station}.sac", REF, format="SAC")
    assert len(paths) == 4 and read(str(paths[0]))[0].stats._format == "SAC"
    table = stn.StationTable(tuple(("XX", s) for s in obs.stations), obs.receivers_km)
    stn.write_station_table(tmp_path / "stations.csv", table)
    assert stn.read_station_table(tmp_path / "stations.csv").codes == table.codes
    back = wf.read_waveforms(
        [str(p) for p in paths], tmp_path / "stations.csv", obs.receivers_km, REF,
        dt=obs.dt, n_samples=obs.n_samples, options=_white(obs, detrend=None),
    )  # fmt: skip
    assert _peak_err(back.traces, obs.traces) < 1e-6  # SAC stores float32


def test_geographic_transform_path(obs, files, model):
    inv = stn.read_stations(files / "stations.xml")
    for net in inv:
        for sta in net:
            sta.extra = None  # a plain geographic inventory
    with pytest.raises(ValueError, match="geographic coordinates only; pass transform"):
        wf.read_waveforms(files / "*.mseed", inv, model, REF, options=_white(obs))
    back = wf.read_waveforms(files / "*.mseed", inv, model, REF, transform=GEO, options=_white(obs))
    np.testing.assert_allclose(back.receivers_km, obs.receivers_km, atol=1e-9)
    c = inv.get_coordinates(f"XX.{obs.stations[0]}..HDH", REF)
    lat, lon, depth = GEO.to_geographic(obs.receivers_km[0])
    assert (c["latitude"], c["longitude"], -c["elevation"] / 1e3) == pytest.approx(
        (lat, lon, depth)
    )
    rotated = dataclasses.replace(GEO, x_azimuth_deg=80.0)
    with pytest.raises(ValueError, match=r"station XX\.R\d\d\.\.HDH at .* matches no receiver"):
        wf.read_waveforms(
            files / "*.mseed", inv, model, REF, transform=rotated, options=_white(obs)
        )


def test_sensitivity_removal(obs, files, model):
    counts = wf.read_waveforms(
        files / "*.mseed", files / "stations.xml", model, REF,
        options=_white(obs, instrument="none"),
    )  # fmt: skip
    np.testing.assert_allclose(counts.traces.max() / obs.traces.max(), SENS, rtol=1e-3)
    full = wf.read_waveforms(
        files / "*.mseed", files / "stations.xml", model, REF,
        options=_white(obs, instrument="response"),
    )  # fmt: skip
    # remove_response tapers 5 % of the trace at each end; inside, the flat response is exact
    assert _peak_err(full.traces[:, 40:-40], obs.traces[:, 40:-40]) < 0.01
    inv = stn.read_stations(files / "stations.xml")
    for ch in inv.get_contents()["channels"]:
        inv.get_response(ch, REF).instrument_sensitivity.input_units = "M/S"
    with pytest.raises(ValueError, match="input units are M/S, not PA"):
        wf.read_waveforms(files / "*.mseed", inv, model, REF, options=_white(obs))


def _padded_stream(obs, n_pad=250):
    """The observation with zeros before and after the window (so filters and tapers act
    outside it), as a stream starting n_pad samples before REF."""
    zeros = np.zeros((obs.n_receivers, n_pad))
    padded = obs.replace(traces=np.concatenate([obs.traces, zeros], axis=1))
    return wf.observation_to_stream(padded, REF, pre_event=zeros)


def test_resampling_from_another_rate(clean, model):
    obs = clean
    st = _padded_stream(obs)
    for tr in st:
        tr.resample(1000.0, window=None)  # exact band-limited upsampling (FFT): a 1 kHz recording
    assert st[0].stats.sampling_rate == 1000.0
    back = wf.observation_from_stream(st, _table(obs), model, REF, options=_white(obs))
    assert _peak_err(back.traces, obs.traces) < 2e-3
    # a window starting between samples of the recording: Lanczos interpolation to the grid
    late = wf.observation_from_stream(st, _table(obs), model, REF + 0.0013, options=_white(obs))
    shifted = js.observe(
        js.load_benchmark(), model.receivers_km, event=int(obs.event_id[2:]),
        t0=TRUTH_T0 - 0.0013, log_amplitude=TRUTH_LOGA,
    )  # fmt: skip
    assert _peak_err(late.traces[:, :-20], shifted.traces[:, :-20]) < 5e-3
    coarse = _padded_stream(obs)
    for tr in coarse:
        tr.resample(100.0)
    with pytest.raises(ValueError, match=r"sampled at 100 Hz, below the emulators' 250 Hz"):
        wf.observation_from_stream(coarse, _table(obs), model, REF, options=_white(obs))


def test_bandpass_keeps_the_emulators_band(clean, model):
    obs = clean
    back = wf.observation_from_stream(
        _padded_stream(obs), _table(obs), model, REF, options=_white(obs, bandpass_hz=(0.5, 60.0))
    )
    assert _peak_err(back.traces, obs.traces) < 0.05
    narrow = wf.observation_from_stream(
        _padded_stream(obs), _table(obs), model, REF, options=_white(obs, bandpass_hz=(30.0, 60.0))
    )
    assert np.abs(narrow.traces).max() < 0.2 * np.abs(obs.traces).max()  # outside the band
    with pytest.raises(ValueError, match="not below the Nyquist"):
        wf.observation_from_stream(
            _padded_stream(obs), _table(obs), model, REF,
            options=_white(obs, bandpass_hz=(1.0, 200.0)),
        )  # fmt: skip


def test_noise_window_gives_coloured_noise(obs, model):
    n_pre, sigma = 2000, float(obs.noise.sigma[0])
    key = jax.random.key(3)
    noise = coloured_noise(
        key, marine_psd, obs.n_receivers, n_pre + obs.n_samples, obs.dt, sigma=sigma
    )
    clean = obs.replace(traces=obs.traces + noise[:, n_pre:])
    st = wf.observation_to_stream(clean, REF, pre_event=noise[:, :n_pre])
    back = wf.observation_from_stream(
        st, _table(obs), model, REF, options=wf.WaveformOptions(noise_window_s=6.0, detrend=None)
    )
    assert isinstance(back.noise, ColouredNoise) and back.noise.psd.shape == (4, 251)
    truth = coloured_psd(marine_psd, 4, obs.n_samples, obs.dt, sigma=sigma).psd
    ratio = np.median(back.noise.psd / truth, axis=1)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    np.testing.assert_allclose(back.traces, clean.traces, atol=1e-12)
    lik = js.waveform_log_likelihood(model, back)  # coloured noise: the Whittle likelihood
    assert np.isfinite(float(lik(obs.truth)))


def _table(obs):
    return stn.StationTable(tuple(("XX", s) for s in obs.stations), obs.receivers_km)


def _stream(obs):
    return wf.observation_to_stream(obs, REF)


def _error(obs, model, stream, match, **kw):
    kw.setdefault("options", _white(obs))
    stations, ref = kw.pop("stations", _table(obs)), kw.pop("reference_time", REF)
    with pytest.raises(ValueError, match=match):
        wf.observation_from_stream(stream, stations, model, ref, **kw)


def test_gap_masked_overlap_and_rates(obs, model):
    st = _stream(obs)
    tr = st[1]
    st[1] = tr.slice(tr.stats.starttime, tr.stats.starttime + 0.8)
    st.append(tr.slice(tr.stats.starttime + 1.0))
    _error(obs, model, st, r"channel XX\.R03\.\.HDH has a gap of 0.196 s")
    merged = st.copy().merge()
    _error(obs, model, merged, r"channel XX\.R03\.\.HDH is masked")
    st = _stream(obs)
    other = st[2].copy()
    other.data = other.data + 1.0
    st.append(other)
    _error(obs, model, st, r"XX\.R04\.\.HDH has overlapping pieces with different samples")
    st = _stream(obs)
    st.append(st[0].copy())  # an exact duplicate merges
    assert (
        wf.observation_from_stream(st, _table(obs), model, REF, options=_white(obs)).n_receivers
        == 4
    )
    st = _stream(obs)
    piece = st[0].copy()
    piece.stats.sampling_rate = 500.0
    st.append(piece)
    _error(obs, model, st, r"XX\.R02\.\.HDH has pieces at different sampling rates")


def test_flat_clipped_nonfinite_and_short_channels(obs, model):
    st = _stream(obs)
    st[2].data = np.full_like(st[2].data, 3.0)
    _error(obs, model, st, r"channel XX\.R04\.\.HDH is flat")
    st = _stream(obs)
    top = 0.5 * st[1].data.max()
    st[1].data = np.clip(st[1].data, -top, top)
    _error(obs, model, st, r"channel XX\.R03\.\.HDH is clipped: \d+ consecutive samples")
    st = _stream(obs)
    st[0].data[10] = np.nan
    _error(obs, model, st, r"channel XX\.R02\.\.HDH has NaN")
    st = _stream(obs)
    st[3].trim(endtime=REF + 1.0)
    _error(obs, model, st, r"channel XX\.R05\.\.HDH covers .* too short for the window")
    _error(obs, model, _stream(obs), r"channel XX\.R02\.\.HDH has no data between",
           reference_time=REF + 3600)  # fmt: skip
    _error(obs, model, _stream(obs), "too short",
           options=wf.WaveformOptions(noise_window_s=1.0))  # fmt: skip


def test_station_errors(obs, model):
    _error(
        obs,
        model,
        _stream(obs).select(station="R0[234]"),
        r"receiver\(s\) \[\[0\.625, 0\.875, 2\.43\]\] km of the emulators have no station",
    )
    table = _table(obs)
    moved = table._replace(positions_km=table.positions_km + np.array([0.05, 0.0, 0.0]))
    _error(
        obs,
        model,
        _stream(obs),
        r"station XX\.R02\.\.HDH at \[0\.175, .* matches no receiver",
        stations=moved,
    )
    extra = stn.StationTable(
        (*table.codes, ("XX", "R99")), np.vstack([table.positions_km, [[0.9, 0.1, 2.43]]])
    )
    st = _stream(obs)
    spare = st[0].copy()
    spare.stats.station = "R99"
    st.append(spare)
    _error(
        obs,
        model,
        st,
        r"station XX\.R99\.\.HDH at \[0\.9, 0\.1, 2\.43\] km matches no receiver",
        stations=extra,
    )
    ok = wf.observation_from_stream(
        st, extra, model, REF, options=_white(obs, extra_stations="ignore")
    )
    assert "XX.R99" not in ok.stations
    short = stn.StationTable(table.codes[:3], table.positions_km[:3])
    _error(
        obs,
        model,
        _stream(obs),
        r"channel XX\.R05\.\.HDH: station XX\.R05 is not in the station table",
        stations=short,
    )
    st = _stream(obs)
    second = st[0].copy()
    second.stats.channel = "BDH"
    st.append(second)
    _error(obs, model, st, r"station XX\.R02 has 2 channels \(XX\.R02\.\.BDH, XX\.R02\.\.HDH\)")
    assert (
        wf.observation_from_stream(
            st, table, model, REF, options=_white(obs, channel="H*")
        ).n_receivers
        == 4
    )
    _error(
        obs, model, _stream(obs), r"no channel matches 'BH\?'", options=_white(obs, channel="BH?")
    )


def test_file_errors(obs, model, tmp_path):
    with pytest.raises(FileNotFoundError, match="no waveform file matches"):
        wf.read_waveforms(tmp_path / "*.mseed", _table(obs), model, REF, options=_white(obs))
    with pytest.raises(FileNotFoundError, match="no waveform file matches"):
        wf.read_waveforms(tmp_path / "missing.mseed", _table(obs), model, REF, options=_white(obs))
    bad = tmp_path / "bad.mseed"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match=r"cannot read the waveform file .*bad\.mseed"):
        wf.read_waveforms(bad, _table(obs), model, REF, options=_white(obs))
    wf.write_waveforms(obs, tmp_path / "ok.mseed", REF)
    with pytest.raises(FileNotFoundError, match=r"station file .* not found"):
        wf.read_waveforms(
            tmp_path / "ok.mseed", tmp_path / "nope.xml", model, REF, options=_white(obs)
        )
    junk = tmp_path / "stations.xml"
    junk.write_text("<not station xml>")
    with pytest.raises(ValueError, match="cannot read the station file"):
        wf.read_waveforms(tmp_path / "ok.mseed", junk, model, REF, options=_white(obs))
    (tmp_path / "t.csv").write_text("network,station,x_km\nXX,R01,0.1\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['y_km', 'z_km'\]"):
        stn.read_station_table(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="SAC holds one trace per file"):
        wf.write_waveforms(obs, tmp_path / "all.sac", REF, format="SAC")


def test_wrong_shapes_and_options(obs, model):
    with pytest.raises(ValueError, match=r"an \[n, 3\] array of positions .* shape \[4, 2\]"):
        wf.observation_from_stream(_stream(obs), _table(obs), obs.receivers_km[:, :2], REF,
                                   dt=obs.dt, n_samples=501, options=_white(obs))  # fmt: skip
    with pytest.raises(ValueError, match="pass dt"):
        wf.observation_from_stream(
            _stream(obs), _table(obs), obs.receivers_km, REF, options=_white(obs)
        )
    _error(obs, model, _stream(obs), r"noise_sigma has 3 values",
           options=wf.WaveformOptions(noise_sigma=(1.0, 2.0, 3.0)))  # fmt: skip
    _error(obs, model, _stream(obs), "no noise model", options=wf.WaveformOptions())
    with pytest.raises(ValueError, match=r"pre_event must be \[4, n_pre\]"):
        wf.observation_to_stream(obs, REF, pre_event=np.zeros(10))
    with pytest.raises(ValueError, match="no reference time"):
        wf.observation_to_stream(obs)
    with pytest.raises(ValueError, match="not both"):
        wf.WaveformOptions(noise_window_s=1.0, noise_sigma=1.0)
    with pytest.raises(ValueError, match="bandpass_hz"):
        wf.WaveformOptions(bandpass_hz=(5.0, 1.0))
    with pytest.raises(ValueError, match="reference_time must be"):
        wf.observation_from_stream(
            _stream(obs), _table(obs), model, "yesterday", options=_white(obs)
        )
    with pytest.raises(ValueError, match=r"receivers_km must be \[n, 3\]"):
        stn.station_inventory(obs.receivers_km[:3], obs.stations)
    assert isinstance(_stream(obs), Stream)


def test_an_event_read_from_files_is_located(obs, files, model):
    """miniSEED + StationXML -> Observation -> waveform likelihood -> Laplace: the truth
    lies within 3 posterior standard deviations."""
    back = wf.read_waveforms(
        files / "*.mseed", files / "stations.xml", model, REF, transform=GEO,
        options=_white(obs), truth=obs.truth,
    )  # fmt: skip
    lik = js.waveform_log_likelihood(model, back)
    stage = cat.CATALOGUE_STAGE._replace(num_draws=2048, chunk_size=1024, num_polish=4)
    idata = js.locate(lik, js.event_prior(), key=jax.random.key(0),
                      options=js.LaplaceOptions(global_stage=stage))  # fmt: skip
    s = js.summary_dict(idata)
    mean, std = np.asarray(s["mean"]), np.asarray(s["std"])
    assert np.all(np.abs(mean - obs.truth) < 3 * std), (mean, std, obs.truth)
    assert np.linalg.norm(mean[:3] - obs.truth[:3]) < 0.02


def test_trigger_time_finds_the_first_arrival(clean):
    """The earliest STA/LTA onset lies at the first arrival of the noisy recording (within a
    few samples of where the noise-free trace first exceeds 10 sigma)."""
    n_pre, sigma = 1000, 0.01 * np.abs(clean.traces).max()
    noise = np.asarray(jax.random.normal(jax.random.key(4), (4, n_pre + clean.n_samples))) * sigma
    noisy = clean.replace(traces=clean.traces + noise[:, n_pre:])
    st = wf.observation_to_stream(noisy, REF, pre_event=noise[:, :n_pre])
    first = min(np.flatnonzero(np.abs(tr) > 10 * sigma)[0] for tr in clean.traces) * clean.dt
    assert abs(wf.trigger_time(st) - (REF + first)) < 0.03
    with pytest.raises(ValueError, match="no STA/LTA trigger"):
        wf.trigger_time(st, on=1e6)


def test_only_the_data_around_the_window_are_checked(obs, model):
    """A long recording with a clipped stretch and a gap far from the window is read; with a
    margin that reaches them, each is refused."""
    n_pre = 5000  # 20 s before the window
    pre = np.zeros((obs.n_receivers, n_pre))
    pre[:, :1000] = 1.0  # a flat, clipped stretch 16-20 s before the event
    pre[:, 1000:] = obs.traces[:, :1] + 1e-3 * np.sin(np.arange(n_pre - 1000))
    st = wf.observation_to_stream(obs, REF, pre_event=pre)
    gapped = Stream()
    for tr in st:  # a 0.2 s gap 18 s before the window
        t = tr.stats.starttime
        gapped.extend([tr.slice(t, t + 2.0), tr.slice(t + 2.2, tr.stats.endtime)])
    for stream in (st, gapped):
        back = wf.observation_from_stream(stream, _table(obs), model, REF, options=_white(obs))
        np.testing.assert_allclose(back.traces, obs.traces, atol=1e-12)
    wide = _white(obs, margin_s=20.0)
    _error(obs, model, st, r"channel XX\.R02\.\.HDH is clipped", options=wide)
    _error(obs, model, gapped, r"channel XX\.R02\.\.HDH has a gap", options=wide)
