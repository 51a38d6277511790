"""One event's observed data: the :class:`Observation`.

An observation holds what a location needs about one event and nothing about the model: the
traces ``[n_receivers, n_samples]`` at a sampling interval ``dt``, the receivers' positions (km,
model coordinates) and station codes, the noise model (:mod:`jaxseis.noise`), the reference
time the window starts at (the origin time ``t0`` of the event parameters is relative to it),
and optionally the true event parameters (synthetic data) and an event id.

Make one from

* the bundled or any simulated data: :func:`observe` (the traces of one event of a
  :class:`~jaxseis.dataset.Dataset` at given receivers, optionally delayed by ``t0`` and scaled,
  plus seeded noise);
* arrays: :func:`make_observation` (validated);
* files: :func:`read_observation` (a trace array ``.npy``/``.npz`` or an event of a dataset
  file) and :mod:`jaxseis.io` (ObsPy streams and inventories).

The likelihood constructors (:func:`jaxseis.likelihood.waveform_log_likelihood`,
:func:`jaxseis.likelihood.edt_log_likelihood`) take an observation and match its receivers to the
emulators' or travel-time tables' by position.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxseis.geometry import nearest_points, receiver_labels
from jaxseis.noise import (
    ColouredNoise,
    NoiseModel,
    WhiteNoise,
    check_noise,
    default_sigma,
    per_bin_variance,
    white_noise,
)

__all__ = ["Observation", "draw_noise", "make_observation", "observe", "read_observation"]


@dataclasses.dataclass(frozen=True)
class Observation:
    """An event's observed traces and what is known about them.

    Attributes:
        traces: ``[n_receivers, n_samples]`` float64, trace units (Pa for pressure).
        dt: sampling interval, s.
        receivers_km: ``[n_receivers, 3]`` positions, model coordinates (km).
        stations: station codes, one per receiver.
        noise: :class:`~jaxseis.noise.WhiteNoise` or :class:`~jaxseis.noise.ColouredNoise`.
        reference_time: the time of the window's first sample, an ISO-8601 UTC string (or
            ``None`` for synthetic data whose window starts at the origin time).
        truth: the true ``(x, y, z, t0, log_amplitude)`` ``[5]`` for synthetic data, else None.
        event_id: an identifier (catalogues derive the event's random key from it).

    A pytree (arrays are leaves, the rest is static), immutable; :meth:`replace` makes a
    changed copy.
    """

    traces: np.ndarray
    dt: float
    receivers_km: np.ndarray
    stations: tuple[str, ...]
    noise: NoiseModel
    reference_time: str | None = None
    truth: np.ndarray | None = None
    event_id: str = ""

    @property
    def n_receivers(self) -> int:
        return int(self.traces.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.traces.shape[1])

    @property
    def times(self) -> np.ndarray:
        """Sample times after the reference time, s, ``[n_samples]``."""
        return np.arange(self.n_samples) * self.dt

    def replace(self, **changes) -> Observation:
        """A validated copy with some fields changed (e.g. ``traces=``, ``noise=``)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return make_observation(**{**fields, **changes})

    def select(self, index: Sequence[int]) -> Observation:
        """The observation restricted to (and reordered as) the receivers ``index``."""
        index = [int(i) for i in index]
        noise = self.noise
        if isinstance(noise, WhiteNoise):
            noise = WhiteNoise(np.asarray(noise.sigma)[index])
        else:
            noise = ColouredNoise(np.asarray(noise.psd)[index], noise.dt)
        return dataclasses.replace(
            self,
            traces=self.traces[index],
            receivers_km=self.receivers_km[index],
            stations=tuple(self.stations[i] for i in index),
            noise=noise,
        )

    def match(self, receivers_km, tol_km: float = 1e-3, what: str = "the model") -> Observation:
        """The observation reordered to the receivers ``receivers_km [n, 3]`` (matched by
        position within ``tol_km``), e.g. the emulators' receivers.

        Raises:
            ValueError: a model receiver without an observed trace (named with its position),
                or one station matching two receivers.
        """
        r = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
        nearest, dist = nearest_points(r, self.receivers_km)
        index: list[int] = []
        for i, (j, d) in enumerate(zip(nearest.tolist(), dist, strict=True)):
            if d > tol_km:
                raise ValueError(
                    f"{what} has a receiver at {np.round(r[i], 4).tolist()} km that no observed "
                    f"station matches within {tol_km * 1e3:g} m (stations: "
                    + ", ".join(
                        f"{s} {np.round(p, 4).tolist()}"
                        for s, p in zip(self.stations, self.receivers_km, strict=True)
                    )
                    + ")"
                )
            if j in index:
                raise ValueError(
                    f"station {self.stations[j]} matches two receivers of {what}; "
                    "receivers must be distinct"
                )
            index.append(j)
        return self.select(index)

    def per_bin_variance(self) -> np.ndarray:
        """The noise's variance per Fourier bin ``[n_receivers, n_samples // 2 + 1]``."""
        return per_bin_variance(self.noise, self.n_samples, self.dt)


def _flatten(obs: Observation):
    children = (obs.traces, obs.receivers_km, obs.noise, obs.truth)
    aux = (obs.dt, obs.stations, obs.reference_time, obs.event_id)
    return children, aux


def _unflatten(aux, children) -> Observation:
    traces, receivers, noise, truth = children
    dt, stations, reference_time, event_id = aux
    return Observation(traces, dt, receivers, stations, noise, reference_time, truth, event_id)


jax.tree_util.register_pytree_node(Observation, _flatten, _unflatten)


def make_observation(
    traces,
    dt: float,
    receivers_km,
    *,
    noise: NoiseModel,
    stations: Sequence[str] | None = None,
    reference_time: str | None = None,
    truth=None,
    event_id: str = "",
) -> Observation:
    """A validated :class:`Observation` from arrays.

    Args:
        traces: ``[n_receivers, n_samples]``, finite, not all zero.
        dt: sampling interval, s, ``> 0``.
        receivers_km: ``[n_receivers, 3]`` km, distinct.
        noise: the noise model (checked against the shape and ``dt``).
        stations: codes (default ``R01, R02, ...``), unique, non-empty, without spaces.
        reference_time: ISO-8601 UTC time of the first sample, or None.
        truth: ``[5]`` (or a position ``[3]``: ``t0 = 0``, ``log_amplitude = 0``) or None.
        event_id: identifier.

    Raises:
        ValueError: naming the field and the problem.
    """
    x = np.asarray(traces)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] < 2:
        raise ValueError(
            f"observed traces must have shape [n_receivers, n_samples] with n_samples >= 2; "
            f"got shape {list(x.shape)}"
        )
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"observed traces must be real numbers; got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise ValueError(f"observed traces contain NaN or infinite values (rows {bad.tolist()})")
    if not np.any(x):
        raise ValueError("the observed traces are all zero")
    dt = float(dt)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds; got {dt}")
    r = np.asarray(receivers_km, dtype=np.float64)
    if r.shape != (x.shape[0], 3):
        raise ValueError(
            f"receivers_km must be [{x.shape[0]}, 3] (one position per trace, km); "
            f"got shape {list(r.shape)}"
        )
    if not np.all(np.isfinite(r)):
        raise ValueError("receivers_km contain NaN or infinite values")
    stations = receiver_labels(x.shape[0]) if stations is None else tuple(str(s) for s in stations)
    if len(stations) != x.shape[0]:
        raise ValueError(f"got {len(stations)} station codes for {x.shape[0]} traces")
    if len(set(stations)) != len(stations) or any(not s or " " in s for s in stations):
        raise ValueError(f"station codes must be unique and non-empty, without spaces: {stations}")
    noise = check_noise(noise, x.shape[0], x.shape[1], dt)
    if truth is not None:
        t = np.asarray(truth, dtype=np.float64).ravel()
        if t.shape == (3,):
            t = np.concatenate([t, [0.0, 0.0]])
        if t.shape != (5,) or not np.all(np.isfinite(t)):
            raise ValueError(
                "truth must be 5 finite numbers (x, y, z km, t0 s, log_amplitude) or a "
                f"position [3]; got {np.asarray(truth).tolist()}"
            )
        truth = t
    return Observation(x, dt, r, stations, noise, reference_time, truth, str(event_id))


def observe(
    dataset,
    receivers,
    *,
    event: int = 0,
    noise: NoiseModel | float | None = None,
    noise_key: jax.Array | None = None,
    t0: float = 0.0,
    log_amplitude: float = 0.0,
    event_id: str | None = None,
) -> Observation:
    """The traces of one event of a dataset at given receivers, as an :class:`Observation`.

    Args:
        dataset: a :class:`~jaxseis.dataset.Dataset` (e.g. :func:`jaxseis.load_paper_event`).
        receivers: the receivers, matched by position: ``[n, 3]`` km, emulators (their
            ``receiver_km``), or dataset row indices (ints).
        event: the event's index in the dataset.
        noise: the noise model; a number is a white-noise standard deviation; default: white
            noise at the paper's level, 5.6 % of the largest peak of the (scaled) traces.
        noise_key: ``jax.random`` key of the noise added to the traces (drawn from ``noise``:
            white, or circulant-stationary with the spectrum of a :class:`ColouredNoise`);
            ``None`` adds none (the traces are the simulation's, exactly).
        t0: origin time after the window's start, s: the traces are delayed by ``t0`` (the
            simulated window starts at the origin time).
        log_amplitude: the traces are scaled by ``exp(log_amplitude)``.
        event_id: identifier (default: the event index).

    Returns:
        The observation with ``truth = (x, y, z, t0, log_amplitude)`` and no reference time.
    """
    from jaxseis.preprocess import unalign

    if not 0 <= int(event) < dataset.n_events:
        raise ValueError(f"event {event} out of range: the dataset has {dataset.n_events} events")
    rows = _rows(dataset, receivers)
    clean = np.asarray(dataset.traces[rows, int(event)], dtype=np.float64)
    if t0 != 0.0 or log_amplitude != 0.0:
        with jax.enable_x64(True):
            clean = np.stack(
                [np.asarray(unalign(tr, log_amplitude, t0, dataset.dt)) for tr in clean]
            )
    n_rec, n_samples = clean.shape
    if noise is None:
        noise = WhiteNoise(np.full(n_rec, default_sigma(np.abs(clean).max())))
    elif not isinstance(noise, WhiteNoise | ColouredNoise):
        noise = WhiteNoise(np.full(n_rec, float(noise)))
    noise = check_noise(noise, n_rec, n_samples, float(dataset.dt))
    traces = clean if noise_key is None else clean + draw_noise(noise_key, noise, n_samples)
    source = np.asarray(dataset.sources[int(event)], np.float64)
    truth = np.concatenate([source, [t0, log_amplitude]])
    return make_observation(
        traces,
        dataset.dt,
        dataset.receivers[rows],
        noise=noise,
        stations=tuple(f"R{r + 1:02d}" for r in rows),  # the dataset row's code
        truth=truth,
        event_id=str(event) if event_id is None else event_id,
    )


def read_observation(
    path: str | Path,
    receivers_km,
    dt: float | None = None,
    n_samples: int | None = None,
    *,
    event: int = 0,
    noise: NoiseModel | float | None = None,
    noise_key: jax.Array | None = None,
    truth=None,
    event_id: str | None = None,
) -> Observation:
    """An observation read from a file, at the receivers ``receivers_km`` (e.g. an emulator
    set's, in its order).

    Args:
        path: a trace array ``.npy`` or ``.npz`` (key ``traces``, or its only array)
            ``[n_receivers, n_samples]`` with one row per receiver of ``receivers_km``, in
            that order; or a dataset file (``.h5``, :func:`jaxseis.dataset.load`) whose rows
            are matched to ``receivers_km`` by position.
        receivers_km: ``[n, 3]`` km.
        dt: sampling interval, s: required for a trace array; for a dataset, checked against
            the file's (``None``: not checked).
        n_samples: the expected trace length (the emulators'), or ``None``.
        event: the event's index in a dataset file.
        noise: the noise model (see :func:`observe`; default: white noise at the paper's
            level, 5.6 % of the largest peak).
        noise_key: ``jax.random`` key of seeded noise added to the traces, or ``None`` (the
            traces as they are in the file).
        truth: the true ``(x, y, z[, t0, log_amplitude])`` to record (default: a dataset's
            source, else none).
        event_id: identifier (default: the event index, or the file name for an array).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unreadable file, an array of the wrong shape, length or type, NaN or
            infinite values, a ``dt`` that does not match, or a receiver without a trace.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"observed file not found: {path}")
    r = np.asarray(receivers_km, dtype=np.float64).reshape(-1, 3)
    if path.suffix in (".npy", ".npz"):
        if dt is None:
            raise ValueError(f"{path}: give the sampling interval dt (s) of the trace array")
        traces = _read_trace_array(path)
        if traces.ndim != 2 or traces.shape[0] != len(r):
            raise ValueError(
                f"{path}: observed traces must have shape [{len(r)}, n_samples] (one row per "
                f"receiver, in the emulators' order); got {list(traces.shape)}"
            )
        if not np.issubdtype(traces.dtype, np.number) or np.iscomplexobj(traces):
            raise ValueError(f"{path}: observed traces must be real numbers, got {traces.dtype}")
        _check_length(traces.shape[1], n_samples, str(path))
        traces = np.asarray(traces, dtype=np.float64)
        if not np.all(np.isfinite(traces)):
            bad = np.flatnonzero(~np.all(np.isfinite(traces), axis=1))
            raise ValueError(
                f"{path}: the traces contain NaN or infinite values (rows {bad.tolist()})"
            )
        n_rec, n = traces.shape
        if noise is None:
            noise = WhiteNoise(np.full(n_rec, default_sigma(np.abs(traces).max())))
        elif not isinstance(noise, WhiteNoise | ColouredNoise):
            noise = WhiteNoise(np.full(n_rec, float(noise)))
        noise = check_noise(noise, n_rec, n, float(dt))
        if noise_key is not None:
            traces = traces + draw_noise(noise_key, noise, n)
        return make_observation(
            traces, dt, r, noise=noise, truth=truth,
            event_id=path.stem if event_id is None else event_id,
        )  # fmt: skip
    from jaxseis.dataset import load

    data = load(path)
    _check_length(data.n_samples, n_samples, str(path))
    if dt is not None and not np.isclose(data.dt, dt, rtol=1e-9, atol=0.0):
        raise ValueError(
            f"{path} is sampled at {data.dt * 1e3:g} ms but the emulators at {dt * 1e3:g} ms"
        )
    obs = observe(data, r, event=event, noise=noise, noise_key=noise_key, event_id=event_id)
    return obs if truth is None else obs.replace(truth=truth)


def _check_length(n: int, expected: int | None, what: str) -> None:
    if expected is not None and n != expected:
        raise ValueError(
            f"{what}: the observed traces have {n} samples but the emulators predict {expected}"
        )


def _read_trace_array(path: Path) -> np.ndarray:
    """Traces from ``.npy`` or ``.npz`` (key ``traces`` or the only array)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as err:  # zip, npy or pickle errors all mean an unreadable file
        raise ValueError(f"{path} is not a readable .npy/.npz file ({err})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        if "traces" in names:
            return loaded["traces"]
        if len(names) == 1:
            return loaded[names[0]]
    shown = names[:5] + (["..."] if len(names) > 5 else [])
    raise ValueError(f"{path} must hold an array named 'traces'; it has {shown}")


def draw_noise(key: jax.Array, noise: NoiseModel, n_samples: int) -> np.ndarray:
    """Seeded noise ``[n_receivers, n_samples]`` drawn from a noise model (coloured noise:
    circulant-stationary with the model's per-bin variance, the Whittle likelihood's exact
    model)."""
    if isinstance(noise, WhiteNoise):
        sigma = np.asarray(noise.sigma, dtype=np.float64)
        with jax.enable_x64(True):
            return np.asarray(white_noise(key, (sigma.size, n_samples), sigma, np.float64))
    s_k = per_bin_variance(noise, n_samples, noise.dt)
    with jax.enable_x64(True):
        z = np.asarray(jax.random.normal(key, (s_k.shape[0], n_samples), np.float64))
    return np.fft.irfft(np.fft.rfft(z, axis=-1) * np.sqrt(s_k), n=n_samples, axis=-1)


def _rows(dataset, receivers) -> list[int]:
    items: Any = receivers
    if len(items) and hasattr(items[0], "receiver_km"):
        items = np.stack([np.asarray(e.receiver_km, dtype=np.float64) for e in items])
    arr = np.asarray(items)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        bad = [int(i) for i in arr if not 0 <= i < dataset.n_receivers]
        if bad:
            raise ValueError(
                f"receiver index {bad[0]} out of range: the dataset has {dataset.n_receivers}"
            )
        return [int(i) for i in arr]
    arr = np.asarray(arr, dtype=np.float64).reshape(-1, 3)
    rows = []
    for r in arr:
        try:
            rows.append(dataset.receiver_index(r))
        except ValueError:
            raise ValueError(
                f"the dataset has no trace at the receiver {np.round(r, 4).tolist()} km; its "
                f"receivers: {np.round(dataset.receivers, 4).tolist()} km"
            ) from None
    return rows
