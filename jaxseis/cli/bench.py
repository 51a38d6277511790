"""``jaxseis bench``: emulator latency (:mod:`jaxseis.timing`) and finite-difference solver
speed, measured in this process."""

from __future__ import annotations

import inspect
import time

from jaxseis.cli.common import (
    Formatter,
    UserError,
    add_model_arguments,
    clock,
    load_emulators,
    positive_float,
    positive_int,
)

__all__ = ["register"]


def _simulate(args) -> None:
    import numpy as np

    from jaxseis.files import check_writable, write_json
    from jaxseis.simulate import SolverConfig, check_config, reciprocal_traces
    from jaxseis.timing import machine_info
    from jaxseis.velocity import from_arrays, marine_model

    check_writable(args.output)
    log = clock()
    model = marine_model()
    if args.grid is not None:
        full = model.grid.shape
        if any(not 5 <= n <= m for n, m in zip(args.grid, full, strict=True)):
            raise UserError(f"--grid {args.grid} must lie between 5 and {list(full)} nodes")
        crop = tuple(slice(n) for n in args.grid)
        model = from_arrays(
            model.vp[crop],
            model.rho[crop],
            model.grid._replace(shape=tuple(args.grid)),
            f"{model.name}, first {' x '.join(map(str, args.grid))} nodes",
        )
    default = SolverConfig()
    config = default._replace(
        duration=args.duration or default.duration, n_pml=args.n_pml or default.n_pml
    )
    dt = check_config(model, config)
    lo, hi = model.grid.extent_km
    points = np.random.default_rng(0).uniform(lo, hi, size=(args.n_sources, 3))
    repeats = args.repeats or 2

    def steps(c):  # as jaxseis.simulate: 10 samples past the end for the decimation
        return (c.n_samples - 1 + 10) * round(c.record_dt / dt)

    n_steps = steps(config)
    log(
        f"{n_steps} steps of {dt * 1e3:g} ms on {model.grid.shape} nodes (+{config.n_pml} PML), "
        f"{len(points)} recording points, {repeats} timed run(s)"
    )
    tic = time.perf_counter()
    reciprocal_traces(model, (lo + hi) / 2, points, config)
    first = time.perf_counter() - tic
    log(f"first run (compilation included): {first:.2f} s")
    times = []
    for i in range(repeats):
        tic = time.perf_counter()
        reciprocal_traces(model, (lo + hi) / 2, points, config)
        times.append(time.perf_counter() - tic)
        log(f"run {i + 1}/{repeats}: {times[-1]:.2f} s")
    steady = float(np.median(times))
    phys = int(np.prod(model.grid.shape))
    padded = int(np.prod([n + 2 * config.n_pml for n in model.grid.shape]))
    full_steps = steps(config._replace(duration=default.duration))
    result = {
        "benchmark": "simulate",
        "model": model.name,
        "grid": list(model.grid.shape),
        "n_pml": config.n_pml,
        "duration_s": config.duration,
        "dt_ms": dt * 1e3,
        "n_steps": n_steps,
        "n_recording_points": len(points),
        "first_run_s": first,
        "steady_runs_s": times,
        "steady_s": steady,
        "ms_per_step": 1e3 * steady / n_steps,
        "mpts_per_s": phys * n_steps / steady / 1e6,
        "mpts_per_s_padded": padded * n_steps / steady / 1e6,
        "seconds_per_receiver_full_duration": steady * full_steps / n_steps,
        "machine": machine_info(),
    }
    print(
        f"{result['mpts_per_s']:.1f} Mpts/s (physical grid), {result['ms_per_step']:.1f} ms per "
        f"step; a {default.duration:g} s simulation on this grid: about "
        f"{result['seconds_per_receiver_full_duration']:.0f} s"
    )
    print(f"wrote {write_json(args.output, result)}")


def _latency(args) -> None:
    from jaxseis import timing

    if args.dispatch != "current":  # before any JAX computation of this process
        timing.enable_sync_dispatch(args.dispatch == "sync")
    import jax
    import numpy as np

    from jaxseis import emulators as em
    from jaxseis.dataset import PAPER_EVENT_KM
    from jaxseis.files import check_writable, write_json
    from jaxseis.likelihood import waveform_log_likelihood
    from jaxseis.noise import WhiteNoise, default_sigma
    from jaxseis.observation import make_observation

    check_writable(args.output)
    log = clock()
    emulators, files = load_emulators(args.models, args.kind)
    defaults = inspect.signature(timing.forward_timing).parameters
    n_repeat = args.repeats or defaults["n_repeat"].default
    batch_sizes = list(timing.DEFAULT_BATCH_SIZES if args.batch_sizes is None else args.batch_sizes)
    x64 = not args.float32
    forward = {}
    for path, e in zip(files, emulators, strict=True):
        log(f"forward model of {path} (batches {batch_sizes}) ...")
        forward[path] = timing.forward_timing(
            e,
            n_repeat=n_repeat,
            n_loop=args.n_loop or defaults["n_loop"].default,
            batch_sizes=batch_sizes,
            seed=args.seed,
            x64=x64,
        ).as_dict()
    # the likelihood of the emulated paper event (the timing does not depend on the values)
    traces = np.stack([em.predict(e, PAPER_EVENT_KM) for e in emulators]).astype(np.float64)
    noise = WhiteNoise(np.full(len(emulators), default_sigma(np.abs(traces).max())))
    obs = make_observation(traces, emulators[0].dt, [e.receiver_km for e in emulators], noise=noise)
    log(f"log-likelihood and gradient, {len(emulators)} receiver(s) ...")
    points = [np.concatenate([s, [0.0, 0.0]]) for s in timing.random_sources(16, args.seed)]
    ll = timing.loglike_timing(waveform_log_likelihood(emulators, obs), points, n_repeat=n_repeat)
    loglike = {**ll.as_dict(), "n_receivers": len(emulators), "x64": True}
    keys = [timing.batch_key(n) for n in batch_sizes]
    header = f"{'model':<32}{'single call':>14}{'in loop':>12}" + "".join(
        f"{k.replace('traces_per_s_', 'tr/s '):>14}" for k in keys
    )
    print(
        f"latency (median, us per evaluation), dispatch {loglike['dispatch']}, GPs in "
        f"{'float64' if x64 else 'float32'}, JAX {jax.__version__}\n{header}\n" + "-" * len(header)
    )
    for path, r in forward.items():
        name = path.rsplit("/", 1)[-1][-31:]
        print(
            f"{name:<32}{r['single_call_us']:>14.1f}{r['in_loop_us']:>12.1f}"
            + "".join(f"{r[k]:>14.3g}" for k in keys)
        )
    print(
        f"log-likelihood, {len(emulators)} receiver(s): value {loglike['loglike_us']:.1f} us, "
        f"value and gradient {loglike['loglike_grad_us']:.1f} us"
    )
    settings = {
        "n_repeat": n_repeat,
        "n_loop": args.n_loop,
        "batch_sizes": batch_sizes,
        "dispatch": args.dispatch,
        "x64": x64,
        "seed": args.seed,
    }
    out = write_json(
        args.output,
        {
            "benchmark": "latency",
            "models": files,
            "forward": forward,
            "loglike_grad": loglike,
            "settings": settings,
            "machine": timing.machine_info(),
        },
    )
    print(f"wrote {out}")


def _bench(args) -> None:
    {"simulate": _simulate, "latency": _latency}[args.what](args)


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis.simulate import SolverConfig
    from jaxseis.timing import DEFAULT_BATCH_SIZES, forward_timing

    defaults = inspect.signature(forward_timing).parameters
    config = SolverConfig()
    s = sub.add_parser(
        "bench",
        help="emulator latency, solver speed",
        description="latency: evaluation time of each emulator's forward model (a single call "
        "from Python, one evaluation in a compiled loop, throughput of vmapped batches) and of "
        "the multi-receiver log-likelihood and its gradient (jaxseis.timing), in this process."
        "\n\nsimulate: speed of the finite-difference solver, one reciprocal simulation on the "
        "marine model (--duration shortens it, --grid crops the grid).\n\nPrints a summary and "
        "writes JSON to -o FILE.",
        epilog="example: jaxseis bench simulate --duration 0.2 -o simulate.json",
        formatter_class=Formatter,
    )
    s.add_argument("what", choices=["latency", "simulate"], help="what to measure")
    s.add_argument("-o", "--output", metavar="FILE", required=True, help="output JSON file")
    s.add_argument(
        "--repeats",
        type=positive_int,
        metavar="N",
        help=f"timed repetitions (default: latency {defaults['n_repeat'].default} "
        "calls, simulate 2 runs)",
    )
    g = s.add_argument_group("latency")
    add_model_arguments(g)
    g.add_argument(
        "--n-loop",
        type=positive_int,
        help=f"sources per compiled loop (default: {defaults['n_loop'].default})",
    )
    g.add_argument(
        "--batch-sizes",
        type=positive_int,
        nargs="*",
        metavar="N",
        help="batch sizes of the throughput measurement (default: "
        f"{' '.join(map(str, DEFAULT_BATCH_SIZES))}; none: skip it)",
    )
    g.add_argument(
        "--dispatch",
        choices=["current", "sync", "async"],
        default="current",
        help="CPU dispatch mode of this process (set before JAX starts)",
    )
    g.add_argument(
        "--float32",
        action="store_true",
        help="peak GPs of the forward timing in float32 (same cost, wrong time "
        "shifts; default: float64, as inference runs them)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the random sources")
    g = s.add_argument_group("simulate")
    g.add_argument(
        "--duration", type=positive_float, help=f"trace length, s (default: {config.duration:g})"
    )
    g.add_argument("--n-sources", type=positive_int, default=4000, help="recording points")
    g.add_argument(
        "--n-pml", type=positive_int, help=f"absorbing layer, nodes (default: {config.n_pml})"
    )
    g.add_argument(
        "--grid",
        type=int,
        nargs=3,
        metavar=("NX", "NY", "NZ"),
        help="time the first NX x NY x NZ nodes of the model (default: the whole grid)",
    )
    s.set_defaults(func=_bench)
