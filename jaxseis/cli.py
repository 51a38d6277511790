"""The ``jaxseis`` command line: one subcommand per stage of the pipeline.

============ ===================================================================================
simulate     simulate a dataset with the finite-difference solver
info         print the summary of a dataset file
train        fit emulators of one family, one file per receiver (``--bundled``: the shipped ones)
evaluate     R2D and evaluation time of emulator files on a dataset split
locate       Bayesian location of an event (waveform or EDT likelihood, NUTS or nested sampling)
bench        emulator latency, finite-difference solver speed
demo         the main job on the bundled data
export-nll   the velocity model as a NonLinLoc grid
============ ===================================================================================

User errors (missing files, wrong shapes, unknown model names, NaN, bad values) are reported as
one line ``jaxseis COMMAND: error: ...`` on stderr with exit code 2, never as a traceback
(``jaxseis --debug COMMAND ...`` shows the traceback instead). Heavy modules are imported inside
the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from pathlib import Path

__all__ = ["UserError", "build_parser", "main"]


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit code 2."""


#: the errors reported as one line (with exit code 2) instead of a traceback
USER_ERRORS = (UserError, OSError, ValueError, FloatingPointError)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _log(tic: float, message: str) -> None:
    print(f"[{time.perf_counter() - tic:6.1f} s] {message}", flush=True)


def _int_at_least(least: int):
    """An argparse type: an integer ``>= least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {least}, got {text!r}"
            ) from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _write_json(path: str | Path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    return path


def _load_dataset(path: str | None):
    """A dataset file, or the bundled benchmark for ``None``."""
    from jaxseis import dataset as ds

    return ds.load(path) if path else ds.load_benchmark()


def _families() -> list[str]:
    from jaxseis import emulators as em

    return sorted(em.FAMILIES)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in _families():
        raise UserError(
            f"unknown emulator family {kind!r}; choose one of: {', '.join(_families())}"
        )


def _natural_key(path: Path):
    """Sort ``nn_direct_r2`` before ``nn_direct_r10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _model_files(paths: list[str], kind: str | None = None) -> list[Path]:
    """Emulator files from files and directories (all ``*.npz`` in them, or ``<kind>_r*.npz``)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            pattern = f"{kind}_r*.npz" if kind else "*.npz"
            found = sorted(p.glob(pattern), key=_natural_key)
            if not found:
                raise UserError(f"no emulator files ({pattern}) in the directory {p}")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise UserError(f"emulator file not found: {p}")
    return files


def _load_emulators(files: list[Path], kind: str | None = None) -> list:
    """Load emulator files; refuse two emulators of the same receiver."""
    import numpy as np

    from jaxseis import emulators as em

    emulators = [em.load(f, kind=kind) for f in files]
    for i, a in enumerate(emulators):
        for j in range(i):
            if np.allclose(a.receiver_km, emulators[j].receiver_km, atol=1e-6):
                raise UserError(
                    f"{files[j]} and {files[i]} both emulate the receiver at "
                    f"{np.round(a.receiver_km, 4).tolist()} km; give one emulator per receiver"
                    + ("" if kind else " (or choose a family with --kind)")
                )
    return emulators


def _receiver_row(data, emulator, path, what: str) -> int:
    """The row of ``data`` at the emulator's receiver (one-line error if absent)."""
    import numpy as np

    try:
        return data.receiver_index(emulator.receiver_km)
    except ValueError:
        raise UserError(
            f"{path} emulates the receiver at {np.round(emulator.receiver_km, 4).tolist()} km, "
            f"which {what} does not have (its receivers: "
            f"{np.round(data.receivers, 4).tolist()} km)"
        ) from None


def _check_sampling(emulator, path, dt: float, n_samples: int, what: str) -> None:
    if abs(emulator.dt - dt) > 1e-9 * max(dt, 1.0) or emulator.n_samples != n_samples:
        raise UserError(
            f"{path} emulates traces of {emulator.n_samples} samples at {emulator.dt * 1e3:g} ms "
            f"but {what} has {n_samples} samples at {dt * 1e3:g} ms"
        )


# --------------------------------------------------------------------------------------------
# simulate, info, export-nll
# --------------------------------------------------------------------------------------------


def _cmd_simulate(args) -> None:
    from jaxseis import dataset as ds
    from jaxseis.runtime import cache_dir
    from jaxseis.simulate import SolverConfig

    seed = args.seed
    if seed is None:
        seed = ds.DENSE_SEED if args.what == "dense" else ds.BENCHMARK_SEED
    config = SolverConfig(n_pml=args.n_pml)
    tic = time.perf_counter()
    if args.what == "benchmark":
        data = ds.make_benchmark(seed=seed, config=config)
        out = Path(args.output or "benchmark.h5")
    elif args.what == "event":
        data = ds.make_paper_event(config=config)
        out = Path(args.output or "paper_event.h5")
    else:  # dense
        bench = ds.load(args.benchmark) if args.benchmark else ds.load_benchmark()
        data = ds.make_dense(n_train=args.n_train, seed=seed, benchmark=bench, config=config)
        out = Path(args.output) if args.output else cache_dir() / "dense.h5"
    ds.save(data, out)
    print(data.summary())
    print(f"wrote {out} in {time.perf_counter() - tic:.1f} s")


def _cmd_info(args) -> None:
    from jaxseis import dataset as ds

    print(ds.load(args.path).summary())


def _cmd_export_nll(args) -> None:
    from jaxseis.io.nll_grid import to_nonlinloc
    from jaxseis.velocity import marine_model

    hdr, buf = to_nonlinloc(marine_model(), args.root, grid_type=args.grid_type)
    print(f"wrote {hdr} and {buf}")


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def _fit_options(kind: str, args) -> dict:
    """Options of :func:`jaxseis.emulators.fit` from the command line, for the family's
    ``fit_core`` (networks get a ``TrainConfig``, GP cores the GP options)."""
    import inspect

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
        for name in ("max_epochs", "patience", "batch_size"):
            if getattr(args, name) is not None:
                changes[name] = getattr(args, name)
        options["config"] = TrainConfig()._replace(**changes)
    return options


def _cmd_train(args) -> None:
    import numpy as np

    from jaxseis import emulators as em
    from jaxseis import pretrained

    kind = args.kind
    if kind is None:
        if not args.bundled:
            raise UserError(
                f"give the emulator family KIND (one of: {', '.join(_families())}) or --bundled"
            )
        kind = pretrained.BUNDLED_KIND
    _check_kind(kind)
    if not args.bundled and args.output is None:
        raise UserError("give the output directory with -o DIR")
    if args.output is not None and Path(args.output).exists() and not Path(args.output).is_dir():
        raise UserError(f"the output {args.output} exists and is not a directory")
    data = _load_dataset(args.dataset)
    receivers = list(range(data.n_receivers)) if args.receivers is None else args.receivers
    bad = [r for r in receivers if not 0 <= r < data.n_receivers]
    if bad:
        raise UserError(
            f"receiver index {bad[0]} out of range: the dataset has {data.n_receivers} "
            f"receivers (0-{data.n_receivers - 1})"
        )
    if len(set(receivers)) != len(receivers):
        raise UserError(f"repeated receiver indices in {receivers}")
    options = _fit_options(kind, args)
    tic = time.perf_counter()
    if args.bundled:
        seed = pretrained.BUNDLED_SEED if args.seed is None else args.seed
        where = args.output or pretrained.BUNDLED_DIR
        _log(tic, f"retraining the bundled {kind} emulators of receivers {receivers} -> {where}")
        paths = pretrained.train_bundled(
            args.output,
            receivers=receivers,
            kind=kind,
            seed=seed,
            n_train=args.n_train,
            dataset=None if args.dataset is None else data,
            **options,
        )
    else:
        seed = 0 if args.seed is None else args.seed
        out = Path(args.output)
        paths = []
        for r in receivers:
            tdata = em.training_data(data, r, n_train=args.n_train)
            _log(
                tic,
                f"receiver {r} at {np.round(tdata.receiver_km, 4).tolist()} km: fitting {kind} "
                f"on {len(tdata.train_sources)} sources ({len(tdata.val_sources)} validation)",
            )
            e = em.fit(kind, tdata, seed=seed, **options)
            e = e._replace(info={**e.info, "receiver_index": int(r)})
            paths.append(em.save(e, out / f"{kind}_r{r}.npz"))
            epochs = e.info.get("epochs")
            detail = "" if epochs is None else f", {epochs} epochs"
            _log(tic, f"receiver {r}: fitted in {e.info['fit_s']:.1f} s{detail} -> {paths[-1]}")
    _log(tic, f"wrote {len(paths)} emulator file(s)")


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def _cmd_evaluate(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxseis import emulators as em
    from jaxseis.metrics import r2d

    _check_kind(args.kind)
    files = _model_files(args.models, args.kind)
    data = _load_dataset(args.dataset)
    idx = data.indices(args.split)
    if len(idx) == 0:
        raise UserError(f"the {args.split} split of the dataset is empty")
    if args.max_events is not None:
        idx = idx[: args.max_events]
    sources = np.asarray(data.sources[idx], np.float64)
    what = f"the dataset {args.dataset or '(bundled benchmark)'}"
    results = []
    for path in files:
        e = em.load(path, kind=args.kind)
        row = _receiver_row(data, e, path, what)
        _check_sampling(e, path, data.dt, data.n_samples, what)
        # the peak GPs in float64 (their means lose digits in float32), the network in float32
        with jax.enable_x64(True):
            f = jax.jit(jax.vmap(em.make_predictor(e)))
            src = jnp.asarray(sources, jnp.float64)
            tic = time.perf_counter()
            pred = f(src).block_until_ready()
            first_s = time.perf_counter() - tic
            tic = time.perf_counter()
            pred = np.asarray(f(src).block_until_ready())
            eval_s = time.perf_counter() - tic
        if not np.all(np.isfinite(pred)):
            raise UserError(f"{path}: the emulator predicts NaN or infinite traces")
        truth = data.traces[row, idx]
        results.append(
            {
                "model": str(path),
                "kind": e.kind,
                "receiver_index": row,
                "receiver_km": np.asarray(e.receiver_km).tolist(),
                "n_train": e.info.get("n_train"),
                "n_events": len(idx),
                "r2d": r2d(truth, pred),
                "mse": float(np.mean((truth.astype(np.float64) - pred) ** 2)),
                "eval_s": eval_s,
                "per_trace_us": 1e6 * eval_s / len(idx),
                "first_call_s": first_s,
            }
        )
    header = (
        f"{'model':<32}{'kind':>10}{'receiver':>10}{'n':>7}{'R2D':>10}{'eval':>10}{'/trace':>10}"
    )
    print(f"{args.split} split, {len(idx)} events")
    print(header)
    print("-" * len(header))
    for r in results:
        name = Path(r["model"]).name
        name = name if len(name) <= 31 else "..." + name[-28:]
        print(
            f"{name:<32}{r['kind']:>10}{r['receiver_index']:>10}{r['n_events']:>7}"
            f"{r['r2d']:>10.4f}{r['eval_s'] * 1e3:>8.1f}ms{r['per_trace_us']:>8.1f}us"
        )
    if args.output:
        out = _write_json(
            args.output,
            {
                "dataset": args.dataset or "bundled benchmark",
                "split": args.split,
                "n_events": len(idx),
                "timing": "eval_s: one jitted, vmapped call on all the split's sources after "
                "a first call that compiles (first_call_s)",
                "results": results,
            },
        )
        print(f"wrote {out}")


# --------------------------------------------------------------------------------------------
# locate
# --------------------------------------------------------------------------------------------


def _read_trace_array(path: Path):
    """Traces ``[n_receivers, n_samples]`` from ``.npy`` or ``.npz`` (key ``traces`` or the
    only array)."""
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as err:  # zip, npy or pickle errors all mean an unreadable file
        raise UserError(f"{path} is not a readable .npy/.npz file ({err})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        if "traces" in names:
            return loaded["traces"]
        if len(names) == 1:
            return loaded[names[0]]
    shown = names[:5] + (["..."] if len(names) > 5 else [])
    raise UserError(f"{path} must hold an array named 'traces'; it has {shown}")


def _observed(args, receivers_km, dt_models: float | None, n_samples: int | None):
    """``(clean traces [n_receivers, n_samples], dt, truth or None, solver settings, label)``
    at ``receivers_km``, in that order."""
    import numpy as np

    from jaxseis import dataset as ds

    path = Path(args.observed) if args.observed else None
    if path is not None and path.suffix in (".npy", ".npz"):
        if not path.exists():
            raise UserError(f"observed file not found: {path}")
        traces = _read_trace_array(path)
        if traces.ndim != 2 or traces.shape[0] != len(receivers_km):
            raise UserError(
                f"{path}: observed traces must have shape [{len(receivers_km)}, n_samples] "
                f"(one row per emulator, in their order); got {list(traces.shape)}"
            )
        if n_samples is not None and traces.shape[1] != n_samples:
            raise UserError(
                f"{path}: the observed traces have {traces.shape[1]} samples but the emulators "
                f"predict {n_samples}"
            )
        if not np.issubdtype(traces.dtype, np.number):
            raise UserError(f"{path}: observed traces must be numbers, got {traces.dtype}")
        dt = dt_models if args.dt is None else args.dt
        if dt is None:
            from jaxseis.simulate import SolverConfig

            dt = SolverConfig().record_dt
        truth = None if args.truth is None else np.asarray(args.truth, dtype=np.float64)
        traces = np.asarray(traces, dtype=np.float64)
        label, solver = str(path), {}
    else:
        data = ds.load(path) if path else ds.load_paper_event()
        label = str(path) if path else "bundled paper event"
        if not 0 <= args.event < data.n_events:
            raise UserError(
                f"event {args.event} out of range: {label} has {data.n_events} event(s)"
            )
        rows = []
        for r in receivers_km:
            try:
                rows.append(data.receiver_index(r))
            except ValueError:
                raise UserError(
                    f"the observed data ({label}) have no trace at the receiver "
                    f"{np.round(r, 4).tolist()} km; its receivers: "
                    f"{np.round(data.receivers, 4).tolist()} km"
                ) from None
        if n_samples is not None and data.n_samples != n_samples:
            raise UserError(
                f"the observed data ({label}) have {data.n_samples} samples but the emulators "
                f"predict {n_samples}"
            )
        if dt_models is not None and abs(data.dt - dt_models) > 1e-9:
            raise UserError(
                f"the observed data ({label}) are sampled at {data.dt * 1e3:g} ms but the "
                f"emulators at {dt_models * 1e3:g} ms"
            )
        traces = np.asarray(data.traces[rows, args.event], dtype=np.float64)
        dt = data.dt
        truth = np.asarray(data.sources[args.event], dtype=np.float64)
        if args.truth is not None:
            truth = np.asarray(args.truth, dtype=np.float64)
        solver = data.provenance.get("solver") or {}
    if not np.all(np.isfinite(traces)):
        bad = np.flatnonzero(~np.all(np.isfinite(traces), axis=1))
        raise UserError(
            f"the observed traces contain NaN or infinite values (rows {bad[:5].tolist()})"
        )
    if not np.any(traces):
        raise UserError("the observed traces are all zero")
    return traces, float(dt), truth, solver, label


def _cmd_locate(args) -> None:
    import warnings
    from contextlib import nullcontext

    import jax
    import numpy as np

    from jaxseis import inference
    from jaxseis.likelihood.waveform import add_noise, default_sigma

    tic = time.perf_counter()
    _check_kind(args.kind)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"the output {out} exists and is not a directory")

    # --- emulators (the receivers), observed traces, noise
    emulators, files = None, []
    if args.models:
        files = _model_files(args.models, args.kind)
        emulators = _load_emulators(files, args.kind)
    elif args.likelihood == "waveform":
        from jaxseis import pretrained

        kind = args.kind or pretrained.BUNDLED_KIND
        files = [pretrained.bundled_path(r, kind) for r in (1, 2, 3, 4)]
        emulators = pretrained.load_bundled((1, 2, 3, 4), kind=kind)
    if emulators is not None:
        receivers = np.stack([np.asarray(e.receiver_km, dtype=np.float64) for e in emulators])
        if len({(e.dt, e.n_samples) for e in emulators}) != 1:
            raise UserError("the emulators do not share their sampling (dt, n_samples)")
        dt_models, n_samples = float(emulators[0].dt), int(emulators[0].n_samples)
        _log(tic, f"{len(emulators)} emulator(s): " + ", ".join(str(f) for f in files))
    else:
        from jaxseis.geometry import location_receivers_km

        receivers, dt_models, n_samples = location_receivers_km(), None, None
    if args.likelihood == "edt" and len(receivers) < 2:
        raise UserError("the EDT likelihood needs at least 2 receivers (it uses pairs of picks)")
    clean, dt, truth, solver, label = _observed(args, receivers, dt_models, n_samples)
    sigma = args.sigma if args.sigma is not None else default_sigma(np.abs(clean).max())
    if args.no_noise:
        observed = clean
        _log(tic, f"observed: {label}, event {args.event}, as given (no noise added)")
    else:
        observed = np.asarray(add_noise(clean, sigma, jax.random.key(args.noise_seed)))
        _log(
            tic,
            f"observed: {label}, event {args.event} + noise sigma {sigma:.4g} "
            f"(seed {args.noise_seed})",
        )

    # --- likelihood
    extra: dict = {}
    if args.likelihood == "waveform":
        from jaxseis.forward import make_forward
        from jaxseis.likelihood.waveform import gaussian_log_likelihood

        with jax.enable_x64(True):
            loglike = gaussian_log_likelihood(make_forward(emulators), observed, sigma)
        extra["sigma"] = sigma
    else:
        from jaxseis.likelihood.edt import edt_log_likelihood
        from jaxseis.picking import pick_arrivals
        from jaxseis.simulate import SolverConfig
        from jaxseis.traveltime import traveltime_tables
        from jaxseis.velocity import marine_model

        default = SolverConfig()
        config = default._replace(
            f0=float(solver.get("f0", default.f0)),
            source_delay=solver.get("source_delay", default.source_delay),
        )
        picks = pick_arrivals(
            observed, dt, config.t0, wavelet_f0=config.f0, error_s=args.pick_error
        )
        _log(tic, "picks (s): " + ", ".join(f"{t:.4f}" for t in picks.times_s))
        tables = traveltime_tables(marine_model(), receivers, progress=lambda m: _log(tic, m))
        loglike = edt_log_likelihood(tables, picks.times_s, args.pick_error)
        extra.update({"picks_s": picks.times_s.tolist(), "pick_error_s": args.pick_error})

    # --- sampling
    options: dict = {}
    if args.method == "nuts":
        options["max_num_doublings"] = args.max_tree_depth
        if args.global_draws == 0:
            options["global_stage"] = None
        else:
            default = inference.GlobalStage()
            options["global_stage"] = default._replace(
                num_draws=args.global_draws,
                num_polish=min(default.num_polish, args.global_draws),
                chunk_size=min(default.chunk_size, args.global_draws),
            )
    settings = {
        "method": args.method,
        "num_chains": args.num_chains,
        "num_warmup": args.num_warmup,
        "num_draws": args.num_draws,
    }
    _log(tic, f"{args.likelihood} likelihood, sampling: {settings}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", inference.ConvergenceWarning)
        precision = jax.enable_x64(True) if args.likelihood == "waveform" else nullcontext()
        with precision:
            idata = inference.locate(
                loglike,
                inference.paper_prior(),
                key=jax.random.key(args.seed),
                **settings,
                **options,
            )
    diagnostics = []
    for w in caught:
        if issubclass(w.category, inference.ConvergenceWarning):
            diagnostics.append(str(w.message))
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    _log(tic, "posterior:")
    print(inference.summary_table(idata, truth=truth))
    summary = inference.summary_dict(idata)
    if truth is not None:
        dist = 1000 * float(np.linalg.norm(np.asarray(summary["mean_km"]) - truth))
        print(f"posterior mean {dist:.0f} m from the truth")
        extra.update({"truth_km": truth.tolist(), "distance_mean_to_truth_m": dist})

    # --- files
    out.mkdir(parents=True, exist_ok=True)
    draws = np.stack([np.asarray(idata.posterior[c]) for c in inference.COORDS], axis=-1)
    np.savez_compressed(
        out / "posterior.npz",
        draws_km=draws,
        loglik=np.asarray(idata.sample_stats["loglik"]),
        coords=np.array(inference.COORDS),
    )
    files_out = {"summary": out / "summary.json", "draws": out / "posterior.npz"}
    try:
        idata.to_netcdf(str(out / "posterior.nc"))
        files_out["inference_data"] = out / "posterior.nc"
    except Exception as err:  # netCDF support is optional: the .npz holds the draws
        print(
            f"warning: posterior.nc not written ({err}); the draws are in posterior.npz",
            file=sys.stderr,
        )
    result = {
        **summary,
        **extra,
        "likelihood": args.likelihood,
        "observed": label,
        "event": args.event,
        "noise_added": not args.no_noise,
        "noise_sigma": None if args.no_noise else sigma,
        "noise_seed": None if args.no_noise else args.noise_seed,
        "seed": args.seed,
        "receivers_km": receivers.tolist(),
        "models": [str(f) for f in files],
        "diagnostics": diagnostics,
        "files": {k: str(p) for k, p in files_out.items()},
    }
    _write_json(out / "summary.json", result)
    _log(tic, "wrote " + ", ".join(str(p) for p in files_out.values()))


# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------


def _cmd_bench_simulate(args) -> None:
    import numpy as np

    from jaxseis.simulate import SolverConfig, check_config, reciprocal_traces
    from jaxseis.velocity import from_arrays, marine_model

    tic = time.perf_counter()
    model = marine_model()
    if args.grid is not None:
        full = model.grid.shape
        if any(not 5 <= n <= m for n, m in zip(args.grid, full, strict=True)):
            raise UserError(f"--grid {args.grid} must lie between 5 and {list(full)} nodes")
        nx, ny, nz = args.grid
        crop = (slice(nx), slice(ny), slice(nz))
        model = from_arrays(
            model.vp[crop],
            model.rho[crop],
            model.grid._replace(shape=(nx, ny, nz)),
            f"{model.name}, first {nx} x {ny} x {nz} nodes",
        )
    config = SolverConfig(duration=args.duration, n_pml=args.n_pml)
    dt = check_config(model, config)
    lo, hi = model.grid.extent_km
    receiver = (lo + hi) / 2
    points = np.random.default_rng(0).uniform(lo, hi, size=(args.n_sources, 3))
    repeats = 2 if args.repeats is None else args.repeats

    def steps(c):  # as jaxseis.simulate.simulate: 10 samples past the end for the decimation
        return (c.n_samples - 1 + 10) * round(c.record_dt / dt)

    n_steps = steps(config)
    _log(
        tic,
        f"{n_steps} steps of {dt * 1e3:g} ms on {model.grid.shape} nodes (+{args.n_pml} "
        f"PML), {len(points)} recording points, {repeats} timed run(s)",
    )
    t = time.perf_counter()
    reciprocal_traces(model, receiver, points, config)
    first = time.perf_counter() - t
    _log(tic, f"first run (compilation included): {first:.2f} s")
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        reciprocal_traces(model, receiver, points, config)
        times.append(time.perf_counter() - t)
        _log(tic, f"run {i + 1}/{repeats}: {times[-1]:.2f} s")
    steady = float(np.median(times))
    phys = int(np.prod(model.grid.shape))
    padded = int(np.prod([n + 2 * config.n_pml for n in model.grid.shape]))
    full_steps = steps(config._replace(duration=SolverConfig().duration))
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
        "machine": _machine(),
    }
    print(
        f"{result['mpts_per_s']:.1f} Mpts/s (physical grid), {result['ms_per_step']:.1f} ms per "
        f"step; a {SolverConfig().duration:g} s simulation on this grid: about "
        f"{result['seconds_per_receiver_full_duration']:.0f} s"
    )
    print(f"wrote {_write_json(args.output, result)}")


def _machine() -> dict:
    from jaxseis.timing import machine_info

    return machine_info()


def _cmd_bench_latency(args) -> None:
    from jaxseis import timing

    if args.dispatch != "current":  # before any JAX computation of this process
        timing.enable_sync_dispatch(args.dispatch == "sync")

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxseis import emulators as em
    from jaxseis.forward import make_forward
    from jaxseis.likelihood.waveform import default_sigma, gaussian_log_likelihood

    tic = time.perf_counter()
    _check_kind(args.kind)
    if args.models:
        files = _model_files(args.models, args.kind)
        emulators = _load_emulators(files, args.kind)
    else:
        from jaxseis import pretrained

        kind = args.kind or pretrained.BUNDLED_KIND
        files = [pretrained.bundled_path(r, kind) for r in (1, 2, 3, 4)]
        emulators = pretrained.load_bundled((1, 2, 3, 4), kind=kind)
    if len({(e.dt, e.n_samples) for e in emulators}) != 1:
        raise UserError("the emulators do not share their sampling (dt, n_samples)")
    n_repeat = 500 if args.repeats is None else args.repeats
    batch_sizes = list(timing.DEFAULT_BATCH_SIZES) if args.batch_sizes is None else args.batch_sizes
    x64 = not args.float32
    forward = {}
    for path, e in zip(files, emulators, strict=True):
        _log(tic, f"forward model of {path} (batches {batch_sizes}) ...")
        forward[str(path)] = timing.forward_timing(
            e, n_repeat=n_repeat, n_loop=args.n_loop, batch_sizes=batch_sizes,
            seed=args.seed, x64=x64,
        ).as_dict()  # fmt: skip
    # observed traces for the likelihood: the emulated traces of the paper's event (the
    # timing does not depend on their values)
    from jaxseis.dataset import PAPER_EVENT_KM

    observed = np.stack([em.predict(e, PAPER_EVENT_KM) for e in emulators]).astype(np.float64)
    sigma = default_sigma(np.abs(observed).max())
    _log(tic, f"log-likelihood and gradient, {len(emulators)} receiver(s) ...")
    gp_dtype = jnp.float64 if x64 else jnp.float32
    with jax.enable_x64(True) if x64 else contextlib.nullcontext():
        fwd = make_forward(emulators, gp_dtype=gp_dtype, jit=False)
        ll = timing.loglike_timing(
            gaussian_log_likelihood(fwd, observed, sigma),
            list(timing.random_sources(16, args.seed)),
            n_repeat=n_repeat,
        )
    loglike = {**ll.as_dict(), "n_receivers": len(emulators), "x64": x64}
    header = f"{'model':<32}{'single call':>14}{'in loop':>12}"
    header += "".join(
        f"{timing.batch_key(n).replace('traces_per_s_', 'tr/s '):>14}" for n in batch_sizes
    )
    print(
        f"latency (median, us per evaluation), dispatch {loglike['dispatch']}, "
        f"GPs in {'float64' if x64 else 'float32'}, JAX {jax.__version__}"
    )
    print(header)
    print("-" * len(header))
    for path, r in forward.items():
        name = Path(path).name
        name = name if len(name) <= 31 else "..." + name[-28:]
        line = f"{name:<32}{r['single_call_us']:>14.1f}{r['in_loop_us']:>12.1f}"
        line += "".join(f"{r[timing.batch_key(n)]:>14.3g}" for n in batch_sizes)
        print(line)
    print(
        f"log-likelihood, {len(emulators)} receiver(s): value {loglike['loglike_us']:.1f} us, "
        f"value and gradient {loglike['loglike_grad_us']:.1f} us"
    )
    result = {
        "benchmark": "latency",
        "models": [str(f) for f in files],
        "forward": forward,
        "loglike_grad": loglike,
        "settings": {
            "n_repeat": n_repeat,
            "n_loop": args.n_loop,
            "batch_sizes": batch_sizes,
            "dispatch": args.dispatch,
            "x64": x64,
            "seed": args.seed,
        },
        "machine": _machine(),
    }
    print(f"wrote {_write_json(args.output, result)}")


def _cmd_bench(args) -> None:
    {"simulate": _cmd_bench_simulate, "latency": _cmd_bench_latency}[args.what](args)


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------


def _cmd_demo(args) -> None:
    from jaxseis import demo

    extra = {} if args.models is None else {"models_dir": args.models}
    demo.run(quick=args.quick, output_dir=args.output_dir, seed=args.seed, **extra)


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------


class _Formatter(argparse.HelpFormatter):
    """Wrap the descriptions paragraph by paragraph (blank lines kept); show the defaults that
    are set (not ``None`` or ``False``) unless the help text already mentions one."""

    def _fill_text(self, text, width, indent):
        import textwrap

        paragraphs = text.split("\n\n")
        return "\n\n".join(
            textwrap.fill(
                " ".join(par.split()), width, initial_indent=indent, subsequent_indent=indent
            )
            for par in paragraphs
        )

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def _version() -> str:
    from jaxseis import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxseis`` command."""
    p = argparse.ArgumentParser(
        prog="jaxseis",
        description=(
            "Fast Bayesian microseismic event location with differentiable emulators.\n\n"
            "Stages: simulate -> train -> evaluate -> locate; bench and demo. Run\n"
            "`jaxseis COMMAND --help` for the options of a command."
        ),
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"jaxseis {_version()}")
    p.add_argument(
        "--debug", action="store_true", help="show the full traceback of errors (for bug reports)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help, description, epilog=None):
        return sub.add_parser(
            name, help=help, description=description, epilog=epilog, formatter_class=_Formatter
        )

    # --- simulate
    s = command(
        "simulate",
        "simulate a dataset with the finite-difference solver",
        "Simulate the benchmark dataset (4000 sources x 5 receivers, about 1 minute per "
        "receiver), the dense training set or the paper's event (direct simulation at the 23 "
        "receivers), and write it as an HDF5 dataset file.",
    )
    s.add_argument("what", choices=["benchmark", "dense", "event"], help="which dataset to make")
    s.add_argument(
        "-o",
        "--output",
        help="output HDF5 file (default: benchmark.h5, paper_event.h5, or "
        "dense.h5 in the cache directory)",
    )
    s.add_argument(
        "--seed", type=int, default=None, help="sampling seed (default: the bundled one)"
    )
    s.add_argument("--n-train", type=_positive_int, default=20000, help="dense: extra sources")
    s.add_argument("--benchmark", help="dense: benchmark file (default: the bundled one)")
    s.add_argument("--n-pml", type=_positive_int, default=10, help="absorbing layer, nodes")
    s.set_defaults(func=_cmd_simulate)

    # --- info
    s = command("info", "print the summary of a dataset file", "Print a dataset's summary.")
    s.add_argument("path", help="dataset file (.h5)")
    s.set_defaults(func=_cmd_info)

    # --- train
    s = command(
        "train",
        "fit emulators of one family, one file per receiver",
        "Fit an emulator of family KIND for each receiver of a dataset on its training split "
        "(the validation split stops the training; the test split is never read) and write "
        "DIR/<KIND>_r<i>.npz, i the receiver's row in the dataset. Networks show a progress "
        "bar per receiver.\n\nFamilies: nn_direct, pca_nn, pca_gp, ae_nn, ae_gp, cvae, "
        "wgan_gp (the paper's) and d18 (Das et al. 2018 baseline).\n\n--bundled retrains the "
        "emulators shipped with jaxseis (default family nn_direct, all 5 benchmark receivers, "
        "the bundled seed) into the package directory, or into -o DIR.",
        epilog="example: jaxseis train nn_direct --receivers 1 2 3 4 -o models/",
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
        type=_positive_int,
        metavar="N",
        help="use only the first N training sources (default: all)",
    )
    s.add_argument(
        "--seed",
        type=int,
        help="seed of every random choice (default: 0; --bundled: the bundled seed)",
    )
    g = s.add_argument_group("network training (families with networks)")
    g.add_argument(
        "--max-epochs",
        type=_positive_int,
        metavar="E",
        help="maximum number of epochs (default: 20000)",
    )
    g.add_argument(
        "--patience",
        type=_positive_int,
        metavar="P",
        help="epochs without improvement before stopping (default: 100)",
    )
    g.add_argument(
        "--batch-size", type=_positive_int, metavar="B", help="minibatch size (default: 256)"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = s.add_argument_group("Gaussian processes (peak GPs, and the cores of GP families)")
    g.add_argument(
        "--gp-subset",
        type=_positive_int,
        metavar="N",
        help="points used to fit the hyperparameters (default: the library's)",
    )
    g.add_argument("--gp-iter", type=_positive_int, metavar="N", help="optimiser steps per restart")
    g.add_argument("--gp-restarts", type=_positive_int, metavar="N", help="random restarts")
    s.set_defaults(func=_cmd_train)

    # --- evaluate
    s = command(
        "evaluate",
        "R2D and evaluation time of emulators on a dataset split",
        "Evaluate emulator files on a split of a dataset: the paper's R2D (Eq. 12) between "
        "the emulated and the simulated traces at the emulator's receiver (matched by "
        "position), the MSE and the evaluation time (one jitted, vmapped call on the whole "
        "split after a first call that compiles; peak GPs in float64, as in inference). "
        "Prints a table; -o writes JSON.",
        epilog="example: jaxseis evaluate models/ --split test -o results.json",
    )
    s.add_argument(
        "models", nargs="+", metavar="MODEL", help="emulator files (.npz) or directories of them"
    )
    s.add_argument("--kind", help="only this family (files in directories: <kind>_r*.npz)")
    s.add_argument("--dataset", metavar="FILE", help="dataset file (default: bundled benchmark)")
    s.add_argument(
        "--split",
        default="test",
        choices=["train", "validation", "test"],
        help="dataset split to evaluate on",
    )
    s.add_argument(
        "--max-events",
        type=_positive_int,
        metavar="N",
        help="evaluate on the first N events of the split only",
    )
    s.add_argument("-o", "--output", metavar="FILE", help="write the results as JSON")
    s.set_defaults(func=_cmd_evaluate)

    # --- locate
    s = command(
        "locate",
        "Bayesian location of an event",
        "Sample the posterior of an event's source position under the paper's uniform prior "
        "(x, y in [0, 1] km, z in [0, 2.43] km) and print a table like the paper's Table 2.\n\n"
        "waveform likelihood: Gaussian white noise around the emulated traces of each "
        "receiver (emulators from --models, default: the bundled NN-direct emulators of the 4 "
        "location receivers). edt likelihood: NonLinLoc's Equal-Differential-Time likelihood "
        "of automatic picks on the observed traces, with pykonal travel-time tables in the "
        "marine model (receivers: those of --models, default the 4 location receivers).\n\n"
        "Observed traces: an event of a dataset file (rows matched to the receivers by "
        "position; default: the bundled noise-free simulation of the paper's event) or a "
        ".npy/.npz array [n_receivers, n_samples] in the order of the models. Seeded Gaussian "
        "noise is added (the paper's level, 5.6 % of the largest peak, unless --sigma) "
        "unless --no-noise.\n\nWrites DIR/summary.json, DIR/posterior.npz (draws [chain, "
        "draw, 3] km) and DIR/posterior.nc (arviz InferenceData).",
        epilog="example: jaxseis locate --models models/ --num-draws 500 -o located/",
    )
    s.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    s.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="emulator files or directories (default: the bundled ones, 1-4)",
    )
    s.add_argument("--kind", help="only this family (files in directories: <kind>_r*.npz)")
    s.add_argument(
        "--observed",
        metavar="FILE",
        help="dataset file (.h5) or trace array (.npy/.npz) (default: bundled event)",
    )
    s.add_argument(
        "--event", type=_non_negative_int, default=0, help="event index in the observed dataset"
    )
    s.add_argument(
        "--truth",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="true source (km) to report (default: the observed dataset's source)",
    )
    s.add_argument(
        "--dt",
        type=_positive_float,
        help="sampling interval (s) of .npy/.npz observed traces (default: the emulators')",
    )
    s.add_argument(
        "--likelihood",
        default="waveform",
        choices=["waveform", "edt"],
        help="waveform (emulators) or edt (arrival times)",
    )
    s.add_argument(
        "--method",
        default="nuts",
        choices=["nuts", "nested"],
        help="sampler: NUTS (BlackJAX) or nested sampling (jaxns, with log Z)",
    )
    s.add_argument(
        "--sigma",
        type=_positive_float,
        help="noise standard deviation, traces' units (default: 5.6 %% of the "
        "largest peak of the observed traces)",
    )
    s.add_argument("--no-noise", action="store_true", help="do not add noise to the observed")
    s.add_argument("--noise-seed", type=int, default=0, help="seed of the added noise")
    s.add_argument(
        "--pick-error",
        type=_positive_float,
        default=0.005,
        help="edt: pick uncertainty (one standard deviation), s",
    )
    s.add_argument("--seed", type=int, default=1, help="seed of the sampler")
    s.add_argument(
        "--num-chains",
        type=_positive_int,
        default=4,
        help="NUTS chains (nested: draws = chains x draws)",
    )
    s.add_argument("--num-warmup", type=_positive_int, default=500, help="NUTS warm-up steps")
    s.add_argument("--num-draws", type=_positive_int, default=1000, help="draws per chain")
    s.add_argument(
        "--global-draws",
        type=_non_negative_int,
        default=100_000,
        help="NUTS: prior draws scored by the global stage (0: no global stage)",
    )
    s.add_argument(
        "--max-tree-depth",
        type=_positive_int,
        default=10,
        help="NUTS: maximum number of trajectory doublings",
    )
    s.set_defaults(func=_cmd_locate)

    # --- bench
    s = command(
        "bench",
        "emulator latency, solver speed",
        "latency: evaluation time of each emulator's forward model (a single call from "
        "Python, one evaluation in a compiled loop, throughput of vmapped batches) and of "
        "the multi-receiver log-likelihood and its gradient (jaxseis.timing), in this "
        "process.\n\nsimulate: speed of the "
        "finite-difference solver, one reciprocal simulation on the marine model (--duration "
        "shortens it, --grid crops the grid).\n\nPrints a summary and writes JSON to -o FILE.",
        epilog="example: jaxseis bench simulate --duration 0.2 -o simulate.json",
    )
    s.add_argument("what", choices=["latency", "simulate"], help="what to measure")
    s.add_argument("-o", "--output", metavar="FILE", required=True, help="output JSON file")
    s.add_argument(
        "--repeats",
        type=_positive_int,
        metavar="N",
        help="timed repetitions (default: latency 500 calls, simulate 2 runs)",
    )
    g = s.add_argument_group("latency")
    g.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="emulator files or directories (default: the bundled ones, 1-4)",
    )
    g.add_argument("--kind", help="only this family (files in directories: <kind>_r*.npz)")
    g.add_argument(
        "--n-loop",
        type=_positive_int,
        default=1000,
        help="sources per compiled loop",
    )
    g.add_argument(
        "--batch-sizes",
        type=_positive_int,
        nargs="*",
        metavar="N",
        help="batch sizes of the throughput measurement (default: 1000 10000 "
        "100000; none: skip it)",
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
        help="peak GPs in float32 (same cost, but wrong time shifts; default: float64, as "
        "inference runs them)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the random sources")
    g = s.add_argument_group("simulate")
    g.add_argument("--duration", type=_positive_float, default=2.0, help="trace length, s")
    g.add_argument("--n-sources", type=_positive_int, default=4000, help="recording points")
    g.add_argument("--n-pml", type=_positive_int, default=10, help="absorbing layer, nodes")
    g.add_argument(
        "--grid",
        type=int,
        nargs=3,
        metavar=("NX", "NY", "NZ"),
        help="time the first NX x NY x NZ nodes of the model (default: the whole "
        "81 x 81 x 301 grid)",
    )
    s.set_defaults(func=_cmd_bench)

    # --- demo
    s = command(
        "demo",
        "locate the paper's event with the bundled emulators",
        "The main job on the bundled data: the paper's event at the 4 location receivers plus "
        "seeded noise, located with NUTS and the bundled NN-direct emulators; writes "
        "summary.json, corner.png and trace_fit.png to the output directory.",
    )
    s.add_argument("--quick", action="store_true", help="fewer draws (about a third the time)")
    s.add_argument("-o", "--output-dir", default="jaxseis-demo", metavar="DIR")
    s.add_argument("--seed", type=int, default=0, help="seeds the noise and the sampler")
    s.add_argument(
        "--models",
        metavar="DIR",
        help="emulators made by `jaxseis train --bundled -o DIR` (default: bundled)",
    )
    s.set_defaults(func=_cmd_demo)

    # --- export-nll
    s = command(
        "export-nll",
        "export the velocity model as a NonLinLoc grid",
        "Write the marine velocity model as a NonLinLoc grid (.hdr and .buf).",
    )
    s.add_argument("root", help="output path without extension, e.g. nll/model/marine.P.mod")
    s.add_argument(
        "--grid-type",
        default="VELOCITY",
        choices=["VELOCITY", "SLOWNESS", "SLOW_LEN"],
        help="NonLinLoc grid type",
    )
    s.set_defaults(func=_cmd_export_nll)
    return p


def _split_cpu() -> None:
    """One JAX device per core, so that NUTS chains run in parallel
    (:mod:`jaxseis.runtime`); kept as it is when the calling process has already started JAX."""
    from jaxseis.runtime import use_cpu_cores

    with contextlib.suppress(RuntimeError):
        use_cpu_cores()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxseis`` command; returns the exit code.

    User errors are reported as one line on stderr with exit code 2 (argparse's own errors
    too), an interrupt with 130.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, argparse errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    _split_cpu()
    try:
        args.func(args)
    except USER_ERRORS as err:
        if args.debug:
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"jaxseis {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
