"""Tuning records on and off: a model compiled with the target's records (schedules/<target>/) and
without them, both timed against onnxruntime in the same window: each in its own processes,
rounds alternating (ronn_aot/tools/timing.py).

    .venv/bin/python -m bench.records MODEL.onnx --target x86_64-avx512 --threads 2 [--rounds 5]

Prints the medians of the three and each artifact's ratio to onnxruntime, and how many kernels the
records scheduled (`tuned` in the schedule report). On a shared machine the ratios are what to
compare: the other jobs slow all three alike, run after run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import ronn_aot
from ronn_aot.tools.bench import random_feeds
from ronn_aot.options import DEFAULT_OPT_LEVEL
from ronn_aot.tools.peer_isa import masked_env
from ronn_aot.stages.schedule import TUNED
from ronn_aot.tools.timing import Engine, RoundPlan, RunReport, ratio, time_engines


def compile_both(model: Path, target: str, opt_level: int, out: Path) -> tuple[Any, Any]:
    """(artifact with the target's records, artifact with the rules only)."""
    opts = ronn_aot.CompileOptions().with_target(target).with_optimization_level(opt_level)
    tuned = ronn_aot.compile(model, opts.with_output(out / "tuned.so"))
    rules = ronn_aot.compile(model, opts.with_records(False).with_output(out / "rules.so"))
    return tuned, rules


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--target", default="host")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeat", type=int, default=10, help="at least this many timed runs a round")
    p.add_argument("--round-seconds", type=float, default=1.0)
    p.add_argument("--settle", type=int, default=5, help="extra rounds to replace disturbed ones (default 5)")
    p.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ronn-records-") as tmp:
        tuned, rules = compile_both(Path(args.model), args.target, args.opt_level, Path(tmp))
        n_tuned = list(tuned.schedule_report.rule_of.values()).count(TUNED)
        feeds = random_feeds(tuned.inputs)
        engines = [Engine("records", "ronn", tuned.path), Engine("rules", "ronn", rules.path),
                   Engine("onnxruntime", "ort", Path(args.model), masked_env(args.target))]
        plan = RoundPlan(rounds=args.rounds, min_runs=args.repeat, min_seconds=args.round_seconds,
                         settle=args.settle)
        machine = RunReport()
        timings, _ = time_engines(engines, feeds, args.threads, plan, report=machine)
    med = {k: t.median for k, t in timings.items()}
    print(f"{Path(args.model).name} on {args.target}, {args.threads} threads, each in its own process, median "
          f"of {args.rounds} alternating rounds [min-max]; {n_tuned} of {len(tuned.schedule_report.rule_of)} "
          f"kernels from records; onnxruntime on: {timings['onnxruntime'].peers}")
    for name in ("records", "rules"):
        lo, hi = timings[name].spread
        print(f"  {name:<12} {med[name]:9.3f} ms [{lo:.3f}-{hi:.3f}]   ratio to onnxruntime "
              f"{ratio(timings[name], timings['onnxruntime']):.3f} (median of the rounds' ratios)")
    print(f"  onnxruntime  {med['onnxruntime']:9.3f} ms   records / rules {ratio(timings['records'], timings['rules']):.3f}")
    print(f"  {machine.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
