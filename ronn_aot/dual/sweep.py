"""`ronn-aot bench model.so --route-sweep data.npz [--labels labels.npy] [--plot curve.png]`: the
accuracy (or agreement with System 2) of a dual artifact against its latency per run, over the
confidence threshold, beside System 1 alone, System 2 alone and the calibrated router."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RonnError
from . import signals
from .format import RouterKind, Signal, read_dual


@dataclass
class SweepPoint:
    label: str
    fast_fraction: float
    quality: float  # accuracy with labels, else agreement with System 2
    ms: float  # per run, trimmed mean: measured (systems, router) or modelled (thresholds)
    threshold: float = math.nan


@dataclass
class Sweep:
    metric: str  # "accuracy" or "agreement with System 2"
    runs: int
    system1: SweepPoint
    system2: SweepPoint
    router: SweepPoint
    curve: list[SweepPoint] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"route sweep over {self.runs} inputs; quality = {self.metric}; ms = mean per run without its "
                 "slowest 5% (other processes' bursts on a shared machine); the curve is modelled as System 1 "
                 "always + System 2 when escalated, from the two systems' measured times",
                 f"{'':<26}{'fast':>6}{'quality':>9}{'ms':>9}{'vs full':>9}"]
        for p in [self.system2, self.system1, self.router, *self.curve]:
            lines.append(f"{p.label:<26}{p.fast_fraction:>6.2f}{p.quality:>9.4f}{p.ms:>9.4f}"
                         f"{p.ms / self.system2.ms:>8.2f}x")
        return "\n".join(lines)


def _trimmed_mean(times: list[float], drop: float = 0.05) -> float:
    kept = sorted(times)[:max(1, int(round(len(times) * (1 - drop))))]
    return float(np.mean(kept))


def _by_route(times: list[float], fast: list[bool]) -> float:
    """The router's time per run: each route's runs trimmed on their own (a trim over both would cut
    the escalated runs, the slow mode), weighted by how often the route was taken."""
    groups = [[t for t, f in zip(times, fast) if f == side] for side in (True, False)]
    return sum(len(g) / len(times) * _trimmed_mean(g) for g in groups if g)


def _timed(sess: Any, feed: dict[str, np.ndarray], route: str) -> tuple[list[np.ndarray], float]:
    t0 = time.perf_counter()
    out = sess.run(None, feed, route=route)
    return out, 1e3 * (time.perf_counter() - t0)


def route_sweep(artifact: str | Path, data: str | Path, labels: str | Path | None = None, threads: int = 0,
                points: int = 21) -> Sweep:
    """Measure System 1, System 2 and route=auto on every input of `data` (an .npz of inputs, as
    --route-calibration takes them) and model the threshold curve from the same runs."""
    import ronn_runtime

    from ..bitnet.calibrate import load_npz

    dual = read_dual(Path(artifact))
    if dual is None:
        raise RonnError(f"{artifact} is a plain artifact: --route-sweep needs one compiled with --dual")
    params, _ = dual
    sess = ronn_runtime.InferenceSession(str(artifact), num_threads=threads)
    feeds = load_npz(data, [a.name for a in sess.get_inputs()])
    out = params.confidence_output if params.kind & RouterKind.CONFIDENCE else 0
    signal = params.signal if params.kind & RouterKind.CONFIDENCE else Signal.MARGIN
    truth = None
    if labels is not None:
        truth = np.load(labels, allow_pickle=False).reshape(len(feeds), -1)
    fast_t, full_t, auto_t, conf, fast_ok, full_ok, auto_ok, auto_fast = [], [], [], [], [], [], [], []
    for i, feed in enumerate(feeds):
        fast, t1 = _timed(sess, feed, "fast")
        full, t2 = _timed(sess, feed, "full")
        auto, ta = _timed(sess, feed, "auto")
        fast_t.append(t1)
        full_t.append(t2)
        auto_t.append(ta)
        auto_fast.append(sess.last_route == "fast")
        conf.append(signals.confidence(fast[out], signal, params.softmax))
        want = truth[i] if truth is not None else signals.class_rows(full[out]).argmax(axis=1)
        for got, ok in ((fast, fast_ok), (full, full_ok), (auto, auto_ok)):
            ok.append(bool((signals.class_rows(got[out]).argmax(axis=1) == want).all()))
    t1m, t2m = _trimmed_mean(fast_t), _trimmed_mean(full_t)
    c, f_ok, s_ok = np.array(conf), np.array(fast_ok), np.array(full_ok)
    curve = []
    for q in np.linspace(0, 1, points):
        threshold = math.inf if q == 0 else float(np.quantile(c, 1 - q))
        use = c >= threshold
        curve.append(SweepPoint(f"threshold {threshold:.4g}", float(use.mean()),
                                float(np.where(use, f_ok, s_ok).mean()),
                                (t1m if use.any() else 0.0) + float((~use).mean()) * t2m, threshold))
    return Sweep("accuracy" if truth is not None else "agreement with System 2", len(feeds),
                 SweepPoint("System 1 alone (fast)", 1.0, float(f_ok.mean()), t1m),
                 SweepPoint("System 2 alone (full)", 0.0, float(s_ok.mean()), t2m),
                 SweepPoint(f"router ({params.name}, auto)", float(np.mean(auto_fast)), float(np.mean(auto_ok)),
                            _by_route(auto_t, auto_fast)),
                 curve)


def plot(sweep: Sweep, path: Path) -> None:
    """Quality against mean latency: the threshold curve and the three operating points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p.ms for p in sweep.curve], [p.quality for p in sweep.curve], "-", color="0.6",
            label="threshold sweep (modelled)")
    for p, style in ((sweep.system2, "s"), (sweep.system1, "^"), (sweep.router, "o")):
        ax.plot([p.ms], [p.quality], style, markersize=9, label=f"{p.label}: {p.fast_fraction:.2f} fast")
    ax.set_xlabel("latency per run (ms, mean without the slowest 5%)")
    ax.set_ylabel(sweep.metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
