"""jaxseis: fast Bayesian microseismic event location with differentiable emulators in JAX.

The flow of data (see the modules for details)::

    velocity model --simulate (reciprocity)--> Dataset --> emulators (one per receiver)
    Observation (traces, dt, receivers, noise model, reference time)
        + emulators --> waveform likelihood --> locate (NUTS | nested | Laplace) --> summary
        + travel-time tables --> EDT likelihood --/

Modules: :mod:`~jaxseis.geometry` (grid, receivers), :mod:`~jaxseis.velocity`,
:mod:`~jaxseis.simulate` (solver, reciprocity), :mod:`~jaxseis.dataset`,
:mod:`~jaxseis.emulators`, :mod:`~jaxseis.forward`, :mod:`~jaxseis.observation`,
:mod:`~jaxseis.noise`, :mod:`~jaxseis.likelihood`, :mod:`~jaxseis.traveltime`,
:mod:`~jaxseis.picking`, :mod:`~jaxseis.inference`, :mod:`~jaxseis.runtime` (devices, caches),
:mod:`~jaxseis.progress` (progress bars on a terminal),
:mod:`~jaxseis.files` (safe writing), :mod:`~jaxseis.io` (NonLinLoc grids, phase and
location files, QuakeML with ObsPy, the geographic transform), :mod:`~jaxseis.timing` (latency
and throughput of your own emulators and likelihoods), :mod:`~jaxseis.metrics` (the paper's R2D).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

try:
    __version__ = _distribution_version("jaxseis")  # the one version source: pyproject.toml
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

from jaxseis import (
    emulators,
    forward,
    inference,
    io,
    likelihood,
    metrics,
    noise,
    pretrained,
    timing,
)
from jaxseis.dataset import PAPER_EVENT_KM, Dataset, load_benchmark, load_paper_event
from jaxseis.dataset import load as load_dataset
from jaxseis.dataset import save as save_dataset
from jaxseis.forward import make_forward
from jaxseis.geometry import DEFAULT_GRID, Grid, location_receivers_km
from jaxseis.inference import (
    PARAMS,
    BoxPrior,
    GlobalStage,
    LaplaceOptions,
    NestedOptions,
    NutsOptions,
    event_prior,
    locate,
    paper_prior,
    summary_dict,
    summary_table,
)
from jaxseis.likelihood import (
    Likelihood,
    edt_log_likelihood,
    gaussian_arrival_log_likelihood,
    waveform_log_likelihood,
)
from jaxseis.noise import ColouredNoise, WhiteNoise, estimate_noise
from jaxseis.observation import Observation, make_observation, observe
from jaxseis.picking import Picks, pick_arrivals, picks_of
from jaxseis.pretrained import load_bundled
from jaxseis.runtime import use_cpu_cores
from jaxseis.simulate import SolverConfig, reciprocal_traces
from jaxseis.simulate import simulate as direct_traces
from jaxseis.traveltime import TravelTimeTables, traveltime_tables
from jaxseis.velocity import VelocityModel, from_arrays, marine_model

__all__ = [
    "DEFAULT_GRID",
    "PAPER_EVENT_KM",
    "PARAMS",
    "BoxPrior",
    "ColouredNoise",
    "Dataset",
    "GlobalStage",
    "Grid",
    "LaplaceOptions",
    "Likelihood",
    "NestedOptions",
    "NutsOptions",
    "Observation",
    "Picks",
    "SolverConfig",
    "TravelTimeTables",
    "VelocityModel",
    "WhiteNoise",
    "__version__",
    "direct_traces",
    "edt_log_likelihood",
    "emulators",
    "estimate_noise",
    "event_prior",
    "forward",
    "from_arrays",
    "gaussian_arrival_log_likelihood",
    "inference",
    "io",
    "likelihood",
    "load_benchmark",
    "load_bundled",
    "load_dataset",
    "load_paper_event",
    "locate",
    "location_receivers_km",
    "make_forward",
    "make_observation",
    "marine_model",
    "metrics",
    "noise",
    "observe",
    "paper_prior",
    "pick_arrivals",
    "picks_of",
    "pretrained",
    "reciprocal_traces",
    "save_dataset",
    "summary_dict",
    "summary_table",
    "timing",
    "traveltime_tables",
    "use_cpu_cores",
    "waveform_log_likelihood",
]
