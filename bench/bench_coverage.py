"""Calibration of the waveform posterior: do its intervals cover the truth as often as they claim?

One noise realisation (``bench_location.py``) cannot tell a miscalibrated posterior from an
unlucky draw of the noise: a 95 % interval misses the truth in one coordinate out of twenty.
This benchmark repeats the paper's location experiment over many seeded noise realisations
and counts how often the posterior covers the truth.

Setup: the bundled pretrained NN-direct emulators (2000 training sources) of the 4 location
receivers, the bundled direct simulation of the paper's event, noise at the paper's level
(5.6 % of the largest peak, :func:`jaxseis.noise.default_sigma`). Per noise
seed, the posterior is summarised by its Laplace approximation: the maximum (BFGS on the
log-likelihood, exact JAX gradients, started at the truth: the posterior is unimodal at this
scale and the uniform prior is flat there) and the covariance from the exact Hessian. A few
seeds are also sampled with NUTS (:func:`jaxseis.inference.locate`, global stage included)
to check that the Laplace approximation matches the sampled posterior.

Arms:

* ``simulated``: observed = direct simulation + noise, the white-noise likelihood: the
  experiment as run by ``bench_location.py`` and the demo;
* ``simulated_emulator_variance``: the same likelihood with the emulators' validation error
  variance added to the noise variance (:func:`jaxseis.forward.validation_error_variance`);
* ``emulated_control``: observed = the emulators' own traces at the truth + noise. The model
  is then exact, so this arm isolates what the Laplace approximation and the finite noise do;
  the difference to ``simulated`` is the emulators' error.

Per arm and coordinate: the mean and standard deviation of the z-scores
``(map - truth) / sd`` (0 and 1 if calibrated), the fraction of seeds whose 68 % and 95 %
intervals cover the truth (with the binomial standard error), the coverage of the joint
95 % ellipsoid (chi-square with 3 degrees of freedom), and the fraction of seeds whose three
95 % intervals all cover the truth, beside that fraction for a calibrated posterior with the
same correlations (about 0.88: three intervals can each miss).

Writes ``bench/results/coverage.json`` and ``coverage.md``. Run:
``python bench/bench_coverage.py`` (about 12 min; ``--quick``: 20 seeds, no NUTS).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import benchlib
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.stats

import jaxseis as js
from jaxseis import inference
from jaxseis.forward import forward_model, make_forward, validation_error_variance
from jaxseis.likelihood import waveform_log_likelihood
from jaxseis.pretrained import load_bundled

RECEIVERS = (1, 2, 3, 4)
N_SEEDS = 500
N_NUTS = 3
SEED0 = 1000  # noise seeds SEED0 .. SEED0 + n - 1 (bench_location uses jax key 0)
CHI2_95 = float(scipy.stats.chi2.ppf(0.95, 3))
ARMS = ("simulated", "simulated_emulator_variance", "emulated_control")


def laplace(neg_log_like, hessian, observed, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum of the likelihood (km) and the Laplace covariance (km^2) for one data set."""
    obs = jnp.asarray(observed)

    def fun(x):
        v, g = neg_log_like(jnp.asarray(x), obs)
        return float(v), np.asarray(g, dtype=np.float64)

    res = scipy.optimize.minimize(fun, x0, jac=True, method="BFGS", options={"gtol": 1e-8})
    h = np.asarray(hessian(jnp.asarray(res.x), obs), dtype=np.float64)
    cov = np.linalg.inv(0.5 * (h + h.T))
    if not np.all(np.linalg.eigvalsh(cov) > 0):
        raise RuntimeError(f"the Hessian at the maximum {res.x} is not positive definite")
    return res.x, cov


def coverage_stats(z: np.ndarray, chi2: np.ndarray, sd_km: np.ndarray, corr: np.ndarray) -> dict:
    """Summary of z-scores ``[n, 3]``, Mahalanobis distances ``[n]``, sds ``[n, 3]`` and
    posterior correlation matrices ``[n, 3, 3]``.

    ``cover95_all`` is the fraction of realisations whose three marginal 95 % intervals all
    cover the truth (the location benchmark's target for its one noise draw);
    ``cover95_all_calibrated`` is that fraction for a calibrated Gaussian posterior with the
    mean correlations (Monte Carlo, 400,000 seeded draws): below 0.95, since three intervals
    can each miss.
    """
    n = len(z)

    def frac(mask):
        p = mask.mean(axis=0)
        return p.tolist(), np.sqrt(p * (1 - p) / n).tolist()

    c68, e68 = frac(np.abs(z) < 1.0)
    c95, e95 = frac(np.abs(z) < scipy.stats.norm.ppf(0.975))
    joint = float((chi2 < CHI2_95).mean())
    z95 = scipy.stats.norm.ppf(0.975)
    every = float(np.all(np.abs(z) < z95, axis=1).mean())
    ref = np.random.default_rng(0).multivariate_normal(np.zeros(3), corr.mean(axis=0), 400_000)
    every_calibrated = float(np.all(np.abs(ref) < z95, axis=1).mean())
    return {
        "n": n,
        "z_mean": z.mean(axis=0).tolist(),
        "z_std": z.std(axis=0, ddof=1).tolist(),
        "cover68": c68,
        "cover68_se": e68,
        "cover95": c95,
        "cover95_se": e95,
        "cover95_joint": joint,
        "cover95_joint_se": float(np.sqrt(joint * (1 - joint) / n)),
        "cover95_all": every,
        "cover95_all_se": float(np.sqrt(every * (1 - every) / n)),
        "cover95_all_calibrated": every_calibrated,
        "sd_m_mean": (1e3 * sd_km.mean(axis=0)).tolist(),
    }


def markdown(result: dict) -> str:
    lines = [
        "| arm | z mean (x, y, z) | z std (x, y, z) | 68 % coverage (x, y, z) | "
        "95 % coverage (x, y, z) | joint 95 % | all three 95 % (calibrated) | Laplace sd (m) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def f3(v, fmt):
        return ", ".join(format(a, fmt) for a in v)

    for arm in ARMS:
        s = result["arms"].get(arm)
        if s is None:
            continue
        lines.append(
            f"| {arm} | {f3(s['z_mean'], '+.2f')} | {f3(s['z_std'], '.2f')} | "
            f"{f3(s['cover68'], '.2f')} | {f3(s['cover95'], '.2f')} | "
            f"{s['cover95_joint']:.2f} | {s['cover95_all']:.2f} "
            f"({s['cover95_all_calibrated']:.2f}) | {f3(s['sd_m_mean'], '.2f')} |"
        )
    n = result["n_seeds"]
    se95 = np.sqrt(0.95 * 0.05 / n)
    se68 = np.sqrt(0.68 * 0.32 / n)
    lines += [
        "",
        f"{n} noise realisations (seeds {result['noise_seeds'][0]}-{result['noise_seeds'][1]}), "
        f"bundled NN-direct emulators at the 4 location receivers, Laplace approximation per "
        f"realisation. A calibrated posterior has z mean 0, z std 1, coverage 0.68 and 0.95 "
        f"(binomial standard error {se68:.3f} and {se95:.3f} at n = {n}).",
    ]
    if result.get("nuts_check"):
        lines += [
            "",
            "Laplace against NUTS (4 chains, same data), in metres:",
            "",
            "| seed | Laplace mean - truth | NUTS mean - truth | Laplace sd | NUTS sd |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in result["nuts_check"]:
            lines.append(
                f"| {c['seed']} | {f3(c['laplace_mean_m'], '+.2f')} | "
                f"{f3(c['nuts_mean_m'], '+.2f')} | {f3(c['laplace_sd_m'], '.2f')} | "
                f"{f3(c['nuts_sd_m'], '.2f')} |"
            )
    lines += ["", f"{benchlib.machine_line(result['machine'])} Wall time {result['wall_s']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 seeds, no NUTS check")
    parser.add_argument("--seeds", type=int, default=None, help=f"noise seeds (default {N_SEEDS})")
    parser.add_argument("--nuts", type=int, default=None, help=f"NUTS checks (default {N_NUTS})")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    n_seeds = args.seeds or (20 if args.quick else N_SEEDS)
    n_nuts = args.nuts if args.nuts is not None else (0 if args.quick else N_NUTS)
    name = benchlib.result_name("coverage", args.quick)
    js.runtime.enable_compilation_cache()
    with jax.enable_x64(True):  # float64 throughout, without changing the caller's process
        result = run(n_seeds, n_nuts)
    benchlib.write_results(name, result, markdown(result), args.out)
    return 0


def run(n_seeds: int, n_nuts: int) -> dict:
    """The coverage study: ``n_seeds`` noise realisations, ``n_nuts`` NUTS checks."""
    tic = time.perf_counter()

    bench, event = js.load_benchmark(), js.load_paper_event()
    ems = load_bundled(RECEIVERS)
    observed = js.observe(event, ems)  # the clean simulation; white noise at the paper's level
    truth = observed.truth[:3]
    clean = observed.traces
    sigma = float(observed.noise.sigma[0])
    model = forward_model(ems, dtype=jnp.float64)
    forward = make_forward(model)
    emulated = np.asarray(forward(jnp.asarray(truth)))
    val = bench.indices("validation")
    extra = np.stack(
        [
            validation_error_variance(e, bench.sources[val], bench.traces[r, val])
            for e, r in zip(ems, RECEIVERS, strict=True)
        ]
    )
    seeds = np.arange(SEED0, SEED0 + n_seeds)
    noises = [sigma * np.random.default_rng(s).normal(size=clean.shape) for s in seeds]
    arms = {
        "simulated": (clean, sigma**2),
        "simulated_emulator_variance": (clean, sigma**2 + extra),
        "emulated_control": (emulated, sigma**2),
    }
    result = {
        "truth_km": truth.tolist(),
        "sigma": sigma,
        "n_seeds": n_seeds,
        "noise_seeds": [int(seeds[0]), int(seeds[-1])],
        "emulator_variance_mean_over_sigma2": float(extra.mean() / sigma**2),
        "emulator_residual_at_truth_over_sigma2": float(
            ((clean - emulated) ** 2).mean() / sigma**2
        ),
        "arms": {},
        "machine": benchlib.machine_info(),
    }
    fits = {}
    for arm, (base, var) in arms.items():
        inv_var = jnp.asarray(1.0 / np.broadcast_to(var, clean.shape))

        def nll(s, obs, inv_var=inv_var):
            r = obs - forward(s)
            return 0.5 * jnp.sum(r * r * inv_var)

        vg, hess = jax.jit(jax.value_and_grad(nll)), jax.jit(jax.hessian(nll))
        # the same function as the library's likelihood, up to its constant normalisation
        obs0 = observed.replace(traces=base + noises[0])
        lib = waveform_log_likelihood(model, obs0, extra_variance=var - sigma**2)
        norm = -0.5 * np.sum(np.log(2 * np.pi * np.broadcast_to(var, clean.shape)))
        s_chk = jnp.asarray(truth + 1e-3)
        np.testing.assert_allclose(
            float(lib(s_chk)), norm - float(vg(s_chk, obs0.traces)[0]), rtol=1e-9
        )
        z, chi2, sd, corr, maps = [], [], [], [], []
        for noise in noises:
            m, cov = laplace(vg, hess, base + noise, truth)
            d = m - truth
            z.append(d / np.sqrt(np.diag(cov)))
            chi2.append(float(d @ np.linalg.solve(cov, d)))
            sd.append(np.sqrt(np.diag(cov)))
            corr.append(cov / np.outer(sd[-1], sd[-1]))
            maps.append(m)
        fits[arm] = (np.array(maps), np.array(sd))
        result["arms"][arm] = coverage_stats(
            np.array(z), np.array(chi2), np.array(sd), np.array(corr)
        )
        s = result["arms"][arm]
        print(
            f"[{time.perf_counter() - tic:5.0f} s] {arm}: z std {np.round(s['z_std'], 2)}, "
            f"95 % coverage {np.round(s['cover95'], 3)}, joint {s['cover95_joint']:.3f}",
            flush=True,
        )
    checks = []
    for i in range(n_nuts):
        ll = waveform_log_likelihood(model, observed.replace(traces=clean + noises[i]))
        idata = inference.locate(ll, inference.paper_prior(), method="nuts", key=jax.random.key(i))
        xs = inference.posterior_draws(idata)
        m, sd = fits["simulated"][0][i], fits["simulated"][1][i]
        checks.append(
            {
                "seed": int(seeds[i]),
                "laplace_mean_m": (1e3 * (m - truth)).tolist(),
                "nuts_mean_m": (1e3 * (xs.mean(0) - truth)).tolist(),
                "laplace_sd_m": (1e3 * sd).tolist(),
                "nuts_sd_m": (1e3 * xs.std(0)).tolist(),
            }
        )
        print(f"[{time.perf_counter() - tic:5.0f} s] NUTS check {i}: {checks[-1]}", flush=True)
    result["nuts_check"] = checks
    result["machine"]["load_end"] = benchlib.load_average()
    result["wall_s"] = time.perf_counter() - tic
    return result


if __name__ == "__main__":
    js.use_cpu_cores()  # one JAX device per core: the NUTS check's chains run in parallel
    sys.exit(main())
