"""Synthetic observations written out: an ObsPy stream of an observation's traces
(:func:`observation_to_stream`, pascals or counts, optionally with samples before the window)
and files of it in any format ObsPy writes (:func:`write_waveforms`, atomically). Station
metadata to read them back come from :func:`jaxseis.io.stations.station_inventory`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from obspy import Stream, Trace, UTCDateTime

from jaxseis.files import atomic_path
from jaxseis.observation import Observation

__all__ = ["observation_to_stream", "write_waveforms"]


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
