"""``jaxseis locate``: the posterior of one event's parameters (x, y, z, t0, log_amplitude)."""

from __future__ import annotations

import inspect

from jaxseis.cli.common import (
    Formatter,
    UserError,
    add_model_arguments,
    clock,
    emulator_error_of,
    finite_float,
    load_emulators,
    non_negative_int,
    output_dir,
    positive_float,
    positive_int,
)
from jaxseis.cli.event_args import add_geo_arguments, prior_of, transform_of
from jaxseis.cli.locate_nonlinloc import locate_nonlinloc
from jaxseis.cli.sampler import options_of, run_locate

__all__ = ["register"]


def _observation(args, receivers_km, dt, n_samples):
    import jax

    from jaxseis.dataset import load_paper_event
    from jaxseis.observation import observe, read_observation

    key = None if args.no_noise else jax.random.key(args.noise_seed)
    if args.waveforms:
        return _waveform_observation(args, receivers_km, dt, n_samples)
    if args.observed is None:
        if args.event != 0:
            raise ValueError(f"event {args.event} out of range: the bundled paper event has 1")
        obs = observe(load_paper_event(), receivers_km, noise=args.sigma, noise_key=key)
        return obs if args.truth is None else obs.replace(truth=args.truth)
    return read_observation(
        args.observed,
        receivers_km,
        dt,
        n_samples,
        event=args.event,
        noise=args.sigma,
        noise_key=key,
        truth=args.truth,
    )


def _waveform_observation(args, receivers_km, dt, n_samples):
    """An observation from recorded files: ``--waveforms``, ``--stations``, ``--reference-time``."""
    from jaxseis.io.waveforms import WaveformOptions, read_waveforms

    if args.stations is None or args.reference_time is None:
        raise UserError("--waveforms needs --stations FILE and --reference-time TIME")
    if args.observed is not None:
        raise UserError("give either --observed or --waveforms, not both")
    if (args.noise_window is None) == (args.sigma is None):
        raise UserError(
            "--waveforms needs a noise model: --noise-window S (seconds of noise before the "
            "reference time, a coloured model) or --sigma (white noise, trace units)"
        )
    options = WaveformOptions(
        noise_window_s=args.noise_window,
        noise_sigma=args.sigma,
        bandpass_hz=tuple(args.bandpass) if args.bandpass else None,
    )
    return read_waveforms(
        args.waveforms, args.stations, receivers_km, args.reference_time,
        transform=transform_of(args), options=options, dt=dt, n_samples=n_samples,
        event_id=str(args.reference_time),
    )  # fmt: skip


def _likelihood(args, emulators, obs, log):
    if args.likelihood == "waveform":
        from jaxseis.likelihood import waveform_log_likelihood

        error = emulator_error_of(args)
        lik = waveform_log_likelihood(emulators, obs, emulator_error=error, band_hz=args.band)
        attrs = {} if error is None else {"emulator_error": args.emulator_error}
        return lik, attrs | ({} if args.band is None else {"band_hz": list(args.band)})
    from jaxseis.likelihood import edt_log_likelihood
    from jaxseis.picking import picks_of
    from jaxseis.traveltime import traveltime_tables
    from jaxseis.velocity import marine_model

    if obs.n_receivers < 2:
        raise ValueError("the EDT likelihood needs at least 2 receivers (it uses pairs of picks)")
    picks = picks_of(obs, error_s=args.pick_error)
    log("picks (s): " + ", ".join(f"{t:.4f}" for t in picks.times_s))
    tables = traveltime_tables(marine_model(), obs.receivers_km, progress=log)
    extra = {"picks_s": picks.times_s.tolist(), "pick_error_s": args.pick_error}
    return edt_log_likelihood(tables, picks), extra


def _locate(args) -> None:
    import numpy as np

    from jaxseis import inference
    from jaxseis.files import write_json
    from jaxseis.io.events import write_event_files, write_inference_data

    log = clock()
    out = output_dir(args.output, overwrite=args.overwrite)
    if args.picks is not None or args.grids is not None:
        return locate_nonlinloc(args, out, log)
    waveform = args.likelihood == "waveform"
    if waveform or args.models:
        emulators, files = load_emulators(args.models, args.kind)
        receivers = np.stack([e.receiver_km for e in emulators])
        dt, n = float(emulators[0].dt), int(emulators[0].n_samples)
        log(f"{len(emulators)} emulator(s): " + ", ".join(files))
    else:
        from jaxseis.geometry import location_receivers_km
        from jaxseis.simulate import SolverConfig

        emulators, files, receivers, n = None, [], location_receivers_km(), None
        dt = SolverConfig().record_dt
    obs = _observation(args, receivers, args.dt or dt, n)
    noise = "no noise added" if args.no_noise else f"+ noise (seed {args.noise_seed})"
    log(f"observed: {args.observed or 'the bundled paper event'}, event {args.event}, {noise}")
    lik, extra = _likelihood(args, emulators, obs, log)
    prior = prior_of(args, position_only=not waveform)
    log(f"{args.likelihood} likelihood, {args.method}: {options_of(args)}")
    idata, diagnostics = run_locate(args, lik, prior)
    print(inference.summary_table(idata, truth=obs.truth))
    summary = inference.summary_dict(idata)
    if obs.truth is not None:
        dist = 1000 * float(np.linalg.norm(np.subtract(summary["mean"][:3], obs.truth[:3])))
        print(f"posterior mean {dist:.0f} m from the truth")
        extra |= {"truth": obs.truth.tolist(), "distance_mean_to_truth_m": dist}
    write_inference_data(out / "posterior.nc", idata)
    paths = write_event_files(
        out / "event",
        summary,
        obs,
        transform=transform_of(args),
        emulators=", ".join(files) or None,
    )
    paths = {"inference_data": out / "posterior.nc", **paths, "summary": out / "summary.json"}
    write_json(
        paths["summary"],
        {
            **summary,
            **extra,
            "likelihood": args.likelihood,
            "event": args.event,
            "observed": args.observed or "bundled paper event",
            "stations": list(obs.stations),
            "receivers_km": obs.receivers_km.tolist(),
            "noise_added": not args.no_noise,
            "noise_sigma": getattr(obs.noise, "sigma", None),
            "noise_seed": None if args.no_noise else args.noise_seed,
            "seed": args.seed,
            "models": files,
            "diagnostics": diagnostics,
            "files": paths,
        },
    )
    log("wrote " + ", ".join(str(p) for p in paths.values()))


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis import inference
    from jaxseis.inference import METHODS, GlobalStage, NutsOptions
    from jaxseis.inference.prior import DOMAIN_POLICIES
    from jaxseis.picking import DEFAULT_PICK_ERROR_S

    nuts = NutsOptions()
    s = sub.add_parser(
        "locate",
        help="Bayesian location of one event",
        description="The posterior of an event's parameters (x, y, z km, origin time t0 s, "
        "log amplitude) under a uniform prior (the paper's box x, y in [0, 1] km, z in "
        "[0, 2.43] km), printed as a table.\n\nwaveform likelihood: Gaussian noise around the "
        "emulated traces (emulators from --models, default: the bundled NN-direct emulators "
        "of the 4 location receivers). edt likelihood: NonLinLoc's Equal-Differential-Time "
        "likelihood of automatic picks, with travel-time tables in the marine model (position "
        "only).\n\nObserved traces: an event of a dataset file (rows matched to the receivers "
        "by position; default: the bundled simulation of the paper's event) or a .npy/.npz "
        "array [n_receivers, n_samples] in the emulators' order; seeded white noise at the "
        "paper's level (5.6 % of the largest peak, or --sigma) is added unless --no-noise."
        "\n\nWrites DIR/summary.json, DIR/posterior.nc (arviz InferenceData), DIR/event.xml "
        "(QuakeML) and DIR/event.hyp (NonLinLoc).",
        epilog="example: jaxseis locate --fix-t0 --fix-amplitude -o located/",
        formatter_class=Formatter,
    )
    s.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    s.add_argument("--overwrite", action="store_true", help="replace results in DIR")
    s.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (default: shown on a terminal)",
    )
    add_model_arguments(s, error=True)
    g = s.add_argument_group("observed data")
    g.add_argument(
        "--observed",
        metavar="FILE",
        help="dataset (.h5) or trace array (.npy/.npz) (default: the paper's event)",
    )
    g.add_argument("--event", type=non_negative_int, default=0, help="event index in a dataset")
    g.add_argument(
        "--dt",
        type=positive_float,
        help="sampling interval (s) of a trace array (default: the emulators')",
    )
    g.add_argument(
        "--truth",
        type=finite_float,
        nargs="+",
        metavar="V",
        help="true X Y Z [T0 LOG_AMPLITUDE] to report (default: the dataset's)",
    )
    g.add_argument(
        "--sigma",
        type=positive_float,
        help="noise standard deviation, trace units (default: 5.6 %% of the largest peak)",
    )
    g.add_argument("--no-noise", action="store_true", help="add no noise to the observed")
    g.add_argument("--noise-seed", type=int, default=0, help="seed of the added noise")
    g = s.add_argument_group("a NonLinLoc set-up (EDT)")
    g.add_argument("--picks", metavar="FILE", help="NLLOC_OBS phase file (P picks)")
    g.add_argument(
        "--grids",
        metavar="ROOT",
        help="NonLinLoc P time grids ROOT.P.<STA>.time.{hdr,buf} (Grid2Time's output)",
    )
    g = s.add_argument_group("recorded data (ObsPy)")
    g.add_argument(
        "--waveforms",
        nargs="+",
        metavar="PATTERN",
        help="waveform files or glob patterns ObsPy reads (miniSEED, SAC, ...)",
    )
    g.add_argument(
        "--stations", metavar="FILE", help="StationXML inventory or station table (.csv)"
    )
    g.add_argument(
        "--reference-time",
        metavar="TIME",
        help="time of the window's first sample (ISO 8601, UTC); t0 is relative to it",
    )
    g.add_argument(
        "--noise-window",
        type=positive_float,
        metavar="S",
        help="seconds of noise before the reference time for a coloured noise model "
        "(use --domain frequency)",
    )
    g.add_argument(
        "--bandpass",
        type=positive_float,
        nargs=2,
        metavar=("FMIN", "FMAX"),
        help="band-pass the recordings (Hz) before resampling to the emulators' dt",
    )
    add_geo_arguments(s)
    g = s.add_argument_group("likelihood and sampler")
    g.add_argument(
        "--likelihood",
        default="waveform",
        choices=["waveform", "edt"],
        help="waveform (emulators) or edt (arrival times)",
    )
    g.add_argument(
        "--method",
        default="nuts",
        choices=list(METHODS),
        help="NUTS (BlackJAX), nested sampling (jaxns, with log Z) or Laplace",
    )
    g.add_argument(
        "--pick-error",
        type=positive_float,
        default=DEFAULT_PICK_ERROR_S,
        help="edt: pick uncertainty (one standard deviation), s",
    )
    g.add_argument(
        "--domain",
        choices=DOMAIN_POLICIES,
        default=inspect.signature(inference.locate).parameters["domain"].default,
        help="a prior box leaving the emulators' training domain is an error, clipped to it, "
        "a warning, or ignored",
    )
    g.add_argument("--seed", type=int, default=1, help="seed of the sampler")
    g.add_argument(
        "--num-chains", type=positive_int, help=f"NUTS chains (default: {nuts.num_chains})"
    )
    g.add_argument(
        "--num-warmup", type=positive_int, help=f"NUTS warm-up steps (default: {nuts.num_warmup})"
    )
    g.add_argument(
        "--num-draws",
        type=positive_int,
        help="draws (NUTS: per chain; default: the method's, "
        + ", ".join(f"{m} {c().num_draws}" for m, c in METHODS.items())
        + ")",
    )
    g.add_argument(
        "--global-draws",
        type=non_negative_int,
        help="candidates of the global stage (0: none, NUTS only; default: "
        f"{GlobalStage().num_draws})",
    )
    g.add_argument(
        "--importance",
        type=positive_int,
        metavar="N",
        help="with --method laplace: reweigh N draws of the Laplace approximation to the "
        "posterior by importance sampling (a Pareto k above 0.7 is reported as unreliable)",
    )
    g.add_argument(
        "--max-tree-depth",
        type=positive_int,
        help=f"NUTS: maximum trajectory doublings (default: {nuts.max_num_doublings})",
    )
    s.set_defaults(func=_locate)
