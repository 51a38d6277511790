"""jaxseis: fast Bayesian microseismic event location with differentiable emulators in JAX.

The public API is re-exported here; see the modules for details:

* :mod:`jaxseis.geometry`: the grid, receiver layouts, source features;
* :mod:`jaxseis.velocity`: velocity/density models, NonLinLoc grid export;
* :mod:`jaxseis.simulate`: the acoustic finite-difference solver and reciprocity;
* :mod:`jaxseis.dataset`: the ``Dataset`` container and the bundled datasets.
"""

__version__ = "0.1.0"

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
from jaxseis.geometry import (
    CENTRAL_RECEIVER_KM,
    DEFAULT_GRID,
    Grid,
    benchmark_receivers_km,
    layout_23_km,
    location_receivers_km,
    source_features,
)
from jaxseis.simulate import SolverConfig, reciprocal_traces, simulate
from jaxseis.velocity import VelocityModel, from_arrays, gardner_density, marine_model

__all__ = [
    "CENTRAL_RECEIVER_KM",
    "DEFAULT_GRID",
    "PAPER_EVENT_KM",
    "Dataset",
    "Grid",
    "SolverConfig",
    "VelocityModel",
    "__version__",
    "benchmark_receivers_km",
    "from_arrays",
    "gardner_density",
    "layout_23_km",
    "load",
    "load_benchmark",
    "load_dense",
    "load_paper_event",
    "location_receivers_km",
    "make_benchmark",
    "make_dense",
    "make_paper_event",
    "marine_model",
    "reciprocal_traces",
    "save",
    "simulate",
    "source_features",
]
