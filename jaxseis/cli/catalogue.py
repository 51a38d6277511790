"""``jaxseis locate-catalogue``: many events with programs compiled once, on this machine or
a Dask cluster; resumable."""

from __future__ import annotations

from jaxseis.cli.common import (
    Formatter,
    add_model_arguments,
    clock,
    emulator_error_source,
    load_emulators,
    output_dir,
    positive_int,
)
from jaxseis.cli.event_args import add_geo_arguments, prior_of, transform_of

__all__ = ["register"]


def _locate_catalogue(args) -> None:
    from jaxseis import catalogue as cat
    from jaxseis import dataset as ds
    from jaxseis.files import check_writable
    from jaxseis.io.events import catalogue_events
    from jaxseis.io.quakeml import make_catalog, write_quakeml

    log = clock()
    out = output_dir(args.output, overwrite=True)  # a re-run resumes in it
    journal, xml = out / "catalogue.jsonl", check_writable(out / "catalogue.xml")
    emulators, files = load_emulators(args.models, args.kind)
    prior = prior_of(args)
    data = ds.load(args.dataset) if args.dataset else ds.load_benchmark()
    events = cat.dataset_events(
        data, emulators, prior=prior, split=args.split, n_events=args.events, seed=args.seed
    )
    stage = cat.CATALOGUE_STAGE
    if args.bank is not None:
        stage = stage._replace(num_draws=args.bank, chunk_size=min(stage.chunk_size, args.bank))
    if args.polish is not None:
        stage = stage._replace(num_polish=min(args.polish, stage.num_draws))
    spec = cat.LocatorSpec.of(
        prior,
        models=files if args.models else (),
        method=args.method,
        stage=stage,
        seed=args.seed,
        **({} if args.block_size is None else {"block_size": args.block_size}),
        **_error_spec(args),
        **_importance_spec(args),
    )
    where = (
        f"Dask scheduler {args.scheduler}"
        if args.scheduler
        else f"{args.workers} local Dask worker(s)"
        if args.workers
        else "this process"
    )
    log(f"{len(events)} events of the {args.split} split, {args.method}, on {where}")
    run = cat.locate_catalogue(
        spec,
        events,
        output=journal,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=False if args.no_progress else None,
    )
    ok = sum(r.get("status") == "ok" for r in run.records)
    rate = run.located / run.wall_s if run.located and run.wall_s > 0 else 0.0
    first = "" if run.first_result_s is None else f", first result after {run.first_result_s:.1f} s"
    log(
        f"located {run.located} event(s) in this run ({len(events) - run.located} resumed) in "
        f"{run.wall_s:.1f} s, {rate:.2f} events/s{first}; {ok}/{len(events)} ok"
    )
    catalog = make_catalog(
        catalogue_events(
            run.records, events, transform=transform_of(args), emulators=", ".join(files)
        ),
        description=f"jaxseis locate-catalogue, {args.method}, {args.split} split",
    )
    write_quakeml(xml, catalog)
    log(f"wrote {run.table}, {run.journal}, {xml}")


def _importance_spec(args) -> dict:
    """``{"importance": ImportanceOptions}`` of ``--importance N``, else empty."""
    if args.importance is None:
        return {}
    if args.method != "laplace":
        raise ValueError("--importance reweighs the Laplace approximation: use --method laplace")
    if args.importance < 100:
        raise ValueError(f"--importance needs at least 100 draws; got {args.importance}")
    from jaxseis.inference.importance import ImportanceOptions

    return {"importance": ImportanceOptions(num_draws=args.importance)}


def _error_spec(args) -> dict:
    """The spec's ``emulator_error``, ``band_hz`` and ``domain`` fields of ``--emulator-error``
    and ``--band`` (the model itself is read on every worker)."""
    source = emulator_error_source(args)
    fields = {} if source is None else {"emulator_error": source, "domain": "frequency"}
    if args.band is not None:
        fields |= {"band_hz": tuple(args.band), "domain": "frequency"}
    return fields


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis.catalogue import CATALOGUE_STAGE, LocatorSpec
    from jaxseis.dataset import SPLIT_CODES

    spec = LocatorSpec()
    s = sub.add_parser(
        "locate-catalogue",
        help="locate many events (compiled once; Dask for scale-out)",
        description="Locate many events with one locator compiled once (a bank of candidate "
        "spectra, blocks of events under vmap, one block per device), in this process, on "
        "--workers local Dask worker processes, or on any Dask cluster (--scheduler ADDRESS, "
        "e.g. one started by dask-jobqueue on a batch system).\n\nEvents: the first --events "
        "of a dataset split (default: the bundled benchmark's held-out test split) at the "
        "emulators' receivers, each with a random origin time and amplitude inside the prior "
        "and seeded noise.\n\nWrites DIR/catalogue.jsonl (one record per event, appended as "
        "results arrive: re-running the command resumes where it stopped), DIR/catalogue.csv "
        "(one row per event) and DIR/catalogue.xml (QuakeML of the located events).",
        epilog="example: jaxseis locate-catalogue --events 100 --workers 2 -o catalogue/",
        formatter_class=Formatter,
    )
    s.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    add_model_arguments(s, error=True)
    g = s.add_argument_group("events")
    g.add_argument("--dataset", metavar="FILE", help="dataset file (default: bundled benchmark)")
    g.add_argument("--split", default="test", choices=list(SPLIT_CODES), help="dataset split")
    g.add_argument(
        "--events",
        type=positive_int,
        metavar="N",
        help="the first N events of the split (default: all)",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=spec.seed,
        help="seeds the events' origin times, amplitudes and noise, the bank and "
        "the per-event keys",
    )
    add_geo_arguments(s)
    g = s.add_argument_group("locator and cluster")
    g.add_argument(
        "--method",
        default=spec.method,
        choices=["laplace", "nuts"],
        help="maximum + Laplace, or NUTS in the Laplace-whitened coordinates",
    )
    g.add_argument(
        "--bank",
        type=positive_int,
        metavar="N",
        help=f"candidates of the bank (default: {CATALOGUE_STAGE.num_draws})",
    )
    g.add_argument(
        "--polish",
        type=positive_int,
        metavar="N",
        help=f"best candidates polished by Gauss-Newton (default: {CATALOGUE_STAGE.num_polish}); "
        "more find more of the local maxima along the depth/origin-time ridge for the "
        "Laplace mixture (locate polishes 32), at a higher cost per event",
    )
    g.add_argument(
        "--importance",
        type=positive_int,
        metavar="N",
        help="with --method laplace: reweigh N draws of each event's Laplace approximation to "
        "the posterior by importance sampling (Pareto-smoothed; the record's pareto_k above "
        "0.7 flags an unreliable result); costs N likelihood evaluations per event",
    )
    g.add_argument(
        "--block-size",
        type=positive_int,
        metavar="N",
        help=f"events per compiled block (default: {spec.block_size})",
    )
    g.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="start a local Dask cluster of N worker processes",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler, e.g. tcp://host:8786",
    )
    g.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)"
    )
    s.set_defaults(func=_locate_catalogue)
