"""What `CompileOptions.with_dual(...)` holds (no TVM import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import RonnError, ShapeError
from .format import Signal

DEFAULT_MIN_AGREEMENT = 0.99
SIGNALS = {s.name.lower(): s for s in Signal}  # max_prob, margin, neg_entropy


@dataclass(frozen=True)
class DualConfig:
    """System 1 (these BitNet choices) + System 2 (the model at full precision) + a router.

    route: a name from `ronn_aot.dual.ROUTERS` ("confidence", "complexity", "both").
    calibration: the calibration inputs (feeds: dicts of model input name -> array), or the path of
        an .npz (arrays <input> stacked [S, *input shape], or <input>_<k>); inputs only: agreement
        is measured against System 2's own outputs.
    min_agreement: the fraction of calibration inputs on which route="auto" must answer as System 2.
    output: the output (name or index) confidence and agreement are read from; None: the first
        float output with a class axis (last dimension >= 2).
    signal: the confidence signal ("max_prob", "margin", "neg_entropy"); None: the cheapest one
        that reaches the agreement.
    latency_ms: the per-run latencies of (System 1, System 2) the expected-latency objective uses;
        None measures them on this machine while calibrating (a device that is not this machine
        can give its own).
    """

    bitnet: Any  # BitnetConfig: System 1's quantization
    route: str = "confidence"
    calibration: str | Path | tuple[Mapping[str, np.ndarray], ...] | None = field(default=None, compare=False,
                                                                                  repr=False)
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    output: str | int | None = None
    signal: Signal | None = None
    latency_ms: tuple[float, float] | None = None  # (System 1, System 2) per run; None: measured

    def __post_init__(self) -> None:
        from .routers import get_router

        get_router(self.route)
        if not 0.0 < self.min_agreement <= 1.0:
            raise RonnError(f"route min agreement must be in (0, 1], e.g. 0.99; got {self.min_agreement!r}")
        if self.latency_ms is not None and not (len(self.latency_ms) == 2 and all(t > 0 for t in self.latency_ms)):
            raise RonnError(f"route latency_ms must be two positive numbers (System 1, System 2), got {self.latency_ms!r}")
        if self.calibration is None:
            raise RonnError("a dual artifact needs calibration inputs to set its router's thresholds: pass "
                            "calibration=<feeds or .npz> (CLI: --route-calibration cal.npz; inputs only, no labels)")


def parse_signal(name: str | None) -> Signal | None:
    if name is None:
        return None
    try:
        return SIGNALS[name]
    except KeyError:
        raise RonnError(f"unknown confidence signal {name!r}; signals: {', '.join(SIGNALS)}") from None


def calibration_feeds(config: DualConfig, inputs: Sequence[Any]) -> list[dict[str, np.ndarray]]:
    """The calibration inputs as feeds, each checked against the model's inputs (TensorSpec)."""
    names = [s.name for s in inputs]
    if isinstance(config.calibration, (str, Path)):
        from ..bitnet.calibrate import load_npz

        feeds = load_npz(config.calibration, names)
        where = str(config.calibration)
    else:
        feeds = [dict(f) for f in (config.calibration or ())]
        where = "the calibration feeds"
    if not feeds:
        raise RonnError(f"{where} hold no inputs: give at least a few dozen representative inputs")
    for k, feed in enumerate(feeds):
        extra = sorted(set(feed) - set(names))
        missing = [n for n in names if n not in feed]
        if extra or missing:
            raise RonnError(f"{where}, input {k}: names {extra} are not model inputs and {missing} are "
                            f"missing; the model's inputs are {names}")
        for spec in inputs:
            a = np.asarray(feed[spec.name])
            if a.shape != tuple(spec.shape):
                raise ShapeError(f"{where}, input {k}: {spec.name!r} has shape {list(a.shape)}, the model "
                                 f"takes {list(spec.shape)} (stack samples on a new leading axis)")
            if str(a.dtype) != spec.dtype:
                raise RonnError(f"{where}, input {k}: {spec.name!r} is {a.dtype}, the model takes "
                                f"{spec.dtype}: convert it (no implicit casts)")
            feed[spec.name] = np.ascontiguousarray(a)
    return feeds
