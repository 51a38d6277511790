"""The ``jaxseis`` command line: a small parser and one thin module per command group.

================= ===========================================================================
simulate          simulate a dataset with the finite-difference solver (:mod:`.data`)
info              print the summary of a dataset file (:mod:`.data`)
export-nll        the velocity model as a NonLinLoc grid (:mod:`.data`)
train             fit emulators of one family, one file per receiver (:mod:`.train`)
evaluate          R2D and evaluation time of emulator files on a split (:mod:`.evaluate`)
locate            Bayesian location of one event (:mod:`.locate`)
locate-catalogue  many events, compiled once, on this machine or Dask (:mod:`.catalogue`)
bench             emulator latency, finite-difference solver speed (:mod:`.bench`)
demo              the main job on the bundled data (:mod:`.demo`)
================= ===========================================================================

**Errors.** Input the commands or the library's validation refuse (a :class:`UserError`, an
``OSError`` such as a missing file or an unwritable output, or a ``ValueError`` raised by
jaxseis's own checks) is reported as one line ``jaxseis COMMAND: error: ...`` on stderr with
exit code 2. Anything else is a bug: its traceback is shown with exit code 1.
``jaxseis --debug COMMAND`` shows the traceback of every error. Ctrl-C ends the command with
exit code 130 and no traceback; outputs are written atomically (:mod:`jaxseis.files`), so
none is left half-written. Heavy modules are imported inside the commands, so ``--help`` is
fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from jaxseis.cli.common import Formatter, UserError, is_user_error, remove_empty_outputs

__all__ = ["UserError", "build_parser", "is_user_error", "main"]

#: commands whose compiled programs the console command keeps on disk for later runs
_CACHED = ("locate", "locate-catalogue", "demo")
_COMMAND_MODULES = ("data", "train", "evaluate", "locate", "catalogue", "bench", "demo")


def _version() -> str:
    from jaxseis import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jaxseis`` command."""
    import importlib

    p = argparse.ArgumentParser(
        prog="jaxseis",
        description="Fast Bayesian microseismic event location with differentiable emulators."
        "\n\nStages: simulate -> train -> evaluate -> locate (one event) or locate-catalogue "
        "(many); bench and demo. Run `jaxseis COMMAND --help` for a command's options.",
        formatter_class=Formatter,
    )
    p.add_argument("--version", action="version", version=f"jaxseis {_version()}")
    p.add_argument("--debug", action="store_true", help="show the traceback of every error")
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep compiled programs on disk for later runs (the command keeps them "
        "under the cache directory, $JAXSEIS_CACHE, so a second run skips most compilation)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"jaxseis.cli.{name}").register(sub)
    return p


def _split_cpu() -> None:
    """One JAX device per core (NUTS chains and catalogue blocks run in parallel), unless
    this process has already started JAX."""
    import contextlib

    from jaxseis.runtime import use_cpu_cores

    with contextlib.suppress(RuntimeError):
        use_cpu_cores()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxseis`` command; returns the exit code (0 success, 1 a bug,
    2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, argparse's errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    try:
        _split_cpu()
        if argv is None and not args.no_compile_cache and args.command in _CACHED:
            from jaxseis.runtime import enable_compilation_cache

            enable_compilation_cache()
        args.func(args)
        remove_empty_outputs(keep=True)
    except KeyboardInterrupt:
        remove_empty_outputs()
        print(f"jaxseis {args.command}: interrupted", file=sys.stderr, flush=True)
        if argv is None:  # the console command: skip the interpreter's teardown of JAX threads
            sys.stdout.flush()
            os._exit(130)
        return 130
    except Exception as err:
        remove_empty_outputs()
        if args.debug:
            raise
        if is_user_error(err):
            text = str(err).strip()
            message = text.splitlines()[0] if text else type(err).__name__
            print(f"jaxseis {args.command}: error: {message}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(
            f"jaxseis {args.command}: internal error ({type(err).__name__}); this is a bug in "
            "jaxseis: please report it with the traceback above",
            file=sys.stderr,
        )
        return 1
    return 0
