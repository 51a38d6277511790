"""jaxseis: fast Bayesian microseismic event location with differentiable emulators in JAX.

The public API is re-exported here; see the modules for details:

* :mod:`jaxseis.geometry`: the grid, receiver layouts, source features;
* :mod:`jaxseis.velocity`: velocity/density models;
* :mod:`jaxseis.simulate`: the acoustic finite-difference solver and reciprocity;
* :mod:`jaxseis.dataset`: the ``Dataset`` container and the bundled datasets;
* :mod:`jaxseis.emulators`: the eight emulator families (``fit``, ``predict``, ``save``,
  ``load``), :mod:`jaxseis.pretrained`: the bundled pretrained emulators;
* :mod:`jaxseis.forward`: the differentiable multi-receiver forward model;
* :mod:`jaxseis.likelihood`: waveform and arrival-time (EDT) likelihoods;
* :mod:`jaxseis.inference`: ``locate`` with NUTS or nested sampling, summaries, diagnostics;
* :mod:`jaxseis.traveltime`: pykonal travel-time tables and picks;
* :mod:`jaxseis.io`: NonLinLoc grids, phase and location files, QuakeML (ObsPy), the
  geographic transform (submodules load on first use);
* :mod:`jaxseis.metrics`: the paper's R2D; :mod:`jaxseis.latency`: timing helpers;
* :mod:`jaxseis.runtime`: ``use_cpu_cores`` (the CPU split into devices), caches.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

try:
    __version__ = _distribution_version("jaxseis")  # the one version source: pyproject.toml
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

from jaxseis import emulators, forward, inference, io, likelihood, metrics, pretrained
from jaxseis.dataset import (
    PAPER_EVENT_KM,
    Dataset,
    load,
    load_benchmark,
    load_dense,
    load_paper_event,
    make_benchmark,
    make_dense,
    make_paper_event,
    save,
)
from jaxseis.forward import make_forward
from jaxseis.geometry import (
    CENTRAL_RECEIVER_KM,
    DEFAULT_GRID,
    Grid,
    benchmark_receivers_km,
    layout_23_km,
    location_receivers_km,
    source_features,
)
from jaxseis.inference import BoxPrior, GlobalStage, locate, paper_prior, summary_table
from jaxseis.metrics import r2d
from jaxseis.picking import Picks, pick_arrivals
from jaxseis.pretrained import load_bundled
from jaxseis.runtime import use_cpu_cores
from jaxseis.simulate import SolverConfig, reciprocal_traces, simulate
from jaxseis.traveltime import TravelTimeTables, interpolate_traveltimes, traveltime_tables
from jaxseis.velocity import VelocityModel, from_arrays, gardner_density, marine_model

__all__ = [
    "CENTRAL_RECEIVER_KM",
    "DEFAULT_GRID",
    "PAPER_EVENT_KM",
    "BoxPrior",
    "Dataset",
    "GlobalStage",
    "Grid",
    "Picks",
    "SolverConfig",
    "TravelTimeTables",
    "VelocityModel",
    "__version__",
    "benchmark_receivers_km",
    "emulators",
    "forward",
    "from_arrays",
    "gardner_density",
    "inference",
    "interpolate_traveltimes",
    "io",
    "layout_23_km",
    "likelihood",
    "load",
    "load_benchmark",
    "load_bundled",
    "load_dense",
    "load_paper_event",
    "locate",
    "location_receivers_km",
    "make_benchmark",
    "make_dense",
    "make_forward",
    "make_paper_event",
    "marine_model",
    "metrics",
    "paper_prior",
    "pick_arrivals",
    "pretrained",
    "r2d",
    "reciprocal_traces",
    "save",
    "simulate",
    "source_features",
    "summary_table",
    "traveltime_tables",
    "use_cpu_cores",
]
