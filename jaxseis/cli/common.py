"""What the ``jaxseis`` commands share: argument types, the help formatter, the user error,
progress lines, and loading emulator files once.

Only input checked here or by the library's validation is reported as the user's error (see
:mod:`jaxseis.cli`); defaults are read from the library, never typed again.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import textwrap
import time
from pathlib import Path

__all__ = [
    "Formatter",
    "UserError",
    "add_model_arguments",
    "check_kind",
    "clock",
    "emulator_error_of",
    "emulator_error_source",
    "families",
    "finite_float",
    "is_user_error",
    "load_emulators",
    "model_files",
    "non_negative_int",
    "output_dir",
    "positive_float",
    "positive_int",
    "remove_empty_outputs",
]


PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The jaxseis package directory (errors raised in code under it are jaxseis's own)."""


class UserError(Exception):
    """An error in the user's input: reported as one line, exit code 2."""


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` reports bad input: a :class:`UserError` or ``OSError``, or a
    ``ValueError``/``FloatingPointError`` raised by jaxseis's own code (its validation), not
    inside a dependency."""
    if isinstance(err, UserError | OSError):
        return True
    if not isinstance(err, ValueError | FloatingPointError):
        return False
    tb = err.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and Path(last).resolve().is_relative_to(PACKAGE_DIR)


def clock():
    """A function ``log(message)`` printing the message after the seconds since this call."""
    tic = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - tic:6.1f} s] {message}", flush=True)

    return log


# ---------------------------------------------------------------------------------- outputs

_CREATED: list[Path] = []


def output_dir(path, *, overwrite: bool = False) -> Path:
    """Create or accept an output directory before any long work
    (:func:`jaxseis.files.prepare_output_dir`); one this command created is removed again by
    :func:`remove_empty_outputs` if the command fails or is interrupted before writing to it."""
    from jaxseis.files import prepare_output_dir

    path = Path(path)
    existed = path.exists()
    out = prepare_output_dir(path, overwrite=overwrite)
    if not existed:
        _CREATED.append(out)
    return out


def remove_empty_outputs(*, keep: bool = False) -> None:
    """Remove the output directories this command created that are still empty (``keep``:
    forget them, the command succeeded)."""
    while _CREATED:
        path = _CREATED.pop()
        if not keep:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                path.rmdir()


# ------------------------------------------------------------------------------ argument types


def _int_at_least(least: int):
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

    parse.__name__ = f"integer >= {least}"
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def positive_float(text: str) -> float:
    """An argparse type: a finite number ``> 0`` (NaN refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: a finite number (NaN and infinity refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or abs(value) == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


class Formatter(argparse.HelpFormatter):
    """Wrap descriptions paragraph by paragraph; show set defaults unless the help has one."""

    def _fill_text(self, text, width, indent):
        return "\n\n".join(
            textwrap.fill(
                " ".join(p.split()), width, initial_indent=indent, subsequent_indent=indent
            )
            for p in text.split("\n\n")
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


# ---------------------------------------------------------------------------------- emulators


def families() -> list[str]:
    from jaxseis import emulators as em

    return sorted(em.FAMILIES)


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in families():
        raise UserError(f"unknown emulator family {kind!r}; choose one of: {', '.join(families())}")


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def model_files(paths, kind: str | None = None) -> list[Path]:
    """Emulator files from files and directories (``*.npz`` in them, or ``<kind>_r*.npz``)."""
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


def add_model_arguments(
    parser, *, what: str = "the bundled ones of the 4 location receivers", error: bool = False
):
    """``--models`` and ``--kind`` (and ``--emulator-error`` and ``--band`` with ``error``)."""
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help=f"emulator files (.npz) or directories of them (default: {what})",
    )
    parser.add_argument("--kind", help="only this family (files in directories: <kind>_r*.npz)")
    if not error:
        return
    parser.add_argument(
        "--emulator-error",
        metavar="MODEL",
        help="marginalise the emulators' error in the waveform likelihood: 'bundled' (the "
        "bundled emulators' model, fitted on the benchmark's validation split) or a file of "
        "jaxseis.likelihood.emulator_error.save_emulator_error (default: none)",
    )
    parser.add_argument(
        "--band",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="frequency band (Hz) of the waveform likelihood, which then runs in the "
        "frequency domain (default: the error model's signal band, else all frequencies)",
    )


def emulator_error_source(args) -> str | None:
    """``--emulator-error`` checked: None, ``"bundled"`` (only without ``--models``) or the
    absolute path of a readable error-model file."""
    source = args.emulator_error
    if source is None:
        return None
    if source == "bundled":
        if args.models:
            raise UserError(
                "--emulator-error bundled is the bundled emulators' error model; give the file "
                "of your emulators' model (fit_emulator_error, save_emulator_error)"
            )
        return source
    from jaxseis.likelihood.emulator_error import load_emulator_error

    load_emulator_error(source)  # refuses a missing or corrupt file here, in one line
    return str(Path(source).resolve())


def emulator_error_of(args):
    """The :class:`~jaxseis.likelihood.EmulatorError` of ``--emulator-error``, or None."""
    source = emulator_error_source(args)
    if source is None:
        return None
    if source == "bundled":
        from jaxseis.demo import DEMO_RECEIVERS
        from jaxseis.pretrained import bundled_emulator_error

        return bundled_emulator_error(DEMO_RECEIVERS)
    from jaxseis.likelihood.emulator_error import load_emulator_error

    return load_emulator_error(source)


def load_emulators(models, kind: str | None = None) -> tuple[list, list[str]]:
    """``(emulators, their files)``: the files of ``--models`` (one emulator per receiver), or
    the bundled emulators of the location receivers when ``models`` is empty."""
    import numpy as np

    from jaxseis import pretrained
    from jaxseis.demo import DEMO_RECEIVERS
    from jaxseis.emulators import load

    check_kind(kind)
    if not models:
        kind = kind or pretrained.BUNDLED_KIND
        files = [str(pretrained.bundled_path(r, kind)) for r in DEMO_RECEIVERS]
        return pretrained.load_bundled(DEMO_RECEIVERS, kind=kind), files
    paths = model_files(models, kind)
    emulators = [load(f, kind=kind) for f in paths]
    for i, a in enumerate(emulators):
        for j in range(i):
            if np.allclose(a.receiver_km, emulators[j].receiver_km, atol=1e-6):
                raise UserError(
                    f"{paths[j]} and {paths[i]} both emulate the receiver at "
                    f"{np.round(a.receiver_km, 4).tolist()} km; give one emulator per receiver"
                    + ("" if kind else " (or choose a family with --kind)")
                )
    if len({(float(e.dt), int(e.n_samples)) for e in emulators}) != 1:
        raise UserError("the emulators do not share their sampling (dt, n_samples)")
    return emulators, [str(p) for p in paths]
