"""``jaxseis train``: fit emulators of one family, one file per receiver."""

from __future__ import annotations

import inspect
from pathlib import Path

from jaxseis.cli.common import (
    Formatter,
    UserError,
    check_kind,
    clock,
    families,
    output_dir,
    positive_int,
)

__all__ = ["register"]


def fit_options(kind: str, args) -> dict:
    """Options of :func:`jaxseis.emulators.fit` from the command line: networks get a
    ``TrainConfig`` with the changed fields, GP cores the GP options."""
    from jaxseis import emulators as em
    from jaxseis.train import TrainConfig

    accepted = inspect.signature(em.FAMILIES[kind].fit_core).parameters
    gp = {
        name: value
        for name, value in (
            ("n_subset", args.gp_subset),
            ("n_iter", args.gp_iter),
            ("n_restarts", args.gp_restarts),
        )
        if value is not None
    }
    options: dict = {}
    if gp:
        options["gp_options"] = gp
        if "core_gp_options" in accepted:
            options["core_gp_options"] = gp
    if "config" in accepted:
        changes = {"progress": not args.no_progress}
        changes |= {
            n: getattr(args, n)
            for n in ("max_epochs", "patience", "batch_size")
            if getattr(args, n) is not None
        }
        options["config"] = TrainConfig()._replace(**changes)
    return options


def _train(args) -> None:
    import numpy as np

    from jaxseis import dataset as ds
    from jaxseis import emulators as em
    from jaxseis import pretrained

    kind = args.kind or (pretrained.BUNDLED_KIND if args.bundled else None)
    if kind is None:
        raise UserError(
            f"give the emulator family KIND (one of: {', '.join(families())}) or --bundled"
        )
    check_kind(kind)
    if not args.bundled and args.output is None:
        raise UserError("give the output directory with -o DIR")
    data = ds.load(args.dataset) if args.dataset else ds.load_benchmark()
    receivers = list(range(data.n_receivers)) if args.receivers is None else args.receivers
    bad = [r for r in receivers if not 0 <= r < data.n_receivers]
    if bad:
        raise UserError(
            f"receiver index {bad[0]} out of range: the dataset has "
            f"{data.n_receivers} receivers (0-{data.n_receivers - 1})"
        )
    if len(set(receivers)) != len(receivers):
        raise UserError(f"repeated receiver indices in {receivers}")
    options = fit_options(kind, args)
    out = args.output
    if out is not None:
        output_dir(out, overwrite=True)  # before the training: writable?
    log = clock()
    if args.bundled:
        seed = pretrained.BUNDLED_SEED if args.seed is None else args.seed
        log(
            f"retraining the bundled {kind} emulators of receivers {receivers} -> "
            f"{out or pretrained.BUNDLED_DIR}"
        )
        paths = pretrained.train_bundled(
            out,
            receivers=receivers,
            kind=kind,
            seed=seed,
            n_train=args.n_train,
            dataset=None if args.dataset is None else data,
            **options,
        )
    else:
        seed = 0 if args.seed is None else args.seed
        paths = []
        for r in receivers:
            tdata = em.training_data(data, r, n_train=args.n_train)
            log(
                f"receiver {r} at {np.round(tdata.receiver_km, 4).tolist()} km: fitting {kind} "
                f"on {len(tdata.train_sources)} sources ({len(tdata.val_sources)} validation)"
            )
            e = em.fit(kind, tdata, seed=seed, **options)
            e = e._replace(info={**e.info, "receiver_index": int(r)})
            paths.append(em.save(e, Path(out) / f"{kind}_r{r}.npz"))
            log(f"receiver {r}: fitted in {e.info['fit_s']:.1f} s -> {paths[-1]}")
    log(f"wrote {len(paths)} emulator file(s)")


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis.train import TrainConfig

    defaults = TrainConfig()
    s = sub.add_parser(
        "train",
        help="fit emulators of one family, one file per receiver",
        description="Fit an emulator of family KIND for each receiver of a dataset on its "
        "training split (the validation split stops the training; the test split is never "
        "read) and write DIR/<KIND>_r<i>.npz, i the receiver's row in the dataset.\n\n"
        f"Families: {', '.join(families())}.\n\n--bundled retrains the emulators shipped "
        "with jaxseis (default family nn_direct, all 5 benchmark receivers, the bundled seed) "
        "into the package directory, or into -o DIR.",
        epilog="example: jaxseis train nn_direct --receivers 1 2 3 4 -o models/",
        formatter_class=Formatter,
    )
    s.add_argument("kind", nargs="?", metavar="KIND", help="emulator family, e.g. nn_direct")
    s.add_argument("-o", "--output", metavar="DIR", help="output directory")
    s.add_argument("--bundled", action="store_true", help="retrain the shipped emulators")
    s.add_argument("--dataset", metavar="FILE", help="dataset file (default: bundled benchmark)")
    s.add_argument(
        "--receivers",
        type=int,
        nargs="+",
        metavar="I",
        help="receiver rows of the dataset (default: all)",
    )
    s.add_argument(
        "--n-train",
        type=positive_int,
        metavar="N",
        help="use only the first N training sources (default: all)",
    )
    s.add_argument(
        "--seed",
        type=int,
        help="seed of every random choice (default: 0; --bundled: the bundled seed)",
    )
    g = s.add_argument_group("network training (families with networks)")
    for name, what in (
        ("max_epochs", "maximum number of epochs"),
        ("patience", "epochs without improvement before stopping"),
        ("batch_size", "minibatch size"),
    ):
        g.add_argument(
            f"--{name.replace('_', '-')}",
            type=positive_int,
            metavar="N",
            help=f"{what} (default: {getattr(defaults, name)})",
        )
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = s.add_argument_group("Gaussian processes (peak GPs, and the cores of GP families)")
    g.add_argument(
        "--gp-subset",
        type=positive_int,
        metavar="N",
        help="points used to fit the hyperparameters (default: the library's)",
    )
    g.add_argument("--gp-iter", type=positive_int, metavar="N", help="optimiser steps per restart")
    g.add_argument("--gp-restarts", type=positive_int, metavar="N", help="random restarts")
    s.set_defaults(func=_train)
