"""``jaxseis locate`` on an existing NonLinLoc set-up: P time grids (``--grids ROOT``) and an
``NLLOC_OBS`` phase file (``--picks``), located with the EDT likelihood
(:func:`locate_nonlinloc`)."""

from __future__ import annotations

from jaxseis.cli.common import UserError
from jaxseis.cli.event_args import transform_of
from jaxseis.cli.sampler import run_locate

__all__ = ["locate_nonlinloc"]


def locate_nonlinloc(args, out, log) -> None:
    """An existing NonLinLoc set-up: P time grids (``--grids ROOT``) and an ``NLLOC_OBS`` phase
    file (``--picks``), located with the EDT likelihood over the grids' extent."""
    import types

    import numpy as np

    from jaxseis import inference
    from jaxseis.files import write_json
    from jaxseis.inference import BoxPrior
    from jaxseis.io.events import write_event_files, write_inference_data
    from jaxseis.io.nll_grid import read_time_grids
    from jaxseis.io.nll_obs import read_nlloc_obs
    from jaxseis.likelihood import edt_log_likelihood

    if args.picks is None or args.grids is None:
        raise UserError("a NonLinLoc set-up needs both --picks FILE.obs and --grids ROOT")
    if args.likelihood != "edt" or args.observed or args.waveforms:
        raise UserError("--picks/--grids locate with --likelihood edt and no other data")
    events = read_nlloc_obs(args.picks, default_error_s=args.pick_error)
    if args.event >= len(events):
        raise UserError(f"--event {args.event}: {args.picks} holds {len(events)} event(s)")
    event = events[args.event]
    labels = tuple(event.picks.labels)
    tables = read_time_grids(args.grids, labels)
    log(f"{len(labels)} picks ({', '.join(labels)}), time grids {args.grids}")
    lik = edt_log_likelihood(tables, event.picks)
    lower, upper = np.asarray(tables.grid.extent_km, np.float64)
    prior = BoxPrior(lower, upper)  # the grids' extent; EDT eliminates t0 and the amplitude
    idata, diagnostics = run_locate(args, lik, prior)
    print(inference.summary_table(idata))
    summary = inference.summary_dict(idata)
    meta = types.SimpleNamespace(
        event_id=event.public_id or f"event{args.event}", stations=labels,
        receivers_km=np.asarray(tables.receivers_km), reference_time=event.reference_time,
    )  # fmt: skip
    write_inference_data(out / "posterior.nc", idata)
    paths = write_event_files(out / "event", summary, meta, transform=transform_of(args))
    paths = {"inference_data": out / "posterior.nc", **paths, "summary": out / "summary.json"}
    write_json(
        paths["summary"],
        {
            **summary, "likelihood": "edt", "picks_file": str(args.picks),
            "grids": str(args.grids), "event": args.event, "stations": list(labels),
            "picks_s": event.picks.times_s.tolist(), "reference_time": str(event.reference_time),
            "seed": args.seed, "diagnostics": diagnostics, "files": paths,
        },
    )  # fmt: skip
    log("wrote " + ", ".join(str(p) for p in paths.values()))
