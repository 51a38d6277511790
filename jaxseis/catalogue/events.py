"""Synthetic catalogues: the events of a dataset split as observations.

:func:`dataset_events` turns held-out events of a dataset (by default the bundled benchmark's
test split, never seen in training) into :class:`~jaxseis.observation.Observation` s at an
emulator set's receivers, each with a random origin time and amplitude inside the prior and
seeded noise: the natural test catalogue of a locator.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxseis.inference.prior import BoxPrior
from jaxseis.observation import Observation, observe

__all__ = ["dataset_events"]


def _draw(rng: np.random.Generator, value) -> float:
    """A value uniform in the middle half of an interval, or the fixed value."""
    v = np.asarray(value, dtype=np.float64).ravel()
    if v.size == 1:
        return float(v[0])
    lo, hi = float(v[0]), float(v[1])
    return float(rng.uniform(0.75 * lo + 0.25 * hi, 0.25 * lo + 0.75 * hi))


def dataset_events(
    dataset,
    receivers,
    *,
    prior: BoxPrior,
    split: str = "test",
    n_events: int | None = None,
    seed: int = 0,
    noise=None,
) -> list[Observation]:
    """The first ``n_events`` events of a dataset split as observations.

    Args:
        dataset: a :class:`~jaxseis.dataset.Dataset` (e.g. :func:`jaxseis.load_benchmark`).
        receivers: the receivers (emulators, ``[n, 3]`` km or dataset rows; see
            :func:`jaxseis.observe`).
        prior: the prior: each event's ``t0`` and log amplitude are drawn uniformly from the
            middle half of the prior's intervals (so that no truth lies at a bound), or set to
            its fixed values.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        n_events: how many (default: the whole split).
        seed: seeds the origin times, amplitudes and the noise; event ``i`` of the dataset
            draws them from ``numpy.random.default_rng([seed, i])`` and the noise key
            ``fold_in(key(seed), i)``, so an event is the same whatever ``n_events``.
        noise: the noise model (default: white noise at the paper's level per event).

    Returns:
        Observations with ids ``ev<i>`` (``i`` the event's index in the dataset) and their
        truth ``(x, y, z, t0, log_amplitude)``.

    Raises:
        ValueError: an unknown or empty split, ``n_events < 1``, or receivers the dataset
            does not have.
    """
    idx = dataset.indices(split)
    if len(idx) == 0:
        raise ValueError(f"the {split} split of the dataset is empty")
    if n_events is not None:
        if n_events < 1:
            raise ValueError(f"n_events must be >= 1; got {n_events}")
        idx = idx[:n_events]
    key = jax.random.key(seed)
    events = []
    for i in map(int, idx):
        rng = np.random.default_rng([seed, i])
        t0, log_amplitude = _draw(rng, prior.t0), _draw(rng, prior.log_amplitude)
        events.append(
            observe(
                dataset,
                receivers,
                event=i,
                noise=noise,
                noise_key=jax.random.fold_in(key, i),
                t0=t0,
                log_amplitude=log_amplitude,
                event_id=f"ev{i}",
            )
        )
    return events
