"""Could an interpolation table replace the two peak GPs of NN direct? Its error against them.

The exact peak GPs (:func:`jaxseis.gp.predict_gps`, 2 x 2000 Matérn-3/2 kernel terms in
float64) are most of the cost of a batch of NN-direct traces once the un-alignment is one
gather per trace (``bench_latency.py``, ``details.stages_batch_us``). A precomputed table over
the source box would cost 64 look-ups per output. This script measures whether a table can be
accurate enough: a cubic B-spline (``scipy.ndimage``, prefiltered, 4 extra nodes beyond each
face) of the GPs' posterior means over the paper's prior box (x, y in [0, 1] km, z in
[0, 2.43] km), on a regular grid of spacing ``h`` km, against the exact GPs at random sources.

Two tables per spacing:

* ``plain``: the means as functions of the source position;
* ``even_odd``: the means split as ``E(s) + d(s) O(s)`` with ``d`` the source-receiver
  distance, computed exactly, and ``E``, ``O`` the parts even and odd in the distance feature
  (``O`` divided by ``d``): smooth where the distance is not, next to the receiver.

Errors: the log amplitude ratio (absolute, i.e. relative amplitude) and the time shift (in
samples) at ``--n-test`` sources uniform in the training box and as many in the slab below the
receivers (z in [2.3, 2.43] km); the order of convergence from the two finest spacings; the
spacing and node count the tolerances of issue 17 (1e-5 relative amplitude, 1e-3 samples)
would need at that order. Build time: the GP means at the nodes (jitted, float64) and the
prefilter.

Run: ``python bench/bench_gp_table.py`` (about 3 min on 2 cores); writes
``bench/results/gp_table.json`` and ``.md``. ``--quick``: receiver 0, spacings 0.1 and 0.05.
"""

from __future__ import annotations

import argparse
import time

import benchlib
import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from jaxseis.geometry import source_features
from jaxseis.gp import predict_gps
from jaxseis.pretrained import load_bundled

SEED = 20210601
BOX_KM = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 2.43]])  # the paper's prior box
TOP_SLAB_KM = np.array([[0.0, 0.0, 2.3], [1.0, 1.0, 2.43]])
MARGIN = 4  # nodes beyond each face (the prefilter's boundary effect decays by 0.27 per node)
TOLERANCE = {"log_amplitude": 1e-5, "shift_samples": 1e-3}
CHUNK = 8192


def _node_function(gps, receiver, mode: str):
    """Jitted ``sources [b, 3] -> values [b, c]`` tabulated at the nodes."""

    def at(s, sign):
        f = source_features(s, receiver)
        return predict_gps(gps, f.at[..., 3].multiply(sign))

    def fn(s):
        plus = at(s, 1.0)
        if mode == "plain":
            return plus
        minus = at(s, -1.0)
        d = jnp.linalg.norm(s - receiver, axis=-1)[:, None]
        return jnp.concatenate([(plus + minus) / 2, (plus - minus) / (2 * d)], axis=-1)

    return jax.jit(fn)


def build_table(emulator, h: float, mode: str) -> dict:
    """Prefiltered cubic B-spline coefficients ``[c, nx, ny, nz]`` of the peak GPs' means."""
    receiver = jnp.asarray(emulator.receiver_km)
    n = np.ceil((BOX_KM[1] - BOX_KM[0]) / h).astype(int) + 1
    axes = [BOX_KM[0, k] + h * np.arange(-MARGIN, n[k] + MARGIN) for k in range(3)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    fn = _node_function(emulator.peak_gps, receiver, mode)
    tic = time.perf_counter()
    values = np.concatenate(
        [np.asarray(fn(jnp.asarray(nodes[i : i + CHUNK]))) for i in range(0, len(nodes), CHUNK)]
    )
    gp_s = time.perf_counter() - tic
    values = values.reshape(*(len(a) for a in axes), -1)
    coef = np.stack(
        [
            ndimage.spline_filter(values[..., c], order=3, mode="mirror")
            for c in range(values.shape[-1])
        ]
    )
    return {"coef": coef, "h": h, "mode": mode, "nodes": len(nodes), "gp_s": gp_s,
            "build_s": time.perf_counter() - tic}  # fmt: skip


def interpolate(table: dict, emulator, sources: np.ndarray) -> np.ndarray:
    """``[n, 2]`` log amplitude ratio and shift (s) from a table at ``sources [n, 3]``."""
    u = ((sources - BOX_KM[0]) / table["h"] + MARGIN).T
    out = np.stack(
        [ndimage.map_coordinates(c, u, order=3, mode="mirror", prefilter=False)
         for c in table["coef"]], axis=-1,
    )  # fmt: skip
    if table["mode"] == "even_odd":
        d = np.linalg.norm(sources - np.asarray(emulator.receiver_km), axis=-1)[:, None]
        out = out[:, :2] + d * out[:, 2:]
    return out


def errors(table: dict, emulator, sources: np.ndarray, exact: np.ndarray) -> dict:
    err = np.abs(interpolate(table, emulator, sources) - exact)
    amp, shift = err[:, 0], err[:, 1] / emulator.dt
    return {
        "log_amplitude_max": float(amp.max()),
        "log_amplitude_p99": float(np.percentile(amp, 99)),
        "shift_samples_max": float(shift.max()),
        "shift_samples_p99": float(np.percentile(shift, 99)),
    }


def needed(rows: list[dict], region: str) -> dict:
    """Order of convergence of the max errors from the two finest spacings, and the spacing
    and node count the tolerances need at that order."""
    a, b = sorted(rows, key=lambda r: -r["h_km"])[-2:]
    out = {}
    for key, tol in (("log_amplitude", TOLERANCE["log_amplitude"]),
                     ("shift_samples", TOLERANCE["shift_samples"])):  # fmt: skip
        ea, eb = a[region][f"{key}_max"], b[region][f"{key}_max"]
        order = float(np.log(ea / eb) / np.log(a["h_km"] / b["h_km"]))
        h = b["h_km"] * (tol / eb) ** (1 / order) if eb > tol else b["h_km"]
        nodes = int(np.prod(np.ceil((BOX_KM[1] - BOX_KM[0]) / h) + 1 + 2 * MARGIN))
        out[key] = {"order": order, "h_km": float(h), "nodes": nodes}
    return out


def markdown(result: dict) -> str:
    rows = [
        "| receiver | table | h (km) | nodes | build (s) | training box: max log-amp err / "
        "shift err (samples) | top slab: same |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        t, s = r["training_box"], r["top_slab"]
        rows.append(
            f"| {r['receiver']} | {r['mode']} | {r['h_km']} | {r['nodes']:,} | {r['build_s']:.1f} "
            f"| {t['log_amplitude_max']:.1e} / {t['shift_samples_max']:.1e} "
            f"| {s['log_amplitude_max']:.1e} / {s['shift_samples_max']:.1e} |"
        )
    more = [
        "",
        "| receiver | needed for the tolerances (even_odd, training box) |",
        "| --- | --- |",
    ]
    for rec, n in result["needed"].items():
        more.append(
            f"| {rec} | log amplitude 1e-5: h = {n['log_amplitude']['h_km']:.4f} km "
            f"({n['log_amplitude']['nodes']:,} nodes, order {n['log_amplitude']['order']:.1f}); "
            f"shift 1e-3 samples: h = {n['shift_samples']['h_km']:.4f} km "
            f"({n['shift_samples']['nodes']:,} nodes, order {n['shift_samples']['order']:.1f}) |"
        )
    more += [
        "",
        f"Tolerances (issue 17): {TOLERANCE}. {result['n_test']} random sources per region. "
        f"{benchlib.machine_line(result['machine'])} Wall {result['wall_s']:.0f} s"
        f"{', --quick' if result['quick'] else ''}.",
    ]
    return "\n".join(rows + more) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="receiver 0, spacings 0.1, 0.05")
    parser.add_argument("--n-test", type=int, default=20_000, help="test sources per region")
    args = parser.parse_args()
    tic = time.perf_counter()
    machine = benchlib.machine_info()
    receivers = (0,) if args.quick else (0, 1)
    spacings = (0.1, 0.05) if args.quick else (0.1, 0.05, 0.025)
    rng = np.random.default_rng(SEED)
    result: dict = {"rows": [], "needed": {}}
    with jax.enable_x64(True):
        for rec in receivers:
            e = load_bundled([rec])[0]
            exact_fn = jax.jit(lambda s, e=e: predict_gps(e.peak_gps, source_features(
                s, jnp.asarray(e.receiver_km))))  # fmt: skip
            regions = {}
            for name, box in (("training_box", e.training_box_km), ("top_slab", TOP_SLAB_KM)):
                s = rng.uniform(box[0], box[1], size=(args.n_test, 3))
                regions[name] = (s, np.asarray(exact_fn(jnp.asarray(s))))
            rows = []
            for h in spacings:
                for mode in ("plain", "even_odd") if h == 0.05 else ("even_odd",):
                    t = build_table(e, h, mode)
                    row = {"receiver": rec, "mode": mode, "h_km": h, "nodes": t["nodes"],
                           "gp_s": t["gp_s"], "build_s": t["build_s"]}  # fmt: skip
                    row |= {k: errors(t, e, *v) for k, v in regions.items()}
                    print(row, flush=True)
                    rows.append(row)
            result["rows"] += rows
            result["needed"][str(rec)] = needed(
                [r for r in rows if r["mode"] == "even_odd"], "training_box"
            )
    result |= {
        "tolerance": TOLERANCE,
        "box_km": BOX_KM.tolist(),
        "margin_nodes": MARGIN,
        "n_test": args.n_test,
        "method": "cubic B-spline, scipy.ndimage.spline_filter (mode mirror) + map_coordinates",
        "quick": bool(args.quick),
        "machine": machine | {"load_end": benchlib.load_average()},
        "wall_s": round(time.perf_counter() - tic, 1),
    }
    benchlib.write_results(benchlib.result_name("gp_table", args.quick), result, markdown(result))


if __name__ == "__main__":
    main()
