"""Per-image latency of compiled artifacts, each in its own process, rounds alternated.

    .venv/bin/python -m bench.bitnet.latency A.so B.so ... --input x=image.npy [--threads 2]
                                              [--rounds 5] [--runs 2000] [--route auto]

Every round starts one process per artifact (in the order given), which loads the artifact, warms
up, and times --runs single runs; two ways each:
  - binding: `InferenceSession.run` as bench.dual times it (Python's call overhead included),
  - C: `ronn-run --repeat` (the runtime's own loop, no Python), median to its 1 us print resolution.
The report is the median over rounds of each process's median, and the ratio to the first artifact.
On a machine shared with other work, medians are what survive the other processes' bursts.
--route applies to dual artifacts in the binding measurement (plain artifacts ignore it).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys, time
import numpy as np, ronn_runtime
path, feeds, threads, runs, route = json.loads(sys.argv[1])
sess = ronn_runtime.InferenceSession(path, num_threads=threads)
feed = {k: np.load(v) for k, v in feeds.items()}
kw = {"route": route} if route and sess.is_dual else {}
for _ in range(200):
    sess.run(None, feed, **kw)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    sess.run(None, feed, **kw)
    times.append(time.perf_counter() - t0)
print(1e3 * float(np.median(times)))
"""


def _binding_ms(path: str, feeds: dict[str, str], threads: int, runs: int, route: str | None) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([path, feeds, threads, runs, route])],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _c_ms(path: str, feeds: dict[str, str], threads: int, runs: int) -> float | None:
    """ronn-run's median, or None (with the reason on stderr) when it cannot run the artifact
    (a ronn-run built before a feature the artifact uses, e.g. dual artifacts)."""
    cmd = ["ronn-run", path, "--threads", str(threads), "--repeat", str(runs)]
    for k, v in feeds.items():
        cmd += ["--input", f"{k}={v}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"median ([0-9.]+) ms", done.stdout)
    if done.returncode != 0 or m is None:
        print(f"ronn-run {path}: exit {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifacts", nargs="+", type=Path)
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--route", choices=["auto", "fast", "full"])
    args = ap.parse_args()
    feeds = dict(i.split("=", 1) for i in args.input)
    names = [str(a) for a in args.artifacts]
    binding: dict[str, list[float]] = {n: [] for n in names}
    c_level: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for n in names:
            binding[n].append(_binding_ms(n, feeds, args.threads, args.runs, args.route))
            c = _c_ms(n, feeds, args.threads, args.runs)
            if c is not None:
                c_level[n].append(c)
    base_b = statistics.median(binding[names[0]])
    base_c = statistics.median(c_level[names[0]]) if c_level[names[0]] else None
    print(f"{'artifact':<40}{'binding ms':>12}{'ratio':>8}{'C ms':>9}{'ratio':>8}   "
          f"(medians of {args.rounds} rounds x {args.runs} runs, {args.threads} threads)")
    for n in names:
        b = statistics.median(binding[n])
        c_col = "     n/a      n/a"
        if c_level[n]:
            c = statistics.median(c_level[n])
            c_col = f"{c:>9.3f}" + (f"{c / base_c:>7.2f}x" if base_c else "      n/a")
        print(f"{n:<40}{b:>12.4f}{b / base_b:>7.2f}x{c_col}")


if __name__ == "__main__":
    main()
