"""Files other seismological software reads and writes: NonLinLoc, QuakeML (through ObsPy).

Submodules (imported on first use, so ``import jaxseis.io`` loads neither ObsPy nor the
formats):

* :mod:`jaxseis.io.coordinates`: :class:`~jaxseis.io.coordinates.GeoTransform`, model
  ``(x, y, z)`` <-> latitude, longitude and depth, shared by every writer;
* :mod:`jaxseis.io.nonlinloc`: export of a location problem for ``NLLoc`` and the NonLinLoc
  formats re-exported from :mod:`jaxseis.io.nll_grid` (3-D velocity and travel-time grids) and
  :mod:`jaxseis.io.nll_obs` (``NLLOC_OBS`` phase files);
* :mod:`jaxseis.io.nll_hyp`: NonLinLoc location files (``.hyp``) in and out;
* :mod:`jaxseis.io.quakeml`: ObsPy ``Event``/``Catalog`` from a location summary, QuakeML;
* :mod:`jaxseis.io.summary`, :mod:`jaxseis.io.ellipsoid`: the location summary they share
  and the confidence ellipsoid of a covariance.
"""

import importlib

__all__ = [
    "coordinates",
    "ellipsoid",
    "nll_grid",
    "nll_hyp",
    "nll_obs",
    "nonlinloc",
    "quakeml",
    "summary",
]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
