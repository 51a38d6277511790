"""Emulators of the trace at one receiver as a function of the source position.

Families (the paper's Fig. 3 and its baseline):

========== ==============================================================================
nn_direct  network from features to the aligned trace (Sec. 2.2.1)
pca_nn     PCA of the aligned traces, network for the coefficients (Sec. 2.2.2)
========== ==============================================================================

All share :mod:`jaxseis.emulators.base`: ``fit(kind, data, seed=...)``,
``make_predictor(emulator)`` (a pure ``source [3] -> trace`` function), ``save`` and ``load``.
"""

from jaxseis.emulators import nn_direct
from jaxseis.emulators.base import (
    FAMILIES,
    Emulator,
    TrainingData,
    fit,
    load,
    make_predictor,
    predict,
    register,
    save,
    training_data,
)
from jaxseis.emulators.pca import PCA_NN

register(nn_direct)
register(PCA_NN)

__all__ = [
    "FAMILIES",
    "Emulator",
    "TrainingData",
    "fit",
    "load",
    "make_predictor",
    "predict",
    "register",
    "save",
    "training_data",
]
