"""The event arguments ``jaxseis locate`` and ``jaxseis locate-catalogue`` share: the prior
(``--t0-window``, ``--fix-t0``, ``--fix-amplitude``) and the geographic placement of the model
(``--geo``) for QuakeML and ``.hyp`` files."""

from __future__ import annotations

from jaxseis.cli.common import UserError, finite_float

__all__ = ["add_geo_arguments", "prior_of", "transform_of"]


def prior_of(args, *, position_only: bool = False):
    """The prior box of the command line: the paper's box, ``t0`` uniform in ``--t0-window``
    unless ``--fix-t0`` (or ``position_only``), the log amplitude uniform unless
    ``--fix-amplitude``."""
    from jaxseis.inference import event_prior

    w = args.t0_window
    if len(w) not in (1, 2) or (len(w) == 2 and not w[0] < w[1]):
        raise UserError(f"--t0-window takes S (for [-S, S]) or LOW HIGH with LOW < HIGH; got {w}")
    window = (-abs(w[0]), abs(w[0])) if len(w) == 1 else tuple(w)
    fix_t0 = position_only or args.fix_t0
    fix_amplitude = position_only or args.fix_amplitude
    return event_prior(
        t0=0.0 if fix_t0 else window, **({"log_amplitude": 0.0} if fix_amplitude else {})
    )


def transform_of(args):
    """The ``--geo`` transform, or None (the placeholder)."""
    if args.geo is None:
        return None
    from jaxseis.io.coordinates import GeoTransform

    return GeoTransform(*args.geo)


def add_geo_arguments(parser) -> None:
    """``--t0-window``, ``--fix-t0``, ``--fix-amplitude`` and ``--geo``."""
    from jaxseis.inference import DEFAULT_T0_WINDOW_S

    g = parser.add_argument_group("prior and event files")
    g.add_argument(
        "--t0-window",
        type=finite_float,
        nargs="+",
        metavar="S",
        default=list(DEFAULT_T0_WINDOW_S),
        help="uniform prior of the origin time (s after the reference time): S for "
        "[-S, S], or LOW HIGH",
    )
    g.add_argument(
        "--fix-t0",
        action="store_true",
        help="fix t0 = 0 (the paper's set-up: the window starts at the origin time)",
    )
    g.add_argument(
        "--fix-amplitude",
        action="store_true",
        help="fix the log amplitude at 0 (the paper's set-up: the training source)",
    )
    g.add_argument(
        "--geo",
        type=finite_float,
        nargs=3,
        metavar=("LAT", "LON", "AZIMUTH"),
        help="place the model: latitude, longitude of x = y = 0 and the azimuth of "
        "x (deg), for QuakeML/.hyp (default: a placeholder at 0 N 0 E, x east)",
    )
