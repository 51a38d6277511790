"""The emulator protocol shared by every family: fit, predict, save, load.

An emulator maps a source position (km) to the trace at one receiver. Every family except the
D18 baseline follows the paper's framework (Fig. 2):

1. features ``[dx, dy, dz, d]`` of the source relative to the receiver (km), standardised
   with training statistics;
2. two Matérn-3/2 ARD GPs predict the peak's log amplitude ratio ``log(A / A_ref)`` and time
   shift ``t - t_ref`` (s);
3. the family's *core* predicts the aligned trace (in units of the reference peak ``A_ref``);
4. :func:`jaxseis.preprocess.unalign` scales and shifts it back (fractional, differentiable).

Fitting reads the training split and uses the validation split for early stopping and
nothing else; the test split is never read (:func:`fit` receives only those two splits).

Files: one ``.npz`` holding the arrays and a JSON header with the format version, the family,
its configuration, the model grid and the training box. Files are written atomically
(:func:`jaxseis.files.atomic_path`). Loading checks the header's schema and every array's shape,
dtype and values against the family (:mod:`jaxseis.emulators.schema`) and refuses a corrupt
file, or one of another version or family, with one clear error.

Domain: :func:`predict` refuses sources outside the model grid and, for sources outside the
training box, follows ``policy`` (see :mod:`jaxseis.emulators.domain`); it evaluates large
inputs in chunks (:mod:`jaxseis.emulators.batching`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxseis.emulators import schema
from jaxseis.emulators.batching import default_batch_size, map_batches
from jaxseis.emulators.domain import (
    check_policy,
    check_receiver,
    check_sources,
    derive_training_box,
    training_box,
)
from jaxseis.files import atomic_path, json_ready
from jaxseis.geometry import (
    DEFAULT_GRID,
    Grid,
    check_grid,
    describe_extent,
    grid_from_dict,
    grid_to_dict,
    metres_hint,
    source_features,
)
from jaxseis.gp import GaussianProcesses, fit_gps, predict_gps
from jaxseis.preprocess import (
    Alignment,
    Standardizer,
    align,
    fit_alignment,
    fit_standardizer,
    unalign,
)

__all__ = [
    "FAMILIES",
    "FORMAT_VERSION",
    "MIN_TRAIN_EVENTS",
    "X64_MESSAGE",
    "Emulator",
    "Family",
    "Peaks",
    "TrainingData",
    "apply_predictor",
    "fit",
    "fit_peaks",
    "fit_receivers",
    "has_core_gps",
    "load",
    "make_predictor",
    "predict",
    "predictor_parts",
    "register",
    "save",
    "training_data",
]

FORMAT_VERSION = 1

MIN_TRAIN_EVENTS = 10
"""Fewest training events an emulator is fitted on: the peak GPs have 6 hyperparameters per
output and the features are standardised with training statistics (families may ask for more:
PCA needs more events than components)."""


class TrainingData(NamedTuple):
    """What an emulator is fitted on: the training and validation splits at one receiver.

    Attributes:
        receiver_km: ``[3]``.
        dt: sampling interval, s.
        train_sources: ``[n_train, 3]`` km.
        train_traces: ``[n_train, n_samples]``.
        val_sources: ``[n_val, 3]`` km.
        val_traces: ``[n_val, n_samples]``.
        grid: the model grid the data were simulated on.
    """

    receiver_km: np.ndarray
    dt: float
    train_sources: np.ndarray
    train_traces: np.ndarray
    val_sources: np.ndarray
    val_traces: np.ndarray
    grid: Grid = DEFAULT_GRID


def training_data(dataset, receiver: int | np.ndarray = 0, n_train: int | None = None):
    """The training and validation splits of a :class:`~jaxseis.dataset.Dataset` at one receiver.

    ``receiver`` is an index or a position (km); ``n_train`` keeps the first ``n_train``
    training events (for quick experiments; at least :data:`MIN_TRAIN_EVENTS`). The test
    split is not read.

    Raises:
        ValueError: a receiver out of range, a bad ``n_train``, or too few training or
            validation events.
    """
    if isinstance(receiver, bool):
        raise ValueError(f"receiver must be an index or a position (km), got {receiver!r}")
    r = receiver if isinstance(receiver, int | np.integer) else dataset.receiver_index(receiver)
    if not 0 <= r < dataset.n_receivers:
        raise ValueError(f"receiver index {r} out of range (dataset has {dataset.n_receivers})")
    tr, va = dataset.indices("train"), dataset.indices("validation")
    if n_train is not None:
        if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer):
            raise ValueError(f"n_train must be a whole number, got {n_train!r}")
        if n_train < MIN_TRAIN_EVENTS:
            raise ValueError(
                f"n_train = {n_train} is too small: an emulator needs at least "
                f"{MIN_TRAIN_EVENTS} training events"
            )
        tr = tr[:n_train]
    if len(tr) == 0 or len(va) == 0:
        raise ValueError("the dataset needs non-empty training and validation splits")
    return TrainingData(
        receiver_km=np.asarray(dataset.receivers[r], dtype=np.float64),
        dt=float(dataset.dt),
        train_sources=dataset.sources[tr],
        train_traces=dataset.traces[r, tr],
        val_sources=dataset.sources[va],
        val_traces=dataset.traces[r, va],
        grid=getattr(dataset, "grid", DEFAULT_GRID),
    )


class Emulator(NamedTuple):
    """A fitted emulator of the traces at one receiver.

    Attributes:
        kind: family name, e.g. ``"nn_direct"``.
        receiver_km: ``[3]`` receiver position.
        dt: sampling interval of the traces, s.
        n_samples: trace length.
        feature_scaler: standardiser of the source features (training statistics).
        alignment: the reference peak (``None`` for families without peak alignment).
        peak_gps: GPs of ``[log(A / A_ref), t - t_ref]`` (``None`` without alignment).
        core: the family's parameters, a nested dict of arrays.
        config: the family's JSON-serialisable configuration (architecture, settings).
        info: training record (times, epochs, losses), JSON-serialisable.
        grid: the model grid of the training data; sources outside it are refused.
        training_box_km: ``[2, 3]`` lower and upper corners of the training sources (km), or
            ``None`` (then derived from the GPs' training inputs: see
            :func:`jaxseis.emulators.domain.training_box`).
    """

    kind: str
    receiver_km: np.ndarray
    dt: float
    n_samples: int
    feature_scaler: Standardizer
    alignment: Alignment | None
    peak_gps: GaussianProcesses | None
    core: dict
    config: dict
    info: dict
    grid: Grid = DEFAULT_GRID
    training_box_km: np.ndarray | None = None


class Family(Protocol):
    """What an emulator family module provides."""

    name: str
    uses_alignment: bool

    def fit_core(self, data: dict, *, seed: int, **options) -> tuple[dict, dict, dict]:
        """Fit the core; returns ``(core params, config, info)``."""

    def predict_core(self, core: dict, config: dict) -> Callable[[jax.Array], jax.Array]:
        """Pure function: standardised features ``[4]`` -> aligned trace ``[n_samples]``."""


FAMILIES: dict[str, Any] = {}


def register(family) -> Any:
    """Register an emulator family (a module or object following :class:`Family`)."""
    FAMILIES[family.name] = family
    return family


def _family(kind: str):
    from jaxseis import emulators  # noqa: F401  (registers the built-in families)

    if kind not in FAMILIES:
        raise ValueError(f"unknown emulator family {kind!r}; available: {sorted(FAMILIES)}")
    return FAMILIES[kind]


class Peaks(NamedTuple):
    """The family-independent part of a fit: the reference peak and the two peak GPs.

    Made by :func:`fit_peaks` and passed to :func:`fit` (``peaks=``) to fit several families
    on the same training data without refitting the GPs.

    Attributes:
        alignment: the reference peak (:class:`~jaxseis.preprocess.Alignment`).
        peak_gps: GPs of ``[log(A / A_ref), t - t_ref]``.
        seed: the seed they were fitted with.
        alignment_rule: ``"first_peak"`` or ``"max"``.
        fingerprint: digest of the training and validation data they were fitted on.
        fit_s: wall time of the alignment and the GP fit, s.
    """

    alignment: Alignment
    peak_gps: GaussianProcesses
    seed: int
    alignment_rule: str
    fingerprint: str
    fit_s: float


def _fingerprint(data: TrainingData) -> str:
    h = hashlib.sha256()
    for a in (data.receiver_km, data.train_sources, data.train_traces, data.val_sources):
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def fit_peaks(
    data: TrainingData,
    *,
    seed: int = 0,
    alignment_rule: str = "first_peak",
    gp_options: dict | None = None,
) -> Peaks:
    """Fit the peak alignment and the two peak GPs once, for reuse by several families.

    :func:`fit` does this itself when it is not given ``peaks``; the result is the same
    (same seed, same data, same GPs), so ``fit(kind, data, peaks=fit_peaks(data))`` equals
    ``fit(kind, data)``. Args as in :func:`fit`.
    """
    _check_training_data(data)
    alignment, peak_gps, fit_s, _ = _fit_peaks(data, seed, alignment_rule, gp_options)
    return Peaks(alignment, peak_gps, int(seed), alignment_rule, _fingerprint(data), fit_s)


def _fit_peaks(data: TrainingData, seed: int, alignment_rule: str, gp_options):
    """``(alignment, peak GPs, wall time s, aligned training traces)``."""
    tic = time.perf_counter()
    alignment = fit_alignment(data.train_traces, data.dt, rule=alignment_rule, seed=seed)
    a_tr, lr_tr, sh_tr = align(alignment, data.train_traces)
    x_train = source_features(data.train_sources, data.receiver_km)
    peak_gps = fit_gps(x_train, np.stack([lr_tr, sh_tr], axis=1), seed=seed, **(gp_options or {}))
    return alignment, peak_gps, time.perf_counter() - tic, a_tr


def fit(
    kind: str,
    data: TrainingData,
    *,
    seed: int = 0,
    alignment_rule: str = "first_peak",
    gp_options: dict | None = None,
    peaks: Peaks | None = None,
    **options,
) -> Emulator:
    """Fit an emulator of family ``kind`` on the training split (validation: early stopping).

    Args:
        kind: family name (see ``FAMILIES``): ``nn_direct``, ``pca_nn``, ``pca_gp``, ``ae_nn``,
            ``ae_gp``, ``cvae``, ``wgan_gp``, ``d18``.
        data: :class:`TrainingData` (see :func:`training_data`).
        seed: seeds every random choice (reference trace, initialisation, batches, GPs).
        alignment_rule: ``"first_peak"`` (default) or the paper's ``"max"``.
        gp_options: options of the peak GPs (see :func:`jaxseis.gp.fit_gps`).
        peaks: the alignment and peak GPs from :func:`fit_peaks` on the same ``data``, seed
            and alignment rule, to skip refitting them (ignored by families without
            alignment). The emulator's ``info["fit_s"]`` then includes ``peaks.fit_s``.
        **options: family options (e.g. ``config=TrainConfig(...)``).
    """
    family = _family(kind)
    _check_training_data(data, _min_train(family, options))
    tic = time.perf_counter()
    prepared = _prepare(family, data, seed, alignment_rule, gp_options, peaks)
    core, config, info = family.fit_core(prepared["payload"], seed=seed, **options)
    return _assemble(family, data, prepared, core, config, info, seed, alignment_rule, tic)


def _prepare(
    family, data: TrainingData, seed: int, alignment_rule: str, gp_options, peaks=None
) -> dict:
    """Features, alignment and peak GPs of one receiver: the family-independent part of fit."""
    _check_training_data(data)
    x_train = source_features(data.train_sources, data.receiver_km)
    x_val = source_features(data.val_sources, data.receiver_km)
    scaler = fit_standardizer(x_train)
    payload = {
        "z_train": scaler.apply(x_train).astype(np.float32),
        "z_val": scaler.apply(x_val).astype(np.float32),
        "x_train": x_train,
        "dt": data.dt,
    }
    alignment, peak_gps, t_gp, reused = None, None, 0.0, False
    if family.uses_alignment:
        if peaks is None:
            alignment, peak_gps, t_gp, a_tr = _fit_peaks(data, seed, alignment_rule, gp_options)
        else:
            _check_peaks(peaks, data, seed, alignment_rule)
            reused = True
            alignment, peak_gps, t_gp = peaks.alignment, peaks.peak_gps, peaks.fit_s
            a_tr, _, _ = align(alignment, data.train_traces)
        a_va, _, _ = align(alignment, data.val_traces)
        payload["train"] = a_tr / np.float32(alignment.ref_amplitude)
        payload["val"] = a_va / np.float32(alignment.ref_amplitude)
    else:
        payload["train"] = np.asarray(data.train_traces, dtype=np.float32)
        payload["val"] = np.asarray(data.val_traces, dtype=np.float32)
    return {
        "payload": payload, "scaler": scaler, "alignment": alignment, "peak_gps": peak_gps,
        "t_gp": t_gp, "reused": reused,
    }  # fmt: skip


def _check_peaks(peaks, data: TrainingData, seed: int, alignment_rule: str) -> None:
    if not isinstance(peaks, Peaks):
        raise TypeError(f"peaks must come from fit_peaks, got {type(peaks).__name__}")
    if peaks.fingerprint != _fingerprint(data):
        raise ValueError("peaks were fitted on other training data than this fit's")
    if peaks.seed != seed or peaks.alignment_rule != alignment_rule:
        raise ValueError(
            f"peaks were fitted with seed {peaks.seed} and rule {peaks.alignment_rule!r}, "
            f"this fit asks for seed {seed} and rule {alignment_rule!r}"
        )


def _assemble(family, data, prepared, core, config, info, seed, alignment_rule, tic) -> Emulator:
    info = {
        **info,
        "seed": seed,
        "alignment_rule": alignment_rule if family.uses_alignment else None,
        "n_train": len(data.train_sources),
        "n_val": len(data.val_sources),
        "peak_gp_fit_s": prepared["t_gp"],
        "peaks_reused": prepared["reused"],
        "fit_s": time.perf_counter() - tic + (prepared["t_gp"] if prepared["reused"] else 0.0),
    }
    train = np.asarray(data.train_sources, dtype=np.float64)
    return Emulator(
        family.name, np.asarray(data.receiver_km), float(data.dt),
        int(data.train_traces.shape[-1]), prepared["scaler"], prepared["alignment"],
        prepared["peak_gps"], core, config, info, check_grid(data.grid),
        np.stack([train.min(axis=0), train.max(axis=0)]),
    )  # fmt: skip


def fit_receivers(
    kind: str,
    dataset,
    receivers,
    *,
    seed: int = 0,
    n_train: int | None = None,
    stacked: bool = False,
    **options,
) -> list[Emulator]:
    """Fit one emulator of family ``kind`` per receiver of ``dataset``.

    Args:
        kind: family name (see :func:`fit`).
        dataset: a :class:`~jaxseis.dataset.Dataset` with train and validation splits.
        receivers: receiver indices or positions (km) in ``dataset``.
        seed: the same seed for every receiver (each receiver's data differ).
        n_train: keep the first ``n_train`` training events (see :func:`training_data`).
        stacked: train the networks of all receivers at once, their parameters stacked on a
            leading receiver axis and the compiled training epochs ``vmap``-ed over it
            (families with ``fit_core_stacked``: ``nn_direct``). Each receiver keeps its own
            early stopping and gets the network that :func:`fit` would give it (to
            round-off). The peak GPs are fitted per receiver either way.
        **options: passed to :func:`fit`.

    Returns:
        The emulators in the order of ``receivers``. :func:`jaxseis.forward.make_forward`
        stacks emulators of one family and architecture and evaluates all receivers with one
        ``vmap``.
    """
    receivers = list(receivers)
    if not receivers:
        raise ValueError("fit_receivers needs at least one receiver")
    family = _family(kind)
    datas = [training_data(dataset, r, n_train=n_train) for r in receivers]
    for d in datas:
        _check_training_data(d, _min_train(family, options))
    if not stacked or len(datas) == 1 or not hasattr(family, "fit_core_stacked"):
        if stacked and len(datas) > 1:
            raise ValueError(f"family {kind!r} has no stacked training; use stacked=False")
        return [fit(kind, d, seed=seed, **options) for d in datas]
    alignment_rule = options.pop("alignment_rule", "first_peak")
    gp_options = options.pop("gp_options", None)
    tic = time.perf_counter()
    prepared = [_prepare(family, d, seed, alignment_rule, gp_options) for d in datas]
    fitted = family.fit_core_stacked([p["payload"] for p in prepared], seed=seed, **options)
    return [
        _assemble(family, d, p, core, config, info, seed, alignment_rule, tic)
        for d, p, (core, config, info) in zip(datas, prepared, fitted, strict=True)
    ]


def _min_train(family, options: dict) -> int:
    """Fewest training events of a family with these options (``family.min_train_events``)."""
    rule = getattr(family, "min_train_events", None)
    return max(MIN_TRAIN_EVENTS, int(rule(options)) if rule is not None else 0)


def _check_training_data(data: TrainingData, min_train: int = MIN_TRAIN_EVENTS) -> None:
    grid = check_grid(getattr(data, "grid", DEFAULT_GRID))
    check_receiver(data.receiver_km, grid, "the training data")
    for name in ("train", "val"):
        s = np.asarray(getattr(data, f"{name}_sources"))
        t = np.asarray(getattr(data, f"{name}_traces"))
        if s.ndim != 2 or s.shape[1] != 3:
            raise ValueError(f"{name}_sources must be [n, 3] km, got {s.shape}")
        if t.ndim != 2 or t.shape[0] != s.shape[0]:
            raise ValueError(f"{name}_traces must be [{s.shape[0]}, n_samples], got {t.shape}")
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
            raise ValueError(f"{name} data contain NaN or infinite values")
        inside = grid.contains(s)
        if not np.all(inside):
            i = int(np.flatnonzero(~inside)[0])
            raise ValueError(
                f"{name}_sources[{i}] = {s[i].tolist()} km lies outside the grid "
                f"({describe_extent(grid)}){metres_hint(s, grid)}"
            )
    n_train, n_val = len(data.train_sources), len(data.val_sources)
    if n_train < min_train or n_val < 1:
        raise ValueError(
            f"too few events to fit an emulator: {n_train} training and {n_val} validation; "
            f"it needs at least {min_train} training events and 1 validation event"
        )


X64_MESSAGE = (
    "the peak-alignment GPs need float64: enable JAX's x64 mode "
    '(jax.config.update("jax_enable_x64", True)) or build and call the predictor inside '
    "`with jax.enable_x64(True):` (in float32 the predicted time shifts are off by tens of "
    "samples; pass gp_dtype=jnp.float32 explicitly to accept that)"
)


def _x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def predictor_parts(emulator: Emulator, dtype=jnp.float32, gp_dtype=None) -> tuple[tuple, dict]:
    """Split an emulator into hashable static settings and a pytree of arrays.

    ``apply_predictor(static, params, source)`` evaluates it. Emulators of the same family and
    configuration have identical ``static`` and parameter shapes, so their ``params`` can be
    stacked and the prediction ``vmap``-ed over receivers (:mod:`jaxseis.forward`).

    ``gp_dtype`` is the precision of the GPs (the peak GPs, and the GPs of PCA+GP, AE+GP and
    D18): float64 by default, which needs JAX's x64
    mode, both here and when the predictor is traced (``jax.config.update("jax_enable_x64",
    True)``, or build and call it inside ``with jax.enable_x64(True):``). The GP mean
    ``k @ alpha`` is a sum of 2000 terms with weights of up to about 5e4 (the fitted noise is
    small) that cancel: in float32 the predicted time shifts of the bundled emulators are off
    by tens of samples and the test R2D falls from 0.997 to 0.0-0.6. ``gp_dtype=jnp.float32``
    is accepted only when asked for explicitly (e.g. for timing).

    Raises:
        ValueError: if the emulator has GPs, ``gp_dtype`` is not given and x64 is off.
    """
    if not isinstance(emulator, Emulator):
        raise TypeError(f"expected a fitted Emulator, got {type(emulator).__name__}")
    family = _family(emulator.kind)
    has_gps = family.uses_alignment or has_core_gps(emulator.core)
    if gp_dtype is None:
        if has_gps and not _x64_enabled():
            raise ValueError(X64_MESSAGE)
        gp_dtype = jnp.float64 if _x64_enabled() else dtype

    def cast(tree, dt=dtype):
        return jax.tree.map(lambda a: jnp.asarray(a, dt), tree)

    core = {k: cast(v, gp_dtype if k == "gps" else dtype) for k, v in emulator.core.items()}
    params = {
        "receiver": cast(emulator.receiver_km, gp_dtype),
        "mean": cast(emulator.feature_scaler.mean),
        "std": cast(emulator.feature_scaler.std),
        "core": core,
    }
    if family.uses_alignment:
        g = emulator.peak_gps
        params["gps"] = cast(g._asdict() | {"x_scaler": g.x_scaler._asdict()}, gp_dtype)
        params["ref"] = jnp.asarray(emulator.alignment.ref_amplitude, dtype)
    static = (
        emulator.kind,
        json.dumps(emulator.config, sort_keys=True),
        float(emulator.dt),
        jnp.dtype(gp_dtype).name,
        has_gps,
    )
    return static, params


def has_core_gps(core: dict) -> bool:
    """Whether a family's parameters hold GPs (``core["gps"]``: PCA+GP, AE+GP, D18)."""
    return isinstance(core, dict) and "gps" in core


def apply_predictor(static: tuple, params: dict, source, t0=0.0, log_amplitude=0.0):
    """Trace ``[n_samples]`` from :func:`predictor_parts` output.

    Args:
        static, params: from :func:`predictor_parts`.
        source: ``[3]`` position, km.
        t0: origin time, s: the trace is delayed by ``t0`` (fractional, zero fill).
        log_amplitude: natural log of the source strength relative to the training source:
            the trace is scaled by ``exp(log_amplitude)``.

    For families with peak alignment the delay and the scale join the predicted peak shift
    and amplitude ratio, so the trace is interpolated once.
    """
    kind, config, dt, gp_dtype, has_gps = static
    family = _family(kind)
    if has_gps and gp_dtype == "float64" and not _x64_enabled():
        raise ValueError(X64_MESSAGE)
    dtype = params["mean"].dtype
    core_fn = family.predict_core(params["core"], json.loads(config))
    feats = source_features(jnp.asarray(source, params["receiver"].dtype), params["receiver"])
    aligned = core_fn((feats.astype(dtype) - params["mean"]) / params["std"]).astype(dtype)
    t0 = jnp.asarray(t0, dtype)
    log_amplitude = jnp.asarray(log_amplitude, dtype)
    if not family.uses_alignment:
        return unalign(aligned, log_amplitude, t0, dt)
    g = params["gps"]
    gps = GaussianProcesses(**(g | {"x_scaler": Standardizer(**g["x_scaler"])}))
    log_ratio, shift = predict_gps(gps, feats)
    log_ratio = log_ratio.astype(dtype) + log_amplitude
    trace = unalign(aligned, log_ratio, shift.astype(dtype) + t0, dt)
    return params["ref"] * trace


def make_predictor(
    emulator: Emulator, dtype=jnp.float32, gp_dtype=None
) -> Callable[[jax.Array], jax.Array]:
    """Pure function ``source [3] km -> trace [n_samples]`` (jit, vmap and grad safe).

    Not jitted itself: wrap it in ``jax.jit`` or compose it into a larger jitted function.
    ``gp_dtype``: see :func:`predictor_parts` (float64 for the peak GPs under x64).
    """
    static, params = predictor_parts(emulator, dtype, gp_dtype)
    return partial(apply_predictor, static, params)


def predict(
    emulator: Emulator, sources_km, *, policy: str = "warn", batch_size: int | None = None
) -> np.ndarray:
    """Traces ``[n, n_samples]`` for sources ``[n, 3]`` (or ``[n_samples]`` for one ``[3]``), km.

    Validates the input (shape, finiteness, the domain: see
    :func:`jaxseis.emulators.domain.check_sources`) and evaluates the jitted, vmapped
    predictor in chunks of ``batch_size`` sources.

    Args:
        emulator: a fitted :class:`Emulator`.
        sources_km: ``[n, 3]`` or ``[3]`` positions, km.
        policy: sources inside the grid but outside the training box: ``"warn"`` (default),
            ``"error"`` or ``"ignore"``. Sources outside the grid are always an error.
        batch_size: sources per compiled call (memory grows linearly with it). Default
            (``None``): :func:`jaxseis.emulators.batching.default_batch_size`, as many as fit
            in 256 MiB of working memory (about 2700 for NN direct, 40 for D18). Up to one
            chunk of sources is evaluated in a single call on the input's own shape.

    Raises:
        ValueError: bad shape, NaN, sources outside the grid (with a hint when they look like
            metres), or outside the training box with ``policy="error"``.
    """
    check_policy(policy)
    single = np.ndim(sources_km) == 1
    s = check_sources(emulator, sources_km, policy)
    size = default_batch_size(emulator) if batch_size is None else batch_size
    with jax.enable_x64(True):  # float64 peak GPs (see predictor_parts); float32 network
        f = jax.jit(jax.vmap(make_predictor(emulator)))
        out = map_batches(lambda x: f(jnp.asarray(x, jnp.float64)), s, size)
    return out[0] if single else out


# -------------------------------------------------------------------------------- files


def _flatten(tree, prefix: str, out: dict) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{prefix}/{k}", out)
    else:
        out[prefix] = np.asarray(tree)


def _unflatten(flat: dict, prefix: str) -> dict:
    root: dict = {}
    for key, value in flat.items():
        if not key.startswith(prefix + "/"):
            continue
        parts = key[len(prefix) + 1 :].split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(_key(p), {})
        node[_key(parts[-1])] = value
    return root


def _key(p: str):
    return int(p) if p.isdigit() else p


def save(emulator: Emulator, path: str | Path) -> Path:
    """Save an emulator as ``.npz``: arrays plus a JSON header (format version, family, config,
    grid, training box).

    The file is written atomically (:func:`jaxseis.files.atomic_path`): concurrent savers of
    one path leave one complete file, and an interrupted save leaves the old file (or none)
    and at most a temporary ``.NAME.<random>.partial`` that no ``*.npz`` pattern matches.
    Non-finite numbers in ``info`` (a training record) are stored as ``null``.

    Raises:
        ValueError: if the configuration is not JSON-serialisable or the arrays are not finite.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    _flatten(emulator.core, "core", arrays)
    arrays["feature_scaler/mean"] = np.asarray(emulator.feature_scaler.mean)
    arrays["feature_scaler/std"] = np.asarray(emulator.feature_scaler.std)
    if emulator.peak_gps is not None:
        g = emulator.peak_gps
        for name in ("x", "alpha", "log_amp", "log_scales", "log_noise", "y_mean", "y_std"):
            arrays[f"peak_gps/{name}"] = np.asarray(getattr(g, name))
        arrays["peak_gps/x_scaler_mean"] = np.asarray(g.x_scaler.mean)
        arrays["peak_gps/x_scaler_std"] = np.asarray(g.x_scaler.std)
    bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.all(np.isfinite(a))]
    if bad:
        raise ValueError(f"cannot save an emulator with NaN or infinite parameters ({bad[0]})")
    grid = check_grid(emulator.grid)
    check_receiver(emulator.receiver_km, grid, "cannot save the emulator")
    header = {
        "format": "jaxseis.Emulator",
        "format_version": FORMAT_VERSION,
        "kind": emulator.kind,
        "receiver_km": np.asarray(emulator.receiver_km).tolist(),
        "dt": emulator.dt,
        "n_samples": emulator.n_samples,
        "alignment": None if emulator.alignment is None else emulator.alignment._asdict(),
        "config": emulator.config,
        "info": _nulls_for_nonfinite(emulator.info),
        "grid": grid_to_dict(grid),
        "training_box_km": np.stack(training_box(emulator)).tolist(),
    }
    try:
        text = json.dumps(json_ready(header), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot save the emulator: its header is not JSON ({err})") from None
    arrays["__header__"] = np.frombuffer(text.encode(), dtype=np.uint8)
    # an open file, so that NumPy adds no ".npz" to the temporary name
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def _nulls_for_nonfinite(tree):
    if isinstance(tree, dict):
        return {k: _nulls_for_nonfinite(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_nulls_for_nonfinite(v) for v in tree]
    if isinstance(tree, float | np.floating) and not math.isfinite(tree):
        return None
    return tree


def load(path: str | Path, kind: str | None = None) -> Emulator:
    """Load an emulator saved by :func:`save`, after checking it.

    The header must follow the schema of :mod:`jaxseis.emulators.schema` (a JSON object with
    the required keys and types, a known family); every array (feature standardiser, peak
    GPs, the family's core) must have the shape the header and family imply, a floating
    dtype and finite values; the receiver must lie inside the model grid (the header's
    ``grid``, else :data:`jaxseis.geometry.DEFAULT_GRID`). The training box is read from the
    header or, for files without it, derived from the GPs' training inputs.

    Args:
        path: the ``.npz`` file.
        kind: if given, refuse a file of another family.

    Raises:
        FileNotFoundError: missing file.
        ValueError: not an emulator file, corrupt (one message naming the file and the first
            problem), another format version or family.
    """
    from jaxseis import emulators  # noqa: F401  (registers the built-in families)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"emulator file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            flat = {k: z[k] for k in z.files}
        header = json.loads(flat.pop("__header__").tobytes().decode())
    except Exception as err:  # zip, npy, JSON or decoding errors all mean a corrupt file
        raise ValueError(f"{path} is not a readable jaxseis emulator file ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is corrupt: {schema.check_header(header, FAMILIES)[0]}")
    if header.get("format") != "jaxseis.Emulator":
        raise ValueError(f"{path} is not a jaxseis emulator file")
    version = header.get("format_version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has emulator format version {version!r}; this jaxseis reads version "
            f"{FORMAT_VERSION}"
        )
    problems = schema.check_header(header, FAMILIES)
    if problems:
        raise ValueError(f"{path} is corrupt: {_summary(problems)}")
    if kind is not None and header["kind"] != kind:
        raise ValueError(f"{path} holds a {header['kind']!r} emulator, not {kind!r}")
    family = FAMILIES[header["kind"]]
    try:
        grid = grid_from_dict(header["grid"]) if "grid" in header else DEFAULT_GRID
        check_receiver(header["receiver_km"], grid, str(path))
        expected, described = schema.expected_arrays(family, header)
    except ValueError as err:
        raise ValueError(f"{path} is corrupt: {err}") from None
    problems = schema.check_arrays(flat, expected, described)
    if problems:
        raise ValueError(f"{path} is corrupt: {_summary(problems)}")
    peak = None
    if family.uses_alignment:
        peak = GaussianProcesses(
            x=flat["peak_gps/x"], alpha=flat["peak_gps/alpha"],
            log_amp=flat["peak_gps/log_amp"], log_scales=flat["peak_gps/log_scales"],
            log_noise=flat["peak_gps/log_noise"],
            x_scaler=Standardizer(flat["peak_gps/x_scaler_mean"], flat["peak_gps/x_scaler_std"]),
            y_mean=flat["peak_gps/y_mean"], y_std=flat["peak_gps/y_std"],
        )  # fmt: skip
    box = header.get("training_box_km")
    em = Emulator(
        kind=header["kind"],
        receiver_km=np.asarray(header["receiver_km"], dtype=np.float64),
        dt=float(header["dt"]),
        n_samples=int(header["n_samples"]),
        feature_scaler=Standardizer(flat["feature_scaler/mean"], flat["feature_scaler/std"]),
        alignment=None if header["alignment"] is None else Alignment(**header["alignment"]),
        peak_gps=peak,
        core=_unflatten(flat, "core"),
        config=header["config"],
        info=header["info"],
        grid=grid,
        training_box_km=None if box is None else np.asarray(box, dtype=np.float64),
    )
    if box is None:
        em = em._replace(training_box_km=derive_training_box(em))
    problem = _core_output_problem(family, em)
    if problem:
        raise ValueError(f"{path} is corrupt: {problem}")
    return em


def _summary(problems: list[str]) -> str:
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _core_output_problem(family, emulator: Emulator) -> str | None:
    """Why the core does not map 4 features to a trace of ``n_samples`` (``None`` if it does)."""
    try:
        fn = family.predict_core(emulator.core, emulator.config)
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((schema.N_FEATURES,), jnp.float32))
    except Exception as err:  # any failure to trace the core means an inconsistent file
        text = str(err).strip().splitlines()
        return f"its core cannot be evaluated ({text[0] if text else type(err).__name__})"
    shape = getattr(out, "shape", None)
    if shape != (emulator.n_samples,):
        return f"its core gives traces of shape {shape}, expected ({emulator.n_samples},)"
    return None
