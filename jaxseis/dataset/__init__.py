"""Datasets of simulated traces: the container, its files, splits, making and bundled data.

========== ===================================================================================
container  :class:`Dataset` (traces ``[n_receivers, n_events, n_samples]`` Pa, sources and
           receivers km, ``dt`` s, split codes) and :func:`validate_dataset`
storage    :func:`save` and :func:`load` (HDF5, format version, checksums, validated)
sampling   seeded source nodes (:func:`latin_hypercube_nodes`, :func:`random_nodes`) and
           :func:`split_indices`
making     :func:`simulate_dataset` and the benchmark, dense and paper-event datasets
bundled    the files shipped in ``jaxseis/data`` (:func:`load_benchmark`,
           :func:`load_paper_event`)
cache      the dense training set in the cache directory (:func:`load_dense`)
========== ===================================================================================
"""

from jaxseis.dataset.bundled import bundled_path, load_benchmark, load_paper_event
from jaxseis.dataset.cache import load_dense
from jaxseis.dataset.container import MAX_ABS_TRACE, SPLIT_CODES, Dataset, validate_dataset
from jaxseis.dataset.making import (
    BENCHMARK_SEED,
    DENSE_SEED,
    PAPER_EVENT_KM,
    make_benchmark,
    make_dense,
    make_paper_event,
    simulate_dataset,
)
from jaxseis.dataset.sampling import (
    SOURCE_Z_MAX_KM,
    latin_hypercube_nodes,
    random_nodes,
    split_indices,
)
from jaxseis.dataset.storage import FORMAT_VERSION, QUANT_BITS, load, save

__all__ = [
    "BENCHMARK_SEED",
    "DENSE_SEED",
    "FORMAT_VERSION",
    "MAX_ABS_TRACE",
    "PAPER_EVENT_KM",
    "QUANT_BITS",
    "SOURCE_Z_MAX_KM",
    "SPLIT_CODES",
    "Dataset",
    "bundled_path",
    "latin_hypercube_nodes",
    "load",
    "load_benchmark",
    "load_dense",
    "load_paper_event",
    "make_benchmark",
    "make_dense",
    "make_paper_event",
    "random_nodes",
    "save",
    "simulate_dataset",
    "split_indices",
    "validate_dataset",
]
