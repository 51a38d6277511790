"""Log-likelihoods of a source position.

* :mod:`jaxseis.likelihood.waveform`: Gaussian white-noise likelihood of observed traces;
* :mod:`jaxseis.likelihood.edt`: arrival-time likelihoods (NonLinLoc's Equal-Differential-Time
  and the ordinary Gaussian one with an explicit origin time).
"""
