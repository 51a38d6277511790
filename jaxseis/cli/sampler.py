"""The sampler of ``jaxseis locate``: the method's options from the command line
(:func:`options_of`) and :func:`jaxseis.inference.locate` with its convergence warnings reported
as plain lines (:func:`run_locate`)."""

from __future__ import annotations

import sys
import warnings

from jaxseis.cli.common import UserError

__all__ = ["options_of", "run_locate"]


def options_of(args):
    """The method's option container: the library's defaults with the given fields changed."""
    from jaxseis.inference import METHODS

    options = METHODS[args.method]()
    changes = {"num_draws": args.num_draws}
    if args.method == "nuts":
        changes |= {
            "num_chains": args.num_chains,
            "num_warmup": args.num_warmup,
            "max_num_doublings": args.max_tree_depth,
        }
    importance = getattr(args, "importance", None)
    if importance is not None:
        if args.method != "laplace":
            raise UserError("--importance reweighs the Laplace approximation: use --method laplace")
        if importance < 100:
            raise UserError(f"--importance needs at least 100 draws; got {importance}")
        from jaxseis.inference import ImportanceOptions

        changes["importance"] = ImportanceOptions(num_draws=importance)
    changes = {k: v for k, v in changes.items() if v is not None}
    stage = getattr(options, "global_stage", None)
    if args.global_draws == 0 and args.method != "nuts":
        raise UserError("--global-draws 0 (no global stage) is for --method nuts only")
    if args.global_draws is not None and stage is not None:
        if args.global_draws == 0:
            changes["global_stage"] = None
        else:
            n = args.global_draws
            changes["global_stage"] = stage._replace(
                num_draws=n,
                num_polish=min(stage.num_polish, n),
                chunk_size=min(stage.chunk_size, n),
            )
    return options._replace(**changes)


def run_locate(args, lik, prior):
    """``inference.locate`` with the command's options; convergence warnings as plain lines on
    stderr (returned for ``summary.json``), other warnings as they are."""
    import jax

    from jaxseis import inference

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", inference.ConvergenceWarning)
        idata = inference.locate(
            lik, prior, key=jax.random.key(args.seed), method=args.method,
            options=options_of(args), domain=args.domain,
            progress=False if getattr(args, "no_progress", False) else None,
        )  # fmt: skip
    diagnostics = []
    for w in caught:
        if issubclass(w.category, inference.ConvergenceWarning):
            diagnostics.append(str(w.message))
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return idata, diagnostics
