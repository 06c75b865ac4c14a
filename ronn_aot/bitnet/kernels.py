"""Bit-serial kernels as TIR PrimFuncs (built with TE, scheduled in `schedule.py`).

A quantized layer runs as two kernels:

- `pack`: the layer's input matrix V [M, K] (the input itself for a dense layer, its im2col view
  for a convolution; never materialized) -> per-tensor statistics, activation codes, and their
  bit-planes X [M, bits, words]; for int codes also each row's sum of codes.
- `bitserial`: X and the packed weights -> popcount dot products -> float32 output, in [M, N]
  or NCHW layout.

Arithmetic (see `reference.py`, which the kernels match bit for bit):
  int activations, ternary weights: acc = sum_b c_b * (popcount(X_b & W+) - popcount(X_b & W-))
  int activations, binary weights:  acc = 2 * sum_b c_b * popcount(X_b & W+) - rowsum(codes)
  sign activations, binary weights: acc = K - 2 * popcount(X xor W+)   (XNOR-popcount)
with c_b the two's complement weight of activation bit b.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .quantize import ceil_to, lanes_for, word_dtype
from .reference import THRESHOLD_FRACTION_BITS, ActStats, ConvGeometry, plane_coefficients, qmax

EPS = 1e-8
SPEC_ATTR = "ronn.bitnet"  # PrimFunc attribute holding the LayerSpec (JSON) of a bit-serial kernel


@dataclass(frozen=True)
class LayerSpec:
    """Everything that shapes a quantized layer's kernels."""

    m: int
    k: int
    n: int
    weights: str  # "ternary" | "binary"
    act_bits: int  # 1 (sign, XNOR) or 2..8 (int)
    word_bits: int
    conv: ConvGeometry | None = None
    static_stats: tuple[float, float] | None = None  # ActStats (scale, threshold) from calibration

    @property
    def lanes(self) -> int:
        return lanes_for(self.word_bits)

    @property
    def n_pad(self) -> int:
        return ceil_to(self.n, self.lanes)

    @property
    def words(self) -> int:
        return ceil_to(self.k, self.word_bits) // self.word_bits

    @property
    def planes(self) -> int:
        return 2 if self.weights == "ternary" else 1

    @property
    def xnor(self) -> bool:
        return self.act_bits == 1

    @property
    def needs_rowsum(self) -> bool:
        return self.weights == "binary" and not self.xnor

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> LayerSpec:
        d = json.loads(text)
        if d["conv"] is not None:
            c = d["conv"]
            d["conv"] = ConvGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()})
        if d["static_stats"] is not None:
            d["static_stats"] = tuple(d["static_stats"])
        return LayerSpec(**d)

    @property
    def out_shape(self) -> tuple[int, ...]:
        if self.conv is None:
            return (self.m, self.n)
        oh, ow = self.conv.out_hw
        return (self.conv.batch, self.n, oh, ow)


def _matrix_view(x: Any, spec: LayerSpec) -> Callable[[Any, Any], Any]:
    """V(m, k): the layer's input matrix, read from the input tensor `x` (im2col for a conv)."""
    from tvm import tirx

    g = spec.conv
    if g is None:
        return lambda m, k: x[m, k]
    oh, ow = g.out_hw
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
    top, left = g.pads[0], g.pads[1]

    def view(m: Any, k: Any) -> Any:
        b, rest = m // (oh * ow), m % (oh * ow)
        c, r = k // (kh * kw), k % (kh * kw)
        h = rest // ow * sh - top + r // kw * dh
        w = rest % ow * sw - left + r % kw * dw
        inside = tirx.all(h >= 0, h < g.height, w >= 0, w < g.width)
        return tirx.if_then_else(inside, x[b, c, tirx.max(tirx.min(h, g.height - 1), 0),
                                           tirx.max(tirx.min(w, g.width - 1), 0)],
                                 tirx.const(0.0, "float32"))

    return view


def pack_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x) -> (X planes [M, bits, words], stats float32[3][, rowsum int32[M]]).

    stats = (dequantization scale, threshold, threshold code), see `ActStats.vector`.
    """
    from tvm import te, tirx

    g = spec.conv
    in_shape = (spec.m, spec.k) if g is None else (g.batch, g.channels, g.height, g.width)
    x = te.placeholder(in_shape, "float32", name="x")
    view = _matrix_view(x, spec)
    wdt, wb, bits = word_dtype(spec.word_bits), spec.word_bits, spec.act_bits
    f32 = lambda v: tirx.const(v, "float32")  # noqa: E731
    count = f32(float(spec.m * spec.k))

    one = f32(float(1 << THRESHOLD_FRACTION_BITS))
    if spec.static_stats is not None:
        fixed = ActStats(*spec.static_stats).vector(bits)
        stats = te.compute((3,), lambda i: tirx.if_then_else(
            i == 0, f32(float(fixed[0])), tirx.if_then_else(i == 1, f32(float(fixed[1])), f32(float(fixed[2])))),
            name="stats")
    elif spec.xnor:
        rm, rk = te.reduce_axis((0, spec.m), "rm"), te.reduce_axis((0, spec.k), "rk")
        total = te.compute((1,), lambda i: te.sum(view(rm, rk), axis=[rm, rk]), name="total")
        rm2, rk2 = te.reduce_axis((0, spec.m), "rm2"), te.reduce_axis((0, spec.k), "rk2")
        dev = te.compute((1,), lambda i: te.sum(tirx.abs(view(rm2, rk2) - total[0] / count),
                                                axis=[rm2, rk2]), name="dev")
        mean_dev = te.compute((2,), lambda i: tirx.if_then_else(
            i == 0, tirx.max(dev[0] / count, f32(EPS)), total[0] / count), name="mean_dev")
        stats = te.compute((3,), lambda i: tirx.if_then_else(
            i == 0, mean_dev[0] / one,
            tirx.if_then_else(i == 1, mean_dev[1], tirx.round(mean_dev[1] / mean_dev[0] * one))), name="stats")
    else:
        rm, rk = te.reduce_axis((0, spec.m), "rm"), te.reduce_axis((0, spec.k), "rk")
        amax = te.compute((1,), lambda i: te.max(tirx.abs(view(rm, rk)), axis=[rm, rk]), name="amax")
        stats = te.compute((3,), lambda i: tirx.if_then_else(
            i == 0, tirx.max(amax[0], f32(EPS)) / f32(float(qmax(bits))), f32(0.0)), name="stats")

    k_pad = spec.words * wb
    if spec.xnor:
        code = te.compute((spec.m, k_pad), lambda m, k: tirx.if_then_else(
            tirx.all(k < spec.k, view(m, tirx.min(k, spec.k - 1)) >= stats[1]),
            tirx.const(1, "int32"), tirx.const(0, "int32")), name="code")
    else:
        q = qmax(bits)
        code = te.compute((spec.m, k_pad), lambda m, k: tirx.if_then_else(
            k < spec.k,
            tirx.Cast("int32", tirx.max(tirx.min(tirx.round(view(m, tirx.min(k, spec.k - 1)) / stats[0]),
                                                 f32(float(q))), f32(float(-q)))),
            tirx.const(0, "int32")), name="code")
    j = te.reduce_axis((0, wb), "j")
    planes = te.compute(
        (spec.m, bits, spec.words),
        lambda m, b, w: te.sum(tirx.Cast(wdt, (code[m, w * wb + j] >> b) & 1) << tirx.Cast(wdt, j), axis=j),
        name="planes")
    outs = [planes, stats]
    if spec.needs_rowsum:
        # sum of codes = sum over planes of (plane weight * bits set), read back from the planes
        rw = te.reduce_axis((0, spec.words), "rw")
        coef = plane_coefficients(bits)
        counts = te.compute((spec.m, bits), lambda m, b: te.sum(
            tirx.Cast("int32", tirx.popcount(planes[m, b, rw])), axis=rw), name="counts")
        outs.append(te.compute((spec.m,), lambda m: sum(
            (counts[m, b] * coef[b] for b in range(1, bits)), counts[m, 0] * coef[0]), name="rowsum"))
    return te.create_prim_func([x, *outs]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")


def bitserial_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (X planes, stats[, rowsum], W planes, scale[, wsum]) -> float32 output."""
    from tvm import te, tirx

    wdt, lanes, bits = word_dtype(spec.word_bits), spec.lanes, spec.act_bits
    planes = te.placeholder((spec.m, bits, spec.words), wdt, name="X")
    stats = te.placeholder((3,), "float32", name="stats")
    rowsum = te.placeholder((spec.m,), "int32", name="rowsum") if spec.needs_rowsum else None
    weights = te.placeholder((spec.planes, spec.n_pad // lanes, spec.words, lanes), wdt, name="W")
    scale = te.placeholder((spec.n_pad,), "float32", name="scale")
    wsum = te.placeholder((spec.n_pad,), "int32", name="wsum") if spec.xnor else None

    def pop(v: Any) -> Any:
        return tirx.Cast("int32", tirx.popcount(v))

    w = te.reduce_axis((0, spec.words), "w")

    def wt(p: int, n: Any, wi: Any) -> Any:
        return weights[p, n // lanes, wi, n % lanes]

    if spec.xnor:
        partial = te.compute((spec.m, 1, spec.n_pad), lambda m, b, n: te.sum(
            pop(planes[m, 0, w] ^ wt(0, n, w)), axis=w), name="partial")
    elif spec.weights == "ternary":
        partial = te.compute((spec.m, bits, spec.n_pad), lambda m, b, n: te.sum(
            pop(planes[m, b, w] & wt(0, n, w)) - pop(planes[m, b, w] & wt(1, n, w)), axis=w), name="partial")
    else:
        partial = te.compute((spec.m, bits, spec.n_pad), lambda m, b, n: te.sum(
            pop(planes[m, b, w] & wt(0, n, w)), axis=w), name="partial")

    coef = plane_coefficients(bits)

    def combine(m: Any, n: Any) -> Any:
        if spec.xnor:
            dot = tirx.const(spec.k, "int32") - partial[m, 0, n] * 2
            return dot * (1 << THRESHOLD_FRACTION_BITS) + tirx.Cast("int32", stats[2]) * wsum[n]  # type: ignore[index]
        acc = partial[m, 0, n] * coef[0]
        for b in range(1, bits):
            acc = acc + partial[m, b, n] * coef[b]
        return acc * 2 - rowsum[m] if rowsum is not None else acc  # type: ignore[index]

    acc = te.compute((spec.m, spec.n_pad), combine, name="acc")

    def dequant(m: Any, n: Any) -> Any:
        return tirx.Cast("float32", acc[m, n]) * stats[0] * scale[n]

    if spec.conv is None:
        out = te.compute((spec.m, spec.n), dequant, name="out")
    else:
        oh, ow = spec.conv.out_hw
        out = te.compute(spec.out_shape, lambda b, n, h, x: dequant((b * oh + h) * ow + x, n), name="out")
    inputs = [planes, stats] + ([rowsum] if rowsum is not None else []) + [weights, scale] + \
        ([wsum] if wsum is not None else [])
    return te.create_prim_func([*inputs, out]).with_attr(SPEC_ATTR, f"bitserial:{spec.to_json()}")
