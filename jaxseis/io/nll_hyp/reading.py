"""NonLinLoc location files read: the events of a ``.hyp`` file, jaxseis's or NonLinLoc's own
(:func:`read_hyp`), as :class:`HypEvent` with their :class:`HypArrival` lines. The lines and
conventions are described in :mod:`jaxseis.io.nll_hyp`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from obspy import UTCDateTime

from jaxseis.io.coordinates import DEFAULT_SURFACE_Z_KM, GeoTransform, parse_transform_line
from jaxseis.io.ellipsoid import Ellipsoid, HorizontalEllipse

__all__ = ["HypArrival", "HypEvent", "read_hyp"]

_REQUIRED = ("HYPOCENTER", "GEOGRAPHIC", "STATISTICS")


class HypArrival(NamedTuple):
    """One ``PHASE`` line: station, phase, absolute time, error (s), predicted travel time
    (s, -1: unknown), residual (s) and weight."""

    label: str
    phase: str
    time: UTCDateTime
    error_s: float
    predicted_s: float
    residual_s: float
    weight: float


class HypEvent(NamedTuple):
    """One event of a ``.hyp`` file.

    Attributes:
        origin_time: ``GEOGRAPHIC`` origin time.
        expectation_local_km: ``STATISTICS`` expectation ``[3]`` in NonLinLoc's frame
            (x, y, depth).
        hypocenter_local_km: ``HYPOCENTER`` ``[3]`` (x, y, depth).
        covariance_local_km2: ``[3, 3]`` covariance in NonLinLoc's frame (x, y, depth).
        latitude_deg, longitude_deg, depth_km: ``GEOGRAPHIC`` position.
        transform: the ``TRANSFORM`` line as a :class:`GeoTransform` (``None`` for ``NONE``,
            or a transform jaxseis does not map; ``transform_line`` holds it).
        transform_line: the ``TRANSFORM`` line.
        surface_z_km: model ``z`` of depth 0 (given, or from a jaxseis ``SEARCH`` line), or
            ``None`` when unknown.
        status: the location status (``LOCATED``, ``ABORTED``, ...).
        public_id, signature, comment: the text lines (``public_id`` ``None`` for ``None``).
        search: the ``SEARCH`` line's tokens after the first, as key -> value text.
        quality: ``QUALITY`` values (``RMS``, ``Nphs``, ``Gap``, ``Dist``, ``Mamp``, ...).
        ellipsoid_km: ``QML_ConfidenceEllipsoid`` (km, degrees), or ``None``.
        horizontal_km: ``QML_OriginUncertainty`` ellipse (km, degrees), or ``None``.
        arrivals: the ``PHASE`` lines.
        line: 1-based line of the ``NLLOC`` line in the file.
    """

    origin_time: UTCDateTime
    expectation_local_km: np.ndarray
    hypocenter_local_km: np.ndarray
    covariance_local_km2: np.ndarray
    latitude_deg: float
    longitude_deg: float
    depth_km: float
    transform: GeoTransform | None
    transform_line: str
    surface_z_km: float | None
    status: str
    public_id: str | None
    signature: str
    comment: str
    search: dict[str, str]
    quality: dict[str, float]
    ellipsoid_km: Ellipsoid | None
    horizontal_km: HorizontalEllipse | None
    arrivals: tuple[HypArrival, ...]
    line: int

    def _surface(self) -> float:
        if self.surface_z_km is None:
            raise ValueError(
                "the model z of depth 0 is unknown (not a jaxseis .hyp): pass surface_z_km to "
                "read_hyp"
            )
        return self.surface_z_km

    @property
    def expectation_km(self) -> np.ndarray:
        """``STATISTICS`` expectation ``[3]`` in model coordinates (km, ``z`` up)."""
        p = self.expectation_local_km.copy()
        p[2] = self._surface() - p[2]
        return p

    @property
    def hypocenter_km(self) -> np.ndarray:
        """``HYPOCENTER`` ``[3]`` in model coordinates (km, ``z`` up)."""
        p = self.hypocenter_local_km.copy()
        p[2] = self._surface() - p[2]
        return p

    @property
    def covariance_km2(self) -> np.ndarray:
        """The covariance ``[3, 3]`` in the model frame (``z`` up), km^2."""
        flip = np.diag([1.0, 1.0, -1.0])
        return flip @ self.covariance_local_km2 @ flip

    def t0_s(self, reference_time) -> float:
        """Origin time minus ``reference_time`` (s)."""
        return float(self.origin_time - UTCDateTime(reference_time))


def _floats(tokens: list[str], where: str) -> list[float]:
    try:
        return [float(v) for v in tokens]
    except ValueError:
        raise ValueError(f"{where}: expected numbers, got {' '.join(tokens)!r}") from None


def _keyed(tokens: list[str], keys: Sequence[str], where: str) -> dict[str, float]:
    """Values following each of ``keys`` in ``tokens`` (``KEY value KEY value ...``)."""
    out = {}
    for key in keys:
        if key not in tokens:
            raise ValueError(f"{where}: no {key} value")
        i = tokens.index(key)
        if i + 1 >= len(tokens):
            raise ValueError(f"{where}: {key} without a value")
        out[key] = _floats([tokens[i + 1]], f"{where} ({key})")[0]
    return out


def _quoted(line: str) -> list[str]:
    parts = line.split('"')
    return [parts[i] for i in range(1, len(parts) - 1, 2)]


def _parse_block(lines: list[tuple[int, str]], path, surface_z_km) -> HypEvent:
    first_n, first = lines[0]
    q = _quoted(first)
    status = q[1] if len(q) > 1 else ""
    tagged: dict[str, tuple[int, list[str], str]] = {}
    arrivals_raw: list[tuple[int, str]] = []
    in_phase = False
    for n, line in lines[1:-1]:
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "PHASE":
            in_phase = True
            continue
        if tokens[0] == "END_PHASE":
            in_phase = False
            continue
        if in_phase:
            arrivals_raw.append((n, line))
        else:
            tagged[tokens[0]] = (n, tokens[1:], line)
    if in_phase:
        raise ValueError(f"{path}:{first_n}: PHASE block without END_PHASE")
    missing = [k for k in _REQUIRED if k not in tagged]
    if missing:
        raise ValueError(f"{path}:{first_n}: event without {', '.join(missing)} line(s)")

    n, t, _ = tagged["HYPOCENTER"]
    where = f"{path}:{n}"
    hv = _keyed(t, ("x", "y", "z"), where)
    hypocenter = np.array([hv["x"], hv["y"], hv["z"]])

    n, t, _ = tagged["GEOGRAPHIC"]
    where = f"{path}:{n}"
    if len(t) < 7 or t[0] != "OT":
        raise ValueError(f"{where}: GEOGRAPHIC needs 'OT yyyy mm dd hh mm ss.s', got {t[:7]}")
    ymdhm = _floats(t[1:6], where)
    sec = _floats([t[6]], where)[0]
    try:
        origin_time = UTCDateTime(*(int(v) for v in ymdhm)) + sec
    except ValueError:
        raise ValueError(f"{where}: invalid origin time {' '.join(t[1:7])}") from None
    gv = _keyed(t, ("Lat", "Long", "Depth"), where)

    n, t, _ = tagged["STATISTICS"]
    where = f"{path}:{n}"
    sv = _keyed(t, ("ExpectX", "Y", "Z", "CovXX", "XY", "XZ", "YY", "YZ", "ZZ"), where)
    expectation = np.array([sv["ExpectX"], sv["Y"], sv["Z"]])
    cov = np.array(
        [
            [sv["CovXX"], sv["XY"], sv["XZ"]],
            [sv["XY"], sv["YY"], sv["YZ"]],
            [sv["XZ"], sv["YZ"], sv["ZZ"]],
        ]
    )

    search: dict[str, str] = {}
    if "SEARCH" in tagged:
        t = tagged["SEARCH"][1][1:]
        search = {t[i]: t[i + 1] for i in range(0, len(t) - 1, 2)}
    surface = surface_z_km
    if surface is None and tagged.get("SEARCH", (0, [""]))[1][:1] == ["JAXSEIS"]:
        surface = _floats([search.get("surface_z_km", "nan")], f"{path}: SEARCH surface_z_km")[0]
        surface = surface if math.isfinite(surface) else None

    transform_line = tagged["TRANSFORM"][2].strip() if "TRANSFORM" in tagged else ""
    transform = None
    if transform_line:
        try:
            transform = parse_transform_line(
                transform_line, DEFAULT_SURFACE_Z_KM if surface is None else surface
            )
        except ValueError:
            transform = None  # another projection: GEOGRAPHIC still holds the position

    quality: dict[str, float] = {}
    if "QUALITY" in tagged:
        n, t, _ = tagged["QUALITY"]
        for key in ("Pmax", "MFmin", "MFmax", "RMS", "Nphs", "Gap", "Dist", "Mamp", "Mdur"):
            if key in t and t.index(key) + 1 < len(t):
                quality[key] = _floats([t[t.index(key) + 1]], f"{path}:{n} ({key})")[0]

    ellipsoid = horizontal = None
    if "QML_ConfidenceEllipsoid" in tagged:
        n, t, _ = tagged["QML_ConfidenceEllipsoid"]
        keys = (
            "semiMajorAxisLength", "semiMinorAxisLength", "semiIntermediateAxisLength",
            "majorAxisPlunge", "majorAxisAzimuth", "majorAxisRotation",
        )  # fmt: skip
        ev = _keyed(t, keys, f"{path}:{n}")
        ellipsoid = Ellipsoid(*(ev[k] for k in keys))
    if "QML_OriginUncertainty" in tagged:
        n, t, _ = tagged["QML_OriginUncertainty"]
        hv = _keyed(t, ("minHorUnc", "maxHorUnc", "azMaxHorUnc"), f"{path}:{n}")
        horizontal = HorizontalEllipse(hv["minHorUnc"], hv["maxHorUnc"], hv["azMaxHorUnc"])

    arrivals = []
    for n, line in arrivals_raw:
        obs, _, calc = line.partition(">")
        f = obs.split()
        c = calc.split()
        where = f"{path}:{n}"
        if len(f) < 11 or len(c) < 3:
            raise ValueError(f"{where}: malformed PHASE line {line.strip()[:80]!r}")
        try:
            hour, minute = divmod(int(f[7]), 100)
            day = f[6]
            time = UTCDateTime(int(day[:4]), int(day[4:6]), int(day[6:8])) + (
                3600 * hour + 60 * minute + float(f[8])
            )
        except ValueError:
            raise ValueError(f"{where}: bad arrival time {' '.join(f[6:9])!r}") from None
        err, pred, res, weight = _floats([f[10], c[0], c[1], c[2]], where)
        arrivals.append(HypArrival(f[0], f[4], time, err, pred, res, weight))

    def text(key):
        if key not in tagged:
            return ""
        q = _quoted(tagged[key][2])
        return q[0] if q else " ".join(tagged[key][1])

    public_id = " ".join(tagged["PUBLIC_ID"][1]) if "PUBLIC_ID" in tagged else ""
    return HypEvent(
        origin_time=origin_time,
        expectation_local_km=expectation,
        hypocenter_local_km=hypocenter,
        covariance_local_km2=cov,
        latitude_deg=gv["Lat"],
        longitude_deg=gv["Long"],
        depth_km=gv["Depth"],
        transform=transform,
        transform_line=transform_line,
        surface_z_km=surface,
        status=status,
        public_id=None if public_id in ("", "None") else public_id,
        signature=text("SIGNATURE"),
        comment=text("COMMENT"),
        search=search,
        quality=quality,
        ellipsoid_km=ellipsoid,
        horizontal_km=horizontal,
        arrivals=tuple(arrivals),
        line=first_n,
    )


def read_hyp(path: str | Path, *, surface_z_km: float | None = None) -> list[HypEvent]:
    """Read the events of a NonLinLoc ``.hyp`` file (jaxseis's or NonLinLoc's own).

    Args:
        path: the file.
        surface_z_km: model ``z`` of depth 0 (km), for the model coordinates of the events
            (default: the value a jaxseis file records in its ``SEARCH`` line; unknown for other
            files, whose local coordinates are still read).

    Returns:
        A list of :class:`HypEvent`, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is not text, holds no ``NLLOC`` event, an ``NLLOC`` line without
            its ``END_NLLOC`` (or the reverse), an event without ``HYPOCENTER``,
            ``GEOGRAPHIC`` or ``STATISTICS``, a ``PHASE`` block without ``END_PHASE``, or a
            malformed value (each with its line number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NonLinLoc location file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (a .hyp file is text)") from None
    events, block = [], None
    for n, line in enumerate(text.splitlines(), start=1):
        head = line.split()[:1]
        if head == ["NLLOC"]:
            if block is not None:
                raise ValueError(
                    f"{path}:{n}: NLLOC line before the END_NLLOC of the event of line "
                    f"{block[0][0]}"
                )
            block = [(n, line)]
        elif head == ["END_NLLOC"]:
            if block is None:
                raise ValueError(f"{path}:{n}: END_NLLOC without an NLLOC line")
            block.append((n, line))
            events.append(_parse_block(block, path, surface_z_km))
            block = None
        elif block is not None:
            block.append((n, line))
    if block is not None:
        raise ValueError(f"{path}:{block[0][0]}: NLLOC event without END_NLLOC (truncated file?)")
    if not events:
        raise ValueError(f"{path}: no NonLinLoc event (no line starts with NLLOC)")
    return events
