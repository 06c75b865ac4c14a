"""The numbers a router reads, in numpy: the same arithmetic (float64) as runtime_min/src/router.c,
so thresholds calibrated here decide there as they did here."""

from __future__ import annotations

import numpy as np

from .format import Feature, Signal


def class_rows(output: np.ndarray) -> np.ndarray:
    """An output as rows of class scores: every axis but the last is a row."""
    return np.asarray(output, dtype=np.float64).reshape(-1, output.shape[-1])


def confidence(output: np.ndarray, signal: Signal, softmax: bool) -> float:
    """How confident one run's output is: the least confident of its rows."""
    rows = class_rows(output)
    if softmax:
        e = np.exp(rows - rows.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    else:
        p = rows
    if signal == Signal.MAX_PROB:
        values = p.max(axis=1)
    elif signal == Signal.MARGIN:
        top2 = np.sort(p, axis=1)[:, -2:]
        values = top2[:, 1] - top2[:, 0]
    elif signal == Signal.NEG_ENTROPY:
        values = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    else:
        raise ValueError(f"unknown confidence signal {signal!r}")
    return float(values.min())


def features(x: np.ndarray, which: list[Feature]) -> np.ndarray:
    """The input statistics `which`, over the whole input tensor."""
    v = np.asarray(x, dtype=np.float64)
    flat = v.reshape(-1)
    mean = flat.mean()
    out = []
    for f in which:
        if f == Feature.MEAN:
            out.append(mean)
        elif f == Feature.STD:
            out.append(np.sqrt(max(((flat - mean) ** 2).mean(), 0.0)))
        elif f == Feature.MEAN_ABS_DIFF:
            rows = v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1)
            out.append(np.abs(np.diff(rows, axis=1)).mean() if rows.shape[1] > 1 else 0.0)
        elif f == Feature.FRACTION_ABOVE_MEAN:
            out.append((flat > mean).mean())
        else:
            raise ValueError(f"unknown complexity feature {f!r}")
    return np.array(out, dtype=np.float64)


def agrees(fast: np.ndarray, full: np.ndarray) -> bool:
    """System 1 agrees with System 2 when every row has the same top-1 class."""
    return bool((class_rows(fast).argmax(axis=1) == class_rows(full).argmax(axis=1)).all())
