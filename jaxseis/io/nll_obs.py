"""NonLinLoc phase files (``NLLOC_OBS``): arrival-time picks in and out.

One line per pick, fields separated by spaces (NonLinLoc's ``WriteArrival``)::

    STA    INS  CMP  ON PHASE  FM YYYYMMDD HHMM SSS.SSSS GAU ERR COD AMP PER [PRIORWT]

station (at most 6 characters here), instrument, component, onset, phase, first motion, date,
hour and minute, seconds (``%9.4f``: 0.1 ms), error type (``GAU``: Gaussian), error (one standard
deviation, s), coda duration, amplitude, period and an optional a-priori weight (0: do not use).

**Events.** A blank line ends an event; a file may hold many. ``PUBLIC_ID <id>`` names the event
whose picks follow; lines starting with ``#`` are comments. NonLinLoc also ends an event at any
line it cannot read as a pick (a comment included) and silently drops malformed lines; the
reader here skips comments inside an event and reports every malformed line with its line
number instead. ``QUALITY`` and ``FOCALMECH`` lines (which NonLinLoc accepts in phase files) are
skipped.

**Times.** Picks are :class:`~jaxseis.picking.Picks` in seconds after a reference time, an
:class:`obspy.UTCDateTime` (or :class:`datetime.datetime`, taken as UTC).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from obspy import UTCDateTime

from jaxseis.files import write_text
from jaxseis.picking import Picks

__all__ = [
    "REFERENCE_TIME",
    "PickEvent",
    "format_nlloc_obs",
    "read_nlloc_obs",
    "write_nlloc_obs",
    "write_nlloc_obs_events",
]

REFERENCE_TIME = UTCDateTime(2000, 1, 1)
"""Default absolute time of pick time 0 s in written phase files (an arbitrary date)."""

_OBS_FORMAT = (
    "{sta:<6s} {inst:<4s} {comp:<4s} {onset:1s} {phase:<6s} {fm:1s} {date:8s} {hm:4s} "
    "{sec:9.4f} GAU {err:9.2e} {coda:9.2e} {amp:9.2e} {per:9.2e}"
)
_SKIPPED_KEYWORDS = ("QUALITY", "FOCALMECH")
_MAX_REPORTED = 5


class PickEvent(NamedTuple):
    """The picks of one event of a phase file.

    Attributes:
        picks: :class:`~jaxseis.picking.Picks` of one phase, times in s after
            ``reference_time``, errors in s, one station label per pick.
        reference_time: absolute time of pick time 0.
        public_id: the event's ``PUBLIC_ID`` (``None`` if the file gives none).
        line_numbers: 1-based line of each pick in the file (``()`` for events built in memory).
    """

    picks: Picks
    reference_time: UTCDateTime
    public_id: str | None = None
    line_numbers: tuple[int, ...] = ()


def _check_label(label: str) -> None:
    if not label or len(label) > 6 or any(ch.isspace() for ch in label):
        raise ValueError(f"station label {label!r} must have 1-6 characters and no spaces")


def _split_time(absolute: UTCDateTime) -> tuple[str, str, float]:
    """Date ``yyyymmdd``, ``hhmm`` and seconds in that minute, rounded to 0.1 ms."""
    t = UTCDateTime(ns=round(absolute.ns / 100_000) * 100_000)
    minute = UTCDateTime(t.year, t.month, t.day, t.hour, t.minute)
    return minute.strftime("%Y%m%d"), minute.strftime("%H%M"), float(t - minute)


def format_nlloc_obs(
    picks: Picks,
    *,
    phase: str = "P",
    reference_time: UTCDateTime | _dt.datetime = REFERENCE_TIME,
    public_id: str | None = None,
) -> str:
    """The lines of one event of a phase file (no trailing blank line).

    Each pick becomes ``label ? ? ? <phase> ? date hhmm seconds GAU error -1 -1 -1`` (coda,
    amplitude and period not measured), as NonLinLoc writes it; pick time ``t`` (s) is written
    as the absolute time ``reference_time + t`` rounded to 0.1 ms.

    Raises:
        ValueError: NaN picks, non-positive errors, missing or bad labels, or a bad phase code.
    """
    times = np.asarray(picks.times_s, dtype=np.float64).reshape(-1)
    errors = np.broadcast_to(np.asarray(picks.errors_s, dtype=np.float64), times.shape)
    labels = tuple(picks.labels) if picks.labels else ()
    if len(labels) != times.size:
        raise ValueError(f"picks need one station label per pick ({times.size} picks)")
    if not np.all(np.isfinite(times)):
        raise ValueError("cannot write NaN or infinite picks")
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        raise ValueError("pick errors must be positive (NLLoc divides by them)")
    for s in labels:
        _check_label(s)
    if not phase or len(phase) > 6 or any(ch.isspace() for ch in phase):
        raise ValueError(f"phase {phase!r} must have 1-6 characters and no spaces")
    reference = UTCDateTime(reference_time)
    lines = [] if public_id is None else [f"PUBLIC_ID {public_id}"]
    for label, t, err in zip(labels, times, errors, strict=True):
        date, hm, sec = _split_time(reference + float(t))
        lines.append(
            _OBS_FORMAT.format(
                sta=label, inst="?", comp="?", onset="?", phase=phase, fm="?", date=date, hm=hm,
                sec=sec, err=err, coda=-1.0, amp=-1.0, per=-1.0,
            )
        )  # fmt: skip
    return "\n".join(lines)


def _comment_lines(comment: str | None) -> list[str]:
    return [] if comment is None else [f"# {line}" for line in comment.splitlines()]


def write_nlloc_obs(
    path: str | Path,
    picks: Picks,
    *,
    phase: str = "P",
    reference_time: UTCDateTime | _dt.datetime = REFERENCE_TIME,
    comment: str | None = None,
    public_id: str | None = None,
) -> Path:
    """Write the picks of one event as a NonLinLoc phase file (atomically).

    See :func:`format_nlloc_obs`; ``comment`` lines are written first, prefixed with ``#``.

    Returns:
        The path written.
    """
    body = format_nlloc_obs(picks, phase=phase, reference_time=reference_time, public_id=public_id)
    return write_text(path, "\n".join([*_comment_lines(comment), body]) + "\n\n")


def write_nlloc_obs_events(
    path: str | Path,
    events: Sequence[PickEvent],
    *,
    phase: str = "P",
    comment: str | None = None,
) -> Path:
    """Write several events to one phase file, separated by blank lines (atomically).

    Returns:
        The path written.

    Raises:
        ValueError: no events, or a bad event (see :func:`format_nlloc_obs`).
    """
    if not events:
        raise ValueError("events is empty: nothing to write")
    blocks = [
        format_nlloc_obs(
            e.picks, phase=phase, reference_time=e.reference_time, public_id=e.public_id
        )
        for e in events
    ]
    head = _comment_lines(comment)
    return write_text(path, ("\n".join(head) + "\n" if head else "") + "\n\n".join(blocks) + "\n\n")


class _Pick(NamedTuple):
    line: int
    label: str
    time: UTCDateTime
    error: float


def _parse_pick(fields: list[str], default_error_s: float | None) -> tuple:
    """``(label, phase, time, error, prior_weight)`` of a pick line; a ``ValueError`` says why
    the line is not one."""
    if len(fields) < 11:
        raise ValueError(f"expected at least 11 fields (station ... error), got {len(fields)}")
    label, phase, date, hm = fields[0], fields[4], fields[6], fields[7]
    if len(date) != 8 or not date.isdigit():
        raise ValueError(f"date {date!r} is not yyyymmdd")
    if not hm.isdigit() or len(hm) > 4:
        raise ValueError(f"hour-minute {hm!r} is not hhmm")
    hour, minute = divmod(int(hm), 100)
    if hour > 23 or minute > 59:
        raise ValueError(f"hour-minute {hm!r} out of range")
    try:
        day = UTCDateTime(int(date[:4]), int(date[4:6]), int(date[6:]))
    except ValueError:
        raise ValueError(f"date {date!r} is not a valid day") from None
    try:
        sec = float(fields[8])
        error = float(fields[10])
    except ValueError:
        raise ValueError(f"seconds {fields[8]!r} or error {fields[10]!r} is not a number") from None
    if not (np.isfinite(sec) and np.isfinite(error)):
        raise ValueError("seconds and error must be finite")
    if fields[9] != "GAU":
        raise ValueError(f"error type {fields[9]!r}; only GAU (Gaussian, s) is supported")
    if error <= 0:
        if default_error_s is None:
            raise ValueError(
                f"error {error:g} s is not positive (NonLinLoc takes it from LOCQUAL2ERR); "
                "pass default_error_s to use a default"
            )
        error = float(default_error_s)
    weight = 1.0
    if len(fields) > 14:
        try:
            weight = float(fields[14])
        except ValueError:
            raise ValueError(f"a-priori weight {fields[14]!r} is not a number") from None
    return label, phase, day + (3600 * hour + 60 * minute + sec), error, weight


def read_nlloc_obs(
    path: str | Path,
    *,
    phase: str | Sequence[str] = "P",
    reference_time: UTCDateTime | _dt.datetime | None = None,
    default_error_s: float | None = None,
) -> list[PickEvent]:
    """Read the picks of one phase from a NonLinLoc phase file, event by event.

    Picks of other phases are skipped, as are picks with an a-priori weight of 0. Events
    without a pick of ``phase`` are left out.

    Args:
        path: the phase file.
        phase: the phase code to select, or several codes taken as the same phase (e.g.
            ``("P", "Pg", "p")``).
        reference_time: absolute time of pick time 0 for every event (default: each event's
            earliest selected pick).
        default_error_s: error (s) for picks whose error is not positive (NonLinLoc then uses
            its ``LOCQUAL2ERR``); without it such picks are errors.

    Returns:
        A list of :class:`PickEvent`, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is not text, malformed pick lines (every one listed with its
            line number, up to 5 in the message), two picks of one station in an event, or no
            pick of ``phase`` in the whole file (the phases found are named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"phase file {path} does not exist")
    if default_error_s is not None and not (np.isfinite(default_error_s) and default_error_s > 0):
        raise ValueError(f"default_error_s must be positive, got {default_error_s}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (NLLOC_OBS files are text)") from None
    wanted = {phase} if isinstance(phase, str) else set(phase)
    bad: list[str] = []
    seen_phases: set[str] = set()
    raw_events: list[tuple[str | None, list[_Pick]]] = []
    public_id, current = None, []

    def close():
        nonlocal public_id, current
        if current:
            raw_events.append((public_id, current))
        public_id, current = None, []

    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            close()
            continue
        if stripped.startswith("#"):
            continue
        fields = stripped.split(">")[0].split()
        if not fields:
            bad.append(f"line {n}: no pick before '>': {stripped[:80]!r}")
            continue
        if fields[0] == "PUBLIC_ID":
            close()
            public_id = fields[1] if len(fields) > 1 else None
            continue
        if fields[0] in _SKIPPED_KEYWORDS:
            continue
        try:
            label, ph, time, error, weight = _parse_pick(fields, default_error_s)
        except ValueError as exc:
            bad.append(f"line {n}: {exc}: {stripped[:80]!r}")
            continue
        seen_phases.add(ph)
        if ph in wanted and weight != 0:
            current.append(_Pick(n, label, time, error))
    close()
    if bad:
        more = f" (and {len(bad) - _MAX_REPORTED} more)" if len(bad) > _MAX_REPORTED else ""
        raise ValueError(
            f"{path}: {len(bad)} malformed pick lines{more}: " + "; ".join(bad[:_MAX_REPORTED])
        )
    events = []
    for pid, picks in raw_events:
        lines_of: dict[str, int] = {}
        for p in picks:
            if p.label in lines_of:
                raise ValueError(
                    f"{path}: station {p.label} has two {sorted(wanted)} picks in one event "
                    f"(lines {lines_of[p.label]} and {p.line}); keep one"
                )
            lines_of[p.label] = p.line
        ref = min(p.time for p in picks) if reference_time is None else UTCDateTime(reference_time)
        events.append(
            PickEvent(
                Picks(
                    np.array([p.time - ref for p in picks]),
                    np.array([p.error for p in picks]),
                    tuple(p.label for p in picks),
                ),
                ref,
                pid,
                tuple(p.line for p in picks),
            )
        )
    if not events:
        found = ", ".join(sorted(seen_phases)) or "none"
        raise ValueError(f"{path}: no pick of phase {sorted(wanted)} (phases found: {found})")
    return events
