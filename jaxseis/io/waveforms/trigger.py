"""A reference time from the data: the earliest STA/LTA trigger over a stream's channels
(:func:`trigger_time`)."""

from __future__ import annotations

import numpy as np
from obspy import Stream, UTCDateTime

__all__ = ["trigger_time"]


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
