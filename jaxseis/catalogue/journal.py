"""The catalogue's record file: one JSON line per event, appended as results arrive.

A run writes each finished event's record at once (one ``write`` per batch of records,
flushed and synced to disk), so a crash, a kill or a lost worker loses at most the events in
flight, and a re-run skips every event that already has a record (:meth:`Journal.done`). A line
torn by a crash in the middle of a write is not a record: it is ignored when reading and cut
off before the next append. :func:`write_table` writes the finished catalogue as one CSV row
per event, atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from jaxseis.files import atomic_path, json_ready
from jaxseis.likelihood.base import PARAMS

__all__ = ["TABLE_COLUMNS", "Journal", "write_table"]


class Journal:
    """An append-only JSON-lines file of event records (each with an ``event_id``).

    Args:
        path: the file (created on the first append; its directory must be writable).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def records(self) -> list[dict]:
        """The complete records in the file, in order (a torn last line is skipped).

        Raises:
            ValueError: a complete line that is not a JSON object with an ``event_id``.
        """
        if not self.path.exists():
            return []
        out = []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        complete = lines[:-1]  # the part after the last newline is torn or empty
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(
                    f"{self.path}, line {number}: not a JSON record; the file is not a jaxseis "
                    "catalogue journal (or was edited); move it away to start afresh"
                ) from None
            if not isinstance(rec, dict) or "event_id" not in rec:
                raise ValueError(f"{self.path}, line {number}: a record needs an event_id")
            out.append(rec)
        return out

    def done(self) -> set[str]:
        """Ids of the events that have a record (failed ones included)."""
        return {str(r["event_id"]) for r in self.records()}

    def append(self, records: Iterable[dict]) -> None:
        """Append records as complete lines, in one write, flushed and synced."""
        lines = [json.dumps(json_ready(r), allow_nan=False, separators=(",", ":")) for r in records]
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            self._cut_torn_line(f)
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _cut_torn_line(f) -> None:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)
        f.seek(0, os.SEEK_END)


TABLE_COLUMNS = (
    ["event_id", "status"]
    + [f"{p}_mean" for p in PARAMS]
    + [f"{p}_std" for p in PARAMS]
    + [f"{p}_q2_5" for p in PARAMS]
    + [f"{p}_q97_5" for p in PARAMS]
    + ["relative_magnitude", "method", "rhat_max", "ess_min", "modes", "error"]
)
"""Columns of the catalogue table: positions in km (model coordinates), t0 in s relative to
the observation's reference time, log_amplitude natural log."""


def write_table(records: Iterable[dict], path: str | Path) -> Path:
    """The catalogue as CSV, one row per record (:data:`TABLE_COLUMNS`), written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TABLE_COLUMNS)
    for r in records:
        ok = r.get("status") == "ok"
        row = [r.get("event_id"), r.get("status")]
        for key in ("mean", "std", "q2_5", "q97_5"):
            row += list(r[key]) if ok else [""] * len(PARAMS)
        mag = r.get("relative_magnitude")
        row += [
            "" if not ok or mag is None else mag["mean"],
            r.get("method", ""),
            _blank(r.get("rhat_max")),
            _blank(r.get("ess_min")),
            _blank(r.get("global_stage_modes_used")),
            r.get("error", ""),
        ]
        writer.writerow(row)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _blank(value):
    return "" if value is None else value
