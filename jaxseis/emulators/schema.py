"""What an emulator file must hold: the header's schema, and every array's shape, dtype and values.

:func:`jaxseis.emulators.load` checks a file against this before it builds the emulator, so a
corrupt or hand-edited file is refused with one message that names the file and the problem,
instead of a traceback or, worse, a silently wrong prediction (a NaN in a GP weight).

The header is a JSON object with the keys of :data:`HEADER_KEYS`. The arrays expected follow
from it: every emulator has the feature standardiser, families with peak alignment have the
two peak GPs (:func:`peak_gp_shapes`), and the family lists the arrays of its core as a
function of its configuration and trace length (``family.core_shapes(config, n_samples)``;
helpers: :func:`network`, :func:`gp_shapes`, :func:`pca_shapes`). A shape is a tuple of
integers and names: a name (``"n"``, the number of GP training points) must take one value
throughout its part of the file (the peak GPs, or the core). Every array must be floating
point and finite; standard deviations that predictions divide by must be positive.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from jaxseis.emulators.networks import parameter_shapes
from jaxseis.preprocess import ALIGNMENT_RULES

__all__ = [
    "HEADER_KEYS",
    "N_FEATURES",
    "Leaf",
    "check_arrays",
    "check_header",
    "expected_arrays",
    "gp_shapes",
    "network",
    "pca_shapes",
    "peak_gp_shapes",
]

N_FEATURES = 4
"""Source features ``[dx, dy, dz, d]``."""

HEADER_KEYS = {
    "format": "the string 'jaxseis.Emulator'",
    "format_version": "an integer",
    "kind": "a family name",
    "receiver_km": "3 finite numbers",
    "dt": "a finite positive number (s)",
    "n_samples": "a positive integer",
    "alignment": "null or an object (the reference peak)",
    "config": "an object",
    "info": "an object",
}
"""Required header keys and what each must be. Optional: ``grid`` (an object, see
:func:`jaxseis.geometry.grid_to_dict`) and ``training_box_km`` (``[[x, y, z], [x, y, z]]``,
lower and upper corners)."""


class Leaf(NamedTuple):
    """An expected array: its shape (integers and names) and whether it must be positive."""

    shape: tuple
    positive: bool = False


# ------------------------------------------------------------------------------ shapes


def network(spec: dict, n_in: int | None, n_out: int | None) -> dict:
    """Parameter shapes of a network spec whose input and output widths must be ``n_in`` and
    ``n_out`` (``None``: not checked). Raises ``ValueError`` for a bad or mismatched spec."""
    shapes = parameter_shapes(spec)
    sizes = list(spec["sizes"])
    if n_in is not None and sizes[0] != n_in:
        raise ValueError(f"network {sizes} takes {sizes[0]} inputs, expected {n_in}")
    if n_out is not None and sizes[-1] != n_out:
        raise ValueError(f"network {sizes} gives {sizes[-1]} outputs, expected {n_out}")
    return shapes


def gp_shapes(n_outputs: int, n_features: int = N_FEATURES) -> dict:
    """Shapes of ``n_outputs`` GPs sharing ``n`` training inputs, as in
    :func:`jaxseis.gp.gps_to_dict`."""
    m, d = _positive_int(n_outputs, "number of GPs"), n_features
    return {
        "x": Leaf(("n", d)), "alpha": Leaf((m, "n")), "log_amp": Leaf((m,)),
        "log_scales": Leaf((m, d)), "log_noise": Leaf((m,)),
        "x_scaler": {"mean": Leaf((d,)), "std": Leaf((d,), positive=True)},
        "y_mean": Leaf((m,)), "y_std": Leaf((m,)),
    }  # fmt: skip


def peak_gp_shapes() -> dict:
    """Shapes of the two peak GPs as stored in a file (flat scaler names)."""
    g = gp_shapes(2)
    scaler = g.pop("x_scaler")
    return {**g, "x_scaler_mean": scaler["mean"], "x_scaler_std": scaler["std"]}


def pca_shapes(n_components: int, n_samples: int) -> dict:
    """Shapes of a PCA of traces (:func:`jaxseis.emulators.pca.fit_pca`)."""
    k = _positive_int(n_components, "n_components")
    return {
        "t_mean": Leaf((n_samples,)), "t_std": Leaf((n_samples,)),
        "components": Leaf((k, n_samples)), "c_mean": Leaf((k,)), "c_std": Leaf((k,)),
    }  # fmt: skip


def _positive_int(value, what: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def expected_arrays(family, header: dict) -> tuple[dict[str, Leaf], bool]:
    """``({"core/net/layers/0/bias": Leaf, ...}, core_described)``: the arrays a file must
    hold, and whether the family described its core (without ``core_shapes``, the core's
    arrays are only checked for dtype and values). Raises ``ValueError`` when the header's
    configuration does not describe a core of the family."""
    tree: dict[str, Any] = {
        "feature_scaler": {"mean": Leaf((N_FEATURES,)), "std": Leaf((N_FEATURES,), True)}
    }
    if family.uses_alignment:
        tree["peak_gps"] = peak_gp_shapes()
    describe = getattr(family, "core_shapes", None)
    if describe is not None:
        try:
            tree["core"] = describe(header["config"], header["n_samples"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ValueError(
                f"its config does not describe a {family.name} core ({_one_line(err)})"
            ) from None
    flat: dict[str, Leaf] = {}
    _flatten_spec(tree, "", flat)
    return flat, describe is not None


def _flatten_spec(tree, prefix: str, out: dict) -> None:
    if isinstance(tree, Leaf):
        out[prefix] = tree
    elif isinstance(tree, tuple):
        out[prefix] = Leaf(tree)
    else:
        for k, v in tree.items():
            _flatten_spec(v, f"{prefix}/{k}" if prefix else str(k), out)


# ------------------------------------------------------------------------------ checks


def check_header(header, families: dict) -> list[str]:
    """Problems of a parsed header (empty when it is valid); ``families``: the registry."""
    if not isinstance(header, dict):
        return [f"its header is a JSON {_JSON_NAMES.get(type(header), 'value')}, not a JSON object"]
    missing = [k for k in HEADER_KEYS if k not in header]
    if missing:
        return [f"its header lacks the keys {missing}"]
    problems = []
    kind = header["kind"]
    if not isinstance(kind, str) or kind not in families:
        problems.append(
            f"its header names an unknown emulator family {kind!r} (known: {sorted(families)})"
        )
    if not _numbers(header["receiver_km"], 3):
        problems.append(f"receiver_km must be {HEADER_KEYS['receiver_km']}")
    if not (_number(header["dt"]) and header["dt"] > 0):
        problems.append(f"dt must be {HEADER_KEYS['dt']}, got {header['dt']!r}")
    n = header["n_samples"]
    if not (isinstance(n, int) and not isinstance(n, bool) and n > 1):
        problems.append(f"n_samples must be an integer > 1, got {n!r}")
    for key in ("config", "info"):
        if not isinstance(header[key], dict):
            problems.append(f"{key} must be {HEADER_KEYS[key]}")
    problems += _alignment_problems(header["alignment"])
    if not problems:
        uses = families[kind].uses_alignment
        if uses != (header["alignment"] is not None):
            problems.append(
                f"a {kind} emulator {'needs' if uses else 'has no'} peak alignment, but the "
                f"header's alignment is {'null' if uses else 'set'}"
            )
    if "training_box_km" in header:
        box = header["training_box_km"]
        if not (
            isinstance(box, list)
            and len(box) == 2
            and all(_numbers(c, 3) for c in box)
            and all(a <= b for a, b in zip(*box, strict=True))
        ):
            problems.append("training_box_km must be [[x, y, z], [x, y, z]] with lower <= upper")
    return problems


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}  # fmt: skip


def _alignment_problems(a) -> list[str]:
    if a is None:
        return []
    if not isinstance(a, dict):
        return ["alignment must be null or an object"]
    required = {"ref_amplitude", "ref_time", "dt"}
    allowed = required | {"rule", "threshold", "ref_index"}
    if not required <= set(a) <= allowed:
        return [f"alignment must have the keys {sorted(required)} (and optionally rule, "
                f"threshold, ref_index), got {sorted(a)}"]  # fmt: skip
    if not (_number(a["ref_amplitude"]) and a["ref_amplitude"] > 0):
        return [f"alignment.ref_amplitude must be positive, got {a['ref_amplitude']!r}"]
    if not (_number(a["ref_time"]) and _number(a["dt"]) and a["dt"] > 0):
        return ["alignment.ref_time and alignment.dt must be finite numbers (dt > 0)"]
    if a.get("rule", ALIGNMENT_RULES[0]) not in ALIGNMENT_RULES:
        return [f"alignment.rule must be one of {ALIGNMENT_RULES}, got {a['rule']!r}"]
    if "threshold" in a and not _number(a["threshold"]):
        return ["alignment.threshold must be a finite number"]
    if "ref_index" in a and not (isinstance(a["ref_index"], int) and a["ref_index"] >= -1):
        return [f"alignment.ref_index must be an integer >= -1, got {a['ref_index']!r}"]
    return []


def check_arrays(
    flat: dict[str, np.ndarray], expected: dict[str, Leaf], core_described: bool = True
) -> list[str]:
    """Problems of a file's arrays (``{"core/net/...": array}``) against the expected ones
    (see :func:`expected_arrays`): missing or unexpected arrays, wrong shapes or dtypes,
    NaN or infinite values, standard deviations that are not positive."""
    problems: list[str] = []
    present = set(flat)
    wanted = set(expected)
    if not core_described:
        wanted |= {k for k in present if k.startswith("core/")}
    missing, extra = sorted(wanted - present), sorted(present - wanted)
    if missing:
        problems.append(f"arrays missing: {_few(missing)}")
    if extra:
        problems.append(f"unexpected arrays: {_few(extra)}")
    bound: dict[tuple[str, str], int] = {}
    # in the order of the description, so that a name binds to its defining array (GP inputs)
    order = [k for k in expected if k in flat] + sorted(set(flat) - set(expected))
    for key in order:
        a = flat[key]
        if not np.issubdtype(a.dtype, np.floating):
            problems.append(f"{key} has dtype {a.dtype}, expected floating point")
            continue
        leaf = expected.get(key)
        if leaf is not None:
            want = _resolve(leaf.shape, a.shape, key.split("/")[0], bound)
            if want is not None:
                problems.append(f"{key} has shape {a.shape}, expected {want}")
                continue
        if not np.all(np.isfinite(a)):
            problems.append(f"{key} holds {int(np.sum(~np.isfinite(a)))} NaN or infinite values")
        elif leaf is not None and leaf.positive and not np.all(a > 0):
            problems.append(f"{key} must be positive")
    return problems


def _resolve(spec: tuple, shape: tuple, scope: str, bound: dict) -> tuple | None:
    """``None`` if ``shape`` matches ``spec`` (binding its names), else the expected shape."""
    shown = tuple(bound.get((scope, d), d) if isinstance(d, str) else d for d in spec)
    if len(spec) != len(shape):
        return shown
    new = {}
    for d, n in zip(spec, shape, strict=True):
        if isinstance(d, str):
            value = bound.get((scope, d), new.get(d, n))
            if value != n:
                return shown
            new[d] = n
        elif d != n:
            return shown
    bound.update({(scope, d): n for d, n in new.items()})
    return None


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _numbers(x, n: int) -> bool:
    return isinstance(x, list) and len(x) == n and all(_number(v) for v in x)


def _few(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def _one_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
