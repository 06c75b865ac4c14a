"""Tuning records on and off: a model compiled with the target's records (schedules/<target>/) and
without them, both timed against onnxruntime in the same window, alternating in blocks.

    .venv/bin/python -m bench.records MODEL.onnx --target x86_64-avx512 --threads 2 [--repeat 50]

Prints the medians of the three and each artifact's ratio to onnxruntime, and how many kernels the
records scheduled (`tuned` in the schedule report). On a shared machine the ratios are what to
compare: the other jobs slow all three alike, run after run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any, Callable

import onnxruntime as ort

import ronn_aot
from ronn_aot.bench import random_feeds, time_alternating
from ronn_aot.options import DEFAULT_OPT_LEVEL
from ronn_aot.schedule import TUNED


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
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ronn-records-") as tmp:
        tuned, rules = compile_both(Path(args.model), args.target, args.opt_level, Path(tmp))
        n_tuned = list(tuned.schedule_report.rule_of.values()).count(TUNED)
        feeds = random_feeds(tuned.inputs)
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
        ref = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        with_records, rules_only = (a.session(num_threads=args.threads) for a in (tuned, rules))
        runs: dict[str, Callable[[], Any]] = {
            "records": lambda: with_records.run(None, feeds),
            "rules": lambda: rules_only.run(None, feeds),
            "onnxruntime": lambda: ref.run(None, feeds),
        }
        times = time_alternating(runs, args.repeat)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{Path(args.model).name} on {args.target}, {args.threads} threads, median of {args.repeat}; "
          f"{n_tuned} of {len(tuned.schedule_report.rule_of)} kernels from records")
    for name in ("records", "rules"):
        print(f"  {name:<12} {med[name]:9.3f} ms   ratio to onnxruntime {med[name] / med['onnxruntime']:.3f}")
    print(f"  onnxruntime  {med['onnxruntime']:9.3f} ms   records / rules {med['records'] / med['rules']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
