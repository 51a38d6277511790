"""Peak memory of ``jaxseis.emulators.predict`` as the number of sources grows, chunked or not.

Each measurement runs in a fresh process: load the bundled NN-direct emulator of receiver 1,
predict 10 sources (imports, compilation of the small shape), record the peak resident memory
(``ru_maxrss``), then predict ``n`` seeded sources drawn uniformly in the training box and
record the peak again. The difference is what the big call needed on top of the process; the
output itself (``n x 501`` float32 traces) is part of it and is reported separately, so
``extra - output`` is the working memory. With the default chunks it should stay flat as ``n``
grows; evaluating everything in one call (``batch_size=n``, the old behaviour) grows by about
68 kB per source.

Writes ``bench/results/predict_memory.json`` and ``.md``. Run:
``python bench/bench_predict_memory.py`` (about 10 min on 2 cores; ``--quick``: up to 1e5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = """
import json, resource, sys, time
import numpy as np
from jaxseis import emulators as em
from jaxseis.pretrained import bundled_path
n, chunked = int(sys.argv[1]), sys.argv[2] == "chunked"
e = em.load(bundled_path(1))
lower, upper = em.training_box(e)
em.predict(e, (lower + upper)[None] / 2 + np.zeros((10, 3)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
src = np.random.default_rng(0).uniform(lower, upper, size=(n, 3))
tic = time.perf_counter()
out = em.predict(e, src, batch_size=None if chunked else n)
wall = time.perf_counter() - tic
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({
    "n": n, "chunked": chunked, "batch_size": em.default_batch_size(e) if chunked else n,
    "peak_before_bytes": before, "peak_after_bytes": after, "extra_bytes": after - before,
    "output_bytes": out.nbytes + src.nbytes, "wall_s": wall,
    "finite": bool(np.all(np.isfinite(out))),
}))
"""


def measure(n: int, chunked: bool) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(n), "chunked" if chunked else "one"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(result: dict) -> str:
    lines = [
        "| sources | mode | batch size | extra peak memory (MB) | of which output (MB) | "
        "working memory (MB) | wall (s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["runs"]:
        extra, output = r["extra_bytes"] / 2**20, r["output_bytes"] / 2**20
        lines.append(
            f"| {r['n']:.0e} | {'chunked' if r['chunked'] else 'one call'} | {r['batch_size']} "
            f"| {extra:.0f} | {output:.0f} | {max(extra - output, 0):.0f} | {r['wall_s']:.1f} |"
        )
    m = result["machine"]
    lines += [
        "",
        f"Bundled NN-direct emulator (receiver 1). {m['platform']}, jax {m['jax']}, "
        f"{m['cpu_count']} CPUs, load average {m['load_start']:.1f} at start and "
        f"{m['load_end']:.1f} at the end.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="up to 1e5 sources")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import jax

    from jaxseis.files import write_json, write_text

    load_start = os.getloadavg()[0]
    sizes = [1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    runs = []
    for n in sizes:
        runs.append(measure(n, chunked=True))
        print(runs[-1], flush=True)
    for n in (1_000, 10_000):  # one call: 68 kB per source (1e5 would take 6.8 GB)
        runs.append(measure(n, chunked=False))
        print(runs[-1], flush=True)
    result = {
        "runs": runs,
        "machine": {
            "platform": platform.platform(),
            "jax": jax.__version__,
            "cpu_count": os.cpu_count(),
            "load_start": load_start,
            "load_end": os.getloadavg()[0],
        },
    }
    name = "predict_memory_quick" if args.quick else "predict_memory"
    write_json(args.out / f"{name}.json", result)
    write_text(args.out / f"{name}.md", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
