"""Data-aware weight quantization ("output" fit): each quantized layer's ternary pattern and scale
chosen, output channel by output channel, to reproduce the layer's float OUTPUT on calibration
inputs rather than its weights.

BitNet's absmean rule (`quantize.quantize_weights`) needs no data: weights beyond half the channel's
mean |w| become +-1, and the scale is that mean. Post-training, on a model not trained for it, that
rule costs accuracy: on the MNIST-5k CNN, System 1 answered 0.914 against fp32's 0.957. Fitting to
the outputs instead keeps it at fp32's accuracy (0.957, agreement with fp32 0.930 -> 0.993 on
held-out images).

For one output channel with float weights w, a ternary q times a scale s answers with error
    ||V_f w - s V_q q||^2 = w'Fw - 2 s q'Cw + s^2 q'Gq,    G = V_q'V_q, C = V_q'V_f, F = V_f'V_f,
where V_f is the layer's input matrix in the float network and V_q in the quantized one (its im2col
for a convolution, as the kernel reads it; upstream layers already fitted, activations quantized
with their calibrated scales), pooled over the calibration inputs. The scale has a closed form
(s = q'Cw / q'Gq); the pattern is searched over thresholds: q = sign(w) where |w| > f * mean|w|, f
in `THRESHOLDS`. Binary weights keep their sign pattern and get the least-squares scale. Fitting
to V_q rather than to V_f alone lets a layer make up for the error upstream of it: the layers are
fitted in graph order, in the same walk that calibrates the activation statistics
(`calibrate._calibrate_module` with a `StageFitter`), so each statistic is measured downstream of
the fitted layers.

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
from .config import WEIGHT_FITS

if TYPE_CHECKING:
    from .calibrate import Feeds
    from .config import BitnetConfig
    from .reference import ActStats
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


def fit_channels(w: np.ndarray, gram: np.ndarray, kind: str,
                 cross: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The fitted quantization of an [N, K] weight matrix given G = V_q'V_q [K, K] and C = V_q'V_f
    (default G: the same input on both sides), minimizing ||V_f w - s V_q q||^2 per channel:
    (int8 values [N, K], float64 scales [N])."""
    w64 = np.asarray(w, np.float64)
    gw = w64 @ (gram if cross is None else cross).T  # [N, K]: row n is (C w_n)'
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


def _error(w: np.ndarray, values: np.ndarray, scale: np.ndarray, gram: np.ndarray, cross: np.ndarray,
           target: np.ndarray) -> float:
    """sqrt(||V_f w - V_q s q||^2 / ||V_f w||^2) from G = V_q'V_q, C = V_q'V_f and F = V_f'V_f."""
    w64 = np.asarray(w, np.float64)
    sq = values.astype(np.float64) * np.asarray(scale, np.float64)[:, None]
    ref = float(((w64 @ target) * w64).sum())
    err = ref - 2 * float(((sq @ cross) * w64).sum()) + float(((sq @ gram) * sq).sum())
    return float(np.sqrt(max(err, 0.0) / ref)) if ref > 0 else 0.0


class _SequentialFit:
    """The `calibrate.StageFitter` of the output fit: for a layer, G = V_q'V_q and C = V_q'V_f over
    the calibration inputs, V_q its input in the quantized network (upstream layers already
    fitted, activations quantized with their calibrated scales), V_f in the float network."""

    def __init__(self, mod: Any, args: list[list[np.ndarray]], layers: list[Any], config: BitnetConfig) -> None:
        self.mod, self.args, self.layers, self.config, self.kind = mod, args, layers, config, config.weights
        self._float_probe: Any = None  # built on first use: a model with no layer to fit needs none
        self.sums: dict[int, list[Any]] = {}  # layer -> [G, C, F, rows]
        self.fitted: dict[int, tuple[np.ndarray, LayerFit]] = {}

    def see(self, layer: int, feed: int, v: np.ndarray) -> None:
        if self._float_probe is None:
            from .calibrate import _Probe

            self._float_probe = _Probe(self.mod, self.layers, set(), self.config)
        probe = self._float_probe
        vf = probe.matrix(layer, probe.run(self.args[feed], [])[layer]).astype(np.float64)
        vq = v.astype(np.float64)
        k = vq.shape[1]
        g, c, f, rows = self.sums.setdefault(layer, [np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k)), 0])
        g += vq.T @ vq
        c += vq.T @ vf
        f += vf.T @ vf
        self.sums[layer][3] = rows + vq.shape[0]

    def fit(self, layer: int) -> np.ndarray:
        """The layer's fitted weights on the quantization grid (the module's new constant), and the
        fake-quantized weights the probe runs with from now on (what the kernels will compute)."""
        from .quantize import quantize_weights

        cand = self.layers[layer]
        g, c, f, rows = self.sums.pop(layer)
        ridge = RIDGE * np.trace(g) / max(rows, 1) * np.eye(g.shape[0])
        w = cand.weight.reshape(cand.weight.shape[0], -1)
        q, scale = fit_channels(w, g + ridge, self.kind, cross=c + ridge)
        grid = on_grid(q, scale)
        before = _error(w, *quantize_weights(w, self.kind), g, c, f)
        values, final = quantize_weights(grid, self.kind)
        after = _error(w, values, final, g, c, f)
        self.fitted[layer] = (grid.reshape(cand.weight.shape), LayerFit(layer, before, after))
        fake = values.astype(np.float32) * final[:, None]
        return fake.reshape(cand.weight.shape) if cand.conv is not None else np.ascontiguousarray(fake.T)


def fit_module(mod: Any, inputs: Sequence[Feeds], config: BitnetConfig
               ) -> tuple[Any, list[LayerFit], tuple[ActStats, ...]]:
    """`mod` with the weights of the layers `config` quantizes replaced by their output fit (see the
    module doc), each layer's errors before and after, and the activation statistics calibrated
    on `inputs` in the fitted network (`calibrate.calibrate` of the returned module measures the same)."""
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    from .calibrate import _calibrate_module, match_inputs
    from .layers import find_layers

    main_gv = mod.get_global_var("main")
    found = find_layers(mod[main_gv])
    fitter = _SequentialFit(mod, match_inputs(mod[main_gv], None, inputs), list(found.values()), config)
    stats = _calibrate_module(mod, None, inputs, config, True, fitter)
    replaced = {i: grid for i, (grid, _) in fitter.fitted.items()}
    report = [fit for _, fit in sorted((i, f) for i, (_, f) in fitter.fitted.items())]

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
    return out, report, stats
