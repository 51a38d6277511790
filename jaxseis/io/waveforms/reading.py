"""Recorded traces in: an :class:`~jaxseis.observation.Observation` from waveform files
(:func:`read_waveforms`) or an ObsPy ``Stream`` (:func:`observation_from_stream`).

The channels are checked (:mod:`jaxseis.io.waveforms.checks`), matched to the emulators'
receivers by position, prepared (:mod:`jaxseis.io.waveforms.processing`) and given a noise
model; :func:`model_window` reads the receivers, ``dt`` and ``n_samples`` of the model.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from obspy import Stream, UTCDateTime, read

from jaxseis.io.coordinates import GeoTransform
from jaxseis.io.stations import StationTable, read_stations, station_positions
from jaxseis.io.waveforms.checks import checked_stream
from jaxseis.io.waveforms.options import WaveformOptions
from jaxseis.io.waveforms.processing import prepare_trace
from jaxseis.noise import WhiteNoise, estimate_noise
from jaxseis.observation import Observation, make_observation

__all__ = [
    "match_stations",
    "model_window",
    "observation_from_stream",
    "read_stream",
    "read_waveforms",
]


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
    st = checked_stream(stream, options, start - options.margin_s, end + options.margin_s)
    ids = [tr.id for tr in st]
    positions = station_positions(stations, ids, ref, transform)
    order = match_stations(ids, positions, r_model, options)
    st = Stream([st[i] for i in order])

    inventory = None if isinstance(stations, StationTable) else stations
    rows = [prepare_trace(tr, inventory, start, n_noise + n, dt, options) for tr in st]
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


def match_stations(ids, positions, receivers, options: WaveformOptions) -> list[int]:
    """For each model receiver, the index of the channel at its position.

    Args:
        ids: channel ids ``[n_channels]``.
        positions: the channels' positions ``[n_channels, 3]``, km.
        receivers: the emulators' receivers ``[n_receivers, 3]``, km.
        options: ``tol_km`` and ``extra_stations`` are used.

    Raises:
        ValueError: a station that matches no receiver (unless ignored), two receivers, or a
            receiver without a station.
    """
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
