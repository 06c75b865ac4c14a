"""int8 matmuls and convolutions with constant weights as SDOT kernels on aarch64-dotprod.

The converters of MatMulInteger and QLinearMatMul (`converters/qlinear_matmul.py`) widen both
operands to int32 and subtract the zero points before an int32 matmul; after constant folding
the graph holds `matmul(astype(a, int32) [- za], B, out_dtype=int32)` with B an int32 constant.
When a is int8 or uint8, za a scalar constant and every value of B fits a signed byte, this pass
replaces the matmul by two kernels (scheduled by schedules/cpu/int8_dot.py):

- pack: a [M, K] -> quads [M, K4 / 4] uint32 of signed bytes: a itself (int8), or a - 128 (uint8,
  the top bit flipped), zero padding;
- dot: SDOT of the quads (broadcast with `ld1r`) and B's bytes, stored 16 channels x 4 reduction
  indices a 64-byte vector group in SDOT's order (the sdot BitNet kernel's tiles, `bitnet/arm.py`,
  without the weight decoding), plus a per-channel constant: sum_k (a_k - za) b_kn =
  sum_k s(a_k) b_kn + c * colsum_n(B), with s(a) = a, c = -za (int8) or s(a) = a - 128,
  c = 128 - za (uint8). The int32 result is exact, as the matmul's.

ConvInteger and QLinearConv give `conv2d(astype(x, int32) [- zx], W)` (NCHW / OIHW, out int32):
with groups 1 and byte weights the same two kernels run over the convolution's im2col matrix in
(kh, kw, channel) order, the channels padded to 4: the pack kernel shifts, pads and groups the
input into NHWC quads once (spatial padding reads the shifted zero point, -c, so that it adds
nothing, as onnx's padding with the zero point does) and the im2col matrix copies whole quads.
The pass runs before convert_layout, while the convolutions are still NCHW.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._registry import register_pass
from ._rewrite import const, const_array, dtype_of, mutator_pass, static_shape

INT8_ATTR = "ronn.int8_dot"  # PrimFunc attribute: "pack:" or "dot:" + the Int8DotSpec (JSON)
_GROUP, _LANES, _VECTORS = 4, 4, 4  # reduction indices a lane, int32 lanes, SDOT vectors a group
_CHANNELS = _LANES * _VECTORS  # output channels a weight group


@dataclass(frozen=True)
class Int8DotSpec:
    m: int
    k: int
    n: int
    signed: bool  # int8 activations (else uint8)
    weights: str = "int8"  # for bitnet.arm's tiling (vectors_per_group, group_lanes)
    dot: str = "sdot"
    # a convolution's geometry (NCHW input, OIHW weights; bitnet.reference.ConvGeometry's fields),
    # and the signed byte its padding reads (the zero point, shifted): None for a matmul
    conv: dict[str, Any] | None = None
    pad_byte: int = 0

    @property
    def words(self) -> int:
        return -(-self.k // _GROUP)

    @property
    def k_pad(self) -> int:
        return self.words * _GROUP

    @property
    def n_pad(self) -> int:
        return -(-self.n // _CHANNELS) * _CHANNELS

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> Int8DotSpec:
        return Int8DotSpec(**json.loads(text))

    @property
    def geometry(self) -> Any:
        from ronn_aot.bitnet.reference import ConvGeometry

        assert self.conv is not None
        return ConvGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.conv.items()})


def pack_weights(b: np.ndarray, spec: Int8DotSpec) -> np.ndarray:
    """B [K, N] (values in [-128, 127]) as uint8 [n_pad / 16, K4 / 4, 64]: byte 16 v + 4 c + j of
    group g, quad q is B[4 q + j, 16 g + 4 v + c] (zero padding)."""
    wt = np.zeros((spec.n_pad, spec.k_pad), np.int8)
    wt[:spec.n, :spec.k] = b.T
    groups = spec.n_pad // _CHANNELS
    w = wt.reshape(groups, _VECTORS, _LANES, spec.words, _GROUP).transpose(0, 3, 1, 2, 4)
    return np.ascontiguousarray(w.reshape(groups, spec.words, _CHANNELS * _GROUP)).view(np.uint8)


def pack_kernel(spec: Int8DotSpec) -> Any:
    """PrimFunc (a [M, K] int8 | uint8, or a convolution's NCHW input) -> quads [M, K4 / 4]
    uint32 of signed bytes. A convolution's reduction runs (kh, kw, channel) with the channels
    padded to a multiple of 4, so that its input is shifted, padded and grouped into NHWC quads
    once ("xq", 4 channels of a pixel each) and the im2col matrix copies whole quads."""
    from tvm import te, tirx

    dtype = "int8" if spec.signed else "uint8"
    g = spec.geometry if spec.conv is not None else None

    def shifted(v: Any) -> Any:  # the signed byte of an input value (uint8: a - 128), in a uint32
        v = tirx.Cast("uint32", v) & tirx.const(0xFF, "uint32")
        return v if spec.signed else v ^ tirx.const(0x80, "uint32")

    def quad(byte: Any) -> Any:
        return byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24)

    if g is None:
        a = te.placeholder((spec.m, spec.k), dtype, name="a")

        def byte(m: Any, k: Any) -> Any:
            return tirx.if_then_else(k < spec.k, shifted(a[m, tirx.min(k, spec.k - 1)]), tirx.const(0, "uint32"))

        quads = te.compute((spec.m, spec.words), lambda m, q: quad(lambda j: byte(m, q * 4 + j)), name="quads")
        return te.create_prim_func([a, quads]).with_attr(INT8_ATTR, f"pack:{spec.to_json()}")

    a = te.placeholder((g.batch, g.channels, g.height, g.width), dtype, name="a")
    top, left, bottom, right = g.pads
    c4 = -(-g.channels // _GROUP)
    pad = tirx.const(spec.pad_byte & 0xFF, "uint32")

    def padded(b: Any, h: Any, w: Any, c: Any) -> Any:  # spatial padding reads the (shifted) zero point
        inside = tirx.all(h >= top, h < top + g.height, w >= left, w < left + g.width)
        value = shifted(a[b, tirx.min(c, g.channels - 1), tirx.max(tirx.min(h - top, g.height - 1), 0),
                          tirx.max(tirx.min(w - left, g.width - 1), 0)])
        return tirx.if_then_else(c < g.channels, tirx.if_then_else(inside, value, pad), tirx.const(0, "uint32"))

    xq = te.compute((g.batch, g.height + top + bottom, g.width + left + right, c4),
                    lambda b, h, w, cq: quad(lambda j: padded(b, h, w, cq * _GROUP + j)), name="xq")
    oh, ow = g.out_hw
    (_, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation

    def im2col(m: Any, q: Any) -> Any:
        r, cq = q // c4, q % c4
        return xq[m // (oh * ow), m % (oh * ow) // ow * sh + r // kw * dh, m % ow * sw + r % kw * dw, cq]

    quads = te.compute((spec.m, spec.words), im2col, name="quads")
    return te.create_prim_func([a, quads]).with_attr(INT8_ATTR, f"pack:{spec.to_json()}")


def conv_matrix(w: np.ndarray) -> np.ndarray:
    """OIHW weights [N, C, KH, KW] as the [KH * KW * C4, N] matrix of the conv pack's reduction
    order (kh, kw, channel; channels zero-padded to C4, a multiple of 4)."""
    n, c, kh, kw = w.shape
    c4 = -(-c // _GROUP) * _GROUP
    hwc = np.zeros((n, kh, kw, c4), w.dtype)
    hwc[..., :c] = w.transpose(0, 2, 3, 1)
    return hwc.reshape(n, kh * kw * c4).T


def dot_kernel(spec: Int8DotSpec) -> Any:
    """PrimFunc (quads, W [G, Q, 64] uint8, corr [n_pad] int32) -> int32 [M, N]; the blocks of
    `bitnet.arm.sdot_kernel` ("dot", "out"), so that its schedule (`schedule_sdot`) applies."""
    from tvm import tirx
    from tvm.script import tirx as T

    from ronn_aot.bitnet.arm import SDOT_INTRINSIC

    M, Q, N, G = spec.m, spec.words, spec.n, spec.n_pad // _CHANNELS
    V, L, BYTES = _VECTORS, _CHANNELS, _LANES * _GROUP

    def quad(A: Any, m: Any, q: Any) -> Any:
        return tirx.reinterpret("int8x16", A[m, tirx.Ramp(q, 0, _LANES)])

    def weights(W: Any, g: Any, q: Any, v: Any) -> Any:
        return tirx.reinterpret("int8x16", W[g, q, tirx.Ramp(v * BYTES, 1, BYTES)])

    def zeros() -> Any:
        return tirx.Ramp(tirx.const(0, "int32"), tirx.const(0, "int32"), _LANES)

    @T.prim_func(s_tir=True)
    def int8_dot(A: T.Buffer((M, Q), "uint32"), W: T.Buffer((G, Q, V * BYTES), "uint8"),
                 corr: T.Buffer((spec.n_pad,), "int32"), out: T.Buffer((M, N), "int32")):
        T.func_attr({"tir.noalias": True})
        acc = T.sblock_alloc_buffer((M, G, V, _LANES), "int32")
        for m, g, v, q in T.grid(M, G, V, Q):
            with T.sblock("dot"):
                vm, vg, vv, vq = T.axis.remap("SSSR", [m, g, v, q])
                with T.init():
                    acc[vm, vg, vv, T.ramp(0, 1, _LANES)] = zeros()
                acc[vm, vg, vv, T.ramp(0, 1, _LANES)] = tirx.call_llvm_pure_intrin(
                    "int32x4", SDOT_INTRINSIC, acc[vm, vg, vv, T.ramp(0, 1, _LANES)], quad(A, vm, vq),
                    weights(W, vg, vq, vv))
        for m, g, v, c in T.grid(M, G, V, _LANES):
            with T.sblock("out"):
                vm, vg, vv, vc = T.axis.remap("SSSS", [m, g, v, c])
                if vg * L + vv * _LANES + vc < N:
                    out[vm, vg * L + vv * _LANES + vc] = acc[vm, vg, vv, vc] + corr[vg * L + vv * _LANES + vc]

    return int8_dot.with_attr(INT8_ATTR, f"dot:{spec.to_json()}")


def _operand(mutator: Any, lhs: Any) -> tuple[Any, int] | None:
    """(a, za) when `lhs` is astype(a, int32) [- za] with a int8 / uint8 and za a scalar constant."""
    from tvm import relax

    za = 0
    expr = mutator.lookup_binding(lhs) if isinstance(lhs, relax.Var) else lhs
    if isinstance(expr, relax.Call) and getattr(expr.op, "name", "") == "relax.subtract":
        zp = const_array(expr.args[1])
        if zp is None or zp.size != 1:
            return None
        za = int(zp.reshape(()))
        lhs = expr.args[0]
        expr = mutator.lookup_binding(lhs) if isinstance(lhs, relax.Var) else lhs
    if not (isinstance(expr, relax.Call) and getattr(expr.op, "name", "") == "relax.astype"
            and str(expr.attrs.dtype) == "int32" and dtype_of(expr.args[0]) in ("int8", "uint8")):
        return None
    return expr.args[0], za


# before convert_layout (50): the convolutions are still NCHW / OIHW and their input's shift visible
@register_pass("int8_sdot", 3, order=45, targets=("aarch64-dotprod",))
def int8_sdot() -> Any:
    """int8 / uint8 matmuls and convolutions with constant 8-bit weights (MatMulInteger,
    QLinearMatMul, ConvInteger, QLinearConv) as SDOT kernels."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    matmul = tvm.ir.Op.get("relax.matmul")
    conv2d = tvm.ir.Op.get("relax.nn.conv2d")

    @mutator
    class _Int8Dot(PyExprMutator):  # type: ignore[misc]
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if call.op.same_as(conv2d):
                return self._conv(call)
            if not call.op.same_as(matmul) or str(call.attrs.out_dtype) != "int32":
                return call
            b = const_array(call.args[1])
            operand = _operand(self, call.args[0])
            if b is None or b.ndim != 2 or operand is None or b.size == 0 or b.min() < -128 or b.max() > 127:
                return call
            a, za = operand
            shape = static_shape(a)
            if shape is None or len(shape) < 1 or shape[-1] != b.shape[0]:
                return call
            k, n = b.shape
            m = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            signed = dtype_of(a) == "int8"
            spec = Int8DotSpec(m, k, n, signed)
            bb = self.builder_
            if len(shape) != 2:
                a = bb.emit(relax.op.reshape(a, (m, k)))
            colsum = b.astype(np.int64).sum(axis=0)
            corr = np.zeros(spec.n_pad, np.int32)
            corr[:n] = ((-za if signed else 128 - za) * colsum).astype(np.int32)
            pack_gv = bb.add_func(pack_kernel(spec).with_attr("op_pattern", 8), "int8_dot_pack")
            dot_gv = bb.add_func(dot_kernel(spec).with_attr("op_pattern", 8), "int8_dot")
            quads = bb.emit(relax.call_tir(pack_gv, [a], relax.TensorType((m, spec.words), "uint32")))
            y = bb.emit(relax.call_tir(dot_gv, [quads, const(pack_weights(b, spec)), const(corr)],
                                       relax.TensorType((m, n), "int32")))
            if len(shape) != 2:
                y = relax.op.reshape(y, (*shape[:-1], n))
            return y

        def _conv(self, call: Any) -> Any:
            """An NCHW / OIHW int32 convolution of a shifted int8 / uint8 input (ConvInteger,
            QLinearConv) as the same kernels over its im2col view."""
            from ronn_aot.bitnet.reference import ConvGeometry

            at = call.attrs
            w = const_array(call.args[1])
            operand = _operand(self, call.args[0])
            if (str(at.out_dtype) != "int32" or str(at.data_layout) != "NCHW" or str(at.kernel_layout) != "OIHW"
                    or str(at.out_layout) != "NCHW" or int(at.groups) != 1 or w is None or w.ndim != 4
                    or operand is None or w.size == 0 or w.min() < -128 or w.max() > 127):
                return call
            a, za = operand
            shape = static_shape(a)
            if shape is None or len(shape) != 4 or shape[1] != w.shape[1]:
                return call
            pads = [int(p) for p in at.padding]
            geo = ConvGeometry(shape[0], shape[1], shape[2], shape[3], w.shape[0], (w.shape[2], w.shape[3]),
                               tuple(int(v) for v in at.strides), (pads[0], pads[1], pads[2], pads[3]),
                               tuple(int(v) for v in at.dilation))
            signed = dtype_of(a) == "int8"
            c = -za if signed else 128 - za
            b = conv_matrix(w)
            k, n = b.shape
            spec = Int8DotSpec(geo.m, k, n, signed, conv=asdict(geo), pad_byte=-c)
            colsum = b.astype(np.int64).sum(axis=0)
            corr = np.zeros(spec.n_pad, np.int32)
            corr[:n] = (c * colsum).astype(np.int32)
            bb = self.builder_
            pack_gv = bb.add_func(pack_kernel(spec).with_attr("op_pattern", 8), "int8_dot_pack")
            dot_gv = bb.add_func(dot_kernel(spec).with_attr("op_pattern", 8), "int8_dot")
            quads = bb.emit(relax.call_tir(pack_gv, [a], relax.TensorType((geo.m, spec.words), "uint32")))
            y = bb.emit(relax.call_tir(dot_gv, [quads, const(pack_weights(b, spec)), const(corr)],
                                       relax.TensorType((geo.m, n), "int32")))
            oh, ow = geo.out_hw
            y = bb.emit(relax.op.reshape(y, (geo.batch, oh, ow, n)))
            return relax.op.permute_dims(y, [0, 3, 1, 2])

    return mutator_pass("Int8Sdot", _Int8Dot)
