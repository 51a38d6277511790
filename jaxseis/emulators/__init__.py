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

All share the container :class:`Emulator` (:mod:`~jaxseis.emulators.base`) and:

============ ================================================================================
fitting      ``fit(kind, data, seed=...)``, ``fit_receivers``, ``fit_peaks``, ``training_data``
predictor    ``make_predictor(emulator)`` (a pure ``source [3] -> trace`` function),
             ``predictor_parts``/``apply_predictor`` (stackable), ``predict`` (checked, chunked)
storage      ``save`` and ``load`` (checked: :mod:`jaxseis.emulators.schema`)
registry     ``FAMILIES``, ``register``, ``get_family``
domain       where an emulator may be used: ``training_box``, ``check_sources``, ``check_box``
batching     chunked evaluation of large inputs
============ ================================================================================
"""

from jaxseis.emulators import cvae, d18, nn_direct, wgan
from jaxseis.emulators.ae import AE_GP, AE_NN
from jaxseis.emulators.base import MIN_TRAIN_EVENTS, Emulator, Family, TrainingData
from jaxseis.emulators.batching import default_batch_size
from jaxseis.emulators.domain import (
    POLICIES,
    DomainWarning,
    check_box,
    check_sources,
    training_box,
)
from jaxseis.emulators.fitting import Peaks, fit, fit_peaks, fit_receivers, training_data
from jaxseis.emulators.pca import PCA_GP, PCA_NN
from jaxseis.emulators.predictor import apply_predictor, make_predictor, predict, predictor_parts
from jaxseis.emulators.registry import FAMILIES, get_family, register
from jaxseis.emulators.storage import load, save

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
    "Family",
    "Peaks",
    "TrainingData",
    "apply_predictor",
    "check_box",
    "check_sources",
    "default_batch_size",
    "fit",
    "fit_peaks",
    "fit_receivers",
    "get_family",
    "load",
    "make_predictor",
    "predict",
    "predictor_parts",
    "register",
    "save",
    "training_box",
    "training_data",
]
