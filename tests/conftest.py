"""Shared fixtures: small models on small grids, so that the suite stays fast on 2 cores.

The CPU is split into two JAX devices before any test runs, as the ``jaxseis`` command line
does on a 2-core machine: NUTS runs with an even chain count then take the multi-device path,
the others (one chain, three chains) the single-device one.
"""

import gc
import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxseis.geometry import Grid
from jaxseis.runtime import use_cpu_cores
from jaxseis.velocity import from_arrays, gardner_density

TEST_CPU_DEVICES = 2
use_cpu_cores(TEST_CPU_DEVICES)

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench_script(name: str):
    """The module ``bench/<name>.py`` (the bench directory is not a package; it is put on
    ``sys.path``, as running ``python bench/<name>.py`` does, for the scripts'
    ``import benchlib``)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.append(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """Drop every compiled program after each test module.

    JAX's caches keep each compiled program (keyed by its static arguments, such as each
    locator's likelihood) for the life of the process, and each program holds memory
    mappings. Over the whole suite they approached the kernel's per-process limit
    (``vm.max_map_count``, 65530), beyond which XLA's compiler crashed with a segmentation
    fault; no test shares programs across modules."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="module")
def emulators():
    """The bundled NN-direct emulators of the four location receivers (a module may define
    its own ``emulators``)."""
    from jaxseis.pretrained import load_bundled

    return load_bundled((1, 2, 3, 4))


@pytest.fixture(scope="module")
def model(emulators):
    """The forward model of :func:`emulators`."""
    from jaxseis.forward import forward_model

    return forward_model(emulators)


@pytest.fixture(scope="session")
def layered_model():
    """A small layered variable-density model with water on top and lateral variation.

    41 x 41 x 61 nodes with the paper's spacing (0.5 km x 0.5 km x 0.6 km); water above
    z = 0.45 km, three layers below it, 3 % lateral Vp variation.
    """
    g = Grid(shape=(41, 41, 61), spacing_km=(0.0125, 0.0125, 0.01))
    x, _, z = np.meshgrid(*g.axes_km(), indexing="ij")
    vp = np.select([z < 0.2, z < 0.35, z <= 0.45], [3000.0, 2300.0, 1800.0], 1500.0)
    vp = vp * (1 + 0.03 * np.sin(2 * np.pi * x / 0.3) * (z <= 0.45))
    rho = np.where(z > 0.45, 1000.0, gardner_density(vp))
    return from_arrays(vp, rho, g, name="test-layered")
