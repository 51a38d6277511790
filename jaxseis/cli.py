"""The ``jaxseis`` command line.

Every subcommand prints one-line messages for user errors (missing files, bad values) and exits
with a non-zero code instead of showing a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["build_parser", "main"]


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit code 2."""


def _cmd_simulate(args) -> None:
    from jaxseis import dataset as ds
    from jaxseis.simulate import SolverConfig

    config = SolverConfig(n_pml=args.n_pml)
    tic = time.perf_counter()
    if args.what == "benchmark":
        data = ds.make_benchmark(seed=args.seed, config=config)
        out = Path(args.output or "benchmark.h5")
    elif args.what == "event":
        data = ds.make_paper_event(config=config)
        out = Path(args.output or "paper_event.h5")
    else:  # dense
        bench = ds.load(args.benchmark) if args.benchmark else ds.load_benchmark()
        data = ds.make_dense(n_train=args.n_train, seed=args.seed, benchmark=bench, config=config)
        out = Path(args.output) if args.output else ds.cache_dir() / "dense.h5"
    ds.save(data, out)
    print(data.summary())
    print(f"wrote {out} in {time.perf_counter() - tic:.1f} s")


def _cmd_info(args) -> None:
    from jaxseis import dataset as ds

    print(ds.load(args.path).summary())


def _cmd_export_nll(args) -> None:
    from jaxseis.velocity import marine_model, to_nonlinloc

    hdr, buf = to_nonlinloc(marine_model(), args.root, grid_type=args.grid_type)
    print(f"wrote {hdr} and {buf}")


def _cmd_demo(args) -> None:
    from jaxseis import dataset as ds

    tic = time.perf_counter()
    path = ds.bundled_path("benchmark.h5")
    if path.exists() and not args.resimulate:
        print(f"loading the bundled benchmark dataset {path}")
        bench = ds.load(path)
    else:
        print("simulating the benchmark dataset (about 1 minute per receiver)")
        bench = ds.make_benchmark()
    print(bench.summary())
    event = ds.load_paper_event()
    peak = abs(event.traces[:, 0]).max(axis=-1)
    print(
        f"paper event at {event.sources[0].tolist()} km: direct simulation at "
        f"{event.n_receivers} receivers, peak |p| {peak.min():.4g}-{peak.max():.4g} Pa"
    )
    print(f"demo finished in {time.perf_counter() - tic:.1f} s")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxseis`` command."""
    p = argparse.ArgumentParser(
        prog="jaxseis",
        description="Fast Bayesian microseismic event location with differentiable emulators.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "simulate",
        help="simulate a dataset with the finite-difference solver",
        description="Simulate the benchmark dataset, the dense training set or the paper's event.",
    )
    s.add_argument("what", choices=["benchmark", "dense", "event"], help="which dataset to make")
    s.add_argument("-o", "--output", help="output HDF5 file (dense: default in the cache)")
    s.add_argument(
        "--seed", type=int, default=None, help="sampling seed (default: the bundled one)"
    )
    s.add_argument("--n-train", type=int, default=20000, help="dense: extra training sources")
    s.add_argument("--benchmark", help="dense: benchmark file (default: the bundled one)")
    s.add_argument("--n-pml", type=int, default=10, help="absorbing layer thickness, nodes")
    s.set_defaults(func=_cmd_simulate)

    s = sub.add_parser("info", help="print the summary of a dataset file")
    s.add_argument("path", help="dataset file (.h5)")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("export-nll", help="export the velocity model as a NonLinLoc grid")
    s.add_argument("root", help="output path without extension, e.g. nll/model/marine.P.mod")
    s.add_argument("--grid-type", default="VELOCITY", choices=["VELOCITY", "SLOWNESS", "SLOW_LEN"])
    s.set_defaults(func=_cmd_export_nll)

    s = sub.add_parser("demo", help="run the main job on the bundled data")
    s.add_argument("--resimulate", action="store_true", help="simulate instead of loading")
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxseis`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "seed", 0) is None:
        from jaxseis.dataset import BENCHMARK_SEED, DENSE_SEED

        args.seed = DENSE_SEED if args.what == "dense" else BENCHMARK_SEED
    try:
        args.func(args)
    except (UserError, FileNotFoundError, ValueError) as err:
        print(f"jaxseis {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
