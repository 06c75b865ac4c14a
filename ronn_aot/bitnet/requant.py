"""An NHWC VNNI conv whose epilogue quantizes for the next quantized layer: the pool between them
and the next layer's quantize kernel run on the register tile.

    conv (VNNI, NHWC) -> [+ bias] -> [relu] -> max pool -> conv (VNNI, NHWC) or Flatten -> dense (VNNI)

(the next layer with a static scale) is otherwise the conv kernel (`kernels.vnni_kernel`) writing
its float output, then the next layer's quantize kernel (`kernels.quantize_nhwc_kernel`, or the
dense pack kernel, with the pool) reading it back. Here one parallel task is one row of pool
windows of one group of 16 channels: its accumulators stay in registers over the reduction, then
each pixel is dequantized (the same float operations, in the same order, as vnni_kernel's
epilogue), each window's max is quantized with the next layer's static scale, and its 16 code
bytes are 4 of the next layer's quads (a conv's padded NHWC quads, or a dense layer's row, its
columns the pooled tensor's NHWC order). The float output never reaches memory, the quantize
kernel goes, and output pixels no pool window reads (the last row and column of a 7x7 output
under a 2x2 pool) are not computed at all.

Taken for non-overlapping pool windows, whole groups of 16 channels and a task's rows within the
registers (`takes_requant`).
"""

from __future__ import annotations

from typing import Any

from .reference import ActStats, qmax

MAX_TASK_ROWS = 28  # accumulators of one task (int32x16 each), of the 32 vector registers


def takes_requant(spec: Any, pool: tuple[int, ...]) -> bool:
    """Whether the NHWC vnni conv `spec` can quantize its output for a next layer through `pool`."""
    g = spec.conv
    in_h, in_w, kh, kw, sh, sw = pool
    oh, ow = g.out_hw
    return (spec.nhwc and spec.n % 16 == 0 and (kh, kw) == (sh, sw) and (in_h, in_w) == (oh, ow)
            and oh >= kh and ow >= kw and kh * (ow // kw) * kw <= MAX_TASK_ROWS)


def vnni_requant_kernel(spec: Any, nxt: Any) -> Any:
    """PrimFunc (A quads, stats, W, scale, wsum[, bias]) -> (next quads, next stats): the NHWC vnni
    conv `spec` (bias and relu as spec says) whose output, max pooled by `nxt.pool`, is quantized
    for the layer `nxt` (static stats; an NHWC conv, or a vnni dense layer) as its pack kernel would."""
    from tvm import tirx
    from tvm.script import tirx as T

    from .codes import SPEC_ATTR, quads_shape
    from .quantize import VNNI_GROUP, VNNI_LANES

    g, ng = spec.conv, nxt.conv
    assert g is not None and nxt.pool is not None and nxt.static_stats is not None and takes_requant(spec, nxt.pool)
    B, (OH, OW) = g.batch, g.out_hw
    (_, KW), (SH, SW), (DH, DW) = g.kernel, g.strides, g.dilation
    Q, G, P, N = spec.words, spec.n_pad // VNNI_LANES, spec.planes, spec.n
    a_shape = quads_shape(spec)
    C4 = a_shape[3]
    _, _, PKH, PKW, _, _ = nxt.pool
    PR, PC = OH // PKH, OW // PKW  # pooled rows, columns (the next layer's input height, width)
    CW = PC * PKW  # output columns some pool window reads
    R = PKH * CW  # rows (output pixels) of one task
    if ng is not None:  # a conv: its padded NHWC quads
        assert ng.channels == spec.n
        nshape: tuple[int, ...] = quads_shape(nxt)
        top, left = ng.pads[0], ng.pads[1]
        NHP, NWP, NQ = nshape[1], nshape[2], nshape[3]
    else:  # a dense layer: one row of quads per image, columns (h, w, c)
        assert nxt.k == PR * PC * spec.n and nxt.m == B
        nshape = (B, nxt.words)
        top = left = NHP = NWP = 0
        NQ = spec.n // VNNI_GROUP

    def out_index(b: Any, pr: Any, pc: Any, g4: Any) -> tuple[Any, ...]:
        """Where the quads of pooled pixel (pr, pc), channels 4 * g4.., go in the next layer's input."""
        if ng is not None:
            return b, top + pr, left + pc, g4
        return b, (pr * PC + pc) * NQ + g4
    fixed = ActStats(*nxt.static_stats).vector(nxt.act_bits)
    ternary = spec.weights == "ternary"
    pad_quad = tirx.const(0x80808080, "uint32")
    zero_f = tirx.const(0.0, "float32")
    lanes16 = tirx.Ramp(0, 1, VNNI_LANES)

    def expand(word: Any) -> Any:
        return tirx.Cast("int8x64", tirx.reinterpret("uint1x64", word))

    def weights(W: Any, gi: Any, q: Any) -> Any:  # as kernels.vnni_kernel's
        if ternary:
            return expand(W[gi, q, 0]) | tirx.Cast("int8x64", tirx.reinterpret("int1x64", W[gi, q, 1]))
        return expand(W[gi, q, 0]) + expand(W[gi, q, 0]) - expand(tirx.const(0xFFFFFFFFFFFFFFFF, "uint64"))

    def quad(A: Any, b: Any, oy: Any, ox: Any, q: Any) -> Any:  # the im2col quad, broadcast
        r, c = q // C4, q % C4
        return A[b, oy * SH + r // KW * DH, ox * SW + r % KW * DW, tirx.Ramp(c, 0, VNNI_LANES)]

    def dot(acc: Any, a: Any, w: Any) -> Any:
        return tirx.call_llvm_pure_intrin("int32x16", "llvm.x86.avx512.vpdpbusd.512", acc,
                                          tirx.reinterpret("int8x64", a), w)

    def dequant(acc: Any, stats: Any, scale: Any, wsum: Any, bias: Any, r: int, n: Any) -> Any:
        # vnni_kernel's epilogue, operation for operation
        y = tirx.Cast("float32x16", acc[r, lanes16] - wsum[n] * 128) * stats[0] * scale[n]
        if spec.bias:
            y = tirx.call_llvm_pure_intrin("float32x16", "llvm.arithmetic.fence", y) + bias[n]
        if spec.relu:
            y = tirx.max(y, tirx.Ramp(zero_f, zero_f, VNNI_LANES))
        return y

    def pooled(acc: Any, stats: Any, scale: Any, wsum: Any, bias: Any, pc: int, n: Any) -> Any:
        value = None
        for i in range(PKH):
            for j in range(PKW):
                t = dequant(acc, stats, scale, wsum, bias, i * CW + pc * PKW + j, n)
                value = t if value is None else tirx.max(value, t)
        return value

    def quads_of(value: Any, nstats: Any) -> Any:
        """16 channels' codes (kernels.quantize_code, on a vector) as bytes code + 128: 4 quads."""
        q = float(qmax(nxt.act_bits))
        code = tirx.Cast("int32x16", tirx.max(tirx.min(tirx.round(value / nstats[0]), tirx.const(q, "float32")),
                                                tirx.const(-q, "float32")))
        return tirx.reinterpret(f"uint32x{VNNI_GROUP}", tirx.Cast("uint8x16", code + tirx.Ramp(128, 0, VNNI_LANES)))

    @T.prim_func(s_tir=True)
    def requant(A: T.Buffer(a_shape, "uint32"), stats: T.Buffer((3,), "float32"), W: T.Buffer((G, Q, P), "uint64"),
                scale: T.Buffer((spec.n_pad,), "float32"), wsum: T.Buffer((spec.n_pad,), "int32"),
                bias: T.Buffer((N,), "float32"), nquads: T.Buffer(nshape, "uint32"),
                nstats: T.Buffer((3,), "float32")):
        T.func_attr({"tir.noalias": True})
        nstats[0] = T.float32(float(fixed[0]))
        nstats[1] = T.float32(float(fixed[1]))
        nstats[2] = T.float32(float(fixed[2]))
        for b, hp, wp in T.grid(B, NHP, NWP):  # a next conv's zero padding (code 0)
            if hp < top or hp >= top + PR or wp < left or wp >= left + PC:
                for q in T.vectorized(NQ):
                    nquads[out_index(b, hp - top, wp - left, q)] = pad_quad
        for task in T.parallel(B * PR * G):
            acc = T.decl_buffer((R, VNNI_LANES), "int32", scope="local")
            for r in T.unroll(R):
                acc[r, lanes16] = tirx.Ramp(tirx.const(0, "int32"), tirx.const(0, "int32"), VNNI_LANES)
            for q in range(Q):
                for r in T.unroll(R):
                    acc[r, lanes16] = dot(acc[r, lanes16],
                                          quad(A, task // (PR * G), task // G % PR * PKH + r // CW, r % CW, q),
                                          weights(W, task % G, q))
            for pc in T.unroll(PC):
                nquads[out_index(task // (PR * G), task // G % PR, pc, tirx.Ramp(task % G * VNNI_GROUP, 1, VNNI_GROUP))] = \
                    quads_of(pooled(acc, stats, scale, wsum, bias, pc, tirx.Ramp(task % G * VNNI_LANES, 1, VNNI_LANES)),
                             nstats)

    func = requant
    if not spec.bias:
        params = [p for i, p in enumerate(func.params) if i != 5]
        func = tirx.PrimFunc(params, func.body, func.ret_type, func.attrs)
    return func.with_attr(SPEC_ATTR, f"requant:{spec.to_json()}|{nxt.to_json()}")
