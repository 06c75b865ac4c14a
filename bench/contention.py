"""How the artifact and onnxruntime hold up beside other work on the same CPUs.

    .venv/bin/python -m bench.contention MODEL [MODEL ...] [--target T] [--threads 2]
                                         [--load 1] [--rounds 3] [--artifacts DIR]

MODEL is an .onnx path, a suite model's name (bench.suite, e.g. mobilenetv2-224) or a real model's
(bench.real_models, e.g. ppocr-v4-det: compiled with its input shapes and fed its realistic inputs;
fetch it first with `python -m bench.real_models fetch`). The command compiles each model
(ronn_aot.compile), then times the artifact (runtime_min) and onnxruntime, each
in its own processes (ronn_aot.tools.timing.time_engines), first on an idle machine and then beside
`--load` CPU-bound processes (`python -c "while True: pass"`, started and killed here), and prints
a markdown table of each runtime's times and slowdowns (loaded / idle), by the median run and by
the mean. Beside other work a run's time is bimodal: most runs keep their pace and some wait a
scheduler slice for a descheduled thread, so the median can look calm while the stream of runs
(the mean, 1 / throughput) is slower than one thread. A runtime that spins through such waits
shows a small median slowdown and a large mean one; read both, and the p90.

onnxruntime's child sees the target's ISA (peer_isa.masked_env, as `ronn-aot bench` does), ours the
host as it is. The runtime library is the one ronn_runtime finds: set RONN_RUNTIME_LIBRARY to time
another build. `--artifacts DIR` keeps the compiled artifacts there and reuses them on the next
call (light ResNet-50 takes a minute to compile).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ronn_aot.tools.bench import random_feeds
from ronn_aot.errors import RonnError
from ronn_aot.tools.peer_isa import masked_env, unmasked_env
from ronn_aot.tools.timing import Engine, RoundPlan, Timing, time_engines

HOG = "while True: pass"


@dataclass
class Row:
    model: str
    ronn_idle: Timing
    ort_idle: Timing
    ronn_loaded: Timing
    ort_loaded: Timing

    def slowdowns(self, stat: str) -> tuple[float, float]:
        """(ronn, ort) loaded / idle by `stat`: "median" (the typical run) or "mean" (time per run
        over a stream of runs, which counts the runs that waited for a descheduled thread)."""
        ronn = getattr(self.ronn_loaded, stat) / getattr(self.ronn_idle, stat)
        ort = getattr(self.ort_loaded, stat) / getattr(self.ort_idle, stat)
        return ronn, ort

    def format(self) -> str:
        def idle(t: Timing) -> str:
            return f"{t.median:.3f} / {t.mean:.3f}"

        def loaded(t: Timing) -> str:
            return f"{t.median:.3f} / {t.mean:.3f} / {t.quantile(0.9):.3f}"

        (rm, om), (ra, oa) = self.slowdowns("median"), self.slowdowns("mean")
        return (f"| {self.model} | {idle(self.ronn_idle)} | {idle(self.ort_idle)} | {loaded(self.ronn_loaded)} | "
                f"{loaded(self.ort_loaded)} | {rm:.2f}x / {ra:.2f}x | {om:.2f}x / {oa:.2f}x |")


HEADER = ("| model | ronn idle ms (median / mean) | ort idle ms | ronn loaded ms (median / mean / p90) | "
          "ort loaded ms | ronn slowdown (median / mean) | ort slowdown |\n"
          "|---|---|---|---|---|---|---|")


def summary(rows: list[Row]) -> str:
    """On how many models ronn-aot slows down no more than onnxruntime, by each statistic."""
    parts = []
    for stat in ("median", "mean"):
        wins = sum(1 for r in rows if r.slowdowns(stat)[0] <= r.slowdowns(stat)[1])
        parts.append(f"by the {stat} on {wins} of {len(rows)}")
    return "ronn-aot slows down no more than onnxruntime " + ", ".join(parts) + " models"


@contextmanager
def cpu_load(n: int) -> Iterator[None]:
    """`n` CPU-bound Python processes running for the duration of the block."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let the scheduler spread them before timing starts
        yield
    finally:
        for h in hogs:
            h.kill()
        for h in hogs:
            h.wait()


def resolve(name: str, target: str) -> tuple[Path, Any, Callable[[], dict[str, Any]] | None]:
    """The model file, its compile options and (for a real model) its feeds, from a path or a name."""
    from ronn_aot import CompileOptions

    from bench.real_models import MODELS
    from bench.suite import SUITE

    if name in SUITE:
        return SUITE[name], CompileOptions().with_target(target), None
    if name in MODELS:
        real = MODELS[name]
        if real.frozen:
            raise RonnError(f"{name} has frozen inputs ({', '.join(real.frozen)}), which this benchmark "
                            f"does not feed to onnxruntime: pick another model")
        return real.path, real.options(target), real.feeds
    return Path(name), CompileOptions().with_target(target), None


def measure(name: str, target: str, threads: int, load: int, plan: RoundPlan,
            artifacts: Path | None) -> Row:
    """Compile the model for `target` and time both engines idle, then beside `load` CPU hogs."""
    from ronn_aot import compile as compile_model

    model, opts, real_feeds = resolve(name, target)
    if not model.is_file():
        raise RonnError(f"model file {model} does not exist (a suite model: `python -m bench.models.export`; "
                        f"a real one: `python -m bench.real_models fetch`)")
    path = artifacts / f"{model.stem}.{target}.so" if artifacts is not None else None
    if path is not None and path.is_file():
        import ronn_runtime

        with ronn_runtime.InferenceSession(path, num_threads=1) as sess:
            feeds = real_feeds() if real_feeds else random_feeds(sess.get_inputs())
    else:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            opts = opts.with_output(path)
        art = compile_model(model, opts)
        path, feeds = art.path, real_feeds() if real_feeds else random_feeds(art.inputs)
    engines = [Engine("ronn", "ronn", path, unmasked_env()),
               Engine("ort", "ort", model, masked_env(target))]
    idle, _ = time_engines(engines, feeds, threads, plan)
    with cpu_load(load):
        loaded, _ = time_engines(engines, feeds, threads, plan)
    return Row(model.name if name.endswith(".onnx") else name, idle["ronn"], idle["ort"], loaded["ronn"], loaded["ort"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__.split("\n\n")[2])
    p.add_argument("models", nargs="+", help="an .onnx path, a suite model or a real model (see above)")
    p.add_argument("--target", default="host")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--load", type=int, default=1, help="CPU-bound processes beside the loaded timing")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--artifacts", type=Path, help="keep (and reuse) the compiled artifacts here")
    a = p.parse_args(argv)
    if a.threads < 1 or a.load < 0:
        p.error("--threads must be >= 1 and --load >= 0")
    plan = RoundPlan(rounds=a.rounds, min_seconds=a.min_seconds)
    print(f"target {a.target}, {a.threads} threads, loaded = beside {a.load} CPU-bound process(es); "
          f"medians and means of {a.rounds} rounds (each the median of the round medians / means), "
          f"p90 of all loaded runs")
    print(HEADER, flush=True)
    rows = []
    for model in a.models:
        rows.append(measure(model, a.target, a.threads, a.load, plan, a.artifacts))
        print(rows[-1].format(), flush=True)
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
