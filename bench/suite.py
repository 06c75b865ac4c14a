"""The benchmark suite of issue 4: every model against onnxruntime, same inputs and threads.

    .venv/bin/python -m bench.models.export          # once: export the transformer models
    .venv/bin/python -m bench.suite --threads 2 --target x86_64-avx2 [--rounds 5] [--round-seconds 1]
        [--only NAME ...] [--peer-isa target|host]

Each runtime is timed in its own processes, rounds alternating (ronn_aot/tools/timing.py); a row gives
the median of the round medians and, in brackets, their min-max, and the ratio's min-max over rounds.

onnxruntime and numpy run on the target's instruction set by default (ronn_aot/tools/peer_isa.py: AVX-512
hidden from them for x86_64-avx2 on an AVX-512 host); `--peer-isa host` lets them use the host's.

Prints one markdown row per model (medians, ratio ronn-aot / onnxruntime) and, for the matmul,
GFLOP/s of ronn-aot and numpy. Models whose ONNX file is missing are skipped with the reason.

A target this machine runs under qemu (`--target aarch64`, `aarch64-dotprod`) is measured as
bench/aarch64.py measures one model, against onnxruntime's own aarch64 build: instructions per
inference on one thread, emulated time, the --threads check and the outputs compared
([--cpu cortex-a72] [--qemu-runs 2] [--counts-only]). Emulated, neither is a board's latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx

from ronn_aot import models
from ronn_aot.targets import get_target
from ronn_aot.tools.bench import BenchResult, run_bench
from ronn_aot.tools.timing import RoundPlan, ratio_spread
from ronn_aot.options import DEFAULT_OPT_LEVEL
from ronn_aot.tools.peer_isa import PEER_ISA_MODES, describe, masked_env, rerun_masked

OUT = Path(__file__).resolve().parent / "models" / "out"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

SUITE: dict[str, Path] = {
    "resnet50-light": LIGHT / "light_resnet50.onnx",
    "efficientnet-lite0": models.default_model_path(),
    "minilm-l6-seq128": OUT / "minilm_l6_seq128.onnx",
    "gpt2-random-2l-seq128": OUT / "gpt2_random_2l_seq128.onnx",
    "smollm2-4l-seq128": OUT / "smollm2_4l_seq128.onnx",
    "matmul-1024": OUT / "matmul_1024.onnx",
    "mobilenetv2-224": OUT / "mobilenetv2_224.onnx",
}


def numpy_matmul_gflops(n: int, threads: int, repeat: int) -> float:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    with threadpool_limits(limits=threads):
        a @ b
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def qemu_suite(args: argparse.Namespace, argv: list[str] | None) -> int:
    """A target this machine runs under qemu (aarch64): instructions per inference against
    onnxruntime's build for that architecture, emulated time, the thread check and the outputs
    (bench/aarch64.py), one markdown row per model."""
    from bench.aarch64 import run_model, suite_header, suite_row

    lines = suite_header(args.target, args.cpu, args.threads, args.qemu_runs)
    for line in lines:
        print(line, flush=True)
    for name in args.only or SUITE:
        path = SUITE[name]
        if not path.is_file():
            line = f"| {name} | - | - | - | - | - | - | - | skipped: {path.name} missing, run `python -m bench.models.export` |"
        else:
            line = suite_row(name, run_model(path, args.target, args.cpu, args.qemu_runs, args.threads,
                                             args.counts_only))
        lines.append(line)
        print(line, flush=True)
    if args.readme:
        from bench.readme import replace_block

        command = " ".join(["python -m bench.suite", *(sys.argv[1:] if argv is None else argv)])
        replace_block(f"suite:{args.target}", f"`{command}`:\n\n" + "\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--target", default="host")
    p.add_argument("--rounds", type=int, default=5, help="rounds per runtime, alternating (default 5)")
    p.add_argument("--repeat", type=int, default=10, help="at least this many timed runs a round (default 10)")
    p.add_argument("--round-seconds", type=float, default=1.0, help="and at least this long a round (default 1)")
    p.add_argument("--settle", type=int, default=5,
                   help="extra rounds allowed per model to replace rounds the machine disturbed (default 5)")
    p.add_argument("-O", dest="opt_level", type=int, default=DEFAULT_OPT_LEVEL)
    p.add_argument("--only", nargs="*", choices=sorted(SUITE))
    p.add_argument("--readme", action="store_true", help="write the table into the README's suite:<target> block")
    p.add_argument("--peer-isa", choices=PEER_ISA_MODES, default="target",
                   help="instruction set onnxruntime and numpy may use: the target's (default) or the host's")
    p.add_argument("--cpu", default="cortex-a72", help="targets run under qemu (aarch64): its -cpu model")
    p.add_argument("--qemu-runs", type=int, default=2,
                   help="targets run under qemu: N of the instruction counts' (2N - N) / N (default 2)")
    p.add_argument("--counts-only", action="store_true", help="targets run under qemu: no emulated time")
    args = p.parse_args(argv)
    if get_target(args.target).run.mode == "qemu":
        return qemu_suite(args, argv)
    env = masked_env(args.target, args.peer_isa)
    if env is not None:  # numpy's BLAS chooses its kernels at import: the whole suite runs in the child
        return rerun_masked(["bench.suite", *(sys.argv[1:] if argv is None else argv)], env)
    plan = RoundPlan(rounds=args.rounds, min_runs=args.repeat, min_seconds=args.round_seconds, settle=args.settle)
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    emit(f"| model | ronn-aot ms | onnxruntime ms | ratio | notes |  ({args.target}, {args.threads} threads, "
          f"-O{args.opt_level}, each runtime in its own process: median of {args.rounds} alternating rounds "
          f"of >= {args.repeat} runs and >= {args.round_seconds:g} s, [min-max of the round medians]; "
          f"ratio: median of the rounds' ratios; "
          f"onnxruntime and numpy on: {describe()})")
    emit("|---|---|---|---|---|")
    for name in args.only or SUITE:
        path = SUITE[name]
        if not path.is_file():
            emit(f"| {name} | - | - | - | skipped: {path.name} missing, run `python -m bench.models.export` |")
            continue
        r: BenchResult = run_bench(path, target=args.target, threads=args.threads, plan=plan,
                                   opt_level=args.opt_level)
        notes = f"max abs diff {r.max_abs_diff:.1e}, compile {r.compile_s:.0f} s"
        if r.machine is not None and (r.machine.dropped or r.machine.disturbed):
            kept = r.machine.ran - len(r.machine.dropped)
            notes += (f"; {len(r.machine.dropped)} disturbed rounds rerun" if r.machine.dropped
                      else f"; {len(r.machine.disturbed)} of {kept} rounds DISTURBED")
        if name.startswith("matmul"):
            n = int(name.split("-")[1])
            ours = 2 * n**3 / (r.ronn_median / 1e3) / 1e9
            try:
                ref = numpy_matmul_gflops(n, args.threads, max(30, args.repeat))
                notes += f"; {ours:.0f} GFLOP/s vs numpy {ref:.0f} GFLOP/s ({ours / ref:.0%})"
            except ImportError:
                notes += f"; {ours:.0f} GFLOP/s (install threadpoolctl for the numpy comparison)"
        (rl, rh), (ol, oh), (lo, hi) = r.ronn.spread, r.ort.spread, ratio_spread(r.ronn, r.ort)
        emit(f"| {name} | {r.ronn_median:.2f} [{rl:.2f}-{rh:.2f}] | {r.ort_median:.2f} [{ol:.2f}-{oh:.2f}] "
             f"| {r.ratio:.2f} [{lo:.2f}-{hi:.2f}] | {notes} |")
    if args.readme:
        from bench.readme import replace_block

        command = " ".join(["python -m bench.suite", *(sys.argv[1:] if argv is None else argv)])
        replace_block(f"suite:{args.target}", f"`{command}`:\n\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
