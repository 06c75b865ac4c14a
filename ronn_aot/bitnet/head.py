"""A float first convolution computed inside the quantize kernel of the quantized conv it feeds.

The default BitNet layers keep a network's first conv in float. In a CNN like

    conv (float, one input channel) -> [+ bias] -> [relu] -> max pool -> conv (quantized, NHWC)

that float conv, its epilogue, the pool and the second conv's quantization then are two kernels
(the float conv, the quantize kernel with the pool: `kernels.quantize_nhwc_kernel` on VNNI,
`arm_nhwc.quantize_kernel` on sdot / neon) with the conv's full-resolution output between them in
memory. Here they are one: for each pixel of the quantized conv's padded NHWC input the kernel
computes the float conv at the pool window's positions (channels in vectors, from a zero-padded
copy of the input), takes the max, adds the bias, clamps and quantizes into the family's quads
(sdot / neon: also each pixel's sum of codes, then the rows' sums). The conv output never reaches
memory and one kernel launch goes: on MNIST's CNN (28x28, 3x3, 1 -> 16 channels, 2x2 pool)
2.2-2.5 us on 2 threads (x86_64-avx512) where the float conv (2.3-2.5 us) and the quantize kernel
(0.9-1.2 us) ran one after the other; under qemu 0.052 M instructions on aarch64 (Cortex-A72,
neon) where they took 0.093 + 0.026 M, 0.050 M on aarch64-dotprod (sdot) for 0.095 + 0.026 M.

On x86 a window's accumulators hold all channels (16 channels: one AVX-512 vector) and each
input is an FMA's broadcast operand from memory. NEON has 32 registers of 4 floats: channels go
in blocks of 8, so that a block's accumulators (2x2 window: 8 vectors) and its tap weights (3x3:
18 vectors) stay in registers along a row, and the window's inputs are loaded as vectors whose
lanes feed FMLA by element.

Bit-exact: each conv output is the same float sum in the same order as the float conv kernel
computes it (zero, then + x * w over (kh, kw, input channel), as the NHWC conv's reduction; with
one input channel that is also the NCHW conv's order, which is why the rewrite takes only
convs with one input channel). The separate kernels then round acc + bias, clamp at 0 and take
the window's max; here the max comes first, then one bias add and clamp: rounding a sum and
max(., 0) are monotonic, so the value is the same for finite inputs (a zero's sign aside, which no
code sees). The quantization is `kernels.quantize_code`.
Static (calibrated) activation scales only: a run-time scale would need the pooled tensor's max
before the first code, a second pass over the conv.
"""

from __future__ import annotations

from typing import Any, Callable

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


def head_quantize_kernel(spec: Any, to_byte: Callable[[Any], Any]) -> Any:
    """PrimFunc (x [B, 1, H, W] float32, w [KH, KW, 1, C], bias [C]) -> (quads, stats[, rowsum]): the
    NHWC quantize kernel of `spec` (a LayerSpec with a pool and static stats; VNNI's or, with a
    rowsum, sdot / neon's) computing its input, the pooled [B, H', W', C] output of the float conv
    `spec.head` (+ bias, relu), on the way. `to_byte(code)` is the family's byte of a code (a
    uint32 in 0..255), as in `kernels.nhwc_quads`; sdot / neon also sum each pixel's codes into
    the rows' sums (`codes.window_pixel`)."""
    from tvm import tirx
    from tvm.script import tirx as T

    from .codes import SPEC_ATTR, quads_shape, quantize_code, window_pixel
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
    pad_quad = to_byte(tirx.const(0, "int32")) * tirx.const(0x01010101, "uint32")  # four codes 0

    PH, PW = XH + HT + h.pads[2], XW + HL + h.pads[3]  # the conv's zero-padded input

    def padded(x: Any, b: Any, yy: Any, xx: Any) -> Any:
        inside = tirx.all(yy >= HT, yy < HT + XH, xx >= HL, xx < HL + XW)
        return tirx.if_then_else(inside, x[b, 0, tirx.max(tirx.min(yy - HT, XH - 1), 0),
                                           tirx.max(tirx.min(xx - HL, XW - 1), 0)], zero)

    # NEON (sdot / neon): channels in blocks of 8 and the window's inputs as a patch of vectors
    # (see the module doc); x86: one block, each input broadcast from memory
    arm = bool(spec.sdot)
    CB = 8 if arm and C > 8 and C % 8 == 0 else C  # channels of a block
    CB4 = CB if CB < C else C4  # their code bytes (the last block's padded to whole quads)
    NB, QB = C4 // CB4, CB4 // VNNI_GROUP
    PR, PC = (PKH - 1) * SH + (KH - 1) * DH + 1, (PKW - 1) * SW + (KW - 1) * DW + 1  # the window's input

    def window(xp: Any, patch: Any, b: Any, y0: Any, x0: Any, r: int, s: int) -> Any:
        """Input (r, s) of a pool window whose first conv output reads input (y0, x0)."""
        return patch[r, s] if arm else xp[b, y0 + r, x0 + s]

    def pool_max(a: Any, b: Any) -> Any:
        """max(a, b); on NEON one FMAXNM where tirx.max's select took a compare and a BSL (the two
        differ only for NaNs and in a zero's sign, which no code sees)."""
        return tirx.call_llvm_pure_intrin("float32", "llvm.maxnum", a, b) if arm else tirx.max(a, b)

    def pooled(acc: Any, bias: Any, c: Any, ch: Any) -> Any:
        """Channel ch pooled: relu(max(acc) + bias), the separate kernels' max(relu(acc + bias))
        (module doc) with one bias add and clamp a window instead of one a conv output."""
        value = acc[0, 0, c]
        for i in range(PKH):
            for j in range(PKW):
                if i or j:
                    value = pool_max(value, acc[i, j, c])
        value = value + bias[ch] if use_bias else value
        return tirx.max(value, zero) if relu else value

    def byte(acc: Any, bias: Any, stats: Any, blk: Any, c: Any) -> Any:
        """Byte c of channel block blk: the code of channel blk * CB + c (0 past the channels)."""
        ch = blk * CB + c
        code = tirx.if_then_else(ch < C, quantize_code(pooled(acc, bias, tirx.min(c, CB - 1), tirx.min(ch, C - 1)),
                                                       stats, spec.act_bits), tirx.const(0, "int32"))
        return tirx.Cast("uint8", to_byte(code))

    def quads_of(codes: Any) -> tuple[Any, Any]:
        """A block's quads (their index in the block, their value): its CB4 code bytes read as QB
        little-endian uint32 (one VPMOVDB / a narrowing of the code vector where packing them quad
        by quad took shuffles and shifts)."""
        lanes = tirx.Ramp(0, 1, QB) if QB > 1 else 0
        return lanes, tirx.reinterpret(f"uint32x{QB}" if QB > 1 else "uint32", codes[tirx.Ramp(0, 1, CB4)])

    def quad(codes: Any, q: Any) -> Any:
        """Quad q of a block (its code bytes 4 q .. 4 q + 3)."""
        return tirx.reinterpret("uint32", codes[tirx.Ramp(q * VNNI_GROUP, 1, VNNI_GROUP)])

    def code_sum(codes: Any) -> Any:
        """The sum of a block's codes, from their bytes (sdot / neon: two's complement)."""
        total = tirx.const(0, "int32")
        for c in range(min(CB4, C)):
            total = total + tirx.Cast("int32", tirx.reinterpret("int8", codes[c]))
        return total

    parallel = B * HP > 1 and B * IH * IW * PKH * PKW * KH * KW * C >= _MIN_PARALLEL_MACS

    @T.macro
    def fused(x: Any, w: Any, bias: Any, quads: Any, stats: Any, pixsum: Any) -> None:
        """The kernel but for the rows' sums; pixsum [B, H', W'] int32 or None (VNNI)."""
        xp = T.alloc_buffer((B, PH, PW), "float32")
        stats[0] = T.float32(float(fixed[0]))
        stats[1] = T.float32(float(fixed[1]))
        stats[2] = T.float32(float(fixed[2]))
        for b, yy, xx in T.grid(B, PH, PW):
            xp[b, yy, xx] = padded(x, b, yy, xx)
        for row in T.parallel(B * HP) if parallel else T.serial(B * HP):
            b = row // HP
            ph = row % HP
            if pixsum is not None:
                for pw in range(WP):
                    pixsum[b, ph, pw] = 0
            if ph >= top and ph < top + IH:
                for blk in T.unroll(NB):
                    for pw in range(IW):
                        # one pooled pixel: the conv outputs of its window, a block of channels, in registers
                        acc = T.decl_buffer((PKH, PKW, CB), "float32", scope="local")
                        codes = T.decl_buffer((CB4,), "uint8", scope="local")
                        for i in T.unroll(PKH):
                            for j in T.unroll(PKW):
                                for c in T.vectorized(CB):
                                    acc[i, j, c] = T.float32(0.0)
                        y0 = (ph - top) * PSH * SH
                        x0 = pw * PSW * SW
                        patch = T.decl_buffer((PR, PC), "float32", scope="local")
                        if arm:
                            for r in T.unroll(PR):
                                for s in T.vectorized(PC):
                                    patch[r, s] = xp[b, y0 + r, x0 + s]
                        # The float conv's reduction order (kh, kw), its terms x * w: LLVM contracts
                        # each step to an FMA as it does in the float conv kernel.
                        for ry in T.unroll(KH):
                            for rx in T.unroll(KW):
                                for i in T.unroll(PKH):
                                    for j in T.unroll(PKW):
                                        for c in T.vectorized(CB):
                                            acc[i, j, c] = acc[i, j, c] + window(
                                                xp, patch, b, y0, x0, i * SH + ry * DH, j * SW + rx * DW
                                            ) * w[ry, rx, 0, blk * CB + c]
                        for c in T.vectorized(CB4):
                            codes[c] = byte(acc, bias, stats, blk, c)
                        if NB == 1:
                            lanes, value = quads_of(codes)
                            quads[b, ph, left + pw, lanes] = value
                        else:  # a vector store at blk * QB became a scatter
                            for q in T.unroll(QB):
                                quads[b, ph, left + pw, blk * QB + q] = quad(codes, q)
                        if pixsum is not None:
                            pixsum[b, ph, left + pw] = pixsum[b, ph, left + pw] + code_sum(codes)
                for pw in range(WP - IW):  # the padding columns
                    for q in range(Q4):
                        quads[b, ph, T.if_then_else(pw < left, pw, pw + IW), q] = pad_quad
            else:
                for pw, q in T.grid(WP, Q4):
                    quads[b, ph, pw, q] = pad_quad

    if not spec.needs_rowsum:
        @T.prim_func(s_tir=True)
        def head(x: T.Buffer((B, 1, XH, XW), "float32"), w: T.Buffer((KH, KW, 1, C), "float32"),
                 bias: T.Buffer((C,), "float32"), quads: T.Buffer((B, HP, WP, Q4), "uint32"),
                 stats: T.Buffer((3,), "float32")):
            T.func_attr({"tir.noalias": True})
            fused(x, w, bias, quads, stats, None)

        return head.with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")

    M, (OH, OW) = spec.m, g.out_hw

    def row_sum(pixsum: Any, m: Any) -> Any:
        total = tirx.const(0, "int32")
        for rh in range(g.kernel[0]):
            for rw in range(g.kernel[1]):
                total = total + pixsum[window_pixel(g, m, rh, rw)]
        return total

    @T.prim_func(s_tir=True)
    def head_rowsum(x: T.Buffer((B, 1, XH, XW), "float32"), w: T.Buffer((KH, KW, 1, C), "float32"),
                    bias: T.Buffer((C,), "float32"), quads: T.Buffer((B, HP, WP, Q4), "uint32"),
                    stats: T.Buffer((3,), "float32"), rowsum: T.Buffer((M,), "int32")):
        T.func_attr({"tir.noalias": True})
        pixsum = T.alloc_buffer((B, HP, WP), "int32")
        fused(x, w, bias, quads, stats, pixsum)
        for b, oy in T.grid(B, OH):
            # a row of output pixels at a time: with stride 1 they read consecutive pixel sums
            for ox in T.vectorized(OW) if g.strides[1] == 1 else T.serial(OW):
                rowsum[(b * OH + oy) * OW + ox] = row_sum(pixsum, (b * OH + oy) * OW + ox)

    return head_rowsum.with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")
