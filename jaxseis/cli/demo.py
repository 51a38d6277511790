"""``jaxseis demo``: the main job on the bundled data (:func:`jaxseis.demo.run`)."""

from __future__ import annotations

from jaxseis.cli.common import Formatter, output_dir

__all__ = ["register"]


def _demo(args) -> None:
    from jaxseis.demo import run

    output_dir(args.output_dir, overwrite=True)
    run(
        quick=args.quick,
        output_dir=args.output_dir,
        seed=args.seed,
        models_dir=args.models,
        overwrite=True,
        progress=False if args.no_progress else None,
    )


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis.demo import FULL, QUICK

    def settings(o):
        return (
            f"global stage of {o.global_stage.num_draws} draws, {o.num_chains} chains x "
            f"{o.num_draws} draws"
        )

    s = sub.add_parser(
        "demo",
        help="locate the paper's event with the bundled emulators",
        description="The main job on the bundled data: the paper's event at the 4 location "
        "receivers plus seeded noise, located (x, y, z, origin time, amplitude) with NUTS and "
        "the bundled NN-direct emulators; prints the posterior table and writes summary.json, "
        f"corner.png and trace_fit.png to the output directory.\n\nSettings: {settings(FULL)}; "
        f"--quick: {settings(QUICK)}.",
        formatter_class=Formatter,
    )
    s.add_argument("--quick", action="store_true", help="a smaller global stage, fewer draws")
    s.add_argument(
        "-o",
        "--output-dir",
        default="jaxseis-demo",
        metavar="DIR",
        help="output directory (its summary.json and figures are replaced)",
    )
    s.add_argument("--seed", type=int, default=0, help="seeds the noise and the sampler")
    s.add_argument(
        "--models",
        metavar="DIR",
        help="emulators made by `jaxseis train --bundled -o DIR` (default: bundled)",
    )
    s.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (default: shown on a terminal)",
    )
    s.set_defaults(func=_demo)
