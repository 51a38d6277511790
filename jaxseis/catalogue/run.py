"""``locate_catalogue``: many events, in this process or on Dask workers, resumable.

The events are cut into tasks of whole blocks; each task goes to a worker, which builds the
:class:`~jaxseis.catalogue.Locator` from a :class:`LocatorSpec` once (it is cached in the
worker process, so every worker compiles once per configuration) and returns one record per
event. Records are appended to the run's :class:`~jaxseis.catalogue.journal.Journal` as tasks
finish, so a re-run resumes where a crash, a kill or an interrupt stopped, and a worker lost
mid-run only costs the tasks Dask reruns elsewhere. Every event's result depends only on the
event, its id and the spec (see :mod:`~jaxseis.catalogue.locator`), so the catalogue is the same
whatever the number of workers, tasks or devices.

Where the work runs:

* ``client=None, workers=None`` (default): in this process, one block per JAX device;
* ``workers=N``: a Dask ``LocalCluster`` of ``N`` worker processes on this machine;
* ``scheduler="tcp://host:8786"`` or ``client=``: any running Dask cluster, e.g. one started
  on a batch system with dask-jobqueue::

      from dask_jobqueue import SLURMCluster
      cluster = SLURMCluster(cores=8, processes=8, memory="32GB", walltime="02:00:00")
      cluster.scale(jobs=4)          # 32 worker processes
      locate_catalogue(spec, events, output="cat.jsonl", scheduler=cluster.scheduler_address)

  The workers need jaxseis installed and the emulator files readable at the paths of the spec.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxseis.catalogue.journal import Journal, write_table
from jaxseis.catalogue.locator import CATALOGUE_NUTS, CATALOGUE_STAGE, Locator
from jaxseis.inference.global_stage import GlobalStage
from jaxseis.inference.importance import ImportanceOptions
from jaxseis.inference.nuts import NutsOptions
from jaxseis.inference.prior import BoxPrior
from jaxseis.observation import Observation
from jaxseis.progress import Progress

__all__ = ["CatalogueRun", "LocatorSpec", "build_locator", "locate_catalogue"]


class LocatorSpec(NamedTuple):
    """Everything a worker needs to build the same :class:`Locator` (picklable, hashable).

    Attributes:
        models: emulator files, one per receiver (read on the workers); empty for the bundled
            emulators of ``bundled_receivers``.
        bundled_receivers: rows of the bundled emulators (when ``models`` is empty).
        prior: ``(lower [3], upper [3], t0, log_amplitude)`` as plain tuples and numbers (see
            :class:`~jaxseis.inference.BoxPrior`).
        method: ``"laplace"`` or ``"nuts"``.
        stage: the global stage.
        nuts: NUTS settings.
        seed: bank and event keys.
        block_size: events per compiled block.
        domain: ``"time"`` (white noise) or ``"frequency"`` (coloured).
        devices: JAX devices per worker process (``None``: one per usable core of the worker).
        keep_draws: keep each event's posterior draws in its record (``draws``, ``[n, 5]``).
        emulator_error: the emulators' error model marginalised in the likelihood (needs
            ``domain="frequency"``): ``"bundled"`` (the bundled emulators' model, fitted on
            the benchmark's validation split; see
            :func:`jaxseis.pretrained.bundled_emulator_error`), a file written by
            :func:`jaxseis.likelihood.emulator_error.save_emulator_error`, or None.
        band_hz: ``(low, high)`` Hz of the frequency-domain likelihood, or None (the error
            model's band, else all bins).
        importance: with ``method="laplace"``, importance sampling from the Laplace
            approximation (:class:`~jaxseis.inference.importance.ImportanceOptions`), or None.
    """

    models: tuple[str, ...] = ()
    bundled_receivers: tuple[int, ...] = (1, 2, 3, 4)
    prior: tuple = ((0.0, 0.0, 0.0), (1.0, 1.0, 2.43), (-0.3, 0.3), (-5.0, 5.0))
    method: str = "laplace"
    stage: GlobalStage = CATALOGUE_STAGE
    nuts: NutsOptions = CATALOGUE_NUTS
    seed: int = 0
    block_size: int = 8
    domain: str = "time"
    devices: int | None = None
    keep_draws: bool = False
    emulator_error: str | None = None
    band_hz: tuple[float, float] | None = None
    importance: ImportanceOptions | None = None

    @classmethod
    def of(cls, prior: BoxPrior, **fields) -> LocatorSpec:
        """A spec with the prior given as a :class:`~jaxseis.inference.BoxPrior`."""

        def plain(v):
            a = np.asarray(v, dtype=np.float64)
            return float(a) if a.ndim == 0 else tuple(float(x) for x in a.ravel())

        p = (plain(prior.lower), plain(prior.upper), plain(prior.t0), plain(prior.log_amplitude))
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        if "models" in fields:
            fields["models"] = tuple(str(m) for m in fields["models"])
        return cls(prior=p, **fields)


_LOCATORS: dict[LocatorSpec, Locator] = {}


def build_locator(spec: LocatorSpec) -> Locator:
    """The :class:`Locator` of a spec, built once per process (splitting the CPU into
    ``spec.devices`` JAX devices first if JAX has not started yet)."""
    if spec not in _LOCATORS:
        from jaxseis.runtime import usable_cores, use_cpu_cores

        with contextlib.suppress(RuntimeError):  # JAX already started: keep its devices
            use_cpu_cores(spec.devices or usable_cores())
        if spec.models:
            from jaxseis.emulators import load

            emulators = [load(p) for p in spec.models]
        else:
            from jaxseis.pretrained import load_bundled

            emulators = load_bundled(spec.bundled_receivers)
        lower, upper, t0, log_amplitude = spec.prior
        error = None
        if spec.emulator_error == "bundled":
            if spec.models:
                raise ValueError(
                    "emulator_error='bundled' is the bundled emulators' model; give the file "
                    "of your emulators' error model (save_emulator_error)"
                )
            from jaxseis.pretrained import bundled_emulator_error

            error = bundled_emulator_error(spec.bundled_receivers)
        elif spec.emulator_error is not None:
            from jaxseis.likelihood.emulator_error import load_emulator_error

            error = load_emulator_error(spec.emulator_error)
        _LOCATORS[spec] = Locator(
            emulators, BoxPrior(np.asarray(lower), np.asarray(upper), t0, log_amplitude),
            method=spec.method, stage=spec.stage, nuts=spec.nuts, seed=spec.seed,
            block_size=spec.block_size, domain=spec.domain, keep_draws=spec.keep_draws,
            devices=spec.devices,
            emulator_error=error, band_hz=spec.band_hz, importance=spec.importance,
        )  # fmt: skip
    return _LOCATORS[spec]


def _run_task(spec: LocatorSpec, observations: Sequence[Observation]) -> list[dict]:
    return build_locator(spec).locate_blocks(observations)


class CatalogueRun(NamedTuple):
    """What :func:`locate_catalogue` did.

    Attributes:
        records: every event's record, in the order of the events given (resumed ones from the
            journal).
        located: events located in this run (the others came from the journal).
        wall_s: wall time of this run, s.
        first_result_s: time to the first appended record, s (None if nothing was located).
        journal: the record file; table: the CSV catalogue.
    """

    records: list[dict]
    located: int
    wall_s: float
    first_result_s: float | None
    journal: Path
    table: Path


def locate_catalogue(
    spec: LocatorSpec,
    observations: Iterable[Observation],
    *,
    output: str | Path,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    task_blocks: int = 2,
    progress: bool | None = None,
) -> CatalogueRun:
    """Locate every event and write the catalogue.

    Args:
        spec: the locator's settings.
        observations: the events (each with a unique ``event_id``).
        output: the record journal (``.jsonl``); the CSV table goes beside it (``.csv``).
            Events already in the journal are not located again (resume).
        client: a ``distributed.Client`` to use.
        scheduler: address of a running Dask scheduler (ignored with ``client``).
        workers: start a local Dask cluster of this many worker processes.
        task_blocks: blocks per task (a task holds ``task_blocks * spec.block_size`` events).
        progress: a progress bar with rate and ETA (default: when stderr is a terminal).

    Raises:
        ValueError: duplicate event ids, or a journal that is not one.
        OSError: an output location that cannot be written (checked before any work).
    """
    from jaxseis.files import check_writable

    journal = Journal(output)
    table = Path(output).with_suffix(".csv")
    check_writable(journal.path)
    check_writable(table)
    observations = list(observations)
    ids = [str(o.event_id) for o in observations]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"event ids must be unique; repeated: {dup}")
    done = journal.done()
    pending = [o for o in observations if str(o.event_id) not in done]
    size = max(1, task_blocks) * spec.block_size
    tasks = [pending[i : i + size] for i in range(0, len(pending), size)]
    tic = time.perf_counter()
    first: list[float] = []
    bar = Progress(len(observations), desc="locating", unit="event", progress=progress,
                   initial=len(observations) - len(pending), leave=True)  # fmt: skip

    def finished(records: list[dict]) -> None:
        journal.append(records)
        if not first:
            first.append(time.perf_counter() - tic)
        bar.update(len(records))

    if workers is not None and spec.devices is None:  # share this machine's cores
        from jaxseis.runtime import usable_cores

        spec = spec._replace(devices=max(1, usable_cores() // int(workers)))
    try:
        if client is None and scheduler is None and workers is None:
            for task in tasks:
                finished(_run_task(spec, task))
        else:
            with _dask_client(client, scheduler, workers) as c:
                from distributed import as_completed

                futures = [c.submit(_run_task, spec, task, pure=False) for task in tasks]
                for future in as_completed(futures):
                    finished(future.result())
    finally:
        bar.close()
    by_id = {str(r["event_id"]): r for r in journal.records()}
    records = [by_id[i] for i in ids if i in by_id]
    write_table(records, table)
    return CatalogueRun(
        records, len(pending), time.perf_counter() - tic, first[0] if first else None,
        journal.path, table,
    )  # fmt: skip


@contextlib.contextmanager
def _dask_client(client, scheduler, workers):
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as c:
            yield c
        return
    with (
        LocalCluster(
            n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,  # fmt: skip
        Client(cluster) as c,
    ):
        yield c
