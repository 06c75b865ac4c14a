"""The bitnet stage: a Relax rewrite, run right after import, that replaces the selected Conv /
Gemm / MatMul layers by calls of the bit-serial kernels on bit-packed constant weights.

A layer is quantizable when its weights are a constant: `R.matmul(x, W)` with W a 2-D constant
(or the transpose of one, as Gemm imports) and `R.nn.conv2d(x, W)` with groups = 1, NCHW/OIHW.
The packed planes, scales and sums become ordinary Relax constants, which the plan builder
stores in the weights blob as they are.

On VNNI kernels a layer also takes in what follows it alone (`epilogue.py`): a constant bias add
and a relu run in the kernel's epilogue, and a conv runs in NHWC (nhwc.py) with a following max pool
carried out in NHWC, so that the transposes the rewrite leaves at its NCHW boundaries
meet those of the O3 layout pass and cancel; a max pool whose only user is an NHWC conv is instead
taken by that conv's quantize kernel (the pool carried by the layer before, or one in the graph),
and with static scales so is a float conv of one input channel before a pool in the graph, with
its bias and relu (head.py: a network's float first layer). With static scales, too, a conv whose
max pool feeds the next quantized conv or (through Flatten) dense layer quantizes for it in its
own epilogue (requant.py), and that layer's quantize kernel goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from ..errors import RonnError
from .config import BitnetConfig
from .epilogue import Chain, find_chains
from .fit import LayerFit, fit_module
from .fit import resolve as resolve_fit
from .arm import pack_conv_nhwc_sdot
from .arm_nhwc import nhwc_sdot_spec
from .head import head_weights, takes_head
from .kernels import LayerSpec, layer_kernel, pack_kernel
from .nhwc import covers_input, nhwc_spec
from .quantize import PackedWeights, pack_conv_nhwc_vnni, pack_for, pack_weights_vnni
from .requant import takes_requant, vnni_requant_kernel
from .layers import _Candidate, _static_shape, find_layers

_OPAQUE = 8  # relax OpPatternKind.kOpaque: FuseOps leaves these kernels alone


@dataclass
class LayerRecord:
    index: int
    op: str  # "conv2d" | "matmul"
    shape: tuple[int, int]  # (N, K) of the weight matrix
    quantized: bool
    float_bytes: int
    packed_bytes: int = 0


@dataclass
class BitnetReport:
    """What the rewrite did, layer by layer, and the weight bytes before and after."""

    config: BitnetConfig
    layers: list[LayerRecord] = field(default_factory=list)
    calibration_samples: int = 0  # inputs the fixed statistics were measured on (0: given, or none)

    @property
    def quantized(self) -> list[LayerRecord]:
        return [r for r in self.layers if r.quantized]

    kernel: str = "popcount"  # the kernel family the layers run on (quantize.DOTS)
    weight_fit: str = "absmean"  # how the weights were quantized (fit.WEIGHT_FITS, resolved)
    fit_layers: list[LayerFit] = field(default_factory=list)  # per fitted layer: output errors

    def metadata(self) -> dict[str, Any]:
        q = self.quantized
        return {"mode": self.config.describe(), "kernel": self.kernel, "weights": self.config.weights,
                "activation_bits": self.config.activation_bits,
                "quantizable_layers": len(self.layers), "quantized_layers": [r.index for r in q],
                "float_bytes": sum(r.float_bytes for r in q), "packed_bytes": sum(r.packed_bytes for r in q),
                "activation_stats": self._stats_origin(), "weight_fit": self._fit_origin(),
                "fit_output_error": [{"layer": f.index, "absmean": round(f.absmean_error, 4),
                                      "fitted": round(f.fitted_error, 4)} for f in self.fit_layers]}

    def _fit_origin(self) -> str:
        if self.weight_fit == "output":
            return f"output, fitted on {self.calibration_samples} inputs"
        return self.weight_fit

    def _stats_origin(self) -> str:
        if self.config.calibration is None:
            return "run time"
        if self.calibration_samples:
            return f"calibrated on {self.calibration_samples} inputs"
        return "fixed"


def quantize_module(mod: Any, config: BitnetConfig, target: Any = None) -> tuple[Any, BitnetReport]:
    """Replace the layers `config` selects in `main` by bit-serial (or, where `target`, a
    `ronn_aot.targets.Target`, has AVX-512 VNNI, VNNI) kernel calls."""
    dot = config.dot_for(target)
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    samples = 0
    fitted: list[LayerFit] = []
    weight_fit = resolve_fit(config.weight_fit, config.calibration_inputs is not None)
    if weight_fit == "output":
        # layer after layer with the activation statistics, each measured downstream of the fitted layers
        assert config.calibration_inputs is not None
        samples = len(config.calibration_inputs)
        mod, fitted, stats = fit_module(mod, config.calibration_inputs, config)
        config = replace(config, calibration=stats, calibration_inputs=None)
    if config.calibration_inputs is not None:
        # measured on this very module, so the statistics' indexing is find_layers' below
        from .calibrate import calibrate

        samples = len(config.calibration_inputs)
        config = replace(config, calibration=calibrate(mod, config.calibration_inputs, config),
                         calibration_inputs=None)
    main_gv = mod.get_global_var("main")
    candidates = find_layers(mod[main_gv])
    chosen = set(config.selected(len(candidates)))
    if config.calibration is not None and len(config.calibration) != len(candidates):
        raise RonnError(f"bitnet calibration has statistics for {len(config.calibration)} layers, "
                        f"the model has {len(candidates)} quantizable layers (Conv / Gemm / MatMul with "
                        f"constant weights); give one ActStats per layer, or calibration inputs")
    report = BitnetReport(config, calibration_samples=samples, kernel=dot, weight_fit=weight_fit,
                          fit_layers=fitted)
    static = config.calibration is not None
    # sdot / neon: convs in NHWC on NHWC quads (arm_nhwc.py), bias / relu in the epilogue, the
    # pool before a conv (and a float conv before that pool) in its quantize kernel; no
    # requantizing epilogue
    sdot = dot in ("sdot", "neon")
    chains = find_chains(mod[main_gv], candidates, chosen,
                         lambda c: c.conv is not None and (static or covers_input(c.conv)),
                         lambda c: static and c.conv is not None and takes_head(c.conv)) \
        if dot == "vnni" or sdot else {}
    absorbed = {v for chain in chains.values() for v in chain.absorbed}
    original = {b.var: b.value for block in mod[main_gv].body.blocks for b in block.bindings}
    # With static scales a conv whose pool feeds the next quantized layer (a conv whose quantize
    # kernel takes the pool, or a dense layer after Flatten) quantizes for it in its own epilogue
    # (requant.py): id(chain) -> the next chain; id(dense chain) -> (the conv chain, its pool)
    feeds = {id(p): c for c in chains.values() if static and not sdot and c.in_pool is not None and c.head is None
             for p in chains.values() if p is not c and p.nhwc and p.pool is None and p.tail.same_as(c.in_pool_input)}
    dense_source: dict[int, tuple[Chain, tuple[int, ...]]] = {}
    requantized: set[int] = set()  # id() of the chains whose input a previous layer's kernel quantized

    def nhwc_layer_spec(chain: Chain) -> LayerSpec:
        """The LayerSpec of an NHWC conv chain's layer, with the pool and float conv its quantize
        kernel takes."""
        cand = chain.layer
        assert cand.conv is not None
        stats = config.calibration[cand.index] if config.calibration is not None else None
        fixed = None if stats is None else (stats.scale, stats.threshold)
        spec = (partial(nhwc_sdot_spec, dot=dot) if sdot else nhwc_spec)(
            cand.conv, cand.weight.shape[0], config.weights, config.activation_bits, fixed, bias=chain.bias is not None,
            relu=chain.relu)
        if chain.in_pool is not None:  # the quantize kernel takes the pool (kernels.quantize_nhwc_kernel)
            a, pre = chain.in_pool.attrs, _static_shape(chain.in_pool.args[0])
            assert pre is not None
            spec = replace(spec, pool=(int(pre[2]), int(pre[3]), *(int(v) for v in a.pool_size),
                                       *(int(v) for v in a.strides)))
        if chain.head is not None:
            spec = replace(spec, head=chain.head.conv, head_bias=chain.head_bias is not None,
                           head_relu=chain.head_relu)
        return spec

    def nhwc_columns(shape: tuple[int, ...]) -> np.ndarray:
        """For each column of an NCHW tensor flattened in NHWC order, the NCHW column it holds."""
        _, c, h, w = (int(d) for d in shape)
        return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)

    def requantized_dense(chain: Chain) -> tuple[LayerSpec, PackedWeights]:
        """The LayerSpec (its input: the conv chain's pooled output, flattened in NHWC order) and
        the packed weights of a dense chain in dense_source."""
        source, pool = dense_source[id(chain)]
        cand = chain.layer
        n = cand.weight.shape[0]
        packed = pack_weights_vnni(cand.weight.reshape(n, -1), config.weights,
                                   columns=nhwc_columns(_static_shape(source.tail)))  # type: ignore[arg-type]
        stats = config.calibration[cand.index]  # type: ignore[index]
        return LayerSpec(source.layer.conv.batch, packed.k, packed.n, config.weights,  # type: ignore[union-attr]
                         config.activation_bits, packed.word_bits, None, (stats.scale, stats.threshold), dot,
                         bias=chain.bias is not None, relu=chain.relu, pool=pool), packed

    def plan_dense_requant() -> None:
        """Fill dense_source (and absorb Flatten's reshape there): a dense chain whose input is the
        Flatten of an NHWC conv chain that ends with a max pool requant.py can run."""
        from .epilogue import _vars_of

        uses: dict[Any, int] = {}
        for value in original.values():
            for v in _vars_of(value):
                uses[v] = uses.get(v, 0) + 1
        for v in _vars_of(mod[main_gv].body.body):
            uses[v] = uses.get(v, 0) + 1
        for c in chains.values():
            flat = c.call.args[0]
            value = original.get(flat)
            if not static or sdot or c.layer.conv is not None or not (
                    isinstance(value, relax.Call) and getattr(value.op, "name", "") == "relax.reshape"):
                continue
            src = value.args[0]
            p = next((q for q in chains.values() if q.nhwc and q.pool is not None and q.tail.same_as(src)), None)
            shape, fshape = _static_shape(src), _static_shape(flat)
            if p is None or uses.get(flat) != 1 or uses.get(src) != 1 or shape is None or fshape is None or \
                    len(shape) != 4 or list(fshape) != [shape[0], int(np.prod(shape[1:]))] or not _poolable(p.pool.attrs):
                continue
            a = p.pool.attrs
            oh, ow = p.layer.conv.out_hw  # type: ignore[union-attr]
            pool = (oh, ow, *(int(v) for v in a.pool_size), *(int(v) for v in a.strides))
            if takes_requant(nhwc_layer_spec(p), pool):
                feeds[id(p)] = c
                dense_source[id(c)] = (p, pool)
                absorbed.add(flat)

    @mutator
    class _Rewriter(PyExprMutator):  # type: ignore[misc]
        def visit_var_binding_(self, binding: Any) -> None:
            if binding.var in absorbed:  # computed by the fused layer at its head
                return
            chain = chains.get(binding.var)
            if chain is None:
                super().visit_var_binding_(binding)
                return
            value = self._fused(chain)
            tail = chain.tail
            new = self.builder_.emit(value) if isinstance(tail, relax.DataflowVar) else self.builder_.emit_output(value)
            self.set_var_remap(tail, new)

        def _fused(self, chain: Chain) -> Any:
            """The fused layer (kernels, NHWC pool, transposes): its value for the chain's tail."""
            cand = chain.layer
            n, k = (cand.weight.shape[0], int(np.prod(cand.weight.shape[1:])))
            record = LayerRecord(cand.index, cand.op, (n, k), True, n * k * 4)
            report.layers.append(record)
            x = self.visit_expr(chain.call.args[0] if chain.in_pool is None else chain.in_pool_input)
            stats = config.calibration[cand.index] if config.calibration is not None else None
            fixed = None if stats is None else (stats.scale, stats.threshold)
            bias = chain.bias is not None
            bb = self.builder_
            pack_extra: tuple[np.ndarray, ...] = ()
            extra = [chain.bias] if bias else []
            if cand.conv is not None and chain.nhwc:
                packed = pack_conv_nhwc_sdot(cand.weight, config.weights, dot) if sdot else \
                    pack_conv_nhwc_vnni(cand.weight, config.weights)
                spec = nhwc_layer_spec(chain)
                acts: list[Any] | None = None
                if id(chain) in requantized:  # x: the codes the previous layer's kernel wrote (requant.py)
                    acts = [bb.emit(relax.TupleGetItem(x, i)) for i in range(2)]
                elif chain.head is not None:  # the float conv before the pool (head.py), on its NCHW input
                    h = chain.head
                    report.layers.append(LayerRecord(h.index, "conv2d", (h.weight.shape[0], int(np.prod(h.weight.shape[1:]))),
                                                     False, h.weight.size * 4))
                    zeros = np.zeros(h.weight.shape[0], np.float32)
                    pack_extra = (head_weights(h.weight), chain.head_bias if chain.head_bias is not None else zeros)
                else:
                    x = bb.emit(relax.op.permute_dims(x, [0, 2, 3, 1]))
                nxt = feeds.get(id(chain))
                nxt_spec = None if nxt is None else \
                    requantized_dense(nxt)[0] if id(nxt) in dense_source else nhwc_layer_spec(nxt)
                if nxt is not None and nxt_spec is not None and nxt_spec.pool is not None \
                        and takes_requant(spec, nxt_spec.pool):
                    requantized.add(id(nxt))
                    acts = acts if acts is not None else self._emit_pack(x, cand, spec, pack_extra)
                    args = acts + [relax.const(w) for w in self._weights(spec, packed, record, extra)]
                    gv = bb.add_func(vnni_requant_kernel(spec, nxt_spec).with_attr("op_pattern", _OPAQUE),
                                     f"bitnet_{cand.op}_{cand.index}_vnni")
                    return relax.call_tir(gv, args, [relax.TensorType(s, d) for s, d in nxt_spec.act_outputs])
                if acts is not None:
                    return self._finish(chain, spec, self._emit_mul(acts, cand, spec, packed, record, extra))
            elif id(chain) in dense_source:  # its input quantized by the conv kernel before (requant.py)
                spec, packed = requantized_dense(chain)
                t = self.visit_expr(dense_source[id(chain)][0].tail)
                acts = [bb.emit(relax.TupleGetItem(t, i)) for i in range(2)]
                return self._emit_mul(acts, cand, spec, packed, record, extra)
            else:
                folded = self._nhwc_flatten(chain.call.args[0]) if cand.conv is None else None
                in_pool = None
                if folded is not None:  # the NHWC tensor flattened as it is, the weight's columns reordered
                    x, order, in_pool = folded
                    packed = pack_weights_vnni(cand.weight.reshape(n, k), config.weights, columns=order)
                else:
                    packed = pack_for(cand.weight.reshape(n, k), config.weights, dot)
                rows = _rows(x, cand) if in_pool is None else int(_static_shape(x)[0])  # type: ignore[index]
                spec = LayerSpec(rows, packed.k, packed.n, config.weights, config.activation_bits,
                                 packed.word_bits, cand.conv, fixed, dot, bias=bias, relu=chain.relu, pool=in_pool)
            y = self._emit_mul(self._emit_pack(x, cand, spec, pack_extra), cand, spec, packed, record, extra)
            return self._finish(chain, spec, y)

        def _finish(self, chain: Chain, spec: LayerSpec, y: Any) -> Any:
            """The chain's value from its layer's output `y`: pooled, NCHW again."""
            if chain.pool is not None:
                y = self.builder_.emit(_nhwc_pool(chain.pool, y))
            return relax.op.permute_dims(y, [0, 3, 1, 2]) if spec.nhwc else y

        def _nhwc_flatten(self, x: Any) -> tuple[Any, np.ndarray, tuple[int, ...] | None] | None:
            """A dense layer's input that flattens an NHWC conv chain's output (the NCHW transpose
            the chain ends with, then Flatten's reshape): the NHWC tensor flattened as it lies, and
            for each of its columns the NCHW column it holds. The dot products are then the same
            integer sums in another order (exact), and no transpose kernel runs before the layer.
            When the chain ends with a max pool the layer's pack kernel can take (kernels.pack_kernel),
            the pool's NHWC input instead, with the pool (in_h, in_w, kh, kw, sh, sw): no pool kernel
            runs either."""
            value = original.get(x)
            if sdot or not (isinstance(value, relax.Call) and getattr(value.op, "name", "") == "relax.reshape"):
                return None
            source = value.args[0]
            shape, flat = _static_shape(source), _static_shape(x)
            if not any(c.nhwc and c.tail.same_as(source) for c in chains.values()) or shape is None or \
                    flat is None or len(shape) != 4 or list(flat) != [shape[0], int(np.prod(shape[1:]))]:
                return None
            permuted = self.builder_.lookup_binding(self.visit_expr(source))
            if not (isinstance(permuted, relax.Call) and getattr(permuted.op, "name", "") == "relax.permute_dims"
                    and [int(a) for a in permuted.attrs.axes] == [0, 3, 1, 2]):
                return None
            _, c, h, w = (int(d) for d in shape)
            order = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
            pool = self.builder_.lookup_binding(permuted.args[0])
            pre = _static_shape(pool.args[0]) if isinstance(pool, relax.Call) else None
            if getattr(pool, "op", None) is not None and getattr(pool.op, "name", "") == "relax.nn.max_pool2d" \
                    and pre is not None and str(pool.attrs.layout) == "NHWC" and _poolable(pool.attrs):
                a = pool.attrs
                return pool.args[0], order, (int(pre[1]), int(pre[2]), *(int(v) for v in a.pool_size),
                                             *(int(v) for v in a.strides))
            return self.builder_.emit(relax.op.reshape(permuted.args[0], flat)), order, None

        def _emit_pack(self, x: Any, cand: _Candidate, spec: LayerSpec, pack_extra: tuple[np.ndarray, ...] = ()) -> list[Any]:
            """Emit the pack kernel of `spec` on the (2-D or conv) input `x` (then the constants
            `pack_extra`): its outputs."""
            bb = self.builder_
            # Scheduled later, in the schedule stage, by the `bitnet` rule (schedules/bitnet.py).
            pack_gv = bb.add_func(pack_kernel(spec).with_attr("op_pattern", _OPAQUE), f"bitnet_{cand.op}_{cand.index}_pack")
            outs = [relax.TensorType(shape, dtype) for shape, dtype in spec.act_outputs]
            acts = bb.emit(relax.call_tir(pack_gv, [x, *(relax.const(a) for a in pack_extra)], outs))
            return [bb.emit(relax.TupleGetItem(acts, i)) for i in range(len(outs))]

        def _weights(self, spec: LayerSpec, packed: PackedWeights, record: LayerRecord,
                     extra: list[np.ndarray]) -> list[np.ndarray]:
            """The multiply kernel's constant arguments: packed weights, scales[, sums], `extra`."""
            record.packed_bytes = packed.packed_bytes(with_wsum=spec.needs_wsum)
            return [packed.planes, packed.scale] + ([packed.wsum] if spec.needs_wsum else []) + extra

        def _emit_mul(self, acts: list[Any], cand: _Candidate, spec: LayerSpec, packed: PackedWeights,
                      record: LayerRecord, extra: list[np.ndarray]) -> Any:
            """Emit the multiply kernel of `spec` on the pack kernel's outputs `acts`."""
            bb = self.builder_
            mul_gv = bb.add_func(layer_kernel(spec).with_attr("op_pattern", _OPAQUE),
                                 f"bitnet_{cand.op}_{cand.index}_{'vnni' if spec.vnni else 'bitserial'}")
            args = acts + [relax.const(w) for w in self._weights(spec, packed, record, extra)]
            return bb.emit(relax.call_tir(mul_gv, args, relax.TensorType(spec.out_shape, "float32")))

        def visit_call_(self, call: Any) -> Any:
            cand = candidates.get(call)
            new = super().visit_call_(call)
            if cand is None:
                return new
            n, k = (cand.weight.shape[0], int(np.prod(cand.weight.shape[1:])))
            record = LayerRecord(cand.index, cand.op, (n, k), cand.index in chosen, n * k * 4)
            report.layers.append(record)
            if not record.quantized:
                return new
            return self._replace(new, cand, pack_for(cand.weight.reshape(n, k), config.weights, dot), record)

        def _replace(self, call: Any, cand: _Candidate, packed: PackedWeights, record: LayerRecord) -> Any:
            x = call.args[0]
            xs = _static_shape(x)
            assert xs is not None
            stats = config.calibration[cand.index] if config.calibration is not None else None
            spec = LayerSpec(_rows(x, cand), packed.k, packed.n, config.weights, config.activation_bits,
                             packed.word_bits, cand.conv,
                             None if stats is None else (stats.scale, stats.threshold), dot)
            if cand.conv is None and len(xs) != 2:
                x = self.builder_.emit(relax.op.reshape(x, (spec.m, packed.k)))
            y = self._emit_mul(self._emit_pack(x, cand, spec), cand, spec, packed, record, [])
            if cand.conv is None and len(xs) != 2:
                y = self.builder_.emit(relax.op.reshape(y, (*xs[:-1], packed.n)))
            return y

    def _rows(x: Any, cand: _Candidate) -> int:
        """M: rows of the layer's input matrix."""
        if cand.conv is not None:
            return cand.conv.m
        xs = _static_shape(x)
        assert xs is not None
        return int(np.prod(xs[:-1]))

    def _poolable(a: Any) -> bool:
        """Whether a max pool of attributes `a` (no padding, no dilation, floor mode, a window of at
        most 9 values) can run inside a pack kernel."""
        return (all(int(v) == 0 for v in a.padding) and all(int(v) == 1 for v in a.dilation)
                and not bool(a.ceil_mode) and int(a.pool_size[0]) * int(a.pool_size[1]) <= 9)

    def _nhwc_pool(pool: Any, y: Any) -> Any:
        """The NCHW max pool call `pool` on the NHWC tensor `y`, in NHWC."""
        a = pool.attrs
        return relax.op.nn.max_pool2d(y, [int(v) for v in a.pool_size], [int(v) for v in a.strides],
                                      [int(v) for v in a.padding], [int(v) for v in a.dilation], bool(a.ceil_mode),
                                      layout="NHWC", out_layout="NHWC")

    plan_dense_requant()
    rewriter = _Rewriter(mod)
    new_main = rewriter.visit_expr(mod[main_gv])
    rewriter.builder_.update_func(main_gv, new_main)
    report.layers.sort(key=lambda r: r.index)
    return rewriter.builder_.get(), report
