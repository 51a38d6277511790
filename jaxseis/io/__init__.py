"""Files other seismological software reads and writes: waveforms and stations (ObsPy),
NonLinLoc, QuakeML.

Submodules (imported on first use, so ``import jaxseis.io`` loads neither ObsPy nor the
formats):

* :mod:`jaxseis.io.coordinates`: :class:`~jaxseis.io.coordinates.GeoTransform`, model
  ``(x, y, z)`` <-> latitude, longitude and depth, shared by every reader and writer;
* :mod:`jaxseis.io.waveforms` (a subpackage: options, reading, checks, processing, trigger,
  writing): an :class:`~jaxseis.observation.Observation` from miniSEED, SAC or any file ObsPy
  reads (:func:`read_waveforms`), and synthetic observations written out;
* :mod:`jaxseis.io.stations`: station positions from StationXML or a station table, and
  inventories of model receivers;
* :mod:`jaxseis.io.nonlinloc`: export of a location problem for ``NLLoc`` and the NonLinLoc
  formats re-exported from :mod:`jaxseis.io.nll_grid` (3-D velocity and travel-time grids; a
  subpackage: header, buffer, velocity, time_grids) and :mod:`jaxseis.io.nll_obs`
  (``NLLOC_OBS`` phase files);
* :mod:`jaxseis.io.nll_hyp`: NonLinLoc location files (``.hyp``) in and out (a subpackage:
  writing, reading);
* :mod:`jaxseis.io.quakeml`: ObsPy ``Event``/``Catalog`` from a location summary, QuakeML;
* :mod:`jaxseis.io.events`: a location's files (QuakeML, ``.hyp``, NetCDF) and catalogues of
  located events;
* :mod:`jaxseis.io.summary`, :mod:`jaxseis.io.ellipsoid`: the location summary they share
  and the confidence ellipsoid of a covariance.

The waveform and station functions are also available here (``jaxseis.io.read_waveforms``),
loaded on first use.
"""

import importlib

_MODULES = (
    "coordinates",
    "ellipsoid",
    "events",
    "nll_grid",
    "nll_hyp",
    "nll_obs",
    "nonlinloc",
    "quakeml",
    "stations",
    "summary",
    "waveforms",
)

_FUNCTIONS = {
    "GeoTransform": "coordinates",
    "StationTable": "stations",
    "WaveformOptions": "waveforms",
    "catalogue_events": "events",
    "model_window": "waveforms",
    "observation_from_stream": "waveforms",
    "observation_to_stream": "waveforms",
    "read_station_table": "stations",
    "read_stations": "stations",
    "read_stream": "waveforms",
    "read_waveforms": "waveforms",
    "station_inventory": "stations",
    "station_positions": "stations",
    "trigger_time": "waveforms",
    "write_station_table": "stations",
    "write_stationxml": "stations",
    "write_event_files": "events",
    "write_waveforms": "waveforms",
}

__all__ = [*_MODULES, *_FUNCTIONS]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f"{__name__}.{_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
