"""`ronn-aot bench`: compile a model, then time the artifact (through runtime_min) and onnxruntime on
the same inputs and thread count, each in its own processes, and report the medians and their ratio.

The timing is ronn_aot/tools/timing.py's: a child process per engine and round, rounds alternating, the
median of the round medians with their min-max. `same_process=True` times both in this process
instead, alternating in blocks; that is a diagnostic for interference between the two thread
pools, not a measurement of what a user gets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import RonnError
from ..options import DEFAULT_OPT_LEVEL, CompileOptions
from .peer_isa import WHOLE_ISA, describe, masked_env, unmasked_env
from .timing import Engine, RoundPlan, RunReport, Timing, ratio, ratio_spread, time_engines


@dataclass
class BenchResult:
    model: str
    target: str
    threads: int
    plan: RoundPlan
    compile_s: float
    ronn: Timing
    ort: Timing
    max_abs_diff: float = 0.0
    peers: str = WHOLE_ISA  # what onnxruntime could use: peer_isa.describe() in its process
    same_process: bool = False
    machine: RunReport | None = None  # how the rounds went (own-process timing only)

    @property
    def ronn_ms(self) -> list[float]:
        return self.ronn.samples

    @property
    def ort_ms(self) -> list[float]:
        return self.ort.samples

    @property
    def ronn_median(self) -> float:
        return self.ronn.median

    @property
    def ort_median(self) -> float:
        return self.ort.median

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios (each round's pair ran back to back)."""
        return ratio(self.ronn, self.ort)

    def method(self) -> str:
        p = self.plan
        if self.same_process:
            return (f"SAME PROCESS (diagnostic: the two thread pools disturb each other), alternating blocks, "
                    f"{p.rounds} blocks of {p.min_runs} runs")
        settle = f", disturbed rounds run again (up to {p.settle} more)" if p.settle else ""
        return (f"each runtime in its own process, {p.rounds} alternating rounds of >= {p.min_runs} runs "
                f"and >= {p.min_seconds:g} s{settle}")

    def format(self) -> str:
        lo, hi = ratio_spread(self.ronn, self.ort)
        rl, rh = self.ronn.spread
        ol, oh = self.ort.spread
        return (f"model {self.model}, target {self.target}, {self.threads} threads (compiled in {self.compile_s:.1f} s)\n"
                f"  timing: {self.method()}; median of the round medians (min-max of the round medians)\n"
                f"  onnxruntime on: {self.peers}\n"
                f"  ronn-aot     {self.ronn_median:9.3f} ms  ({rl:.3f}-{rh:.3f})\n"
                f"  onnxruntime  {self.ort_median:9.3f} ms  ({ol:.3f}-{oh:.3f})\n"
                f"  ratio ronn-aot / onnxruntime = {self.ratio:.3f}, the median of the rounds' ratios "
                f"(per round {lo:.3f}-{hi:.3f})   (max |difference| of outputs {self.max_abs_diff:.2e})"
                + (f"\n  {self.machine.describe()}" if self.machine is not None else ""))


def random_feeds(inputs: list[Any], seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for each input spec (name, dtype, shape): normals for floats, 0/1 for ints."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in inputs:
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(spec.shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.integers(0, 2, spec.shape).astype(dtype)
        else:
            # 0/1 is valid for every integer input transformers take (ids, masks, token types).
            feeds[spec.name] = rng.integers(0, 2, spec.shape).astype(dtype)
    return feeds


BLOCK = 10  # timed runs per block when alternating between the two runtimes


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask), the default thread count."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _time_ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def run_bench(model: str | Path, target: str = "host", threads: int = 0, plan: RoundPlan = RoundPlan(),
              opt_level: int = DEFAULT_OPT_LEVEL, output: Path | None = None, peer_isa: str = "target",
              same_process: bool = False) -> BenchResult:
    """Compile `model` and time it against onnxruntime on `threads` threads (see the module doc)."""
    from .. import compile as compile_model

    model_path = Path(model)
    if not model_path.is_file():
        raise RonnError(f"model file {model_path} does not exist")
    n = threads or cpu_count()
    opts = CompileOptions().with_target(target).with_optimization_level(opt_level)
    if output is not None:
        opts = opts.with_output(output)
    t0 = time.perf_counter()
    art = compile_model(model_path, opts)
    compile_s = time.perf_counter() - t0
    feeds = random_feeds(art.inputs)

    if same_process:
        ronn, ort, peers, diff = _same_process(art, model_path, feeds, n, plan)
    else:
        # Only onnxruntime's child sees the target's CPU (masked); ours sees the host as it is.
        engines = [Engine("ronn-aot", "ronn", art.path, unmasked_env()),
                   Engine("onnxruntime", "ort", model_path, masked_env(art.target, peer_isa))]
        machine = RunReport()
        timings, outs = time_engines(engines, feeds, n, plan, outputs=True, report=machine)
        ronn, ort = timings["ronn-aot"], timings["onnxruntime"]
        peers, diff = ort.peers, max_abs_diff(outs["ronn-aot"], outs["onnxruntime"])
        return BenchResult(model_path.name, art.target, n, plan, compile_s, ronn, ort, diff, peers, False, machine)
    return BenchResult(model_path.name, art.target, n, plan, compile_s, ronn, ort, diff, peers, same_process)


def max_abs_diff(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    return max((float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(ours, theirs) if a.size),
               default=0.0)


def _same_process(art: Any, model_path: Path, feeds: dict[str, np.ndarray], n: int,
                  plan: RoundPlan) -> tuple[Timing, Timing, str, float]:
    import onnxruntime as ort

    sess = art.session(num_threads=n)
    so = ort.SessionOptions()
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    ref = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    diff = max_abs_diff(sess.run(None, feeds), ref.run(None, feeds))
    times = time_alternating({"ronn": lambda: sess.run(None, feeds), "ort": lambda: ref.run(None, feeds)},
                             plan.rounds * plan.min_runs, plan.warmup, block=plan.min_runs)
    k = plan.min_runs
    blocks = {name: [t[i:i + k] for i in range(0, len(t), k)] for name, t in times.items()}
    return (Timing("ronn-aot", blocks["ronn"], WHOLE_ISA), Timing("onnxruntime", blocks["ort"], describe()),
            describe(), diff)


def time_alternating(runs: dict[str, Callable[[], Any]], repeat: int, warmup: int = 3,
                     block: int = BLOCK) -> dict[str, list[float]]:
    """`repeat` timed calls (ms) of each function, alternating between them in blocks, in THIS
    process: a diagnostic only (`bench --same-process`). Runtimes keep worker threads spinning
    after a run, and pools in one process distort each other however the calls are ordered;
    measurements go through timing.time_engines, a process per engine."""
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    block = max(1, min(block, repeat))
    while any(len(t) < repeat for t in times.values()):
        for name, fn in runs.items():
            fn()
            times[name].extend(_time_ms(fn) for _ in range(min(block, repeat - len(times[name]))))
    return times


def plot(result: BenchResult, path: Path) -> None:
    """Draw both latency distributions and medians into `path` (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RonnError("--plot needs matplotlib, which is not installed; install it with: "
                        "pip install matplotlib") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.boxplot([result.ronn_ms, result.ort_ms], labels=["ronn-aot", "onnxruntime"])
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{result.model} on {result.target}, {result.threads} threads: ratio {result.ratio:.2f}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
