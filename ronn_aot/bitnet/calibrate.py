"""Fixed activation statistics measured on calibration inputs (`BitnetConfig.calibration`).

Without calibration, each quantized layer's `pack` kernel measures its input at run time, input by
input (per-tensor absmax for int codes; mean and mean absolute deviation for sign codes). With it,
the same statistics are measured here once, over a few representative inputs, and compiled in as
constants: the scales no longer depend on the one input being run (nor couple the images of a
batch), and the kernels skip the reduction.

The layers are enumerated by `layers.find_layers` on the imported Relax module, exactly as the
rewrite enumerates them, and their inputs are evaluated by running that same module (built
unscheduled for the host CPU, returning the layers' input tensors instead of its outputs), so
index i here is index i of `BitnetConfig.layers` by construction. The statistics of each layer's
input matrix V (`reference.im2col` for a convolution, as the kernels read it: padding zeros and
overlapping windows count) are then taken in numpy, in float64, over all the inputs at once.

By default a layer's input is measured in the quantized network, its upstream quantized layers
running (fake-quantized in float) with the statistics calibrated for them, layer after layer: the
statistics the kernels would measure at run time, so a single calibration input reproduces the
run-time ones. `network="float"` measures in the float model instead (one pass, independent of
`layers`), which is another operating point: see `calibrate`.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

import numpy as np

from ..errors import CompilationError, RonnError, ShapeError
from .quantize import quantize_weights
from .reference import _EPS, ActStats, im2col, qmax

if TYPE_CHECKING:
    import onnx

    from .config import BitnetConfig
    from .layers import _Candidate

Feeds = Mapping[str, np.ndarray]


NETWORKS = ("quantized", "float")


def calibrate(model: str | Path | onnx.ModelProto | Any, inputs: Sequence[Feeds], config: BitnetConfig,
              input_shapes: Mapping[str, tuple[int, ...]] | None = None,
              network: str = "quantized") -> tuple[ActStats, ...]:
    """Activation statistics of every quantizable layer (same indexing as `config.layers`).

    model: an ONNX model (path or ModelProto; `input_shapes` fixes symbolic dimensions as in
        `CompileOptions.with_input_shape`), or the Relax IRModule it imports to.
    inputs: calibration feeds, each a dict of model input name -> array of the input's shape.
    config: the quantization the statistics are for (weights, activation bits, layers).
    network: "quantized" (default) measures each layer's input in the network `config` compiles,
        its upstream layers quantized with their calibrated statistics: what the kernels would
        measure at run time, pooled over the inputs. "float" measures it in the float model
        instead (independent of `layers`); a different operating point, which can be better or
        worse (bench/bitnet/mnist_calibration.py: far better for the XNOR post-training model,
        far worse for the XNOR fine-tuned one, which trained on the quantized network's statistics).
    """
    if network not in NETWORKS:
        raise RonnError(f"bitnet calibration network must be one of {', '.join(NETWORKS)}, got {network!r}")
    names: list[str] | None = None
    if _is_ir_module(model):
        mod = model
    else:
        from ..stages.frontend import import_model

        imported = import_model(model, input_shapes)
        mod, names = imported.mod, [s.name for s in imported.inputs]
    return _calibrate_module(mod, names, inputs, config, network == "quantized")


def _is_ir_module(obj: Any) -> bool:
    if isinstance(obj, (str, Path)):
        return False
    import tvm

    return isinstance(obj, tvm.IRModule)


class StageFitter(Protocol):
    """Fits a quantized layer's weights while the calibration walks the network (fit.py): `see`
    gets the layer's input matrix in the quantized network for each calibration input (its index
    in the feeds), `fit` then returns the layer's new fake-quantized float weights."""

    def see(self, layer: int, feed: int, v: np.ndarray) -> None: ...

    def fit(self, layer: int) -> np.ndarray: ...


def _calibrate_module(mod: Any, names: list[str] | None, inputs: Sequence[Feeds], config: BitnetConfig,
                      quantized: bool, fitter: StageFitter | None = None) -> tuple[ActStats, ...]:
    args = match_inputs(mod[mod.get_global_var("main")], names, inputs)
    layers = _layers(mod)
    if not layers:
        return ()
    chosen = set(config.selected(len(layers))) if quantized else set()
    probe = _Probe(mod, layers, chosen, config, weight_params=fitter is not None)
    stats: list[ActStats] = [ActStats(1.0)] * len(layers)  # placeholders until measured
    start = 0
    while start < len(layers):
        # Graph order is topological: a layer's input depends on earlier layers only. So once the
        # layers before `start` have their statistics, every layer up to the next quantized one
        # reads inputs that no unknown statistic affects: one stage of measurements.
        stop = next((i + 1 for i in range(start, len(layers)) if i in chosen), len(layers))
        last = stop - 1 if fitter is not None and stop - 1 in chosen else None
        stats[start:stop] = _measure(probe, args, stats, range(start, stop), config.activation_bits,
                                     None if last is None else (last, fitter.see))  # type: ignore[union-attr]
        if last is not None:
            # its weights act downstream only: fitted to the input it now sees, before the next stage
            probe.weights[last] = fitter.fit(last)  # type: ignore[union-attr]
        start = stop
    return tuple(stats)


def _measure(probe: _Probe, args: list[list[np.ndarray]], stats: list[ActStats], stage: range,
             bits: int, visit: tuple[int, Callable[[int, int, np.ndarray], None]] | None = None
             ) -> list[ActStats]:
    """The statistics of layers `stage` over all calibration inputs (float64 sums); `visit`
    (layer, fn): fn(layer, feed index, matrix) for that layer's matrix of every input, once."""
    def matrices(feed: list[np.ndarray], k: int | None = None) -> list[np.ndarray]:
        values = probe.run(feed, stats)
        out = [probe.matrix(i, values[i]) for i in stage]
        if visit is not None and k is not None:
            visit[1](visit[0], k, out[stage.index(visit[0])])
        return out

    n = len(stage)
    if bits == 1:
        # threshold = mean of V over every input; scale = mean |V - threshold|. The deviation
        # needs the threshold first: a second pass (running the probe again costs less memory
        # than keeping every layer's input for every sample)
        total, count = np.zeros(n), np.zeros(n)
        for k, feed in enumerate(args):
            for j, v in enumerate(matrices(feed, k)):
                total[j] += v.sum(dtype=np.float64)
                count[j] += v.size
        mean = total / np.maximum(count, 1)
        dev = np.zeros(n)
        for feed in args:
            for j, v in enumerate(matrices(feed)):
                dev[j] += np.abs(v.astype(np.float64) - mean[j]).sum()
        return [ActStats(float(max(d / max(c, 1), float(_EPS))), float(t)) for d, c, t in zip(dev, count, mean)]
    amax = np.zeros(n, np.float32)
    for k, feed in enumerate(args):
        for j, v in enumerate(matrices(feed, k)):
            if v.size:
                amax[j] = max(amax[j], np.abs(v).max())
    # the same float32 expression as `reference.activation_stats` (and the pack kernel)
    return [ActStats(float(np.maximum(a, _EPS) / np.float32(qmax(bits)))) for a in amax]


def _layers(mod: Any) -> list[_Candidate]:
    from .layers import find_layers

    return list(find_layers(mod[mod.get_global_var("main")]).values())


class _Probe:
    """The imported model, built unscheduled for the host CPU, returning the input tensor of every
    quantizable layer instead of the model's outputs. Layers in `chosen` compute what their
    bit-serial kernels compute, in float (fake quantization: x rounded to its codes times the
    scale, weights to their ternary / binary values times the channel scale), with each layer's
    statistics a run-time argument, so that one build serves every calibration stage."""

    def __init__(self, mod: Any, layers: list[_Candidate], chosen: set[int], config: BitnetConfig,
                 weight_params: bool = False) -> None:
        import tvm
        from tvm import relax
        from tvm.relax.expr_functor import PyExprMutator, mutator

        from .layers import find_layers

        self.layers, self.chosen, self.bits = layers, sorted(chosen), config.activation_bits
        main_gv = mod.get_global_var("main")
        # Dataflow vars are invisible outside their block; without dataflow blocks any binding can
        # be returned. The pass keeps every binding in place, so find_layers enumerates the same
        # calls in the same order: checked rather than assumed.
        flat = relax.transform.ToNonDataflow()(mod)
        found = find_layers(flat[main_gv])
        again = list(found.values())
        if len(again) != len(layers) or any(a.op != b.op or not np.array_equal(a.weight, b.weight)
                                            for a, b in zip(again, layers)):
            raise CompilationError("bitnet calibration: the quantizable layers changed when the module was "
                                   "prepared for evaluation; please report this model")
        # per quantized layer (a, b, c): int codes: x -> clip(round(x / a)) * a; sign: x >= a ? b : c
        qparams = {i: relax.Var(f"bitnet_q{i}", relax.TensorType((3,), "float32")) for i in self.chosen}
        # the quantized layers' fake-quantized float weights (conv: OIHW; matmul: [K, N]), and with
        # `weight_params` run-time arguments (`self.weights`, which a fit replaces) instead of constants
        self.weights: dict[int, np.ndarray] = {}
        for i in self.chosen:
            cand = layers[i]
            values, scale = quantize_weights(cand.weight.reshape(cand.weight.shape[0], -1), config.weights)
            w = values.astype(np.float32) * scale[:, None]
            self.weights[i] = w.reshape(cand.weight.shape) if cand.conv is not None else np.ascontiguousarray(w.T)
        wparams = {i: relax.Var(f"bitnet_w{i}", relax.TensorType(self.weights[i].shape, "float32"))
                   for i in (self.chosen if weight_params else [])}
        self._weight_params = weight_params
        inputs: dict[int, Any] = {}
        bits = config.activation_bits
        probe_weights = self.weights

        @mutator
        class _Fake(PyExprMutator):  # type: ignore[misc]
            def visit_call_(self, call: Any) -> Any:
                cand = found.get(call)
                new = super().visit_call_(call)
                if cand is None:
                    return new
                inputs[cand.index] = new.args[0]
                return new if cand.index not in qparams else self._fake(new, cand, qparams[cand.index])

            def _fake(self, call: Any, cand: _Candidate, q: Any) -> Any:
                bb, op = self.builder_, relax.op
                x = call.args[0]
                a, b, c = (bb.emit(op.strided_slice(q, axes=[0], begin=[i], end=[i + 1])) for i in range(3))
                g = cand.conv
                if g is not None and any(g.pads):
                    # the kernels quantize the padding zeros too (sign codes make them +-1)
                    t, l, btm, r = g.pads
                    x = bb.emit(op.nn.pad(x, [0, 0, 0, 0, t, btm, l, r]))
                if bits == 1:
                    x = bb.emit(op.where(op.greater_equal(x, a), b, c))
                else:
                    m = relax.const(float(qmax(bits)), "float32")
                    x = bb.emit(op.multiply(op.minimum(op.maximum(op.round(op.divide(x, a)), op.negative(m)), m), a))
                w = wparams[cand.index] if cand.index in wparams else relax.const(probe_weights[cand.index])
                if g is None:
                    return op.matmul(x, w)
                return op.nn.conv2d(x, w, g.strides, 0, g.dilation)

        rewriter = _Fake(flat)
        func = rewriter.visit_expr(flat[main_gv])
        values = [inputs[i] for i in range(len(layers))]
        ty = relax.TupleType([v.ty for v in values])
        out = relax.Var("bitnet_calibration", ty)
        body = relax.SeqExpr([*func.body.blocks, relax.BindingBlock([relax.VarBinding(out, relax.Tuple(values))])],
                             out)
        probe = relax.Function([*func.params, *qparams.values(), *wparams.values()], body, ty, func.is_pure,
                               func.attrs)
        funcs = {gv: f for gv, f in flat.functions.items() if gv != main_gv}
        funcs[main_gv] = probe
        try:
            # the model's own outputs are no longer used: dead-code elimination drops them
            exe = tvm.compile(tvm.IRModule(funcs, attrs=flat.attrs), target=tvm.target.Target("llvm"))
        except Exception as e:
            detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise CompilationError(f"bitnet calibration: could not build the model to measure activations: "
                                   f"{detail}") from e
        self._dev = tvm.cpu()
        self._vm = relax.VirtualMachine(exe, self._dev)

    def run(self, feed: list[np.ndarray], stats: list[ActStats]) -> list[np.ndarray]:
        """The input tensor of every layer, with the quantized layers using `stats`."""
        import tvm

        q = [self._qvector(stats[i]) for i in self.chosen]
        w = [self.weights[i] for i in self.chosen] if self._weight_params else []
        result = self._vm["main"](*[tvm.runtime.tensor(a, self._dev) for a in [*feed, *q, *w]])
        return [r.numpy() for r in result]

    def _qvector(self, stats: ActStats) -> np.ndarray:
        s = np.float32(stats.scale)
        if self.bits != 1:
            return np.array([s, 0, 0], np.float32)
        # x -> t' +- s with t' the threshold as the kernel's epilogue adds it (a fixed-point code)
        step, t, code = stats.vector(1)
        t_fixed = np.float32(code) * step
        return np.array([t, t_fixed + s, t_fixed - s], np.float32)

    def matrix(self, i: int, value: np.ndarray) -> np.ndarray:
        """Layer i's input matrix V [M, K], as its pack kernel reads it."""
        cand = self.layers[i]
        if cand.conv is not None:
            return im2col(value, cand.conv)
        return np.asarray(value, np.float32).reshape(-1, cand.weight.shape[1])


def _tvm_input_name(name: str) -> str:
    """The Relax parameter name TVM's ONNX importer gives an input (its sanitizing rule)."""
    s = name.replace(".", "_")
    return s if s and (s[0].isalpha() or s[0] == "_") else "input_" + s


def _param_index(key: str, names: list[str] | None, hints: list[str]) -> int | None:
    if names is not None:
        return names.index(key) if key in names else None
    for i, hint in enumerate(hints):
        if key == hint or _tvm_input_name(key) == hint:
            return i
    return None


def match_inputs(main: Any, names: list[str] | None, inputs: Sequence[Feeds]) -> list[list[np.ndarray]]:
    """The calibration feeds as argument lists of `main`, checked against its parameters.

    names: the ONNX input names of `main`'s parameters, in order; None when only the Relax module
    is known (the compile path), where a feed name matches a parameter by TVM's sanitizing rule.
    """
    params = list(main.params)
    specs = [(str(p.name), tuple(int(d) for d in p.ty.shape.values), str(p.ty.dtype)) for p in params]
    shown = names or [s[0] for s in specs]
    if isinstance(inputs, Mapping) or not isinstance(inputs, Sequence) or not len(inputs):
        raise RonnError("bitnet calibration inputs must be a non-empty list of feeds "
                        "(dicts of model input name -> array), one per calibration sample")
    args = []
    for n, feed in enumerate(inputs):
        if not isinstance(feed, Mapping):
            raise RonnError(f"bitnet calibration input #{n} is a {type(feed).__name__}; expected a dict "
                            f"of model input name -> array")
        by_param: dict[int, str] = {}
        for key in feed:
            i = _param_index(str(key), names, [s[0] for s in specs])
            if i is None:
                raise RonnError(f"bitnet calibration input #{n} names {key!r}, which the model does not have; "
                                f"its inputs are: {', '.join(map(repr, shown))}")
            if i in by_param:
                raise RonnError(f"bitnet calibration input #{n} gives model input {shown[i]!r} twice "
                                f"({by_param[i]!r} and {key!r})")
            by_param[i] = key
        row = []
        for i, (_, shape, dtype) in enumerate(specs):
            if i not in by_param:
                raise RonnError(f"bitnet calibration input #{n} has no array for model input {shown[i]!r} "
                                f"({dtype}{list(shape)})")
            key = by_param[i]
            a = np.asarray(feed[key])
            if a.shape != shape:
                raise ShapeError(f"bitnet calibration input #{n}: {key!r} has shape {list(a.shape)}, the model's "
                                 f"input has shape {list(shape)}")
            if a.dtype != np.dtype(dtype):
                if not np.can_cast(a.dtype, dtype, "same_kind"):
                    raise RonnError(f"bitnet calibration input #{n}: {key!r} is {a.dtype}, the model's input is "
                                    f"{dtype}")
                a = a.astype(dtype)
            row.append(np.ascontiguousarray(a))
        args.append(row)
    return args


NPZ_FORMAT = ("arrays named <input> hold samples stacked along a leading axis (shape [S, *input shape]); "
              "arrays named <input>_<k> hold sample k = 0, 1, ... each")


def load_npz(path: str | Path, input_names: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Calibration feeds from an .npz file (see NPZ_FORMAT), for a model with these inputs."""
    path = Path(path)
    if not path.is_file():
        raise RonnError(f"calibration file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise RonnError(f"{path} is not a readable .npz file of arrays: {e}") from e
    if not arrays:
        raise RonnError(f"{path} holds no arrays; {NPZ_FORMAT}")
    names = set(input_names)
    stacked: dict[str, np.ndarray] = {}
    single: dict[str, dict[int, np.ndarray]] = {}
    for key, a in arrays.items():
        if key in names:  # an exact input name wins over the <input>_<k> reading
            if a.ndim == 0:
                raise ShapeError(f"{path}: array {key!r} is a scalar; {NPZ_FORMAT}")
            stacked[key] = a
            continue
        m = re.fullmatch(r"(.+)_(\d+)", key)
        if m is None or m.group(1) not in names:
            raise RonnError(f"{path}: array {key!r} names no model input; {NPZ_FORMAT}; the model's inputs "
                            f"are: {', '.join(map(repr, input_names))}")
        single.setdefault(m.group(1), {})[int(m.group(2))] = a
    both = sorted(set(stacked) & set(single))
    if both:
        raise RonnError(f"{path}: input {both[0]!r} is given both stacked and per sample; use one form")
    counts = {name: len(a) for name, a in stacked.items()}
    for name, ks in single.items():
        if sorted(ks) != list(range(len(ks))):
            missing = min(set(range(max(ks) + 1)) - set(ks))
            raise RonnError(f"{path}: {name}_{missing} is missing (samples are numbered 0, 1, ...)")
        counts[name] = len(ks)
    for name in input_names:
        if name not in counts:
            raise RonnError(f"{path} has no array for model input {name!r}; {NPZ_FORMAT}")
    if len(set(counts.values())) != 1:
        raise RonnError(f"{path}: the inputs have different numbers of samples: "
                        + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return [{name: (stacked[name][k] if name in stacked else single[name][k]) for name in input_names}
            for k in range(next(iter(counts.values())))]


def model_input_names(model: str | Path | onnx.ModelProto) -> list[str]:
    """The graph inputs of an ONNX model that are not initializers, in order."""
    from ..stages.frontend import load_model

    proto = load_model(model)
    inits = {i.name for i in proto.graph.initializer}
    return [i.name for i in proto.graph.input if i.name not in inits]
