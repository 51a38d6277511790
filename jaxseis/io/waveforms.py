"""Observed waveforms in: an :class:`~jaxseis.observation.Observation` from ObsPy streams or
files; and out: synthetic observations written as miniSEED or SAC.

:func:`read_waveforms` (files: paths or glob patterns in any format ObsPy reads) and
:func:`observation_from_stream` (an ObsPy ``Stream``) turn recorded traces into the observation
the likelihoods take, with ObsPy's own tools at every step:

1. the channels matching :attr:`WaveformOptions.channel` are kept; every channel is checked:
   masked data, gaps, overlaps with differing samples, differing or non-positive sampling rates
   (``Stream.get_gaps``, ``Stream.merge``), two channels of one station, a trace that does not
   cover the window, and non-finite, flat or clipped samples around it
   (:attr:`WaveformOptions.margin_s`); each is a ``ValueError`` naming the channel;
2. station positions come from an ObsPy ``Inventory`` (StationXML, mapped to model coordinates
   by a :class:`~jaxseis.io.coordinates.GeoTransform`) or a station table
   (:mod:`jaxseis.io.stations`), and are matched to the emulators' receivers by position within
   :attr:`WaveformOptions.tol_km`;
3. the instrument sensitivity (``Trace.remove_sensitivity``, or the full response with
   ``Trace.remove_response``) is removed to pascals where the inventory has it;
4. ``Trace.detrend``, then, with a band, ``Trace.taper`` and ``Trace.filter("bandpass")`` at the
   recorded rate; when the recorded rate exceeds the model's, an anti-alias
   ``Trace.filter("lowpass")``;
5. ``Trace.interpolate(method="lanczos")`` onto the model's samples: ``n_samples`` at the
   model's ``dt`` from the reference time (and a noise window before it);
6. the noise model: :func:`jaxseis.noise.estimate_noise` (a
   :class:`~jaxseis.noise.ColouredNoise`) on the pre-event window, or white noise of a level
   the user gives.

The reference time is the user's (an origin-time estimate, a catalogue's origin) or derived
from the earliest STA/LTA trigger (:func:`trigger_time`).

The writers make files of the project's own synthetic events: :func:`observation_to_stream`
(traces in pascals, or counts with a sensitivity, optionally with samples before the window)
and :func:`write_waveforms`; station metadata come from
:func:`jaxseis.io.stations.station_inventory`.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from obspy import Stream, Trace, UTCDateTime, read

from jaxseis.files import atomic_path
from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.stations import StationTable, read_stations, station_positions
from jaxseis.noise import WhiteNoise, estimate_noise
from jaxseis.observation import Observation, make_observation

__all__ = [
    "INSTRUMENT_MODES",
    "WaveformOptions",
    "model_window",
    "observation_from_stream",
    "observation_to_stream",
    "read_stream",
    "read_waveforms",
    "trigger_time",
    "write_waveforms",
]

INSTRUMENT_MODES = ("sensitivity", "response", "none")
"""How the instrument is removed: its sensitivity (a gain), its full response, or not at all."""


@dataclasses.dataclass(frozen=True)
class WaveformOptions:
    """How recorded traces are checked and prepared.

    Attributes:
        channel: channel codes to use (an ObsPy ``select`` pattern, e.g. ``"?DH"``); one
            channel per station must remain.
        instrument: ``"sensitivity"`` (divide by the inventory's instrument sensitivity),
            ``"response"`` (deconvolve the full response, ``output="DEF"``) or ``"none"``.
            Channels without a response in the inventory, and station tables, are left as
            they are (their data must already be in pascals).
        input_units: the units the response must take the data to (``"PA"``: pascals), or
            ``None`` to accept any.
        detrend: ObsPy detrend type (``"demean"``, ``"linear"``, ...) or ``None``.
        bandpass_hz: ``(low, high)`` corners of a Butterworth band-pass, Hz (the emulators'
            band), or ``None``.
        filter_corners: the filter's corners (order).
        zerophase: filter forwards and backwards (no phase shift).
        taper_s: length of the Hann taper at each end of a trace before filtering, s.
        antialias: corner of the anti-alias low-pass applied before decimation, as a fraction
            of the model's Nyquist frequency.
        lanczos_a: half-width of the Lanczos interpolation kernel, samples.
        allow_upsampling: accept traces sampled more coarsely than the model (refused by
            default: they lack part of the band the emulators model).
        noise_window_s: length of the pre-event window (s before the reference time) from
            which a :class:`~jaxseis.noise.ColouredNoise` model is estimated, or ``None``.
        noise_sigma: white-noise standard deviation, Pa (a number or one per receiver, in the
            emulators' order), when there is no noise window.
        tol_km: how far a station may lie from an emulator's receiver and match it, km.
        extra_stations: ``"error"`` for a station that matches no receiver, or ``"ignore"``
            (dropped).
        clip_run: a channel with this many consecutive samples at its largest (or smallest)
            value is clipped; ``None`` skips the check.
        margin_s: data kept on each side of the window (noise window included) for the
            checks, the detrend and the filters, s; the rest of a long recording is cut off
            first. Filters, tapers and the interpolation (``lanczos_a`` samples) need data
            beyond the window: a trace that ends at the window's edge is read, but its edge
            samples are only exact without filtering and at the model's own sampling.
    """

    channel: str = "*"
    instrument: str = "sensitivity"
    input_units: str | None = "PA"
    detrend: str | None = "demean"
    bandpass_hz: tuple[float, float] | None = None
    filter_corners: int = 4
    zerophase: bool = True
    taper_s: float = 0.05
    antialias: float = 0.8
    lanczos_a: int = 20
    allow_upsampling: bool = False
    noise_window_s: float | None = None
    noise_sigma: float | tuple[float, ...] | None = None
    tol_km: float = 0.005
    extra_stations: str = "error"
    clip_run: int | None = 5
    margin_s: float = 5.0

    def __post_init__(self):
        if self.instrument not in INSTRUMENT_MODES:
            raise ValueError(
                f"instrument must be one of {INSTRUMENT_MODES}, got {self.instrument!r}"
            )
        if self.extra_stations not in ("error", "ignore"):
            raise ValueError(
                f"extra_stations must be 'error' or 'ignore', got {self.extra_stations!r}"
            )
        if self.bandpass_hz is not None:
            lo, hi = (float(v) for v in self.bandpass_hz)
            if not (0 < lo < hi and math.isfinite(hi)):
                raise ValueError(
                    f"bandpass_hz must be (low, high) with 0 < low < high, got {self.bandpass_hz}"
                )
            object.__setattr__(self, "bandpass_hz", (lo, hi))
        if self.noise_window_s is not None and not (
            math.isfinite(self.noise_window_s) and self.noise_window_s > 0
        ):
            raise ValueError(
                f"noise_window_s must be a positive number of seconds, got {self.noise_window_s}"
            )
        if self.noise_window_s is not None and self.noise_sigma is not None:
            raise ValueError(
                "give either noise_window_s (coloured noise) or noise_sigma (white), not both"
            )
        if self.noise_sigma is not None:
            s = np.atleast_1d(np.asarray(self.noise_sigma, dtype=np.float64))
            if not np.all(np.isfinite(s) & (s > 0)):
                raise ValueError(
                    f"noise_sigma must be positive numbers (Pa), got {self.noise_sigma}"
                )
        for name in ("taper_s", "tol_km", "margin_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if not 0 < self.antialias <= 1:
            raise ValueError(f"antialias must lie in (0, 1], got {self.antialias}")
        if int(self.lanczos_a) < 1 or int(self.filter_corners) < 1:
            raise ValueError("lanczos_a and filter_corners must be positive integers")
        if self.clip_run is not None and int(self.clip_run) < 2:
            raise ValueError(f"clip_run must be an integer >= 2 or None, got {self.clip_run}")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def read_stream(sources: str | Path | Sequence[str | Path] | Stream) -> Stream:
    """Read waveform files (paths or glob patterns, any format ObsPy reads) into one stream.

    Raises:
        FileNotFoundError: a path or pattern that matches no file (named).
        ValueError: a file ObsPy cannot read (named, with ObsPy's reason).
    """
    if isinstance(sources, Stream):
        return sources.copy()
    if isinstance(sources, str | Path):
        sources = [sources]
    files: list[str] = []
    for s in sources:
        s = str(s)
        found = sorted(glob.glob(s)) if glob.has_magic(s) else ([s] if Path(s).is_file() else [])
        if not found:
            raise FileNotFoundError(f"no waveform file matches {s}")
        files.extend(found)
    stream = Stream()
    for f in files:
        try:
            stream += read(f)
        except Exception as exc:  # ObsPy raises TypeError, ValueError, OSError, ... for bad files
            raise ValueError(
                f"cannot read the waveform file {f}: {type(exc).__name__}: {exc}"
            ) from None
    if not len(stream):
        raise ValueError(f"the waveform files {files} hold no traces")
    return stream


def model_window(receivers, *, dt: float | None = None, n_samples: int | None = None):
    """``(receivers_km [n, 3], dt s, n_samples)`` of a forward model, a list of emulators, or
    an explicit ``[n, 3]`` array (then ``dt`` and ``n_samples`` must be given).

    Raises:
        ValueError: an array that is not ``[n, 3]``, or missing/bad ``dt``/``n_samples``.
    """
    from jaxseis.forward import ForwardModel

    if isinstance(receivers, ForwardModel):
        return (
            np.asarray(receivers.receivers_km, np.float64),
            float(receivers.dt),
            int(receivers.n_samples),
        )
    items = list(receivers) if not isinstance(receivers, np.ndarray) else receivers
    if len(items) and hasattr(items[0], "receiver_km"):
        r = np.stack([np.asarray(e.receiver_km, dtype=np.float64) for e in items])
        if len({(float(e.dt), int(e.n_samples)) for e in items}) != 1:
            raise ValueError("all emulators must share dt and n_samples")
        return r, float(items[0].dt), int(items[0].n_samples)
    r = np.asarray(receivers, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 3 or r.shape[0] == 0:
        raise ValueError(
            f"receivers must be a ForwardModel, emulators or an [n, 3] array of positions (km); "
            f"got an array of shape {list(r.shape)}"
        )
    if dt is None or n_samples is None or not (dt > 0) or int(n_samples) < 2:
        raise ValueError(
            "with receivers given as an array, pass dt (s, > 0) and n_samples (>= 2) of the model"
        )
    return r, float(dt), int(n_samples)


def read_waveforms(
    waveforms: str | Path | Sequence[str | Path] | Stream,
    stations,
    receivers,
    reference_time,
    *,
    transform: GeoTransform | None = None,
    options: WaveformOptions = WaveformOptions(),
    dt: float | None = None,
    n_samples: int | None = None,
    event_id: str = "",
    truth=None,
) -> Observation:
    """An observation from waveform files (or a stream), station metadata and the model.

    Args:
        waveforms: paths or glob patterns of files ObsPy reads (miniSEED, SAC, ...), or an
            ObsPy ``Stream``.
        stations: an ObsPy ``Inventory``, a :class:`~jaxseis.io.stations.StationTable`, or a
            file of either (``.csv``: a station table; else StationXML).
        receivers: the emulators' receivers: a :class:`~jaxseis.forward.ForwardModel`, the
            emulators, or an ``[n, 3]`` array of positions (km; then give ``dt`` and
            ``n_samples``).
        reference_time: the time of the window's first sample (``obspy.UTCDateTime`` or what
            it accepts); the origin time ``t0`` of the location is relative to it.
        transform: maps an inventory's geographic coordinates to model coordinates.
        options: :class:`WaveformOptions`.
        dt, n_samples: the model's sampling interval (s) and window length, when ``receivers``
            is an array.
        event_id: the observation's identifier.
        truth: the true event parameters, when known (synthetic tests).

    Returns:
        The :class:`~jaxseis.observation.Observation`, traces in pascals ``[n_receivers,
        n_samples]`` in the order of ``receivers``, station codes ``NET.STA``.

    Raises:
        FileNotFoundError: a missing waveform or station file.
        ValueError: an unreadable file, or a bad channel, station or option (named).
    """
    return observation_from_stream(
        read_stream(waveforms), stations, receivers, reference_time, transform=transform,
        options=options, dt=dt, n_samples=n_samples, event_id=event_id, truth=truth,
    )  # fmt: skip


def observation_from_stream(
    stream: Stream,
    stations,
    receivers,
    reference_time,
    *,
    transform: GeoTransform | None = None,
    options: WaveformOptions = WaveformOptions(),
    dt: float | None = None,
    n_samples: int | None = None,
    event_id: str = "",
    truth=None,
) -> Observation:
    """An observation from an ObsPy ``Stream`` (see :func:`read_waveforms` for the arguments;
    the stream is not modified)."""
    if not isinstance(options, WaveformOptions):
        raise ValueError(f"options must be a WaveformOptions, got {type(options).__name__}")
    r_model, dt, n = model_window(receivers, dt=dt, n_samples=n_samples)
    try:
        ref = UTCDateTime(reference_time)
    except (TypeError, ValueError):
        raise ValueError(
            f"reference_time must be an obspy.UTCDateTime (or what it accepts), got "
            f"{reference_time!r}"
        ) from None
    stations = read_stations(stations)
    n_noise = 0 if options.noise_window_s is None else round(options.noise_window_s / dt)
    start = ref - n_noise * dt
    end = start + (n_noise + n - 1) * dt
    st = _checked_stream(stream, options, start - options.margin_s, end + options.margin_s)
    ids = [tr.id for tr in st]
    positions = station_positions(stations, ids, ref, transform)
    order = _match(ids, positions, r_model, options)
    st = Stream([st[i] for i in order])

    inventory = None if isinstance(stations, StationTable) else stations
    rows = [_prepare(tr, inventory, start, n_noise + n, dt, options) for tr in st]
    data = np.stack(rows)
    traces = data[:, n_noise:]
    if options.noise_window_s is not None:
        try:
            noise = estimate_noise(data[:, :n_noise], dt, n)
        except ValueError as exc:
            raise ValueError(f"noise window of {options.noise_window_s} s: {exc}") from None
    elif options.noise_sigma is not None:
        sigma = np.atleast_1d(np.asarray(options.noise_sigma, dtype=np.float64))
        if sigma.size not in (1, len(order)):
            raise ValueError(
                f"noise_sigma has {sigma.size} values; give one, or one per receiver ({len(order)})"
            )
        noise = WhiteNoise(np.broadcast_to(sigma, (len(order),)).copy())
    else:
        raise ValueError(
            "no noise model: set WaveformOptions(noise_window_s=...) to estimate coloured "
            "noise before the event, or noise_sigma=... (Pa) for white noise"
        )
    codes = tuple(f"{tr.stats.network}.{tr.stats.station}" for tr in st)
    return make_observation(
        traces, dt, positions[order], noise=noise, stations=codes,
        reference_time=str(ref), truth=truth, event_id=event_id,
    )  # fmt: skip


def _checked_stream(
    stream: Stream, options: WaveformOptions, t1: UTCDateTime, t2: UTCDateTime
) -> Stream:
    """The selected channels between ``t1`` and ``t2``, merged, one per station, checked."""
    if not isinstance(stream, Stream):
        raise ValueError(f"waveforms must be an obspy Stream or files, got {type(stream).__name__}")
    st = stream.select(channel=options.channel).copy()
    if not len(st):
        raise ValueError(
            f"no channel matches {options.channel!r} (the stream holds "
            + ", ".join(sorted({tr.id for tr in stream}))
            + ")"
        )
    selected = sorted({tr.id for tr in st})
    st.trim(t1, t2)
    empty = [sid for sid in selected if not st.select(id=sid)]
    if empty:
        raise ValueError(
            f"channel {empty[0]} has no data between {t1} and {t2} (the window with its "
            "margin): check the reference time"
        )
    for tr in st:
        rate = float(tr.stats.sampling_rate)
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"channel {tr.id} has an invalid sampling rate {rate} Hz")
        if np.ma.isMaskedArray(tr.data) and np.ma.is_masked(tr.data):
            raise ValueError(
                f"channel {tr.id} is masked (missing samples); fill or cut the gaps first"
            )
        if not np.issubdtype(np.asarray(tr.data).dtype, np.number):
            raise ValueError(f"channel {tr.id} holds non-numeric data ({tr.data.dtype})")
    by_id: dict[str, set[float]] = {}
    for tr in st:
        by_id.setdefault(tr.id, set()).add(float(tr.stats.sampling_rate))
    for sid, rates in by_id.items():
        if len(rates) > 1:
            raise ValueError(
                f"channel {sid} has pieces at different sampling rates {sorted(rates)} Hz"
            )
    for gap in st.get_gaps():
        sid = ".".join(gap[:4])
        if gap[6] > 0:
            raise ValueError(
                f"channel {sid} has a gap of {gap[6]:.6g} s at {gap[4]} ({gap[7]} missing "
                "samples); jaxseis needs continuous traces"
            )
    st.merge(method=0)
    for tr in st:
        if np.ma.isMaskedArray(tr.data) and np.ma.is_masked(tr.data):
            raise ValueError(
                f"channel {tr.id} has overlapping pieces with different samples; keep one copy"
            )
        tr.data = np.asarray(tr.data)
    per_station: dict[tuple[str, str], list[str]] = {}
    for tr in st:
        per_station.setdefault((tr.stats.network, tr.stats.station), []).append(tr.id)
    for (net, sta), ids in per_station.items():
        if len(ids) > 1:
            raise ValueError(
                f"station {net}.{sta} has {len(ids)} channels ({', '.join(sorted(ids))}); "
                "choose one with WaveformOptions(channel=...)"
            )
    return st


def _check_samples(tr: Trace, options: WaveformOptions) -> None:
    x = np.asarray(tr.data, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"channel {tr.id} has {x.size} sample(s)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"channel {tr.id} has NaN or infinite samples")
    if np.ptp(x) == 0:
        raise ValueError(f"channel {tr.id} is flat (every sample is {x[0]:g}): a dead channel")
    run = options.clip_run
    if run is not None:
        for extreme in (x.max(), x.min()):
            at = np.concatenate([[0], (x == extreme).astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(at))
            longest = int(np.max(edges[1::2] - edges[::2]))
            if longest >= run:
                raise ValueError(
                    f"channel {tr.id} is clipped: {longest} consecutive samples at {extreme:g}"
                )


def _match(ids, positions, receivers, options: WaveformOptions) -> list[int]:
    """For each model receiver, the index of the channel at its position."""
    dist = np.linalg.norm(positions[:, None, :] - receivers[None, :, :], axis=-1)
    tol = options.tol_km
    if options.extra_stations == "error":
        for i, row in enumerate(dist):
            if row.min() > tol:
                raise ValueError(
                    f"station {ids[i]} at {np.round(positions[i], 4).tolist()} km matches no "
                    f"receiver of the emulators within {tol * 1e3:g} m (nearest "
                    f"{row.min() * 1e3:.1f} m away); check the transform or the station table, "
                    "or pass WaveformOptions(extra_stations='ignore')"
                )
    order, missing = [], []
    for j in range(receivers.shape[0]):
        i = int(np.argmin(dist[:, j]))
        if dist[i, j] > tol:
            missing.append(np.round(receivers[j], 4).tolist())
        elif i in order:
            raise ValueError(f"station {ids[i]} matches two receivers of the emulators")
        else:
            order.append(i)
    if missing:
        raise ValueError(
            f"receiver(s) {missing} km of the emulators have no station within {tol * 1e3:g} m "
            f"(stations: " + ", ".join(ids) + ")"
        )
    return order


def _prepare(
    tr: Trace, inventory, start: UTCDateTime, npts: int, dt: float, options: WaveformOptions
) -> np.ndarray:
    """One channel in pascals, filtered and interpolated onto ``npts`` samples from ``start``."""
    tr = tr.copy()
    tr.data = np.asarray(tr.data, dtype=np.float64)
    rate, model_rate = float(tr.stats.sampling_rate), 1.0 / dt
    end = start + (npts - 1) * dt
    slack = 1e-3 * tr.stats.delta
    if tr.stats.starttime > start + slack or tr.stats.endtime < end - slack:
        raise ValueError(
            f"channel {tr.id} covers {tr.stats.starttime} - {tr.stats.endtime}, too short for the "
            f"window {start} - {end} ({npts} samples at {dt} s, noise window included)"
        )
    tr.trim(start - options.margin_s, end + options.margin_s)
    _check_samples(tr, options)
    if rate < model_rate * (1 - 1e-9) and not options.allow_upsampling:
        raise ValueError(
            f"channel {tr.id} is sampled at {rate:g} Hz, below the emulators' {model_rate:g} Hz: "
            "it lacks part of their band (pass WaveformOptions(allow_upsampling=True) if the "
            "data are band-limited)"
        )
    band = options.bandpass_hz
    if band is not None and band[1] >= 0.5 * min(rate, model_rate):
        raise ValueError(
            f"channel {tr.id}: the band-pass corner {band[1]} Hz is not below the Nyquist "
            f"frequency {0.5 * min(rate, model_rate):g} Hz"
        )
    if inventory is not None and options.instrument != "none":
        _remove_instrument(tr, inventory, options)
    if options.detrend is not None:
        tr.detrend(options.detrend)
    filtering = band is not None or rate > model_rate * (1 + 1e-9)
    if filtering and options.taper_s > 0:
        if tr.stats.starttime > start - options.taper_s or tr.stats.endtime < end + options.taper_s:
            warnings.warn(
                f"channel {tr.id}: the {options.taper_s} s taper before filtering reaches into "
                "the window; record longer traces around it",
                stacklevel=4,
            )
        tr.taper(max_percentage=0.5, type="hann", max_length=options.taper_s)
    if band is not None:
        tr.filter(
            "bandpass", freqmin=band[0], freqmax=band[1],
            corners=int(options.filter_corners), zerophase=options.zerophase,
        )  # fmt: skip
    if rate > model_rate * (1 + 1e-9):
        tr.filter(
            "lowpass", freq=options.antialias * 0.5 * model_rate,
            corners=int(options.filter_corners), zerophase=options.zerophase,
        )  # fmt: skip
    tr.interpolate(
        model_rate, method="lanczos", starttime=start, npts=npts, a=int(options.lanczos_a)
    )
    return np.asarray(tr.data, dtype=np.float64)


def _remove_instrument(tr: Trace, inventory, options: WaveformOptions) -> None:
    try:
        response = inventory.get_response(tr.id, tr.stats.starttime)
    except Exception:  # no response for the channel: its data are taken as pascals
        return
    sens = response.instrument_sensitivity
    if sens is None or not sens.value:
        return
    units = (sens.input_units or "").upper()
    if options.input_units is not None and units != options.input_units.upper():
        raise ValueError(
            f"channel {tr.id}: the instrument's input units are {units or 'unset'}, not "
            f"{options.input_units} (a pressure sensor is needed; set "
            "WaveformOptions(input_units=None) to accept them)"
        )
    if options.instrument == "sensitivity":
        tr.remove_sensitivity(inventory)
    else:
        tr.remove_response(inventory, output="DEF")


def trigger_time(
    stream: Stream,
    *,
    channel: str = "*",
    sta_s: float = 0.05,
    lta_s: float = 1.0,
    on: float = 4.0,
    off: float = 1.5,
) -> UTCDateTime:
    """The earliest STA/LTA trigger over a stream's channels: a first arrival.

    Each channel's recursive STA/LTA (ObsPy's ``Trace.trigger("recstalta")``, after removing
    its mean) is scanned by ``obspy.signal.trigger.trigger_onset``; the earliest onset over the
    channels is returned. A reference time for :func:`read_waveforms` is then this time minus a
    typical travel time to the nearest receiver, so that the origin time falls within the
    prior's ``t0`` window.

    Args:
        stream: the recording (unchanged), with at least ``lta_s`` of data before the event.
        channel: channels to scan (an ObsPy ``select`` pattern).
        sta_s, lta_s: short and long averaging windows, s.
        on, off: STA/LTA ratios that start and end a trigger.

    Raises:
        ValueError: no channel, or no trigger on any channel (named with the settings).
    """
    from obspy.signal.trigger import trigger_onset

    st = stream.select(channel=channel)
    if not len(st):
        raise ValueError(f"no channel matches {channel!r} for the trigger")
    onsets = []
    for tr in st:
        tr = tr.copy()
        tr.data = np.asarray(tr.data, dtype=np.float64)
        tr.detrend("demean")
        tr.trigger("recstalta", sta=sta_s, lta=lta_s)
        found = trigger_onset(tr.data, on, off)
        if len(found):
            onsets.append(tr.stats.starttime + found[0][0] * tr.stats.delta)
    if not onsets:
        raise ValueError(
            f"no STA/LTA trigger (sta {sta_s} s, lta {lta_s} s, on {on}) on any of "
            + ", ".join(tr.id for tr in st)
            + "; give the reference time yourself or lower `on`"
        )
    return min(onsets)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _split_code(code: str, network: str) -> tuple[str, str]:
    return tuple(code.split(".", 1)) if "." in code else (network, code)  # type: ignore[return-value]


def observation_to_stream(
    obs: Observation,
    reference_time=None,
    *,
    network: str = "XX",
    channel: str = "HDH",
    location: str = "",
    sensitivity: float | None = None,
    pre_event=None,
    dtype=np.float64,
) -> Stream:
    """An ObsPy stream of an observation's traces.

    Args:
        obs: the observation (traces in pascals).
        reference_time: the time of the window's first sample (default: the observation's).
        network, channel, location: SEED codes (a station code ``NET.STA`` sets its network).
        sensitivity: counts per pascal: the data are multiplied by it (a recording to be read
            back with the inventory of :func:`~jaxseis.io.stations.station_inventory` with the
            same sensitivity); ``None`` writes pascals.
        pre_event: ``[n_receivers, n_pre]`` samples (Pa) placed before the window (e.g. noise
            for a noise window), or ``None``.
        dtype: the data type written (``np.int32`` rounds to whole counts).

    Raises:
        ValueError: no reference time, or a ``pre_event`` of the wrong shape.
    """
    ref = reference_time if reference_time is not None else obs.reference_time
    if ref is None:
        raise ValueError(
            "the observation has no reference time: pass reference_time=UTCDateTime(...)"
        )
    ref = UTCDateTime(ref)
    data = np.asarray(obs.traces, dtype=np.float64)
    n_pre = 0
    if pre_event is not None:
        pre = np.asarray(pre_event, dtype=np.float64)
        if pre.ndim != 2 or pre.shape[0] != obs.n_receivers:
            raise ValueError(
                f"pre_event must be [{obs.n_receivers}, n_pre]; got shape {list(pre.shape)}"
            )
        n_pre = pre.shape[1]
        data = np.concatenate([pre, data], axis=1)
    if sensitivity is not None:
        data = data * float(sensitivity)
    if np.issubdtype(np.dtype(dtype), np.integer):
        data = np.rint(data)
    stream = Stream()
    for code, row in zip(obs.stations, data, strict=True):
        net, sta = _split_code(code, network)
        stats = {
            "network": net, "station": sta, "location": location, "channel": channel,
            "sampling_rate": 1.0 / obs.dt, "starttime": ref - n_pre * obs.dt,
        }  # fmt: skip
        stream += Trace(np.ascontiguousarray(row.astype(dtype)), header=stats)
    return stream


def write_waveforms(
    obs: Observation,
    path_pattern: str | Path,
    reference_time=None,
    *,
    format: str = "MSEED",
    **stream_options,
) -> list[Path]:
    """Write an observation's traces with ObsPy (atomically); returns the paths written.

    Args:
        obs: the observation.
        path_pattern: a file name; with ``{network}``, ``{station}``, ``{location}``,
            ``{channel}`` or ``{event}`` fields, one file per trace (SAC needs one).
        reference_time: see :func:`observation_to_stream`.
        format: an ObsPy write format (``"MSEED"``, ``"SAC"``, ...).
        **stream_options: passed to :func:`observation_to_stream`.

    Raises:
        ValueError: a single-file pattern for a one-trace-per-file format.
    """
    stream = observation_to_stream(obs, reference_time, **stream_options)
    pattern = str(path_pattern)
    per_trace = "{" in pattern
    if not per_trace and format.upper() == "SAC" and len(stream) > 1:
        raise ValueError("SAC holds one trace per file: put {station} in the path pattern")
    groups = [Stream([tr]) for tr in stream] if per_trace else [stream]
    paths = []
    for group in groups:
        s = group[0].stats
        path = Path(
            pattern.format(
                network=s.network,
                station=s.station,
                location=s.location,
                channel=s.channel,
                event=obs.event_id,
            )
        )
        with atomic_path(path) as tmp:
            group.write(str(tmp), format=format)
        paths.append(path)
    return paths
