"""Checks of recorded channels before they are used: the selected channels of a stream, merged
and one per station (:func:`checked_stream`), and each channel's samples around the window
(:func:`check_samples`). Every problem is a ``ValueError`` naming the channel and the fix."""

from __future__ import annotations

import math

import numpy as np
from obspy import Stream, Trace, UTCDateTime

from jaxseis.io.waveforms.options import WaveformOptions

__all__ = ["check_samples", "checked_stream"]


def checked_stream(
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


def check_samples(tr: Trace, options: WaveformOptions) -> None:
    """Refuse a channel with fewer than 2 samples, NaN or infinite samples, no variation (a
    dead channel) or a run of ``options.clip_run`` samples at its extreme (clipped)."""
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
