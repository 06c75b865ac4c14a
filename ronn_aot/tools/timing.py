"""Timing runtimes each in its own process: the measurement every speed number here rests on.

Two thread pools in one process disturb each other: onnxruntime's workers keep spinning after its
runs, and runtime_min's static chunks then wait for a descheduled worker (measured here on
MobileNet-v2, 2 threads: 1.94 in one process against 0.76 in separate ones). So each engine runs
in a child process of its own, one child per engine and round, the rounds alternating between the
engines (A B, B A, A B, ...) so that slow minutes of a shared machine fall on both. A child loads
the model, runs `warmup` untimed runs, then times runs until it has at least `min_runs` of them and
`min_seconds` have passed. A round's number is the median of its runs; an engine's number is the
median of its round medians, and the min-max of those is the spread a reader should see. The ratio
of two engines is the median of their per-round ratios: a round's pair ran back to back, so a slow
stretch of the machine that falls on one round moves both of its times.

A shared machine also has slow states that last tens of seconds (measured here: both runtimes 30-55%
slower, whole rounds at a time, with this process idle) and other processes competing for the CPUs.
So each child also records the state of the machine around its timed runs (`MachineState`): a fixed
single-threaded probe loop timed before and after (slower when the CPU is slower), the share of the
CPUs that other processes used meanwhile, and the hypervisor's steal time (/proc/stat). A round is
disturbed when either child saw a probe more than PROBE_SLACK slower than the fastest seen in the run,
or others' share above OTHERS_MAX, or steal above STEAL_MAX. With `RoundPlan.settle`, disturbed rounds
are run again (up to that many extra rounds) and only calm ones are reported; without it, the report
says how many rounds were disturbed.

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


# What makes a round disturbed (see the module docstring).
PROBE_SLACK = 1.10
OTHERS_MAX = 0.10
STEAL_MAX = 0.02


@dataclass(frozen=True)
class MachineState:
    """What a child saw of the machine around its timed runs: the probe loop's best time (ms) before
    and after, the share of all CPUs that other processes used during the timed runs, and the share
    stolen by the hypervisor."""

    probe_ms: float
    others: float
    steal: float

    def disturbed(self, fastest_probe: float) -> bool:
        return (self.probe_ms > fastest_probe * PROBE_SLACK or self.others > OTHERS_MAX
                or self.steal > STEAL_MAX)


@dataclass
class Timing:
    """An engine's timed runs (ms), round by round, and what its peers saw (peer_isa.describe)."""

    name: str
    rounds: list[list[float]] = field(default_factory=list)
    peers: str = ""
    pids: list[int] = field(default_factory=list)  # the child process of each round
    machine: list[MachineState] = field(default_factory=list)  # what each round's child saw

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

    @property
    def round_means(self) -> list[float]:
        """Each round's mean run time: over a stream of runs, 1 / throughput."""
        return [statistics.fmean(r) for r in self.rounds]

    @property
    def mean(self) -> float:
        """The median of the round means. Beside other work a run's time is bimodal (runs that
        met a descheduled thread take a scheduler slice longer) and the median hides the slow
        mode; the mean counts it, as a stream of inferences does."""
        return statistics.median(self.round_means)

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1) of every timed run, all rounds pooled."""
        if not 0.0 <= q <= 1.0:
            raise RonnError(f"a quantile is between 0 and 1, got {q}")
        return float(np.quantile(np.asarray(self.samples), q))


@dataclass(frozen=True)
class RoundPlan:
    """How long each child times: at least `min_runs` runs and `min_seconds`, after `warmup`."""

    rounds: int = 5
    min_runs: int = 10
    min_seconds: float = 1.0
    warmup: int = 5
    settle: int = 0  # extra rounds allowed to replace disturbed ones

    def __post_init__(self) -> None:
        if (self.rounds < 1 or self.min_runs < 1 or self.min_seconds < 0 or self.warmup < 0
                or self.settle < 0):
            raise RonnError(f"timing needs rounds >= 1, runs >= 1, seconds >= 0, warmup >= 0 and "
                            f"settle >= 0, got {self}")


def round_ratios(a: Timing, b: Timing) -> list[float]:
    """a's round median / b's, round by round (each pair ran back to back)."""
    return [x / y for x, y in zip(a.round_medians, b.round_medians)]


def ratio(a: Timing, b: Timing) -> float:
    """The median of the per-round ratios."""
    return statistics.median(round_ratios(a, b))


def ratio_spread(a: Timing, b: Timing) -> tuple[float, float]:
    """Min and max over rounds of a's round median / b's (the rounds ran side by side)."""
    ratios = round_ratios(a, b)
    return min(ratios), max(ratios)


@dataclass
class RunReport:
    """How the rounds of one `time_engines` call went: how many ran, which were disturbed and
    dropped, and the range of the machine's state over the kept ones."""

    ran: int = 0
    disturbed: list[int] = field(default_factory=list)  # round indices, as run
    dropped: list[int] = field(default_factory=list)
    probe_range: tuple[float, float] = (0.0, 0.0)  # slowest / fastest probe, over kept rounds
    others_max: float = 0.0
    steal_max: float = 0.0

    def describe(self) -> str:
        lo, hi = self.probe_range
        text = (f"machine over the kept rounds: probe {lo:.2f}-{hi:.2f}x the fastest, other processes "
                f"<= {self.others_max:.0%} of the CPUs, steal <= {self.steal_max:.0%}; ")
        if self.dropped:
            return text + f"{len(self.dropped)} disturbed round(s) of {self.ran} run again and dropped"
        if self.disturbed:
            return text + (f"{len(self.disturbed)} of {self.ran} rounds DISTURBED and kept "
                           f"(rerun on a quieter machine, or with --settle)")
        return text + "no round disturbed"


def time_engines(engines: Sequence[Engine], feeds: Mapping[str, np.ndarray], threads: int,
                 plan: RoundPlan = RoundPlan(), outputs: bool = False,
                 report: RunReport | None = None) -> tuple[dict[str, Timing], dict[str, list[np.ndarray]]]:
    """Time each engine in its own processes, rounds alternating; returns the timings and, when
    `outputs`, each engine's outputs from its first round (to compare them). `report`, when given,
    is filled with how the rounds went (disturbed, dropped, the machine's state)."""
    names = [e.name for e in engines]
    if len(set(names)) != len(names):
        raise RonnError(f"engine names must differ, got {names}")
    for e in engines:
        if e.kind not in KINDS:
            raise RonnError(f"engine {e.name!r}: kind must be one of {KINDS}, not {e.kind!r}")
    ran: list[dict[str, tuple[list[float], str, int, MachineState]]] = []
    first_outputs: dict[str, list[np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="ronn-timing-") as tmp:
        work = Path(tmp)
        feeds_path = work / "feeds.npz"
        np.savez(feeds_path, **dict(feeds))
        while True:
            r = len(ran)
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            this: dict[str, tuple[list[float], str, int, MachineState]] = {}
            for e in order:
                out = work / f"out-{names.index(e.name)}.npz" if outputs and r == 0 else None
                this[e.name] = _run_child(e, feeds_path, threads, plan, work / "result.json", out)
                if out is not None:
                    with np.load(out) as z:
                        first_outputs[e.name] = [z[f"o{i}"] for i in range(len(z.files))]
            ran.append(this)
            calm = len(ran) - len(_disturbed(ran))
            if len(ran) >= plan.rounds and (calm >= plan.rounds or len(ran) >= plan.rounds + plan.settle):
                break
    disturbed = _disturbed(ran)
    keep = [i for i in range(len(ran)) if i not in disturbed] if plan.settle else list(range(len(ran)))
    if not keep:
        keep = list(range(len(ran)))  # every round disturbed: report them all, flagged
    timings = {e.name: Timing(e.name) for e in engines}
    for i in keep:
        for name, (ms, peers, pid, state) in ran[i].items():
            t = timings[name]
            t.rounds.append(ms)
            t.peers = peers
            t.pids.append(pid)
            t.machine.append(state)
    if report is not None:
        fastest = min(s.probe_ms for rnd in ran for (*_, s) in rnd.values())
        kept = [s for i in keep for (*_, s) in ran[i].values()]
        report.ran = len(ran)
        report.disturbed = sorted(disturbed)
        report.dropped = [i for i in range(len(ran)) if i not in keep]
        report.probe_range = (min(s.probe_ms for s in kept) / fastest, max(s.probe_ms for s in kept) / fastest)
        report.others_max = max(s.others for s in kept)
        report.steal_max = max(s.steal for s in kept)
    return timings, first_outputs


def _disturbed(ran: list[dict[str, tuple[list[float], str, int, MachineState]]]) -> set[int]:
    fastest = min(s.probe_ms for rnd in ran for (*_, s) in rnd.values())
    return {i for i, rnd in enumerate(ran) if any(s.disturbed(fastest) for (*_, s) in rnd.values())}


def _run_child(engine: Engine, feeds: Path, threads: int, plan: RoundPlan, result: Path,
               outputs: Path | None) -> tuple[list[float], str, int, MachineState]:
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
    state = MachineState(float(data["probe_ms"]), float(data["others"]), float(data["steal"]))
    return [float(t) for t in data["ms"]], str(data["peers"]), int(data["pid"]), state


# --- the child -------------------------------------------------------------------------------

def probe_ms(repeats: int = 5) -> float:
    """The best of `repeats` timings of a fixed single-threaded loop (~20 ms, several scheduler
    slices, so a CPU shared with another process shows too): how fast a CPU of this machine runs
    right now, independent of the model."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        acc = 0
        for i in range(400_000):
            acc += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(busy, total, steal) jiffies over all CPUs from /proc/stat, or None where it is absent."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal, steal


def _own_cpu_seconds() -> float:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _others_and_steal(before: tuple[int, int, int] | None, after: tuple[int, int, int] | None,
                      own_cpu: float) -> tuple[float, float]:
    """Share of all CPUs used by other processes, and share stolen, between two /proc/stat reads."""
    if before is None or after is None or after[1] <= before[1]:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    total = after[1] - before[1]
    others = max(0.0, (after[0] - before[0]) - own_cpu * hz) / total
    return min(1.0, others), (after[2] - before[2]) / total

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
    probe_before = probe_ms()
    ms: list[float] = []
    jiffies, cpu = _cpu_jiffies(), _own_cpu_seconds()
    start = time.perf_counter()
    while len(ms) < a.min_runs or time.perf_counter() - start < a.min_seconds:
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ms.append((time.perf_counter() - t0) * 1e3)
    others, steal = _others_and_steal(jiffies, _cpu_jiffies(), _own_cpu_seconds() - cpu)
    probe = max(probe_before, probe_ms())  # the slower side: the state may change within a round
    Path(a.result).write_text(json.dumps({"ms": ms, "peers": describe(), "pid": os.getpid(),
                                          "probe_ms": probe, "others": others, "steal": steal}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
