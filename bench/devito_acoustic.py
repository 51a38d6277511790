"""Devito's rate on the solver's problem, for ``bench_simulate.py`` (run in a child process).

The same padded grid, velocity and density, time step, number of steps, source and receiver
points as the JAX solver; Devito's own formulation of the first-order staggered acoustic
system (8th order in space, ``grad`` and ``div`` staggered by half a cell), with a damping
layer on the padding instead of the CPML (cheaper than the CPML's memory variables, so the
comparison favours Devito slightly). Threads: OpenMP with ``OMP_NUM_THREADS``.

Run: ``python bench/devito_acoustic.py problem.npz``; prints one line of JSON.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def run(problem: dict) -> dict:
    """Build the operator, run it once briefly (compilation), then time all the steps."""
    from devito import (
        NODE,
        Eq,
        Function,
        Grid,
        Operator,
        SparseTimeFunction,
        TimeFunction,
        VectorTimeFunction,
        configuration,
        div,
        grad,
    )

    vp, rho = problem["vp"], problem["rho"]
    spacing = tuple(float(h) for h in problem["spacing_m"])
    dt, n_steps, n_pml = float(problem["dt"]), int(problem["n_steps"]), int(problem["n_pml"])
    shape = vp.shape
    grid = Grid(
        shape=shape,
        extent=tuple((n - 1) * h for n, h in zip(shape, spacing, strict=True)),
        dtype=np.float32,
    )
    p = TimeFunction(name="p", grid=grid, space_order=8, time_order=1, staggered=NODE)
    v = VectorTimeFunction(name="v", grid=grid, space_order=8, time_order=1)
    b = Function(name="b", grid=grid, space_order=8)
    k = Function(name="k", grid=grid, space_order=8)
    damp = Function(name="damp", grid=grid)
    b.data[:] = 1.0 / rho
    k.data[:] = rho * vp**2
    # damping layer: 1 inside, decaying over the n_pml padding nodes
    prof = np.ones(shape, dtype=np.float32)
    for axis, n in enumerate(shape):
        depth = np.maximum(n_pml - np.arange(n), np.arange(n) - (n - 1 - n_pml)).clip(0)
        s = [1, 1, 1]
        s[axis] = n
        prof = prof * (1.0 - 0.1 * (depth / max(n_pml, 1)) ** 2).reshape(s)
    damp.data[:] = prof
    s = grid.stepping_dim.spacing
    eq_v = Eq(v.forward, damp * (v - s * b * grad(p)))
    eq_p = Eq(p.forward, damp * (p - s * k * div(v.forward)))
    src = SparseTimeFunction(name="src", grid=grid, npoint=1, nt=n_steps)
    src.coordinates.data[:] = problem["source_m"][None]
    src.data[:, 0] = problem["wavelet"]
    rec = SparseTimeFunction(name="rec", grid=grid, npoint=len(problem["receivers_m"]), nt=n_steps)
    rec.coordinates.data[:] = problem["receivers_m"]
    op = Operator([eq_v, eq_p, src.inject(field=p.forward, expr=src * s), rec.interpolate(expr=p)])
    tic = time.perf_counter()
    op.apply(time_M=9, dt=dt)
    compile_s = time.perf_counter() - tic
    tic = time.perf_counter()
    op.apply(time_M=n_steps - 1, dt=dt)
    wall = time.perf_counter() - tic
    return {
        "seconds": wall,
        "compile_and_10_steps_s": compile_s,
        "language": str(configuration["language"]),
        "platform": str(configuration["platform"]),
        "finite": bool(np.all(np.isfinite(rec.data))),
    }


if __name__ == "__main__":
    with np.load(sys.argv[1]) as data:
        problem = {key: data[key] for key in data.files}
    print(json.dumps(run(problem)))
