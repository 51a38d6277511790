"""Benchmark of the finite-difference solver and the bundled dataset.

Writes ``bench/results/simulate.json`` and ``bench/results/simulate.md``:

* ``seconds_per_receiver``: one reciprocal simulation on the full 81 x 81 x 301 grid with
  variable density and the absorbing layers, recording 4001 points (compilation included, and
  the steady-state time without it);
* ``mpts_per_s``: grid-point updates per second (physical grid, and padded grid with the PML);
* ``bytes_per_grid_point``: memory of the compiled solver (XLA's buffers: coefficients,
  wavefields, CPML slabs, temporaries; :func:`jaxseis.simulate.solver_memory`) per padded
  grid point;
* ``devito_mpts_per_s``: Devito (when installed: the ``bench`` extra) on the same padded grid,
  model, time step, number of steps, source and receivers, in a child process with OpenMP on
  both cores (``devito_acoustic.py``; its formulation is in that file), and the ratio;
* ``blocks``: the solver's step on the full grid with its default blocks of rows (updated side
  by side on the cores) against a single block, timed alternately in this process;
* ``regeneration_max_rel_diff``, ``regeneration_rel_l2``: the same run against the bundled
  central-receiver traces (made by the earlier full-grid CPML kernel);
* ``reciprocity_rel_l2``: on the full model, the bundled *direct* simulation of the paper's event
  at the central receiver against the reciprocal simulation from that receiver; and on a small
  layered variable-density grid, source at A recorded at B against source at B recorded at A;
* ``boundary_reflection_ratio``: largest difference between a small domain and one large enough
  that its boundaries are not reached, relative to the direct arrival, at 2000 and 4500 m/s;
* ``pykonal_first_arrival_median_abs_ms``: automatic picks on the bundled central-receiver
  traces against pykonal fast-marching travel times from the receiver.

Run: ``python bench/bench_simulate.py``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import benchlib
import jax
import numpy as np

import jaxseis as js
from jaxseis.fd_kernel import compile_solver, point_set
from jaxseis.geometry import Grid
from jaxseis.picking import pick_first_arrival
from jaxseis.simulate import (
    SolverConfig,
    check_config,
    reciprocal_traces,
    ricker_integral,
    simulate,
    solver_memory,
)
from jaxseis.traveltime import eikonal_traveltimes
from jaxseis.velocity import from_arrays, gardner_density


def full_grid_run(bench, event):
    model = js.marine_model()
    config = SolverConfig()
    dt = check_config(model, config)
    pts = np.concatenate([bench.sources, js.PAPER_EVENT_KM[None]])
    tic = time.perf_counter()
    out = reciprocal_traces(model, bench.receivers[0], pts, config)
    wall = time.perf_counter() - tic
    # steady state: a second run of the same shapes reuses the compiled kernel
    tic = time.perf_counter()
    reciprocal_traces(model, bench.receivers[0], pts, config)
    steady = time.perf_counter() - tic
    n_steps = (config.n_samples - 1 + 10) * round(config.record_dt / dt)
    phys = int(np.prod(model.grid.shape))
    padded = int(np.prod([n + 2 * config.n_pml for n in model.grid.shape]))
    ref = bench.traces[0]
    regen = float(np.abs(out[:-1] - ref).max() / np.abs(ref).max())
    regen_l2 = float(np.linalg.norm(out[:-1] - ref) / np.linalg.norm(ref))
    direct = event.traces[event.receiver_index(bench.receivers[0]), 0]
    recip = float(np.linalg.norm(out[-1] - direct) / np.linalg.norm(direct))
    return {
        "seconds_per_receiver": round(wall, 1),
        "seconds_per_receiver_steady": round(steady, 1),
        "n_steps": n_steps,
        "dt_ms": dt * 1e3,
        "grid_points_physical": phys,
        "grid_points_padded": padded,
        "mpts_per_s": round(phys * n_steps / steady / 1e6, 1),
        "mpts_per_s_padded": round(padded * n_steps / steady / 1e6, 1),
        "bytes_per_grid_point": round(solver_memory(model, config) / padded, 1),
        "bytes_per_grid_point_note": (
            "XLA's buffers of the compiled solver per padded grid point: float32 coefficients "
            "dt/rho (3) and dt*K (16 B), the wavefields p, v (16 B, updated in place, with "
            "the stencils' zero halos), CPML memory on the boundary slabs only"
        ),
        "regeneration_max_rel_diff": regen,
        "regeneration_rel_l2": regen_l2,
        "reciprocity_rel_l2_full_model": recip,
    }


DEVITO_ENV = {"DEVITO_LANGUAGE": "openmp", "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "passive"}


def devito_run(bench, full):
    """Devito on the full-grid problem in a child process, or why it was not measured."""
    if importlib.util.find_spec("devito") is None:
        return {"devito_mpts_per_s": None, "devito_reason": "devito not installed (bench extra)"}
    model = js.marine_model()
    config = SolverConfig()
    dt = check_config(model, config)
    n_pml, n_steps = config.n_pml, full["n_steps"]
    h = np.asarray(model.grid.spacing_m)
    origin = np.asarray(model.grid.origin_km)

    def metres(km):  # position on the padded grid, m from its first node
        return (np.asarray(km) - origin) * 1000.0 + n_pml * h

    src_km = bench.receivers[0]
    k_src = model.bulk_modulus[tuple(model.grid.nearest_node(src_km))]
    t_half = (np.arange(n_steps) + 0.5) * dt
    wavelet = k_src * ricker_integral(t_half, config.f0, config.t0) / float(np.prod(h))
    pts = np.concatenate([bench.sources, js.PAPER_EVENT_KM[None]])
    problem = {
        "vp": np.pad(model.vp, n_pml, mode="edge").astype(np.float32),
        "rho": np.pad(model.rho, n_pml, mode="edge").astype(np.float32),
        "spacing_m": h,
        "dt": dt,
        "n_steps": n_steps,
        "n_pml": n_pml,
        "source_m": metres(src_km),
        "receivers_m": metres(pts),
        "wavelet": wavelet.astype(np.float32),
    }
    script = Path(__file__).resolve().parent / "devito_acoustic.py"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.npz"
        np.savez(path, **problem)
        code = (
            f"import runpy, sys; sys.argv = ['', {str(path)!r}]; "
            f"runpy.run_path({str(script)!r}, run_name='__main__')"
        )
        try:
            child = benchlib.run_python(code, env=os.environ | DEVITO_ENV)
        except RuntimeError as err:
            return {"devito_mpts_per_s": None, "devito_reason": str(err)[-500:]}
    wall = child["seconds"]
    rate = full["grid_points_physical"] * n_steps / wall / 1e6
    return {
        "devito_mpts_per_s": round(rate, 1),
        "devito_mpts_per_s_padded": round(full["grid_points_padded"] * n_steps / wall / 1e6, 1),
        "devito_seconds": round(wall, 1),
        "devito_vs_jax_ratio": round(rate / full["mpts_per_s"], 2),
        "devito_settings": DEVITO_ENV | {k: child[k] for k in ("language", "platform")},
        "devito_traces_finite": child["finite"],
        "devito_version": importlib.metadata.version("devito"),
    }


def blocks_run(n_steps: int = 200, repeats: int = 6) -> dict:
    """The full grid's step with the solver's default blocks of rows against one block (no
    side-by-side updates), compiled once each and timed alternately in this process; the
    least and the median of ``repeats`` runs of ``n_steps`` steps."""
    model = js.marine_model()
    config = SolverConfig()
    dt = check_config(model, config)
    g = model.grid
    centre = g.index_to_km(np.asarray(g.shape)[None] // 2)
    pts = point_set(centre, g, config.n_pml)
    wavelet = ricker_integral((np.arange(n_steps) + 0.5) * dt, config.f0, config.t0)
    runs = {
        name: compile_solver(model, config, dt, pts, pts, wavelet, n_chunks=k)
        for name, k in (("default", None), ("one_block", 1))
    }
    times = {name: [] for name in runs}
    for run, args in runs.values():
        jax.block_until_ready(run(*args))
    for _ in range(repeats):
        for name, (run, args) in runs.items():
            tic = time.perf_counter()
            jax.block_until_ready(run(*args))
            times[name].append((time.perf_counter() - tic) / n_steps * 1e3)
    out = {"n_steps": n_steps, "repeats": repeats}
    for name, t in times.items():
        out[f"ms_per_step_{name}_min"] = round(min(t), 2)
        out[f"ms_per_step_{name}_median"] = round(float(np.median(t)), 2)
    out["speedup_median"] = round(
        out["ms_per_step_one_block_median"] / out["ms_per_step_default_median"], 2
    )
    return out


def small_layered():
    g = Grid(shape=(41, 41, 61), spacing_km=(0.0125, 0.0125, 0.01))
    x, _, z = np.meshgrid(*g.axes_km(), indexing="ij")
    vp = np.select([z < 0.2, z < 0.35, z <= 0.45], [3000.0, 2300.0, 1800.0], 1500.0)
    vp = vp * (1 + 0.03 * np.sin(2 * np.pi * x / 0.3) * (z <= 0.45))
    rho = np.where(z > 0.45, 1000.0, gardner_density(vp))
    return from_arrays(vp, rho, g, name="small-layered")


def reciprocity_small():
    m = small_layered()
    cfg = SolverConfig(f0=9.0, duration=0.8)
    a, b = np.array([0.1, 0.2, 0.1]), np.array([0.35, 0.3, 0.45])
    ab = simulate(m, a, b[None], cfg)[0]
    ba = simulate(m, b, a[None], cfg)[0]
    # what an injection without the bulk modulus at the source would give
    ka = m.bulk_modulus[tuple(m.grid.nearest_node(a))]
    kb = m.bulk_modulus[tuple(m.grid.nearest_node(b))]
    naive = float(np.linalg.norm(ab / ka - ba / kb) / np.linalg.norm(ab / ka))
    return float(np.linalg.norm(ab - ba) / np.linalg.norm(ab)), naive


def boundary_reflection():
    out = {}
    cfg = SolverConfig(f0=12.0, duration=0.45, record_dt=0.002, n_pml=10)
    small = Grid(shape=(31, 31, 31), spacing_km=(0.01, 0.01, 0.01))
    big = Grid(shape=(111, 111, 111), spacing_km=(0.01, 0.01, 0.01), origin_km=(-0.4,) * 3)
    src = np.array([0.15, 0.15, 0.15])
    rec = np.array([[0.25, 0.15, 0.15], [0.28, 0.28, 0.15], [0.15, 0.15, 0.02]])
    for vp in (2000.0, 4500.0):
        a = simulate(from_arrays(np.full(small.shape, vp), None, small), src, rec, cfg)
        b = simulate(from_arrays(np.full(big.shape, vp), None, big), src, rec, cfg)
        out[f"{int(vp)}"] = float((np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)).max())
    return out


def first_arrivals(bench):
    model = js.marine_model()
    config = SolverConfig()
    table = eikonal_traveltimes(model, bench.receivers[0])
    tt = table[tuple(model.grid.nearest_node(bench.sources).T)]
    picks = pick_first_arrival(bench.traces[0], bench.dt, config.t0)
    err_ms = np.abs(picks - tt) * 1e3
    return {
        "median_abs": float(np.median(err_ms)),
        "p90_abs": float(np.percentile(err_ms, 90)),
        "max_abs": float(np.max(err_ms)),
        "within_one_sample_fraction": float(np.mean(err_ms <= 4.0)),
    }


def main():
    machine = benchlib.machine_info()
    bench = js.load_benchmark()
    event = js.load_paper_event()
    print("full-grid simulation (twice) ...", flush=True)
    full = full_grid_run(bench, event)
    print(full, flush=True)
    print("Devito on the same problem ...", flush=True)
    full |= devito_run(bench, full)
    print({k: v for k, v in full.items() if k.startswith("devito")}, flush=True)
    print("blocks of rows against one block ...", flush=True)
    blocks = blocks_run()
    print(blocks, flush=True)
    recip_small, naive = reciprocity_small()
    refl = boundary_reflection()
    fa = first_arrivals(bench)
    paper_direct_hours = 4000 * 1.0
    result = {
        **full,
        "blocks": blocks,
        "reciprocity_rel_l2": recip_small,
        "reciprocity_rel_l2_unscaled_injection": naive,
        "boundary_reflection_ratio": refl,
        "pykonal_first_arrival_median_abs_ms": fa["median_abs"],
        "pykonal_first_arrival_ms": fa,
        "savings": {
            "benchmark_simulations_reciprocal": 5,
            "benchmark_simulations_direct": 4000,
            "benchmark_cpu_minutes_reciprocal": round(5 * full["seconds_per_receiver"] / 60, 1),
            "benchmark_cpu_hours_direct_estimate": round(
                4000 * full["seconds_per_receiver"] / 3600
            ),
            "paper_gpu_hours": paper_direct_hours,
        },
        "machine": machine | {"load_end": benchlib.load_average()},
        "machine_note": (
            "2 cores shared with other sessions; the load averages (1 min) at start and end "
            "say how busy the machine was, and every rate here drops with them"
        ),
    }
    rows = [
        ("seconds per receiver (full grid, incl. compile)", f"{full['seconds_per_receiver']} s"),
        ("seconds per receiver (steady state)", f"{full['seconds_per_receiver_steady']:.1f} s"),
        ("grid-point updates per second (physical / padded)",
         f"{full['mpts_per_s']:.0f} / {full['mpts_per_s_padded']:.0f} Mpts/s"),
        ("memory per padded grid point (XLA's buffers)",
         f"{full['bytes_per_grid_point']:.0f} B"),
        ("Devito, same grid, model, dt and steps (OpenMP, 2 threads)",
         "not measured: " + full["devito_reason"] if full.get("devito_mpts_per_s") is None
         else f"{full['devito_mpts_per_s']:.0f} Mpts/s ({full['devito_vs_jax_ratio']:.1f}x "
         "the JAX solver)"),
        ("one step, default blocks / one block, median (least) of "
         f"{blocks['repeats']} x {blocks['n_steps']} steps",
         f"{blocks['ms_per_step_default_median']:.1f} ({blocks['ms_per_step_default_min']:.1f}) / "
         f"{blocks['ms_per_step_one_block_median']:.1f} "
         f"({blocks['ms_per_step_one_block_min']:.1f}) ms"),
        ("regeneration vs bundled traces (max diff. / peak)",
         f"{full['regeneration_max_rel_diff']:.1e}"),
        ("regeneration vs bundled traces (rel. L2)", f"{full['regeneration_rel_l2']:.1e}"),
        ("reciprocity rel. L2, small layered grid", f"{recip_small:.1e}"),
        ("reciprocity rel. L2, same without K(x_s) scaling", f"{naive:.2f}"),
        ("reciprocity rel. L2, full model (direct vs reciprocal)",
         f"{full['reciprocity_rel_l2_full_model']:.1e}"),
        ("boundary reflection at 2000 / 4500 m/s", f"{refl['2000']:.1e} / {refl['4500']:.1e}"),
        ("pykonal vs simulated first arrival, median / p90 |diff|",
         f"{fa['median_abs']:.2f} / {fa['p90_abs']:.2f} ms"),
        ("benchmark dataset: 5 reciprocal runs vs 4000 direct",
         f"{result['savings']['benchmark_cpu_minutes_reciprocal']} min vs "
         f"~{result['savings']['benchmark_cpu_hours_direct_estimate']} h (paper: ~4000 GPU-h)"),
    ]  # fmt: skip
    md = ["| quantity | value |", "| --- | --- |"] + [f"| {a} | {b} |" for a, b in rows]
    md += ["", benchlib.machine_line(result["machine"]) + " " + result["machine_note"] + "."]
    benchlib.write_results("simulate", result, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
