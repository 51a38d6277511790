"""``jaxseis evaluate``: R2D and evaluation time of emulator files on a dataset split."""

from __future__ import annotations

import time
from pathlib import Path

from jaxseis.cli.common import Formatter, UserError, check_kind, model_files, positive_int

__all__ = ["evaluate_emulator", "register"]


def evaluate_emulator(e, data, idx, label: str) -> dict:
    """R2D, MSE and the time of one jitted, vmapped call of emulator ``e`` on the sources
    ``idx`` of ``data`` (rows matched by position; peak GPs in float64, as in inference)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxseis import emulators as em
    from jaxseis.metrics import r2d

    try:
        row = data.receiver_index(e.receiver_km)
    except ValueError:
        raise UserError(
            f"{label} emulates the receiver at {np.round(e.receiver_km, 4).tolist()} km, which "
            f"the dataset does not have (its receivers: {np.round(data.receivers, 4).tolist()} km)"
        ) from None
    if abs(e.dt - data.dt) > 1e-9 * max(data.dt, 1.0) or e.n_samples != data.n_samples:
        raise UserError(
            f"{label} emulates traces of {e.n_samples} samples at {e.dt * 1e3:g} ms "
            f"but the dataset has {data.n_samples} samples at {data.dt * 1e3:g} ms"
        )
    with jax.enable_x64(True):
        f = jax.jit(jax.vmap(em.make_predictor(e)))
        src = jnp.asarray(data.sources[idx], jnp.float64)
        tic = time.perf_counter()
        f(src).block_until_ready()
        first_s = time.perf_counter() - tic
        tic = time.perf_counter()
        pred = np.asarray(f(src).block_until_ready())
        eval_s = time.perf_counter() - tic
    if not np.all(np.isfinite(pred)):
        raise UserError(f"{label}: the emulator predicts NaN or infinite traces")
    truth = data.traces[row, idx]
    return {
        "model": label,
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


def _evaluate(args) -> None:
    from jaxseis import dataset as ds
    from jaxseis import emulators as em
    from jaxseis.files import check_writable, write_json

    check_kind(args.kind)
    files = model_files(args.models, args.kind)
    if args.output:
        check_writable(args.output)
    data = ds.load(args.dataset) if args.dataset else ds.load_benchmark()
    idx = data.indices(args.split)
    if len(idx) == 0:
        raise UserError(f"the {args.split} split of the dataset is empty")
    idx = idx[: args.max_events]
    results = [evaluate_emulator(em.load(p, kind=args.kind), data, idx, str(p)) for p in files]
    header = (
        f"{'model':<32}{'kind':>10}{'receiver':>10}{'n':>7}{'R2D':>10}{'eval':>10}{'/trace':>10}"
    )
    print(f"{args.split} split, {len(idx)} events\n{header}\n" + "-" * len(header))
    for r in results:
        name = Path(r["model"]).name
        name = name if len(name) <= 31 else "..." + name[-28:]
        print(
            f"{name:<32}{r['kind']:>10}{r['receiver_index']:>10}{r['n_events']:>7}"
            f"{r['r2d']:>10.4f}{r['eval_s'] * 1e3:>8.1f}ms{r['per_trace_us']:>8.1f}us"
        )
    if args.output:
        out = write_json(
            args.output,
            {
                "dataset": args.dataset or "bundled benchmark",
                "split": args.split,
                "n_events": len(idx),
                "results": results,
                "timing": "eval_s: one jitted, vmapped call on all the split's sources after a "
                "first call that compiles (first_call_s)",
            },
        )
        print(f"wrote {out}")


def register(sub) -> None:
    """Add the command to the subparsers ``sub``."""
    from jaxseis.dataset import SPLIT_CODES

    s = sub.add_parser(
        "evaluate",
        help="R2D and evaluation time of emulators on a dataset split",
        description="Evaluate emulator files on a split of a dataset: the paper's R2D (Eq. 12) "
        "between the emulated and the simulated traces at the emulator's receiver (matched by "
        "position), the MSE and the evaluation time (one jitted, vmapped call on the whole "
        "split after a first call that compiles; peak GPs in float64, as in inference). "
        "Prints a table; -o writes JSON.",
        epilog="example: jaxseis evaluate models/ --split test -o results.json",
        formatter_class=Formatter,
    )
    s.add_argument(
        "models", nargs="+", metavar="MODEL", help="emulator files (.npz) or directories of them"
    )
    s.add_argument("--kind", help="only this family (files in directories: <kind>_r*.npz)")
    s.add_argument("--dataset", metavar="FILE", help="dataset file (default: bundled benchmark)")
    s.add_argument("--split", default="test", choices=list(SPLIT_CODES), help="dataset split")
    s.add_argument(
        "--max-events",
        type=positive_int,
        metavar="N",
        help="evaluate on the first N events of the split only",
    )
    s.add_argument("-o", "--output", metavar="FILE", help="write the results as JSON")
    s.set_defaults(func=_evaluate)
