"""Located events to files: one event's QuakeML and NonLinLoc ``.hyp``, a catalogue's QuakeML,
the posterior draws as NetCDF.

The writers of :mod:`jaxseis.io.quakeml` and :mod:`jaxseis.io.nll_hyp` need a reference time
(the origin time is ``reference_time + t0``) and, for QuakeML, a geographic transform. Real
observations carry their reference time; synthetic ones (the bundled data, simulations) have
none and get :data:`SYNTHETIC_REFERENCE_TIME`, and without a transform the model frame is
placed by :data:`PLACEHOLDER_TRANSFORM`. Both placeholders are stated in the files' comments
through the transform and the summary they hold; give the real ones for real data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from jaxseis.io.coordinates import GeoTransform

__all__ = [
    "PLACEHOLDER_TRANSFORM",
    "SYNTHETIC_REFERENCE_TIME",
    "catalogue_events",
    "quakeml_id",
    "read_inference_data",
    "reference_time_of",
    "write_event_files",
    "write_inference_data",
]

SYNTHETIC_REFERENCE_TIME = "2000-01-01T00:00:00Z"
"""Reference time given to observations without one (synthetic data): their ``t0`` is then
the origin time after this instant."""

PLACEHOLDER_TRANSFORM = GeoTransform(0.0, 0.0)
"""The model frame placed at 0 N 0 E with ``x`` east, for QuakeML of synthetic events (QuakeML
needs latitude and longitude)."""


def reference_time_of(obs=None, default: str = SYNTHETIC_REFERENCE_TIME):
    """The observation's reference time as ``obspy.UTCDateTime`` (``default`` if it has none)."""
    from obspy import UTCDateTime

    ref = getattr(obs, "reference_time", None)
    return UTCDateTime(ref if ref is not None else default)


def quakeml_id(event_id) -> str | None:
    """An event id usable in QuakeML resource ids (other characters become ``_``), or None."""
    text = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(event_id))[:64]
    return text or None


def write_event_files(
    stem: str | Path,
    summary,
    obs,
    *,
    transform: GeoTransform | None = None,
    emulators: str | None = None,
) -> dict[str, Path]:
    """Write one located event as QuakeML (``stem.xml``) and NonLinLoc ``stem.hyp``.

    Args:
        stem: path without suffix.
        summary: the location summary (:func:`jaxseis.summary_dict`).
        obs: the :class:`~jaxseis.observation.Observation` (reference time, stations,
            receivers, event id).
        transform: the geographic transform (default :data:`PLACEHOLDER_TRANSFORM`).
        emulators: a description of the emulator set (a comment).

    Returns:
        ``{"quakeml": path, "hyp": path}``.
    """
    from jaxseis.io.nll_hyp import write_hyp
    from jaxseis.io.quakeml import event_from_summary, write_quakeml

    geo = PLACEHOLDER_TRANSFORM if transform is None else transform
    ref = reference_time_of(obs)
    event_id = quakeml_id(obs.event_id)
    stem = Path(stem)
    event = event_from_summary(
        summary,
        ref,
        stations=obs.stations,
        transform=geo,
        emulators=emulators,
        receivers_km=obs.receivers_km,
        event_id=event_id,
    )
    xml = write_quakeml(stem.with_suffix(".xml"), event)
    hyp = write_hyp(
        stem.with_suffix(".hyp"),
        summary,
        ref,
        transform=geo,
        stations=obs.stations,
        receivers_km=obs.receivers_km,
        event_id=event_id,
    )
    return {"quakeml": xml, "hyp": hyp}


def catalogue_events(
    records: Sequence[dict],
    observations: Sequence = (),
    *,
    transform: GeoTransform | None = None,
    emulators: str | None = None,
) -> list:
    """ObsPy events of a catalogue's located records (``status == "ok"``; the others are
    skipped), in order.

    Args:
        records: catalogue records (:func:`jaxseis.catalogue.locate_catalogue`).
        observations: the events' observations, matched by ``event_id`` (reference times,
            stations, receivers); records without one get the synthetic reference time.
        transform: the geographic transform (default :data:`PLACEHOLDER_TRANSFORM`).
        emulators: a description of the emulator set.
    """
    from jaxseis.io.quakeml import event_from_summary

    geo = PLACEHOLDER_TRANSFORM if transform is None else transform
    by_id = {str(o.event_id): o for o in observations}
    events = []
    for rec in records:
        if rec.get("status") != "ok":
            continue
        obs = by_id.get(str(rec["event_id"]))
        events.append(
            event_from_summary(
                rec,
                reference_time_of(obs),
                transform=geo,
                emulators=emulators,
                stations=() if obs is None else obs.stations,
                receivers_km=None if obs is None else obs.receivers_km,
                event_id=quakeml_id(rec["event_id"]),
            )
        )
    return events


def write_inference_data(path: str | Path, idata) -> Path:
    """Write a :func:`jaxseis.locate` result as NetCDF (``arviz.from_netcdf`` reads it), atomically.

    NetCDF attributes hold only strings, numbers and arrays: the others (dicts, booleans,
    ``None``, nested lists) are stored as JSON text under the same name.
    """
    from jaxseis.files import atomic_path

    out = idata.copy()
    for group in out.groups():
        ds = getattr(out, group)
        ds.attrs = {k: _netcdf_attr(v) for k, v in ds.attrs.items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        out.to_netcdf(str(tmp))
    return path


def read_inference_data(path: str | Path):
    """Read a result written by :func:`write_inference_data`: the attributes stored as JSON
    text (dicts, booleans, ``None``, nested lists) are decoded again, so that
    :func:`jaxseis.summary_dict` and :func:`jaxseis.inference.diagnose` work on it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file arviz cannot read.
    """
    import json

    import arviz

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"posterior file {path} not found")
    try:
        idata = arviz.from_netcdf(str(path))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"cannot read the posterior file {path}: {err}") from err
    for group in idata.groups():
        ds = getattr(idata, group)
        for key, value in list(ds.attrs.items()):
            if isinstance(value, str) and value[:1] in "[{tfn":
                try:
                    decoded = json.loads(value)
                except ValueError:
                    continue
                if decoded is None or isinstance(decoded, dict | list | bool):
                    ds.attrs[key] = decoded
    return idata


def _netcdf_attr(value):
    import json

    import numpy as np

    from jaxseis.files import json_ready

    if isinstance(value, str) or (
        isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)
    ):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        a = np.asarray(value)
        if a.ndim == 1 and a.size and a.dtype.kind in "iuf":
            return a
    try:
        return json.dumps(json_ready(value))
    except (TypeError, ValueError):
        return str(value)
