"""Log-likelihoods of a source position.

* :mod:`jaxseis.likelihood.waveform`: Gaussian white-noise likelihood of observed traces;
* :mod:`jaxseis.likelihood.edt`: arrival-time likelihoods (NonLinLoc's Equal-Differential-Time
  and the ordinary Gaussian one with an explicit origin time).

Each constructor returns a jittable, differentiable function ``source [3] (km) -> log L`` that
:func:`jaxseis.inference.locate` samples.
"""

from jaxseis.likelihood.edt import (
    CONVENTIONS,
    edt_log_likelihood,
    gaussian_arrival_log_likelihood,
)
from jaxseis.likelihood.waveform import add_noise, default_sigma, gaussian_log_likelihood

__all__ = [
    "CONVENTIONS",
    "add_noise",
    "default_sigma",
    "edt_log_likelihood",
    "gaussian_arrival_log_likelihood",
    "gaussian_log_likelihood",
]
