"""``jaxseis simulate``, ``info`` and ``export-nll``: datasets and the velocity model."""

from __future__ import annotations

import inspect
from pathlib import Path

from jaxseis.cli.common import Formatter, clock, positive_int

__all__ = ["register"]


def _simulate(args) -> None:
    from jaxseis import dataset as ds
    from jaxseis.files import check_writable
    from jaxseis.runtime import cache_dir
    from jaxseis.simulate import SolverConfig

    config = SolverConfig(**({} if args.n_pml is None else {"n_pml": args.n_pml}))
    seed = {} if args.seed is None else {"seed": args.seed}
    default = {
        "benchmark": "benchmark.h5",
        "event": "paper_event.h5",
        "dense": cache_dir() / "dense.h5",
    }[args.what]
    out = check_writable(Path(args.output or default))
    log = clock()
    if args.what == "benchmark":
        data = ds.make_benchmark(config=config, **seed)
    elif args.what == "event":
        data = ds.make_paper_event(config=config)
    else:
        bench = ds.load(args.benchmark) if args.benchmark else ds.load_benchmark()
        n_train = {} if args.n_train is None else {"n_train": args.n_train}
        data = ds.make_dense(benchmark=bench, config=config, **seed, **n_train)
    ds.save(data, out)
    print(data.summary())
    log(f"wrote {out}")


def _info(args) -> None:
    from jaxseis import dataset as ds

    print(ds.load(args.path).summary())


def _export_nll(args) -> None:
    from jaxseis.io.nll_grid import to_nonlinloc
    from jaxseis.velocity import marine_model

    hdr, buf = to_nonlinloc(marine_model(), args.root, grid_type=args.grid_type)
    print(f"wrote {hdr} and {buf}")


def register(sub) -> None:
    """Add the commands to the subparsers ``sub``."""
    from jaxseis import dataset as ds
    from jaxseis.io.nll_grid import VELOCITY_GRID_TYPES, to_nonlinloc
    from jaxseis.simulate import SolverConfig

    s = sub.add_parser(
        "simulate",
        help="simulate a dataset with the finite-difference solver",
        description="Simulate the benchmark dataset (4000 sources x 5 receivers, about 1 "
        "minute per receiver), the dense training set or the paper's event (direct simulation "
        "at the 23 receivers), and write it as an HDF5 dataset file.",
        formatter_class=Formatter,
    )
    s.add_argument("what", choices=["benchmark", "dense", "event"], help="which dataset to make")
    s.add_argument(
        "-o",
        "--output",
        help="output HDF5 file (default: benchmark.h5, "
        "paper_event.h5, or dense.h5 in the cache directory)",
    )
    s.add_argument("--seed", type=int, help="sampling seed (default: the bundled one)")
    n_train = inspect.signature(ds.make_dense).parameters["n_train"].default
    s.add_argument(
        "--n-train", type=positive_int, help=f"dense: extra training sources (default: {n_train})"
    )
    s.add_argument("--benchmark", help="dense: benchmark file (default: the bundled one)")
    s.add_argument(
        "--n-pml",
        type=positive_int,
        help=f"absorbing layer, nodes (default: {SolverConfig().n_pml})",
    )
    s.set_defaults(func=_simulate)

    s = sub.add_parser(
        "info",
        help="print the summary of a dataset file",
        description="Print a dataset's summary.",
        formatter_class=Formatter,
    )
    s.add_argument("path", help="dataset file (.h5)")
    s.set_defaults(func=_info)

    grid_type = inspect.signature(to_nonlinloc).parameters["grid_type"].default
    s = sub.add_parser(
        "export-nll",
        help="export the velocity model as a NonLinLoc grid",
        description="Write the marine velocity model as a NonLinLoc grid (.hdr and .buf).",
        formatter_class=Formatter,
    )
    s.add_argument("root", help="output path without extension, e.g. nll/model/marine.P.mod")
    s.add_argument(
        "--grid-type", default=grid_type, choices=VELOCITY_GRID_TYPES, help="NonLinLoc grid type"
    )
    s.set_defaults(func=_export_nll)
