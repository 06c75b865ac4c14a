"""Routers: a registry of calibration procedures, one per `--route` name.

Each router turns what calibration measured (per calibration input: System 1's and System 2's
outputs, the input itself) into `RouterParams`: thresholds chosen so that the routed answers agree
with System 2's own on at least `min_agreement` of the inputs, at the least expected latency,
where a run costs System 1's time when System 1 answers, System 2's when the router sends the
input straight to it, and both when System 1 ran and was overruled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import RonnError
from . import signals
from .format import Feature, RouterKind, RouterParams, Signal


@dataclass
class Calibration:
    """What the two systems did on the calibration inputs."""

    confidence: dict[Signal, np.ndarray]  # per signal, per input: System 1's confidence
    agree: np.ndarray  # per input: System 1's answer is System 2's (bool)
    complexity_x: np.ndarray  # per input: the complexity input's features (K x F)
    features: list[Feature]
    system1_ms: float
    system2_ms: float
    min_agreement: float
    output: int  # the output confidence and agreement are read from
    softmax: bool
    complexity_input: int
    signal: Signal | None  # a fixed signal, or None: the best one


CalibrateFn = Callable[[Calibration], RouterParams]
ROUTERS: dict[str, CalibrateFn] = {}


def register(name: str) -> Callable[[CalibrateFn], CalibrateFn]:
    def add(fn: CalibrateFn) -> CalibrateFn:
        ROUTERS[name] = fn
        return fn
    return add


def get_router(name: str) -> CalibrateFn:
    try:
        return ROUTERS[name]
    except KeyError:
        raise RonnError(f"unknown router {name!r}; routers: {', '.join(sorted(ROUTERS))}") from None


@dataclass
class _Choice:
    expected_ms: float
    agreement: float
    fast_fraction: float
    threshold: float
    gate: float = math.inf


def _confidence_sweep(s: np.ndarray, agree: np.ndarray, total: int, t1: float, t2: float,
                      floor: float, escalated_base: int = 0) -> list[_Choice]:
    """Every threshold on `s` (fast when s >= threshold) among the inputs that reached System 1;
    `total` inputs in all, the others went to System 2 directly (correct by definition)."""
    order = np.argsort(-s, kind="stable")
    ss, aa = s[order], agree[order]
    n = len(ss)
    choices = []
    agree_top = np.concatenate([[0], np.cumsum(aa)])
    for k in range(n + 1):  # the k most confident are answered by System 1
        if 0 < k < n and ss[k - 1] == ss[k]:
            continue  # no threshold separates equal signals
        threshold = math.inf if k == 0 else (-math.inf if k == n else (ss[k - 1] + ss[k]) / 2)
        agreement = (agree_top[k] + (total - k)) / total
        if k == 0 and n > 0:
            continue  # System 1 would run for nothing: never better than not running it
        cost = (n * t1 + (n - k) * t2 + (total - n) * t2) / total
        choices.append(_Choice(cost, agreement, k / total, threshold))
    return [c for c in choices if c.agreement >= floor]


def _best(choices: list[_Choice], cal: Calibration) -> _Choice:
    full_only = _Choice(cal.system2_ms, 1.0, 0.0, math.inf, -math.inf)
    pool = [c for c in choices if c.agreement >= cal.min_agreement] + [full_only]
    return min(pool, key=lambda c: (round(c.expected_ms, 9), -c.agreement))


def _stats(c: _Choice, cal: Calibration, **extra: object) -> dict[str, object]:
    return {"fast_fraction": c.fast_fraction, "agreement": c.agreement, "expected_ms": c.expected_ms,
            "system1_ms": cal.system1_ms, "system2_ms": cal.system2_ms, "min_agreement": cal.min_agreement,
            "inputs": int(len(cal.agree)), "system1_agreement": float(cal.agree.mean()), **extra}


@register("confidence")
def confidence_router(cal: Calibration) -> RouterParams:
    """Run System 1; keep its answer when its confidence clears the threshold, else run System 2."""
    candidates = [cal.signal] if cal.signal is not None else list(Signal)
    best: tuple[_Choice, Signal] | None = None
    total = len(cal.agree)
    for sig in candidates:
        choice = _best(_confidence_sweep(cal.confidence[sig], cal.agree, total, cal.system1_ms,
                                         cal.system2_ms, cal.min_agreement), cal)
        if best is None or (choice.expected_ms, -choice.agreement) < (best[0].expected_ms, -best[0].agreement):
            best = (choice, sig)
    assert best is not None
    choice, sig = best
    return RouterParams(RouterKind.CONFIDENCE, cal.output, sig, cal.softmax, choice.threshold,
                        stats=_stats(choice, cal))


def _fit_linear(x: np.ndarray, hard: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression of "System 1 disagrees" on standardized features (L2, Newton steps);
    returned in the raw features' units: score = bias + weights . x."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    y = hard.astype(np.float64)
    for _ in range(25):
        p = 1 / (1 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + 1e-2 * np.r_[w[:-1], 0]
        hess = (z * (p * (1 - p))[:, None]).T @ z + 1e-2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    weights = w[:-1] / sd
    return weights, float(w[-1] - (weights * mu).sum())


def _complexity_scores(cal: Calibration) -> tuple[np.ndarray, np.ndarray, float]:
    weights, bias = _fit_linear(cal.complexity_x, ~cal.agree)
    return cal.complexity_x @ weights + bias, weights, bias


def _gate_thresholds(score: np.ndarray, steps: int = 40) -> list[float]:
    """About `steps` gates, each halfway between two neighbouring distinct scores (no calibration
    input lies on a threshold, so float rounding in the runtime cannot flip a decision)."""
    u = np.unique(score)
    picks = np.unique(np.linspace(0, len(u) - 2, min(steps, max(len(u) - 1, 0))).round().astype(int))
    return [-math.inf, *[(u[i] + u[i + 1]) / 2 for i in picks], math.inf]


@register("complexity")
def complexity_router(cal: Calibration) -> RouterParams:
    """Before running anything: System 1 when a linear score of input statistics (fitted to predict
    System 1's disagreements) is low enough, else System 2."""
    score, weights, bias = _complexity_scores(cal)
    total = len(score)
    choices = []
    for gate in _gate_thresholds(score):
        fast = score <= gate
        k = int(fast.sum())
        agreement = (cal.agree[fast].sum() + (total - k)) / total
        cost = (k * cal.system1_ms + (total - k) * cal.system2_ms) / total
        choices.append(_Choice(cost, agreement, k / total, math.inf, gate))
    choice = _best(choices, cal)
    gate = choice.gate if choice.fast_fraction > 0 else -math.inf
    return RouterParams(RouterKind.COMPLEXITY, complexity_input=cal.complexity_input, features=cal.features,
                        weights=[float(w) for w in weights], bias=bias, complexity_threshold=gate,
                        stats=_stats(choice, cal))


@register("both")
def both_router(cal: Calibration) -> RouterParams:
    """The complexity gate first (hard-looking inputs go straight to System 2), then System 1 and
    its confidence check for the rest."""
    score, weights, bias = _complexity_scores(cal)
    total = len(score)
    candidates = [cal.signal] if cal.signal is not None else list(Signal)
    best: tuple[_Choice, Signal] | None = None
    for gate in _gate_thresholds(score):
        passed = score <= gate
        for sig in candidates:
            for c in _confidence_sweep(cal.confidence[sig][passed], cal.agree[passed], total, cal.system1_ms,
                                       cal.system2_ms, cal.min_agreement):
                c.gate = gate
                if best is None or (c.expected_ms, -c.agreement) < (best[0].expected_ms, -best[0].agreement):
                    best = (c, sig)
    full_only = _Choice(cal.system2_ms, 1.0, 0.0, math.inf, -math.inf)
    if best is None or best[0].expected_ms >= full_only.expected_ms:
        best = (full_only, cal.signal or Signal.MARGIN)
    choice, sig = best
    return RouterParams(RouterKind.COMPLEXITY | RouterKind.CONFIDENCE, cal.output, sig, cal.softmax,
                        choice.threshold, cal.complexity_input, cal.features, [float(w) for w in weights], bias,
                        choice.gate if choice.fast_fraction > 0 else -math.inf, stats=_stats(choice, cal))


def route_of(params: RouterParams, x: np.ndarray | None, fast_output: np.ndarray | None) -> str:
    """Where `route=auto` sends one input ("fast" or "full"): the runtime's decision, in numpy."""
    if params.kind & RouterKind.COMPLEXITY:
        assert x is not None
        score = params.bias + float(signals.features(x, params.features) @ np.array(params.weights))
        if not score <= params.complexity_threshold:
            return "full"
    if params.kind & RouterKind.CONFIDENCE:
        if params.confidence_threshold == math.inf:
            return "full"
        assert fast_output is not None
        c = signals.confidence(fast_output, params.signal, params.softmax)
        return "fast" if c >= params.confidence_threshold else "full"
    return "fast"
