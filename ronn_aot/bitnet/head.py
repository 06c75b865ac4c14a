"""A float first convolution computed inside the quantize kernel of the quantized conv it feeds.

The default BitNet layers keep a network's first conv in float. In a CNN like

    conv (float, one input channel) -> [+ bias] -> [relu] -> max pool -> conv (quantized, NHWC)

that float conv, its epilogue, the pool and the second conv's quantization then are two kernels
(the float conv, the quantize kernel with the pool, `kernels.quantize_nhwc_kernel`) with the
conv's full-resolution output between them in memory. Here they are one: for each pixel of the
quantized conv's padded NHWC input the kernel computes the float conv at the pool window's
positions (all channels in one vector, from a zero-padded copy of the input), adds the bias,
clamps, takes the max and quantizes. The conv output never reaches memory and one kernel launch
goes: on MNIST's CNN (28x28, 3x3, 1 -> 16 channels, 2x2 pool) 2.2-2.5 us on 2 threads where the
float conv (2.3-2.5 us) and the quantize kernel (0.9-1.2 us) ran one after the other.

Bit-exact: each conv output is the same float sum in the same order as the float conv kernel
computes it (zero, then + x * w over (kh, kw, input channel), as the NHWC conv's reduction; with
one input channel that is also the NCHW conv's order, which is why the rewrite takes only
convs with one input channel), then + bias and max(., 0), each rounded as the separate kernels
round them; max pooling is exact in any order; the quantization is `kernels.quantize_code`.
Static (calibrated) activation scales only: a run-time scale would need the pooled tensor's max
before the first code, a second pass over the conv.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .reference import ActStats, ConvGeometry

# Convs of at most this many multiply-adds per output value (one input channel: the kernel
# window) and output channels are taken: the kernel keeps a pool window's accumulators (all
# channels) in vector registers and broadcasts each input value, which suits shallow, narrow convs.
MAX_HEAD_REDUCTION, MAX_HEAD_CHANNELS = 49, 64
# Rows in parallel from this many multiply-adds: MNIST's first conv (28x28, 3x3, 1 -> 16 channels,
# 113k) with its pool and quantization took 3.3-3.6 us serially, 2.2-2.5 us on 2 threads (x86_64-avx512 here)
_MIN_PARALLEL_MACS = 1 << 16


def takes_head(g: ConvGeometry) -> bool:
    """Whether a float conv of geometry `g` can run inside the next layer's quantize kernel."""
    return g.channels == 1 and g.k <= MAX_HEAD_REDUCTION and g.out_channels <= MAX_HEAD_CHANNELS


def head_weights(w: np.ndarray) -> np.ndarray:
    """OIHW float conv weights as the kernel reads them: [KH, KW, C, O] (the NHWC conv's HWIO),
    so that one vector load gives a tap's weights for all output channels."""
    return np.ascontiguousarray(np.asarray(w, np.float32).transpose(2, 3, 1, 0))


def head_quantize_kernel(spec: Any) -> Any:
    """PrimFunc (x [B, 1, H, W] float32, w [KH, KW, 1, C], bias [C]) -> (quads, stats): the quantize
    kernel of `spec` (an NHWC LayerSpec with a pool and static stats) computing its input, the
    pooled [B, H', W', C] output of the float conv `spec.head` (+ bias, relu), on the way."""
    from tvm import tirx
    from tvm.script import tirx as T

    from .codes import SPEC_ATTR, quads_shape, quantize_code
    from .quantize import VNNI_GROUP

    g, h, pool = spec.conv, spec.head, spec.pool
    assert g is not None and h is not None and pool is not None and spec.static_stats is not None
    assert takes_head(h) and h.out_hw == (pool[0], pool[1]) and h.out_channels == g.channels
    B, C, IH, IW = g.batch, g.channels, g.height, g.width
    top, left = g.pads[0], g.pads[1]
    _, HP, WP, Q4 = quads_shape(spec)
    C4 = Q4 * VNNI_GROUP
    _, _, PKH, PKW, PSH, PSW = pool
    (KH, KW), (SH, SW), (DH, DW) = h.kernel, h.strides, h.dilation
    HT, HL, XH, XW = h.pads[0], h.pads[1], h.height, h.width
    fixed = ActStats(*spec.static_stats).vector(spec.act_bits)
    use_bias, relu = spec.head_bias, spec.head_relu
    zero = tirx.const(0.0, "float32")
    pad_quad = tirx.const(0x80808080, "uint32")  # four codes 0 (bytes code + 128)

    PH, PW = XH + HT + h.pads[2], XW + HL + h.pads[3]  # the conv's zero-padded input

    def padded(x: Any, b: Any, yy: Any, xx: Any) -> Any:
        inside = tirx.all(yy >= HT, yy < HT + XH, xx >= HL, xx < HL + XW)
        return tirx.if_then_else(inside, x[b, 0, tirx.max(tirx.min(yy - HT, XH - 1), 0),
                                           tirx.max(tirx.min(xx - HL, XW - 1), 0)], zero)

    def act(acc: Any, bias: Any, i: int, j: int, c: Any) -> Any:
        v = acc[i, j, c] + bias[c] if use_bias else acc[i, j, c]
        return tirx.max(v, zero) if relu else v

    def pooled(acc: Any, bias: Any, c: Any) -> Any:  # the pool's order of terms, as the pack kernel's
        value = act(acc, bias, 0, 0, c)
        for i in range(PKH):
            for j in range(PKW):
                if i or j:
                    value = tirx.max(value, act(acc, bias, i, j, c))
        return value

    def code(acc: Any, bias: Any, stats: Any, c: Any) -> Any:
        cc = tirx.min(c, C - 1)
        return tirx.if_then_else(c < C, quantize_code(pooled(acc, bias, cc), stats, spec.act_bits),
                                 tirx.const(0, "int32"))

    def quads_of(codes: Any) -> tuple[Any, Any]:
        """The pixel's quads: its C4 code bytes (code + 128) read as Q4 little-endian uint32 (one
        VPMOVDB where packing them quad by quad took shuffles and shifts)."""
        lanes = tirx.Ramp(0, 1, Q4) if Q4 > 1 else 0
        return lanes, tirx.reinterpret(f"uint32x{Q4}" if Q4 > 1 else "uint32", codes[tirx.Ramp(0, 1, C4)])

    parallel = B * HP > 1 and B * IH * IW * PKH * PKW * KH * KW * C >= _MIN_PARALLEL_MACS

    @T.prim_func(s_tir=True)
    def head(x: T.Buffer((B, 1, XH, XW), "float32"), w: T.Buffer((KH, KW, 1, C), "float32"),
             bias: T.Buffer((C,), "float32"), quads: T.Buffer((B, HP, WP, Q4), "uint32"),
             stats: T.Buffer((3,), "float32")):
        T.func_attr({"tir.noalias": True})
        xp = T.alloc_buffer((B, PH, PW), "float32")
        stats[0] = T.float32(float(fixed[0]))
        stats[1] = T.float32(float(fixed[1]))
        stats[2] = T.float32(float(fixed[2]))
        for b, yy, xx in T.grid(B, PH, PW):
            xp[b, yy, xx] = padded(x, b, yy, xx)
        for row in T.parallel(B * HP) if parallel else T.serial(B * HP):
            b = row // HP
            ph = row % HP
            if ph >= top and ph < top + IH:
                for pw in range(IW):
                    # one pooled pixel: the conv outputs of its window, all channels, in registers
                    acc = T.decl_buffer((PKH, PKW, C), "float32", scope="local")
                    codes = T.decl_buffer((C4,), "uint8", scope="local")
                    for i in T.unroll(PKH):
                        for j in T.unroll(PKW):
                            for c in T.vectorized(C):
                                acc[i, j, c] = T.float32(0.0)
                    # The float conv's reduction order (kh, kw), its terms x * w: LLVM contracts
                    # each step to an FMA as it does in the float conv kernel.
                    for ry in T.unroll(KH):
                        for rx in T.unroll(KW):
                            for i in T.unroll(PKH):
                                for j in T.unroll(PKW):
                                    for c in T.vectorized(C):
                                        acc[i, j, c] = acc[i, j, c] + xp[
                                            b, ((ph - top) * PSH + i) * SH + ry * DH,
                                            (pw * PSW + j) * SW + rx * DW] * w[ry, rx, 0, c]
                    for c in T.vectorized(C4):
                        codes[c] = T.Cast("uint8", code(acc, bias, stats, c) + 128)
                    lanes, value = quads_of(codes)
                    quads[b, ph, left + pw, lanes] = value
                for pw, q in T.grid(WP - IW, Q4):  # the padding columns
                    quads[b, ph, T.if_then_else(pw < left, pw, pw + IW), q] = pad_quad
            else:
                for pw, q in T.grid(WP, Q4):
                    quads[b, ph, pw, q] = pad_quad

    return head.with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")
