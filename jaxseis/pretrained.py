"""The pretrained emulators bundled with jaxseis, and how to remake them.

``jaxseis/data/models/`` ships one NN-direct emulator (network plus the two peak-alignment
GPs) per receiver of the bundled benchmark dataset (:func:`jaxseis.load_benchmark`): the
central receiver and the 4 location receivers. They were trained by :func:`train_bundled`
(``jaxseis train --bundled``) on the benchmark's 2000 training sources, as the paper did,
with the seed :data:`BUNDLED_SEED`; the validation split stopped the training and the test
split was never read. Each file is a versioned emulator file (:func:`jaxseis.emulators.save`).

The names are ``<kind>_r<index>.npz`` with ``index`` the receiver's row in the benchmark
dataset (0 = central, 1-4 = the location receivers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxseis import emulators as em

__all__ = [
    "BUNDLED_DIR",
    "BUNDLED_KIND",
    "BUNDLED_SEED",
    "bundled_emulator_error",
    "bundled_path",
    "load_bundled",
    "train_bundled",
]

#: where the bundled emulator files live
BUNDLED_DIR = Path(__file__).parent / "data" / "models"
#: the family of the bundled emulators
BUNDLED_KIND = "nn_direct"
#: the seed they were trained with
BUNDLED_SEED = 20210601
_N_RECEIVERS = 5


def bundled_path(receiver: int, kind: str = BUNDLED_KIND, directory: str | Path | None = None):
    """Path of the emulator file of benchmark receiver ``receiver`` (0-4)."""
    return Path(directory or BUNDLED_DIR) / f"{kind}_r{_receiver_index(receiver)}.npz"


def _receiver_index(r) -> int:
    """``r`` as a benchmark receiver index 0-4; anything else (``"1"``, ``1.7``, ``True``) is a
    ``ValueError``."""
    if isinstance(r, bool) or not isinstance(r, int | np.integer):
        raise ValueError(
            f"bundled receiver indices are whole numbers 0-{_N_RECEIVERS - 1}, got {r!r}"
        )
    if not 0 <= r < _N_RECEIVERS:
        raise ValueError(f"bundled receiver index {r} out of range 0-{_N_RECEIVERS - 1}")
    return int(r)


def load_bundled(
    receivers: Sequence[int] = (1, 2, 3, 4),
    *,
    kind: str = BUNDLED_KIND,
    directory: str | Path | None = None,
) -> list[em.Emulator]:
    """Load the bundled emulators of the benchmark receivers ``receivers``.

    Args:
        receivers: rows of the benchmark dataset (0 = central receiver, 1-4 = the location
            receivers; the default).
        kind: emulator family of the files.
        directory: another directory of files made by :func:`train_bundled`.

    Returns:
        One :class:`~jaxseis.emulators.Emulator` per receiver, in the order asked.

    Raises:
        FileNotFoundError: a file is missing (remake them with ``jaxseis train --bundled``).
        ValueError: ``receivers`` not a sequence of whole numbers 0-4 (a single index too:
            write ``(1,)``), or a corrupt file.
    """
    if isinstance(receivers, np.ndarray) and receivers.ndim == 1:
        receivers = receivers.tolist()
    if isinstance(receivers, str | bytes) or not isinstance(receivers, Sequence | range):
        raise ValueError(
            f"receivers must be a sequence of benchmark receiver indices 0-{_N_RECEIVERS - 1}, "
            f"e.g. (1,) or (1, 2, 3, 4); got {receivers!r}"
        )
    indices = [_receiver_index(r) for r in receivers]
    if not indices:
        raise ValueError("receivers is empty: give at least one index 0-4")
    out = []
    for r in indices:
        path = bundled_path(r, kind, directory)
        if not path.exists():
            raise FileNotFoundError(
                f"pretrained emulator {path} not found; make it with `jaxseis train --bundled`"
            )
        out.append(em.load(path, kind=kind))
    return out


def bundled_emulator_error(receivers: Sequence[int] = (1, 2, 3, 4), *, kind: str = BUNDLED_KIND):
    """The error model of the bundled emulators of ``receivers``, fitted on the validation
    split of the bundled benchmark (simulations the training did not fit; the test split is
    not read). See :mod:`jaxseis.likelihood.emulator_error`.

    Returns:
        An :class:`~jaxseis.likelihood.EmulatorError` in the order of ``receivers``.
    """
    from jaxseis.dataset import load_benchmark
    from jaxseis.likelihood.emulator_error import fit_emulator_error

    emulators = load_bundled(receivers, kind=kind)
    bench = load_benchmark()
    val = bench.indices("validation")
    rows = [_receiver_index(r) for r in receivers]
    return fit_emulator_error(emulators, bench.sources[val], bench.traces[rows][:, val])


def train_bundled(
    directory: str | Path | None = None,
    *,
    receivers: Sequence[int] = range(_N_RECEIVERS),
    kind: str = BUNDLED_KIND,
    seed: int = BUNDLED_SEED,
    n_train: int | None = None,
    dataset=None,
    **options,
) -> list[Path]:
    """Train and save the emulators of the benchmark receivers (what ships in the package).

    Args:
        directory: output directory (default: the package's ``data/models``).
        receivers: rows of the benchmark dataset to train for.
        kind: emulator family.
        seed: training seed (the same seed gives the same files).
        n_train: keep only the first ``n_train`` training sources (quick runs).
        dataset: another :class:`~jaxseis.Dataset` with the same receiver rows (default: the
            bundled benchmark).
        **options: passed to :func:`jaxseis.emulators.fit` (``config``, ``gp_options``, ...).

    Returns:
        The paths written, in the order of ``receivers``.
    """
    from jaxseis.dataset import load_benchmark

    ds = load_benchmark() if dataset is None else dataset
    paths = []
    for r in receivers:
        data = em.training_data(ds, int(r), n_train=n_train)
        e = em.fit(kind, data, seed=seed, **options)
        e = e._replace(info={**e.info, "receiver_index": int(r)})
        paths.append(em.save(e, bundled_path(r, kind, directory)))
        print(
            f"receiver {r} at {np.round(data.receiver_km, 3).tolist()} km: "
            f"fitted in {e.info['fit_s']:.0f} s -> {paths[-1]}",
            flush=True,
        )
    return paths
