"""Making datasets by simulation: any sources and receivers, the benchmark, the dense set and
the paper's event (:mod:`jaxseis.simulate` does the wave propagation)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from jaxseis.dataset.bundled import load_benchmark
from jaxseis.dataset.container import Dataset, validate_dataset
from jaxseis.dataset.sampling import latin_hypercube_nodes, random_nodes, split_indices
from jaxseis.geometry import benchmark_receivers_km, check_points, grid_to_dict, layout_23_km

__all__ = [
    "BENCHMARK_SEED",
    "DENSE_SEED",
    "PAPER_EVENT_KM",
    "make_benchmark",
    "make_dense",
    "make_paper_event",
    "simulate_dataset",
]

PAPER_EVENT_KM = np.array([0.375, 0.3, 1.57])
"""The event located in the paper's Sec. 3.2.2, km."""

BENCHMARK_SEED = 20210601
"""Seed of the bundled benchmark's sources and split."""

DENSE_SEED = 20210602
"""Seed of the dense training set's extra sources."""


def simulate_dataset(
    model,
    receivers_km,
    sources_km,
    split: np.ndarray,
    config=None,
    *,
    provenance: dict | None = None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """Traces of many sources at a few receivers: one reciprocal simulation per receiver.

    Args:
        model: :class:`~jaxseis.velocity.VelocityModel`.
        receivers_km: ``[n_receivers, 3]`` km.
        sources_km: ``[n_events, 3]`` km.
        split: ``[n_events]`` split codes.
        config: :class:`~jaxseis.simulate.SolverConfig` (default settings when ``None``).
        provenance: extra entries recorded with the data (e.g. the seed).
        progress: called with a one-line message after each simulation (``None``: silent).
    """
    from jaxseis.simulate import SolverConfig, check_config, reciprocal_traces

    config = SolverConfig() if config is None else config
    receivers = check_points(receivers_km, "receivers_km", model.grid)
    sources = check_points(sources_km, "sources_km", model.grid)
    dt_solver = check_config(model, config)
    traces = []
    for i, r in enumerate(receivers):
        tic = time.perf_counter()
        traces.append(reciprocal_traces(model, r, sources, config))
        if progress is not None:
            progress(
                f"receiver {i + 1}/{len(receivers)} at ({r[0]:.4f}, {r[1]:.4f}, {r[2]:.4f}) km: "
                f"{len(sources)} traces in {time.perf_counter() - tic:.1f} s"
            )
    prov = _simulation_provenance(
        model, config, dt_solver, "reciprocity: one simulation per receiver, source at the receiver"
    )
    prov["source"] = "volume injection, volume acceleration = unit-peak Ricker (m^3/s^2)"
    prov.update(provenance or {})
    return validate_dataset(
        Dataset(sources, receivers, np.stack(traces), config.record_dt, split, prov)
    )


def _simulation_provenance(model, config, dt_solver: float, method: str) -> dict:
    """What every simulated dataset records: model, grid, solver settings, method, units and
    the jaxseis version."""
    from jaxseis import __version__

    return {
        "model": model.name,
        "grid": grid_to_dict(model.grid),
        "solver": {**config._asdict(), "dt": dt_solver, "source_delay": config.t0},
        "method": method,
        "units": {"traces": "Pa", "positions": "km", "dt": "s"},
        "jaxseis_version": __version__,
    }


def make_benchmark(
    seed: int = BENCHMARK_SEED,
    n_events: int = 4000,
    n_train: int = 2000,
    n_validation: int = 1000,
    model=None,
    config=None,
    receivers_km=None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """The benchmark dataset: Latin-hypercube sources, traces at the 5 benchmark receivers.

    With the defaults this regenerates ``jaxseis/data/benchmark.h5`` to float32 round-off.
    """
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    receivers = benchmark_receivers_km(model.grid) if receivers_km is None else receivers_km
    sources = latin_hypercube_nodes(n_events, seed, model.grid)
    split = split_indices(n_events, n_train, n_validation, seed)
    return simulate_dataset(
        model, receivers, sources, split, config,
        provenance={"seed": seed, "sampling": "latin hypercube on grid nodes", "name": "benchmark"},
        progress=progress,
    )  # fmt: skip


def make_dense(
    n_train: int = 20000,
    seed: int = DENSE_SEED,
    benchmark: Dataset | None = None,
    model=None,
    config=None,
    progress: Callable[[str], None] | None = print,
) -> Dataset:
    """A dense training set from one reciprocal simulation per benchmark receiver.

    Sources: ``n_train`` extra grid nodes drawn uniformly (never a benchmark node), all labelled
    train, plus every benchmark event with its benchmark split label, so the benchmark's
    validation and test events stay held out and the benchmark's own training events remain
    training events. Traces of the benchmark events equal the bundled ones (same simulation).
    """
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    bench = load_benchmark() if benchmark is None else benchmark
    extra = random_nodes(n_train, seed, model.grid, exclude_km=bench.sources)
    sources = np.concatenate([bench.sources, extra])
    split = np.concatenate([bench.split, np.zeros(n_train, dtype=np.int8)])
    return simulate_dataset(
        model, bench.receivers, sources, split, config,
        provenance={"seed": seed, "sampling": "benchmark + uniform grid nodes", "name": "dense",
                    "n_extra_train": n_train},
        progress=progress,
    )  # fmt: skip


def make_paper_event(model=None, config=None, receivers_km=None) -> Dataset:
    """The paper's event at (0.375, 0.3, 1.57) km simulated directly at the 23 receivers.

    Returned as a one-event :class:`Dataset` labelled test, noise-free.
    """
    from jaxseis.simulate import SolverConfig, check_config, simulate
    from jaxseis.velocity import marine_model

    model = marine_model() if model is None else model
    config = SolverConfig() if config is None else config
    receivers = layout_23_km(model.grid) if receivers_km is None else receivers_km
    traces = simulate(model, PAPER_EVENT_KM, receivers, config)
    prov = _simulation_provenance(
        model, config, check_config(model, config),
        "direct: source at the event, recorded at the receivers",
    )  # fmt: skip
    prov["name"] = "paper_event"
    prov["noise"] = "none (add it at inference time from a seed)"
    return validate_dataset(
        Dataset(PAPER_EVENT_KM[None, :], np.asarray(receivers), traces[:, None, :],
                config.record_dt, np.array([2], dtype=np.int8), prov)
    )  # fmt: skip
