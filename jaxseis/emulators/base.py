"""The emulator container and the protocol every family follows.

An emulator maps a source position (km) to the trace at one receiver. Every family except the
D18 baseline follows the paper's framework (Fig. 2):

1. features ``[dx, dy, dz, d]`` of the source relative to the receiver (km), standardised
   with training statistics;
2. two Matérn-3/2 ARD GPs predict the peak's log amplitude ratio ``log(A / A_ref)`` and time
   shift ``t - t_ref`` (s);
3. the family's *core* predicts the aligned trace (in units of the reference peak ``A_ref``);
4. :func:`jaxseis.preprocess.unalign` scales and shifts it back (fractional, differentiable).

The jobs around the container live in their own modules: fitting
(:mod:`jaxseis.emulators.fitting`), the pure predictor and checked prediction
(:mod:`jaxseis.emulators.predictor`), files (:mod:`jaxseis.emulators.storage`), the family
registry (:mod:`jaxseis.emulators.registry`) and the domain (:mod:`jaxseis.emulators.domain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import jax
import numpy as np

from jaxseis.geometry import DEFAULT_GRID, Grid
from jaxseis.gp import GaussianProcesses
from jaxseis.preprocess import Alignment, Standardizer

__all__ = ["MIN_TRAIN_EVENTS", "Emulator", "Family", "TrainingData"]

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

    # Optional: ``linear_head(core, config) -> (hidden, kernel [h, n_samples], bias
    # [n_samples])`` with ``predict_core(core, config)(z) == hidden(z) @ kernel + bias``. A
    # family whose output layer is linear provides it, and the emulated spectra of
    # :func:`jaxseis.emulators.predictor.apply_predictor_spectrum` skip the trace and its FFT.
