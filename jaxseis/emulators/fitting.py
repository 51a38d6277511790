"""Fitting emulators: the training data of one receiver, the peak GPs, and a family's core.

Fitting reads the training split and uses the validation split for early stopping and
nothing else; the test split is never read (:func:`fit` receives only those two splits).
The family-independent part (feature standardiser, reference peak, the two peak GPs) is
fitted here; the family's ``fit_core`` fits the rest (:class:`~jaxseis.emulators.base.Family`).
"""

from __future__ import annotations

import hashlib
import time
from typing import NamedTuple

import numpy as np

from jaxseis.emulators.base import MIN_TRAIN_EVENTS, Emulator, TrainingData
from jaxseis.emulators.domain import check_receiver
from jaxseis.emulators.registry import get_family
from jaxseis.geometry import DEFAULT_GRID, check_grid, check_inside, source_features
from jaxseis.gp import GaussianProcesses, fit_gps
from jaxseis.preprocess import Alignment, align, fit_alignment, fit_standardizer

__all__ = ["Peaks", "fit", "fit_peaks", "fit_receivers", "training_data"]


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
    family = get_family(kind)
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
    family = get_family(kind)
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
        check_inside(s, grid, f"{name}_sources")
    n_train, n_val = len(data.train_sources), len(data.val_sources)
    if n_train < min_train or n_val < 1:
        raise ValueError(
            f"too few events to fit an emulator: {n_train} training and {n_val} validation; "
            f"it needs at least {min_train} training events and 1 validation event"
        )
