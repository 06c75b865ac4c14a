"""Data-aware weight quantization ("output" fit): each quantized layer's ternary pattern and scale
chosen, output channel by output channel, to reproduce the layer's float OUTPUT on calibration
inputs rather than its weights.

BitNet's absmean rule (`quantize.quantize_weights`) needs no data: weights beyond half the channel's
mean |w| become +-1, and the scale is that mean. Post-training, on a model not trained for it, that
rule costs accuracy: on the MNIST-5k CNN, System 1 answered 0.914 against fp32's 0.957. Fitting to
the outputs instead keeps it at fp32's accuracy (0.957, agreement 0.991 on held-out images; on the
fine-tuned variant agreement 0.985 -> 0.992).

For a layer with input matrix V (its im2col for a convolution: what the kernel reads) and one output
channel's float weights w, the error of a ternary q times scale s is
    ||V w - s V q||^2 = w'Gw - 2 s q'Gw + s^2 q'Gq,    G = V'V (pooled over the inputs),
minimized over s in closed form (s = q'Gw / q'Gq, error w'Gw - (q'Gw)^2 / q'Gq). The pattern is
searched over thresholds: q = sign(w) where |w| > f * mean|w|, f in `THRESHOLDS`. Binary weights keep
their sign pattern and get the least-squares scale. V is measured in the float network (one pass):
fitting each layer to its input in the quantized network instead was no better on MNIST (agreement
0.993 vs 0.991) and costs a build per layer.

The fitted layer is written back into the module as float weights ON the quantization grid, chosen so
that `quantize_weights` maps them to exactly the fitted pattern (and to the fitted scale up to float32
rounding of a mean): every kernel family, the calibration probe and the reports then quantize them with
the one rule they already share. Only the quantized layers change; the dual compile fits System 1's
copy of the model, never System 2's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import RonnError

if TYPE_CHECKING:
    from .calibrate import Feeds
    from .config import BitnetConfig

WEIGHT_FITS = ("auto", "absmean", "output")
THRESHOLDS = np.linspace(0.3, 1.3, 21)  # candidate thresholds, in multiples of the channel's mean |w|
# G + RIDGE * trace(G) / rows * I: with few calibration rows (fewer than K, G is singular) the weights'
# own error counts too, so a direction no calibration input spans is not left arbitrary. A channel has
# two free parameters (threshold, scale), so the fit hardly overfits: on MNIST, 20 calibration images
# gave the same held-out agreement as 200 (0.990), with or without this term.
RIDGE = 0.1


@dataclass(frozen=True)
class LayerFit:
    """One layer's fit: relative output error sqrt(||V w - s V q||^2 / ||V w||^2) of absmean's values
    and of the fitted ones, over the calibration inputs."""

    index: int
    absmean_error: float
    fitted_error: float


def resolve(fit: str, has_inputs: bool) -> str:
    """The fit a configuration compiles with: "auto" is "output" when calibration inputs are given."""
    if fit not in WEIGHT_FITS:
        raise RonnError(f"bitnet weight fit must be one of {', '.join(WEIGHT_FITS)}, got {fit!r}")
    if fit == "output" and not has_inputs:
        raise RonnError("bitnet weight fit 'output' fits each layer to its float outputs on calibration inputs: "
                        "give them (--bitnet-calibration cal.npz, or with_bitnet(calibration=[feeds])), or use "
                        "--bitnet-weight-fit absmean")
    if fit == "auto":
        return "output" if has_inputs else "absmean"
    return fit


def fit_channels(w: np.ndarray, gram: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The fitted quantization of an [N, K] weight matrix given its input's Gram matrix [K, K]:
    (int8 values [N, K], float64 scales [N])."""
    w64 = np.asarray(w, np.float64)
    gw = w64 @ gram  # [N, K]: row n is (G w_n)'
    if kind == "binary":
        q = np.where(w64 >= 0, 1.0, -1.0)
        qgw, qgq = (q * gw).sum(1), ((q @ gram) * q).sum(1)
        return q.astype(np.int8), np.where(qgq > 0, qgw / np.maximum(qgq, 1e-300), 0.0)
    wgw = (w64 * gw).sum(1)
    mean = np.abs(w64).mean(1)
    best_err = np.full(w64.shape[0], np.inf)
    best_q = np.zeros_like(w64)
    best_s = np.zeros(w64.shape[0])
    for f in THRESHOLDS:
        q = np.sign(w64) * (np.abs(w64) > f * mean[:, None])
        qgw, qgq = (q * gw).sum(1), ((q @ gram) * q).sum(1)
        ok = (qgq > 0) & (qgw > 0)
        s = np.where(ok, qgw / np.where(ok, qgq, 1.0), 0.0)
        err = wgw - s * qgw
        better = err < best_err
        best_err[better], best_s[better], best_q[better] = err[better], s[better], q[better]
    return best_q.astype(np.int8), best_s


def on_grid(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Float32 weights [N, K] that `quantize_weights` quantizes to exactly `q` with scales `scale`
    (to float32 rounding): a channel's nonzero weights all +-scale * K / nnz, so that the mean |w|
    (absmean's scale) is `scale` and every nonzero weight is at least that (rounds to +-1)."""
    q = np.asarray(q, np.float32)
    nnz = np.count_nonzero(q, axis=1).astype(np.float64)
    mag = np.where(nnz > 0, np.asarray(scale, np.float64) * q.shape[1] / np.maximum(nnz, 1), 0.0)
    return (q * mag.astype(np.float32)[:, None]).astype(np.float32)


def _error(w: np.ndarray, values: np.ndarray, scale: np.ndarray, gram: np.ndarray) -> float:
    w64 = np.asarray(w, np.float64)
    d = w64 - values.astype(np.float64) * np.asarray(scale, np.float64)[:, None]
    ref = float(((w64 @ gram) * w64).sum())
    return float(np.sqrt(max(((d @ gram) * d).sum(), 0.0) / ref)) if ref > 0 else 0.0


def gram_matrices(mod: Any, inputs: Sequence[Feeds], config: BitnetConfig,
                  layers: Sequence[int]) -> dict[int, tuple[np.ndarray, int]]:
    """G = V'V of each of `layers`' input matrices (float network, pooled over `inputs`, float64),
    with the number of rows of V it sums."""
    from .calibrate import _layers, _Probe, match_inputs

    found = _layers(mod)
    probe = _Probe(mod, found, set(), config)
    args = match_inputs(mod[mod.get_global_var("main")], None, inputs)
    grams = {i: np.zeros((found[i].weight[0].size,) * 2) for i in layers}
    rows = dict.fromkeys(layers, 0)
    for feed in args:
        values = probe.run(feed, [])
        for i in layers:
            v = probe.matrix(i, values[i]).astype(np.float64)
            grams[i] += v.T @ v
            rows[i] += v.shape[0]
    return {i: (grams[i], rows[i]) for i in layers}


def fit_module(mod: Any, inputs: Sequence[Feeds], config: BitnetConfig) -> tuple[Any, list[LayerFit]]:
    """`mod` with the weights of the layers `config` quantizes replaced by their output fit (see the
    module doc), and each layer's errors before and after."""
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    from .layers import find_layers
    from .quantize import quantize_weights

    main_gv = mod.get_global_var("main")
    found = find_layers(mod[main_gv])
    chosen = config.selected(len(found))
    if not chosen:
        return mod, []
    grams = gram_matrices(mod, inputs, config, chosen)
    replaced: dict[int, np.ndarray] = {}
    report = []
    for cand in found.values():
        if cand.index not in grams:
            continue
        w = cand.weight.reshape(cand.weight.shape[0], -1)
        gram, rows = grams[cand.index]
        ridged = gram + RIDGE * np.trace(gram) / max(rows, 1) * np.eye(gram.shape[0])
        q, s = fit_channels(w, ridged, config.weights)
        new = on_grid(q, s)
        replaced[cand.index] = new.reshape(cand.weight.shape)
        before = _error(w, *quantize_weights(w, config.weights), gram)
        after = _error(w, *quantize_weights(new, config.weights), gram)
        report.append(LayerFit(cand.index, before, after))

    @mutator
    class _Refit(PyExprMutator):  # type: ignore[misc]
        def visit_call_(self, call: Any) -> Any:
            cand = found.get(call)
            new = super().visit_call_(call)
            if cand is None or cand.index not in replaced:
                return new
            w = replaced[cand.index]
            # matmul(x, W[K, N]): the candidate's matrix is W', so the constant is its transpose
            const = relax.const(w if cand.conv is not None else np.ascontiguousarray(w.T))
            return relax.Call(new.op, [new.args[0], const, *new.args[2:]], new.attrs, new.ty_args)

    out = mod.clone()
    out.update_func(main_gv, _Refit(mod).visit_expr(mod[main_gv]))
    again = find_layers(out[main_gv])
    if len(again) != len(found) or any(not np.array_equal(c.weight, replaced.get(c.index, f.weight))
                                       for c, f in zip(again.values(), found.values())):
        from ..errors import CompilationError

        raise CompilationError("bitnet weight fit: the quantizable layers changed when their weights were "
                               "replaced; please report this model (or use --bitnet-weight-fit absmean)")
    return out, report
