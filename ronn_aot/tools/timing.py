"""Timing runtimes each in its own process: the measurement every speed number here rests on.

Two thread pools in one process disturb each other: onnxruntime's workers keep spinning after its
runs, and runtime_min's static chunks then wait for a descheduled worker (measured here on
MobileNet-v2, 2 threads: 1.94 in one process against 0.76 in separate ones). So each engine runs
in a child process of its own, one child per engine and round, the rounds alternating between the
engines (A B, B A, A B, ...) so that slow minutes of a shared machine fall on both. A child loads
the model, runs `warmup` untimed runs, then times runs until it has at least `min_runs` of them and
`min_seconds` have passed. A round's number is the median of its runs; an engine's number is the
median of its round medians, and the min-max of those is the spread a reader should see.

Children inherit this process's CPU set (affinity) and, unless an engine gives its own, its
environment; onnxruntime keeps its default settings (spinning included), as its users get them.

    python -m ronn_aot.tools.timing --kind ronn|ort --path FILE --feeds F.npz --threads N --result R.json
is the child; nothing imports TVM or the compiler there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import RonnError

KINDS = ("ronn", "ort")


@dataclass(frozen=True)
class Engine:
    """One thing to time: an artifact through runtime_min ("ronn") or a model through onnxruntime
    ("ort"). `env` replaces the child's environment (e.g. onnxruntime with CPUID masked)."""

    name: str
    kind: str
    path: Path
    env: Mapping[str, str] | None = None


@dataclass
class Timing:
    """An engine's timed runs (ms), round by round, and what its peers saw (peer_isa.describe)."""

    name: str
    rounds: list[list[float]] = field(default_factory=list)
    peers: str = ""
    pids: list[int] = field(default_factory=list)  # the child process of each round

    @property
    def round_medians(self) -> list[float]:
        return [statistics.median(r) for r in self.rounds]

    @property
    def median(self) -> float:
        return statistics.median(self.round_medians)

    @property
    def spread(self) -> tuple[float, float]:
        m = self.round_medians
        return min(m), max(m)

    @property
    def samples(self) -> list[float]:
        return [t for r in self.rounds for t in r]


@dataclass(frozen=True)
class RoundPlan:
    """How long each child times: at least `min_runs` runs and `min_seconds`, after `warmup`."""

    rounds: int = 5
    min_runs: int = 10
    min_seconds: float = 1.0
    warmup: int = 5

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.min_runs < 1 or self.min_seconds < 0 or self.warmup < 0:
            raise RonnError(f"timing needs rounds >= 1, runs >= 1, seconds >= 0 and warmup >= 0, got {self}")


def ratio_spread(a: Timing, b: Timing) -> tuple[float, float]:
    """Min and max over rounds of a's round median / b's (the rounds ran side by side)."""
    ratios = [x / y for x, y in zip(a.round_medians, b.round_medians)]
    return min(ratios), max(ratios)


def time_engines(engines: Sequence[Engine], feeds: Mapping[str, np.ndarray], threads: int,
                 plan: RoundPlan = RoundPlan(), outputs: bool = False) -> tuple[dict[str, Timing],
                                                                                dict[str, list[np.ndarray]]]:
    """Time each engine in its own processes, rounds alternating; returns the timings and, when
    `outputs`, each engine's outputs from its first round (to compare them)."""
    names = [e.name for e in engines]
    if len(set(names)) != len(names):
        raise RonnError(f"engine names must differ, got {names}")
    for e in engines:
        if e.kind not in KINDS:
            raise RonnError(f"engine {e.name!r}: kind must be one of {KINDS}, not {e.kind!r}")
    timings = {e.name: Timing(e.name) for e in engines}
    first_outputs: dict[str, list[np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="ronn-timing-") as tmp:
        work = Path(tmp)
        feeds_path = work / "feeds.npz"
        np.savez(feeds_path, **dict(feeds))
        for r in range(plan.rounds):
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            for e in order:
                out = work / f"out-{names.index(e.name)}.npz" if outputs and r == 0 else None
                ms, peers, pid = _run_child(e, feeds_path, threads, plan, work / "result.json", out)
                timings[e.name].rounds.append(ms)
                timings[e.name].peers = peers
                timings[e.name].pids.append(pid)
                if out is not None:
                    with np.load(out) as z:
                        first_outputs[e.name] = [z[f"o{i}"] for i in range(len(z.files))]
    return timings, first_outputs


def _run_child(engine: Engine, feeds: Path, threads: int, plan: RoundPlan, result: Path,
               outputs: Path | None) -> tuple[list[float], str, int]:
    cmd = [sys.executable, "-m", "ronn_aot.tools.timing", "--kind", engine.kind, "--path", str(engine.path),
           "--feeds", str(feeds), "--threads", str(threads), "--warmup", str(plan.warmup),
           "--min-runs", str(plan.min_runs), "--min-seconds", str(plan.min_seconds), "--result", str(result)]
    if outputs is not None:
        cmd += ["--outputs", str(outputs)]
    result.unlink(missing_ok=True)
    env = dict(engine.env) if engine.env is not None else None
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not result.is_file():
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise RonnError(f"timing {engine.name} ({engine.kind}, {engine.path}) in a child process failed "
                        f"(exit {proc.returncode}):\n{tail}")
    data = json.loads(result.read_text())
    return [float(t) for t in data["ms"]], str(data["peers"]), int(data["pid"])


# --- the child -------------------------------------------------------------------------------

def _load(kind: str, path: str, threads: int) -> Any:
    if kind == "ronn":
        import ronn_runtime

        sess = ronn_runtime.InferenceSession(path, num_threads=threads)
    else:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess


def _child(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="time one engine (a child of ronn_aot.tools.timing.time_engines)")
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--feeds", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-runs", type=int, default=10)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--result", required=True)
    p.add_argument("--outputs")
    a = p.parse_args(argv)

    from .peer_isa import describe

    with np.load(a.feeds) as z:
        feeds = {k: z[k] for k in z.files}
    sess = _load(a.kind, a.path, a.threads)
    first = sess.run(None, feeds)
    if a.outputs:
        np.savez(a.outputs, **{f"o{i}": np.asarray(o) for i, o in enumerate(first)})
    for _ in range(a.warmup):
        sess.run(None, feeds)
    ms: list[float] = []
    start = time.perf_counter()
    while len(ms) < a.min_runs or time.perf_counter() - start < a.min_seconds:
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ms.append((time.perf_counter() - t0) * 1e3)
    Path(a.result).write_text(json.dumps({"ms": ms, "peers": describe(), "pid": os.getpid()}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
