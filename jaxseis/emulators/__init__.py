"""Emulators of the trace at one receiver as a function of the source position.

Families (the paper's Fig. 3 and its baseline):

========== ==============================================================================
nn_direct  network from features to the aligned trace (Sec. 2.2.1)
pca_nn     PCA of the aligned traces, network for the coefficients (Sec. 2.2.2)
pca_gp     PCA of the aligned traces, one GP per coefficient (Sec. 2.2.3)
ae_nn      autoencoder of the aligned traces, network for the latent codes (Sec. 2.2.4)
ae_gp      autoencoder of the aligned traces, one GP per latent code (Sec. 2.2.5)
cvae       conditional variational autoencoder, decoder at z = 0 (Sec. 2.2.6)
wgan_gp    conditional WGAN-GP, generator at a fixed latent z = 0 (Sec. 2.2.7)
d18        Das et al. (2018) baseline on raw traces: 100 dominant samples, 200 GPs (App. A)
========== ==============================================================================

All share :mod:`jaxseis.emulators.base`: ``fit(kind, data, seed=...)``,
``make_predictor(emulator)`` (a pure ``source [3] -> trace`` function), ``predict`` (checked
and chunked), ``save`` and ``load`` (checked: :mod:`jaxseis.emulators.schema`). Where an
emulator may be used: :func:`training_box`, :func:`check_sources`, :func:`check_box`
(:mod:`jaxseis.emulators.domain`).
"""

from jaxseis.emulators import cvae, d18, nn_direct, wgan
from jaxseis.emulators.ae import AE_GP, AE_NN
from jaxseis.emulators.base import (
    FAMILIES,
    MIN_TRAIN_EVENTS,
    Emulator,
    Peaks,
    TrainingData,
    fit,
    fit_peaks,
    fit_receivers,
    load,
    make_predictor,
    predict,
    register,
    save,
    training_data,
)
from jaxseis.emulators.batching import default_batch_size
from jaxseis.emulators.domain import (
    POLICIES,
    DomainWarning,
    check_box,
    check_sources,
    training_box,
)
from jaxseis.emulators.pca import PCA_GP, PCA_NN

register(nn_direct)
register(PCA_NN)
register(PCA_GP)
register(AE_NN)
register(AE_GP)
register(cvae)
register(wgan)
register(d18)

__all__ = [
    "FAMILIES",
    "MIN_TRAIN_EVENTS",
    "POLICIES",
    "DomainWarning",
    "Emulator",
    "Peaks",
    "TrainingData",
    "check_box",
    "check_sources",
    "default_batch_size",
    "fit",
    "fit_peaks",
    "fit_receivers",
    "load",
    "make_predictor",
    "predict",
    "register",
    "save",
    "training_box",
    "training_data",
]
