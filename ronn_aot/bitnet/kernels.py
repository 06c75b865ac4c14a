"""Bit-serial kernels as TIR PrimFuncs (built with TE, scheduled in `schedule.py`).

A quantized layer runs as two kernels, of one of two families (`LayerSpec.dot`):

- `pack`: the layer's input matrix V [M, K] (the input itself for a dense layer, its im2col view
  for a convolution; never materialized) -> per-tensor statistics, activation codes, and their
  bit-planes X [M, bits, words]; for int codes also each row's sum of codes. For the "vnni"
  family instead the codes as unsigned bytes (code + 128), four to a uint32: A [M, K / 4].
- `bitserial` ("popcount"): X and the packed weights -> popcount dot products -> float32 output,
  in [M, N] or NCHW layout.
- `vnni` (x86 with AVX-512 VNNI, int activations): A and the packed weights -> each weight word
  expanded to 64 int8 weights in registers (mask load + VPMOVM2B), VPDPBUSD int8 dot products
  into int32 -> the same float32 output. Its cost does not grow with the activation bits, and a
  weight word expanded once serves a whole tile of rows: 2.6-3.4x faster than popcount at batch
  64 (4096x4096, one thread), 1.2-1.4x at batch 1 where both stream the same weight bytes.
  A vnni convolution can run in NHWC instead (`nhwc.py`: the pack quantizes the input once, the
  kernel reads the im2col view of it in place), and a vnni layer's epilogue can add a bias and
  apply a relu (`epilogue.py` finds them in the graph).

Arithmetic (see `reference.py`, which the kernels match bit for bit):
  int activations, ternary weights: acc = sum_b c_b * (popcount(X_b & W+) - popcount(X_b & W-))
  int activations, binary weights:  acc = 2 * sum_b c_b * popcount(X_b & W+) - rowsum(codes)
  sign activations, binary weights: acc = K - 2 * popcount(X xor W+)   (XNOR-popcount)
  vnni (int activations):           acc = sum_k (code_k + 128) * w_k - 128 * wsum
with c_b the two's complement weight of activation bit b; all of them the exact integer dot
product of codes and weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .quantize import BYTE_DOT_LANES, DOTS, VNNI_GROUP, VNNI_LANES, ceil_to, lanes_for, word_dtype
from .codes import SPEC_ATTR, quads_shape, quantize_code  # noqa: F401 (kernels' names)
from .reference import THRESHOLD_FRACTION_BITS, ActStats, ConvGeometry, plane_coefficients, qmax

EPS = 1e-8
# (pack kernel, multiply kernel) builders of kernel families defined outside this module, by
# LayerSpec.dot; filled by the modules that define them (arm.py: "sdot", "neon")
FAMILY_KERNELS: dict[str, tuple[Callable[["LayerSpec"], Any], Callable[["LayerSpec"], Any]]] = {}


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
    dot: str = "popcount"  # kernel family, one of quantize.DOTS
    layout: str = "NCHW"  # a conv's input and output layout: "NCHW", or "NHWC" (vnni: nhwc.py; sdot / neon: arm_nhwc.py)
    bias: bool = False  # the epilogue adds a float32 bias per output channel (vnni, sdot, neon)
    relu: bool = False  # ... then clamps at 0 (vnni, sdot, neon)
    # NHWC convs and vnni dense layers: the pack kernel takes the max pool that produces the layer's
    # input on the way (in_h, in_w, pool kh, kw, stride h, w; no padding): its input is the pool's
    # NHWC [B, in_h, in_w, C] (a dense layer's: flattened after the pool, k = (h, w, c))
    pool: tuple[int, int, int, int, int, int] | None = None
    # NHWC with a pool and static stats only: the float conv (one input channel) whose output, plus a
    # bias (head_bias) and clamped at 0 (head_relu), the pool reads; the quantize kernel computes it
    # from the conv's NCHW input (head.py)
    head: ConvGeometry | None = None
    head_bias: bool = False
    head_relu: bool = False

    def __post_init__(self) -> None:
        if self.dot not in DOTS:
            raise ValueError(f"unknown bitnet kernel family {self.dot!r}; choose one of {', '.join(DOTS)}")
        if self.dot in ("vnni", "sdot", "neon") and self.xnor:
            raise ValueError(f"the {self.dot} kernels take int activations; sign activations (XNOR) are popcount only")
        if not (self.vnni or self.sdot) and (self.nhwc or self.bias or self.relu):
            raise ValueError("NHWC layers and fused bias / relu epilogues are vnni or sdot / neon kernels only")
        if self.nhwc and self.conv is None:
            raise ValueError("layout NHWC is a convolution's; a dense layer has none")
        if self.pool is not None and not (self.nhwc or (self.conv is None and self.vnni)):
            raise ValueError("a max pool taken by the pack kernel is an NHWC conv's or a vnni dense layer's")
        if self.head is not None and (self.pool is None or self.static_stats is None):
            raise ValueError("a float conv computed by the quantize kernel needs the pool after it and static stats")

    @property
    def nhwc(self) -> bool:
        return self.layout == "NHWC"

    @property
    def vnni(self) -> bool:
        return self.dot == "vnni"

    @property
    def sdot(self) -> bool:
        """The Arm byte dot-product families (arm.py): "sdot" (SDOT) or "neon" (its Armv8.0 form)."""
        return self.dot in ("sdot", "neon")

    @property
    def lanes(self) -> int:
        if self.sdot:
            return BYTE_DOT_LANES[self.weights]
        return VNNI_LANES if self.vnni else lanes_for(self.word_bits)

    @property
    def n_pad(self) -> int:
        return ceil_to(self.n, self.lanes)

    @property
    def words(self) -> int:
        """Packed words along the reduction: of word_bits codes, or (vnni) of 4 code bytes."""
        group = VNNI_GROUP if self.vnni or self.sdot else self.word_bits
        return ceil_to(self.k, group) // group

    @property
    def k_pad(self) -> int:
        return self.words * (VNNI_GROUP if self.vnni or self.sdot else self.word_bits)

    @property
    def planes(self) -> int:
        return 2 if self.weights == "ternary" else 1

    @property
    def xnor(self) -> bool:
        return self.act_bits == 1

    @property
    def needs_rowsum(self) -> bool:
        return self.sdot or (self.weights == "binary" and not self.xnor and not self.vnni)

    @property
    def needs_wsum(self) -> bool:
        return self.xnor or self.vnni

    @property
    def act_outputs(self) -> list[tuple[tuple[int, ...], str]]:
        """(shape, dtype) of the pack kernel's outputs: the activations, stats[, rowsum]."""
        if self.nhwc:
            acts: tuple[tuple[int, ...], str] = (quads_shape(self), "uint32")
        elif self.vnni or self.sdot:
            acts = ((self.m, self.words), "uint32")
        else:
            acts = ((self.m, self.act_bits, self.words), word_dtype(self.word_bits))
        return [acts, ((3,), "float32")] + ([((self.m,), "int32")] if self.needs_rowsum else [])

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> LayerSpec:
        d = json.loads(text)
        for key in ("conv", "head"):
            if d.get(key) is not None:
                d[key] = ConvGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in d[key].items()})
        for key in ("static_stats", "pool"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return LayerSpec(**d)

    @property
    def out_shape(self) -> tuple[int, ...]:
        if self.conv is None:
            return (self.m, self.n)
        oh, ow = self.conv.out_hw
        return (self.conv.batch, oh, ow, self.n) if self.nhwc else (self.conv.batch, self.n, oh, ow)


def _matrix_view(x: Any, spec: LayerSpec) -> Callable[[Any, Any], Any]:
    """V(m, k): the layer's input matrix, read from the input tensor `x` (im2col for a conv)."""
    from tvm import tirx

    g = spec.conv
    if g is None and spec.pool is not None:  # k = (h, w, c) of the pooled NHWC tensor, pooled here
        ph, pw = pooled_hw(spec.pool)
        c_ = spec.k // (ph * pw)

        def pooled(m: Any, k: Any) -> Any:
            h, w, c = k // c_ // pw, k // c_ % pw, k % c_
            return window_max(x, m, h, w, c, spec.pool)

        return pooled
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


def stats_compute(spec: LayerSpec, view: Callable[[Any, Any], Any], rows: int, cols: int) -> Any:
    """The stats tensor float32[3] of int activations (or of fixed sign statistics): fixed, or
    max |V| over the [rows, cols] matrix `view` (the block "amax") / qmax."""
    from tvm import te, tirx

    f32 = lambda v: tirx.const(v, "float32")  # noqa: E731
    if spec.static_stats is not None:
        fixed = ActStats(*spec.static_stats).vector(spec.act_bits)
        return te.compute((3,), lambda i: tirx.if_then_else(
            i == 0, f32(float(fixed[0])), tirx.if_then_else(i == 1, f32(float(fixed[1])), f32(float(fixed[2])))),
            name="stats")
    rm, rk = te.reduce_axis((0, rows), "rm"), te.reduce_axis((0, cols), "rk")
    amax = te.compute((1,), lambda i: te.max(tirx.abs(view(rm, rk)), axis=[rm, rk]), name="amax")
    return te.compute((3,), lambda i: tirx.if_then_else(
        i == 0, tirx.max(amax[0], f32(EPS)) / f32(float(qmax(spec.act_bits))), f32(0.0)), name="stats")


def window_max(x: Any, b: Any, h: Any, w: Any, c: Any, pool: tuple[int, ...]) -> Any:
    """The max over the pool window of output pixel (h, w), channel c, of the NHWC tensor x, term
    by term in row-major window order (max is exact in any order)."""
    from tvm import tirx

    _, _, kh, kw, sh, sw = pool
    value = x[b, h * sh, w * sw, c]
    for i in range(kh):
        for j in range(kw):
            if i or j:
                value = tirx.max(value, x[b, h * sh + i, w * sw + j, c])
    return value


def pooled_hw(pool: tuple[int, ...]) -> tuple[int, int]:
    """Output height and width of a pack kernel's max pool (in_h, in_w, kh, kw, sh, sw)."""
    in_h, in_w, kh, kw, sh, sw = pool
    return (in_h - kh) // sh + 1, (in_w - kw) // sw + 1


def nhwc_quads(spec: LayerSpec, to_byte: Callable[[Any], Any]) -> tuple[Any, Any, Any]:
    """The front that the NHWC quantize kernels share (VNNI's here, sdot / neon's in arm_nhwc.py):
    (x, stats, quads). x: the NHWC input [B, H, W, C] float32 placeholder, or with `spec.pool` the
    max pool's input, each value the max over its window (`window_max`); stats: `stats_compute`'s;
    quads [B, H', W', C4 / 4] uint32: the codes of the zero-padded input (padding and padded channels
    code 0, as im2col's zeros), four channels to a word, `to_byte(code)` (a uint32 in 0..255) in
    byte j of channel 4q + j. The blocks are named "code" and "quads" (the schedules find them)."""
    from tvm import te, tirx

    g = spec.conv
    assert g is not None and spec.nhwc
    b_, h_, w_, c_ = g.batch, g.height, g.width, g.channels
    top, left = g.pads[0], g.pads[1]
    _, hp, wp, quads_c = quads_shape(spec)
    x = te.placeholder((b_, h_, w_, c_) if spec.pool is None else (b_, *spec.pool[:2], c_), "float32", name="x")

    def pixel(b: Any, h: Any, w: Any, c: Any) -> Any:
        return x[b, h, w, c] if spec.pool is None else window_max(x, b, h, w, c, spec.pool)

    hw = h_ * w_
    stats = stats_compute(spec, lambda r, c: pixel(r // hw, r % hw // w_, r % w_, c), b_ * hw, c_)

    def clamp(v: Any, n: int) -> Any:
        return tirx.max(tirx.min(v, n - 1), 0)

    def code(b: Any, h: Any, w: Any, c: Any) -> Any:
        inside = tirx.all(h >= top, h < top + h_, w >= left, w < left + w_, c < c_)
        value = pixel(b, clamp(h - top, h_), clamp(w - left, w_), tirx.min(c, c_ - 1))
        return tirx.if_then_else(inside, quantize_code(value, stats, spec.act_bits), tirx.const(0, "int32"))

    codes = te.compute((b_, hp, wp, quads_c * VNNI_GROUP), code, name="code")

    def quad(b: Any, h: Any, w: Any, q: Any) -> Any:
        byte = [to_byte(codes[b, h, w, q * VNNI_GROUP + j]) << (8 * j) for j in range(VNNI_GROUP)]
        return byte[0] | byte[1] | byte[2] | byte[3]

    return x, stats, te.compute((b_, hp, wp, quads_c), quad, name="quads")


def quantize_nhwc_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x [B, H, W, C] float32) -> (quads [B, H', W', C4 / 4] uint32, stats float32[3]).
    With `spec.pool`, x is the max pool's input [B, in_h, in_w, C] and each value the max over its
    window, written out term by term (max is exact in any order: the codes are those of the pooled
    tensor, without the pool's own kernel, its launch and its output's round trip through memory).
    With `spec.head`, the float conv before the pool too (head.py)."""
    from tvm import te, tirx

    def byte(code: Any) -> Any:  # VPDPBUSD's unsigned operand: code + 128
        return tirx.Cast("uint32", code + 128)

    if spec.head is not None:
        from .head import head_quantize_kernel

        return head_quantize_kernel(spec, byte)
    x, stats, quads = nhwc_quads(spec, byte)
    return te.create_prim_func([x, quads, stats]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")


def pack_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x) -> (X planes [M, bits, words], stats float32[3][, rowsum int32[M]]).

    stats = (dequantization scale, threshold, threshold code), see `ActStats.vector`.
    """
    from tvm import te, tirx

    if spec.dot in FAMILY_KERNELS:
        return FAMILY_KERNELS[spec.dot][0](spec)
    if spec.nhwc:
        return quantize_nhwc_kernel(spec)

    g = spec.conv
    in_shape: tuple[int, ...] = (spec.m, spec.k) if g is None else (g.batch, g.channels, g.height, g.width)
    if g is None and spec.pool is not None:
        ph, pw = pooled_hw(spec.pool)
        in_shape = (spec.m, spec.pool[0], spec.pool[1], spec.k // (ph * pw))
    x = te.placeholder(in_shape, "float32", name="x")
    view = _matrix_view(x, spec)
    wdt, wb, bits = word_dtype(spec.word_bits), spec.word_bits, spec.act_bits
    f32 = lambda v: tirx.const(v, "float32")  # noqa: E731
    count = f32(float(spec.m * spec.k))

    one = f32(float(1 << THRESHOLD_FRACTION_BITS))
    if spec.xnor and spec.static_stats is None:
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
        stats = stats_compute(spec, view, spec.m, spec.k)

    k_pad = spec.k_pad
    if spec.xnor:
        code = te.compute((spec.m, k_pad), lambda m, k: tirx.if_then_else(
            tirx.all(k < spec.k, view(m, tirx.min(k, spec.k - 1)) >= stats[1]),
            tirx.const(1, "int32"), tirx.const(0, "int32")), name="code")
    else:
        code = te.compute((spec.m, k_pad), lambda m, k: tirx.if_then_else(
            k < spec.k, quantize_code(view(m, tirx.min(k, spec.k - 1)), stats, bits),
            tirx.const(0, "int32")), name="code")
    if spec.vnni:
        def quad(m: Any, q: Any) -> Any:
            byte = [tirx.Cast("uint32", code[m, q * VNNI_GROUP + j] + 128) << (8 * j) for j in range(VNNI_GROUP)]
            return byte[0] | byte[1] | byte[2] | byte[3]

        quads = te.compute((spec.m, spec.words), quad, name="quads")
        return te.create_prim_func([x, quads, stats]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")
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


def vnni_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (A quads, stats, W [N/16, K/4, planes] uint64, scale, wsum[, bias]) -> float32 output.

    Written in TVMScript, not TE: the dot block's body is one 16-lane VPDPBUSD on vectors (the
    int8 expansion of a weight word has no scalar TE form that LLVM would turn back into
    VPMOVM2B). `schedule.schedule_vnni` tiles it like any block. For an NHWC conv (nhwc.py) A is
    the zero-padded NHWC input in quads [B, H', W', C4 / 4] and the reduction index q a
    (kh, kw, channel quad): the im2col matrix is read in place, never built; the output is NHWC.
    The epilogue adds the bias (spec.bias) and clamps at 0 (spec.relu), each rounded as the
    separate Relax add and relu were (an arithmetic fence keeps LLVM from fusing the
    dequantizing multiply and the bias add into one FMA, which rounds once)."""
    from tvm import tirx
    from tvm.script import tirx as T

    assert spec.vnni, "vnni_kernel needs a LayerSpec with dot='vnni'"
    M, Q, G, P, N = spec.m, spec.words, spec.n_pad // VNNI_LANES, spec.planes, spec.n
    ternary, conv = spec.weights == "ternary", spec.conv is not None
    B, OH, OW = (spec.conv.batch, *spec.conv.out_hw) if spec.conv is not None else (1, 1, 1)
    out_shape = spec.out_shape

    def expand(word: Any) -> Any:
        # A uint64 as 64 one-bit lanes, widened to bytes: LLVM emits a mask load and VPMOVM2B.
        return tirx.Cast("int8x64", tirx.reinterpret("uint1x64", word))

    def weights(plus: Any, minus: Any) -> Any:  # 64 int8 weights: {-1, 0, 1} or {-1, 1}
        if ternary:
            # plus | sign-extended minus (the planes are disjoint): a zero-masked and a merge-masked
            # byte move (VMOVDQU8) where plus - minus took two VPMOVM2B and a VPSUBB; the dense
            # layer at batch 1, where every weight word is expanded for one row, went 1.3 -> 1.2 us
            # (MNIST's 576 -> 128, one thread, x86_64-avx512 here)
            return expand(plus) | tirx.Cast("int8x64", tirx.reinterpret("int1x64", minus))
        # 2 * plus - 1: one VPMOVM2B (a knot and a second expansion cost more, measured)
        return expand(plus) + expand(plus) - expand(tirx.const(0xFFFFFFFFFFFFFFFF, "uint64"))

    # No Broadcast nodes in the kernel: MetaSchedule's FLOP estimate (EstimateTIRFlops, run on
    # every tuned workload) has no case for them and aborts tuning. A stride-0 ramp load is the
    # broadcast (LLVM emits VPBROADCASTD), and zeros a stride-0 ramp of 0.
    def quad(quads: Any, m: Any, q: Any) -> Any:  # row m, quad q of the layer's input matrix, broadcast
        if not spec.nhwc:
            return quads[m, tirx.Ramp(q, 0, VNNI_LANES)]
        g = spec.conv
        assert g is not None
        (_, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
        c4 = quads.shape[3]
        r, c = q // c4, q % c4
        return quads[m // HW, m % HW // OW * sh + r // kw * dh, m % OW * sw + r % kw * dw,
                     tirx.Ramp(c, 0, VNNI_LANES)]

    def dot(acc: Any, quads: Any, m: Any, q: Any, w: Any) -> Any:  # acc[i] += sum_j byte_j(quad) * w[4 i + j]
        a = tirx.reinterpret("int8x64", quad(quads, m, q))
        return tirx.call_llvm_pure_intrin("int32x16", "llvm.x86.avx512.vpdpbusd.512", acc, a, w)

    def zeros() -> Any:
        return tirx.Ramp(tirx.const(0, "int32"), tirx.const(0, "int32"), VNNI_LANES)

    def minus_plane(W: Any, g: Any, q: Any) -> Any:
        return W[g, q, 1] if ternary else W[g, q, 0]

    def dequant(acc: Any, stats: Any, scale: Any, wsum: Any, bias: Any, m: Any, g: Any, lane: Any) -> Any:
        n = g * VNNI_LANES + lane
        y = T.Cast("float32", acc[m, g, lane] - wsum[n] * 128) * stats[0] * scale[n]
        if spec.bias:
            y = tirx.call_llvm_pure_intrin("float32", "llvm.arithmetic.fence", y) + bias[n]
        if spec.relu:
            y = tirx.max(y, tirx.const(0.0, "float32"))
        return y

    HW = OH * OW
    nhwc = spec.nhwc
    if nhwc:

        a_shape: tuple[int, ...] = quads_shape(spec)
    else:
        a_shape = (M, Q)

    # The output block iterates like the accumulators (row, group, lane), so that the schedule
    # can compute it inside each register tile, straight from the accumulators; a conv's row is
    # an output pixel (b, h, w) of the NCHW or NHWC result. `bias` is a parameter only with
    # spec.bias (removed below otherwise).
    @T.prim_func(s_tir=True)
    def vnni(A: T.Buffer(a_shape, "uint32"), stats: T.Buffer((3,), "float32"), W: T.Buffer((G, Q, P), "uint64"),
             scale: T.Buffer((spec.n_pad,), "float32"), wsum: T.Buffer((spec.n_pad,), "int32"),
             bias: T.Buffer((N,), "float32"), out: T.Buffer(out_shape, "float32")):
        T.func_attr({"tir.noalias": True})
        acc = T.sblock_alloc_buffer((M, G, VNNI_LANES), "int32")
        for m, g, q in T.grid(M, G, Q):
            with T.sblock("dot"):
                vm, vg, vq = T.axis.remap("SSR", [m, g, q])
                with T.init():
                    acc[vm, vg, T.ramp(0, 1, VNNI_LANES)] = zeros()
                acc[vm, vg, T.ramp(0, 1, VNNI_LANES)] = dot(
                    acc[vm, vg, T.ramp(0, 1, VNNI_LANES)], A, vm, vq, weights(W[vg, vq, 0], minus_plane(W, vg, vq)))
        for m, g, lane in T.grid(M, G, VNNI_LANES):
            with T.sblock("out"):
                vm, vg, vl = T.axis.remap("SSS", [m, g, lane])
                # In the body, not a T.where: reverse_compute_at drops a block predicate.
                if vg * VNNI_LANES + vl < N:
                    if nhwc:
                        out[vm // HW, vm % HW // OW, vm % OW, vg * VNNI_LANES + vl] = dequant(
                            acc, stats, scale, wsum, bias, vm, vg, vl)
                    elif conv:
                        out[vm // HW, vg * VNNI_LANES + vl, vm % HW // OW, vm % OW] = dequant(
                            acc, stats, scale, wsum, bias, vm, vg, vl)
                    else:
                        out[vm, vg * VNNI_LANES + vl] = dequant(acc, stats, scale, wsum, bias, vm, vg, vl)

    if not spec.bias:
        params = [p for i, p in enumerate(vnni.params) if i != 5]
        vnni = tirx.PrimFunc(params, vnni.body, vnni.ret_type, vnni.attrs)
    return vnni.with_attr(SPEC_ATTR, f"vnni:{spec.to_json()}")


def layer_kernel(spec: LayerSpec) -> Any:
    """The kernel that multiplies packed activations and weights: bit-serial, VNNI or SDOT."""
    if spec.dot in FAMILY_KERNELS:
        return FAMILY_KERNELS[spec.dot][1](spec)
    return vnni_kernel(spec) if spec.vnni else bitserial_kernel(spec)
