"""Log-likelihoods of the event parameters ``(x, y, z, t0, log_amplitude)``.

* :mod:`jaxseis.likelihood.base`: the :class:`Likelihood` container (a hashable function of the
  parameters, the model's arrays and the event's data);
* :mod:`jaxseis.likelihood.waveform`: Gaussian waveform likelihoods under white noise (time
  domain) or coloured noise (Whittle, frequency domain), with the cross-correlation search;
* :mod:`jaxseis.likelihood.origin_time`: the waveform likelihood with the origin time
  marginalised over its prior on a lag grid, and draws of it from its conditional;
* :mod:`jaxseis.likelihood.emulator_error`: the emulators' error model (amplitude, timing and
  waveform errors estimated on held-out simulations), marginalised by the waveform likelihoods;
* :mod:`jaxseis.likelihood.edt`: arrival-time likelihoods (NonLinLoc's Equal-Differential-Time
  and the Gaussian one with an explicit origin time).

Each constructor returns a :class:`Likelihood` that :func:`jaxseis.locate` samples.
"""

from jaxseis.likelihood.base import PARAMS, POSITION, Likelihood, as_likelihood
from jaxseis.likelihood.edt import (
    CONVENTIONS,
    edt_log_likelihood,
    edt_pair_residuals,
    gaussian_arrival_log_likelihood,
)
from jaxseis.likelihood.emulator_error import EmulatorError, fit_emulator_error
from jaxseis.likelihood.origin_time import OriginTimeMarginal, marginal_origin_time
from jaxseis.likelihood.waveform import waveform_data, waveform_log_likelihood

__all__ = [
    "CONVENTIONS",
    "PARAMS",
    "POSITION",
    "EmulatorError",
    "Likelihood",
    "OriginTimeMarginal",
    "as_likelihood",
    "edt_log_likelihood",
    "edt_pair_residuals",
    "fit_emulator_error",
    "gaussian_arrival_log_likelihood",
    "marginal_origin_time",
    "waveform_data",
    "waveform_log_likelihood",
]
