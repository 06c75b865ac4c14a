"""`ronn-aot bench`: compile a model, then time the artifact (through runtime_min) and onnxruntime
alternately on the same inputs and thread count, and report the medians and their ratio.

Alternating the two engines (in blocks of runs, see run_bench) spreads the noise of a shared
machine evenly over both, so the ratio means more than either number alone.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import RonnError
from .options import DEFAULT_OPT_LEVEL, CompileOptions
from .peer_isa import WHOLE_ISA, describe


@dataclass
class BenchResult:
    model: str
    target: str
    threads: int
    repeat: int
    compile_s: float
    ronn_ms: list[float] = field(default_factory=list)
    ort_ms: list[float] = field(default_factory=list)
    max_abs_diff: float = 0.0
    peers: str = WHOLE_ISA  # what onnxruntime (and numpy) could use: peer_isa.describe()

    @property
    def ronn_median(self) -> float:
        return statistics.median(self.ronn_ms)

    @property
    def ort_median(self) -> float:
        return statistics.median(self.ort_ms)

    @property
    def ratio(self) -> float:
        return self.ronn_median / self.ort_median

    def format(self) -> str:
        return (f"model {self.model}, target {self.target}, {self.threads} threads, "
                f"median of {self.repeat} (compiled in {self.compile_s:.1f} s)\n"
                f"  onnxruntime on: {self.peers}\n"
                f"  ronn-aot     {self.ronn_median:9.2f} ms\n"
                f"  onnxruntime  {self.ort_median:9.2f} ms\n"
                f"  ratio ronn-aot / onnxruntime = {self.ratio:.2f}   "
                f"(max |difference| of outputs {self.max_abs_diff:.2e})")


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


def median_ms(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> float:
    """Median wall time of `fn` in ms over `repeat` runs, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    return statistics.median(_time_ms(fn) for _ in range(repeat))


def _time_ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def run_bench(model: str | Path, target: str = "host", threads: int = 0, repeat: int = 50,
              warmup: int = 5, opt_level: int = DEFAULT_OPT_LEVEL, output: Path | None = None) -> BenchResult:
    """Compile `model` and time it against onnxruntime, alternating, on `threads` threads."""
    import onnxruntime as ort

    from . import compile as compile_model

    model_path = Path(model)
    if not model_path.is_file():
        raise RonnError(f"model file {model_path} does not exist")
    peers = describe()
    n = threads or cpu_count()
    opts = CompileOptions().with_target(target).with_optimization_level(opt_level)
    if output is not None:
        opts = opts.with_output(output)
    t0 = time.perf_counter()
    art = compile_model(model_path, opts)
    compile_s = time.perf_counter() - t0

    sess = art.session(num_threads=n)
    feeds = random_feeds(art.inputs)
    so = ort.SessionOptions()
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    ref = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])

    ours = sess.run(None, feeds)
    theirs = ref.run(None, feeds)
    diff = max((float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(ours, theirs) if a.size),
               default=0.0)
    times = time_alternating({"ronn": lambda: sess.run(None, feeds), "ort": lambda: ref.run(None, feeds)},
                             repeat, warmup)
    return BenchResult(model_path.name, art.target, n, repeat, compile_s, times["ronn"], times["ort"], diff,
                       peers)


def time_alternating(runs: dict[str, Callable[[], Any]], repeat: int, warmup: int = 3) -> dict[str, list[float]]:
    """`repeat` timed calls (ms) of each function, alternating between them in blocks.

    In blocks, not call by call: runtimes keep their worker threads spinning for a while after a
    run, which would steal the cores from the other's next run. Within a block only the first
    call can meet the other's spinning threads; that call is not timed."""
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    block = max(1, min(BLOCK, repeat))
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
