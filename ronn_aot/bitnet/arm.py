"""The "sdot" BitNet kernel family: int8 dot products on Armv8.2-A with the dot-product extension
(`aarch64-dotprod`: Cortex-A76 / Neoverse-N1 class), its Armv8.0 form "neon", and the NEON
bit-serial popcount kernel (both aarch64 targets).

`SDOT` (`sdot vd.4s, vn.16b, vm.16b`) adds to each of 4 int32 lanes the dot product of 4 signed
bytes: one instruction does 16 multiply-adds. The kernels feed it

- activations: the layer's int codes as signed bytes, 4 consecutive reduction indices to a uint32
  quad, A [M, K / 4] (`pack_kernel`), broadcast to all 4 lanes (one `ld1r` per row and quad), and
  each row's sum of codes (rowsum [M]);
- weights: the {-1, 0, +1} weights stored 2 bits each (binary: 1 bit), decoded in registers. One
  16-byte vector per (group of `lanes` channels, quad q) holds, in byte 4 c + j, the weights at
  k = 4 q + j of the channels 4 v + c of the group, for every vector v in 0..V-1 in bits
  [bits * v, bits * (v + 1)): V = 4 vectors (16 channels) of ternary weights stored as w + 1 in
  {0, 1, 2}, or V = 8 vectors (32 channels) of binary weights stored as (w + 1) / 2 in {0, 1}.
  A ternary vector v decodes with a shift and a mask (`ushr`, `and`: one instruction for the
  first and the last v) into its digits, a binary one with one `cmtst` into -digit (-1 or 0);
  SDOT multiplies them with the activation bytes. A weight decoded once serves every row of a
  register tile.

Arithmetic (exact integers, as `reference.dense`): with u the stored digit,
  ternary: acc = sum_k code_k * u_k = dot + rowsum, so dot = acc - rowsum
  binary:  acc = -sum_k code_k * u_k = -(dot + rowsum) / 2, so dot = -2 * acc - rowsum
then the same float epilogue as the other families: float(dot) * scale_a * scale_w[n].

The "neon" family is the same kernel on Arm cores without the extension (`aarch64`:
Cortex-A53/A72): SDOT becomes MUL (16 byte products, |code * w| <= 127) and SADALP (pairs added
into int16 lanes), over chunks of up to 128 quads (`neon_chunk`: int16 cannot overflow), then one
SADALP per chunk into the int32 lanes; with activations of 7 bits or fewer two quads' products are
summed in the bytes first (MUL, MLA, then one SADALP: `neon_depth`). A layer whose weights take
at most NEON_BYTE_WEIGHTS_MAX as bytes stores them so, w itself (the "sdot" layout with each vector
v in a 16-byte vector of its own: 4x the bytes of 2-bit ternary weights, 8x of binary ones), and
acc = dot: without SDOT, decoding a vector costs as much as a quarter of its products (a fifth
of MNIST's conv kernels' instructions). Larger layers, whose weights stream from memory on a
board, keep the digits: ternary as w itself, a 2-bit two's complement field decoded with a shift
left and an arithmetic shift right (`shl`, `sshr`: one for the last v; acc = dot), binary as
for SDOT. `config.NEON_MIN_BITS` says when the family beats bit-serial popcount.

A conv runs in NHWC on both (arm_nhwc.py): its quantize kernel writes the input's codes once as
padded NHWC quads, which the kernel reads in place (reduction index (kh, kw, channel quad)).

"sdot" weights take the popcount layout's bytes (2 bits a ternary weight, 1 a binary one). The
kernels' work does not grow with the activation bits, unlike bit-serial popcount (one AND + CNT
per activation bit-plane and weight plane).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arm_nhwc import quantize_kernel, schedule_quantize
from .kernels import FAMILY_KERNELS, SPEC_ATTR, _matrix_view, quads_shape, quantize_code, stats_compute
from .quantize import BYTE_DOT_LANES, FAMILY_PACKERS, VNNI_GROUP, PackedWeights, ceil_to, quantize_weights, word_dtype
from .reference import THRESHOLD_FRACTION_BITS, plane_coefficients, qmax
from .schedule import _MIN_PARALLEL_WORK, TARGET_SCHEDULES, _parallel_absmax, _parallel_outer

SDOT_GROUP = 4  # reduction indices per int32 lane (one quad of activation bytes)
SDOT_LANES = 4  # int32 lanes of one 128-bit SDOT accumulator
SDOT_BYTES = SDOT_GROUP * SDOT_LANES  # bytes of one decoded weight vector
SDOT_INTRINSIC = "llvm.aarch64.neon.sdot.v4i32.v16i8"


def weight_bits(kind: str) -> int:
    """Bits a stored weight takes: 2 (ternary, w + 1) or 1 (binary, (w + 1) / 2)."""
    return 2 if kind == "ternary" else 1


def vectors_per_group(kind: str) -> int:
    """SDOT accumulators (of 4 channels) one stored weight vector holds: 8 / weight_bits; 4 for
    "int8" (the int8 model kernels of passes/int8_dot.py: a 16-byte vector each, 16 channels)."""
    return 4 if kind == "int8" else 8 // weight_bits(kind)


def group_lanes(kind: str) -> int:
    """Output channels of one stored weight vector (4 per decoded vector)."""
    assert kind not in BYTE_DOT_LANES or BYTE_DOT_LANES[kind] == SDOT_LANES * vectors_per_group(kind)
    return SDOT_LANES * vectors_per_group(kind)


def pack_weights_sdot(w: np.ndarray, kind: str, dot: str = "sdot") -> PackedWeights:
    """Quantize and pack an [N, K] float weight matrix in the layout of family `dot` (see the module
    doc): planes uint8 [n_pad / lanes, K4 / 4, 16] of digits, or [n_pad / lanes, K4 / 4, V, 16] of
    bytes (`byte_weights`)."""
    q, scale = quantize_weights(w, kind)
    return pack_values_sdot(q, scale, kind, dot)


def pack_weights_neon(w: np.ndarray, kind: str) -> PackedWeights:
    """`pack_weights_sdot` for the "neon" family (bytes, or digits for large layers: `byte_weights`)."""
    return pack_weights_sdot(w, kind, "neon")


# "neon": the most bytes a layer's weights may take stored a byte each (n_pad x K4), so that they
# stay in an Armv8.0 core's L2 (256 KiB - 1 MiB on Cortex-A53 / A72 boards) beside the activations
NEON_BYTE_WEIGHTS_MAX = 128 * 1024


def byte_weights(dot: str, n_pad: int, quads: int) -> bool:
    """Whether a layer of family `dot` with n_pad channels and `quads` reduction quads stores its
    weights as bytes, w itself ("neon", up to NEON_BYTE_WEIGHTS_MAX), not as 2-bit / 1-bit digits."""
    return dot == "neon" and n_pad * quads * SDOT_GROUP <= NEON_BYTE_WEIGHTS_MAX


def _signed_fields(kind: str, dot: str) -> bool:
    """Whether a stored digit is w itself, 2-bit two's complement (neon ternary), not w + 1."""
    return kind == "ternary" and dot == "neon"


def pack_values_sdot(q: np.ndarray, scale: np.ndarray, kind: str, dot: str = "sdot") -> PackedWeights:
    """Pack quantized int8 weights [N, K] (any value where the codes are 0: padded channels) with
    their scales [N] in the "sdot" layout of family `dot`."""
    n, k = q.shape
    bits, vectors, lanes = weight_bits(kind), vectors_per_group(kind), group_lanes(kind)
    n_pad, k_pad = ceil_to(n, lanes), ceil_to(k, SDOT_GROUP)
    groups, quads = n_pad // lanes, k_pad // SDOT_GROUP
    bytes_ = byte_weights(dot, n_pad, quads)
    digits = np.zeros((n_pad, k_pad), np.uint8)  # padding: digit 0 (its codes are 0 too)
    if bytes_:
        digits[:n, :k] = q.astype(np.int8).view(np.uint8)
    elif _signed_fields(kind, dot):
        digits[:n, :k] = q.astype(np.uint8) & 3
    else:
        digits[:n, :k] = (q + 1) if kind == "ternary" else (q + 1) // 2
    # [G, V, C, Q, J] -> [G, Q, V, C, J]: byte (C, J) of quad q holds every vector's digit
    d = digits.reshape(groups, vectors, SDOT_LANES, quads, SDOT_GROUP).transpose(0, 3, 1, 2, 4)
    if bytes_:
        planes = np.ascontiguousarray(d).reshape(groups, quads, vectors, SDOT_BYTES)
    else:
        packed = np.zeros((groups, quads, SDOT_LANES, SDOT_GROUP), np.uint32)
        for v in range(vectors):
            packed |= d[:, :, v].astype(np.uint32) << (bits * v)
        planes = packed.reshape(groups, quads, SDOT_BYTES).astype(np.uint8)
    scale_pad = np.zeros(n_pad, np.float32)
    scale_pad[:n] = scale
    wsum = np.zeros(n_pad, np.int32)
    wsum[:n] = q.sum(axis=1, dtype=np.int64)
    return PackedWeights(kind, n, k, 8, np.ascontiguousarray(planes), scale_pad, wsum, q, layout="sdot")


def pack_conv_nhwc_sdot(w: np.ndarray, kind: str, dot: str = "sdot") -> PackedWeights:
    """Quantize OIHW conv weights [N, C, KH, KW] as the [N, C * KH * KW] matrix (the same values
    and scales as `pack_weights_sdot` of that matrix), then pack them in the reduction order of
    NHWC quads: k = (kh * KW + kw) * C4 + c, channels padded with zero weights to C4."""
    n, c, kh, kw = w.shape
    q, scale = quantize_weights(w.reshape(n, c * kh * kw), kind)
    c4 = ceil_to(c, VNNI_GROUP)
    hwc = np.zeros((n, kh, kw, c4), np.int8)
    hwc[..., :c] = q.reshape(n, c, kh, kw).transpose(0, 2, 3, 1)
    return pack_values_sdot(hwc.reshape(n, kh * kw * c4), scale, kind, dot)


def unpack_sdot(planes: np.ndarray, kind: str, n: int, k: int, dot: str = "sdot") -> np.ndarray:
    """The int8 [N, K] weights that "sdot" planes of family `dot` encode (inverse of pack_weights_sdot)."""
    bits, vectors = weight_bits(kind), vectors_per_group(kind)
    groups, quads = planes.shape[:2]
    bytes_ = planes.ndim == 4  # byte_weights
    if bytes_:
        d = planes.view(np.int8).reshape(groups, quads, vectors, SDOT_LANES, SDOT_GROUP)
    else:
        b = planes.reshape(groups, quads, SDOT_LANES, SDOT_GROUP).astype(np.int32)
        d = np.stack([(b >> (bits * v)) & ((1 << bits) - 1) for v in range(vectors)], axis=2)  # [G, Q, V, C, J]
    d = d.transpose(0, 2, 3, 1, 4).reshape(groups * vectors * SDOT_LANES, quads * SDOT_GROUP)[:n, :k]
    if bytes_:
        return d.astype(np.int8)
    if _signed_fields(kind, dot):
        return ((d ^ 2) - 2).astype(np.int8)
    return (d - 1 if kind == "ternary" else 2 * d - 1).astype(np.int8)


def pack_kernel(spec: Any) -> Any:
    """PrimFunc (x) -> (A quads [M, K4 / 4] uint32 of signed code bytes, stats float32[3],
    rowsum int32 [M]) for an "sdot" layer (dense or NCHW convolution, int activations)."""
    from tvm import te, tirx

    if spec.nhwc:
        return quantize_kernel(spec)
    g = spec.conv
    in_shape = (spec.m, spec.k) if g is None else (g.batch, g.channels, g.height, g.width)
    x = te.placeholder(in_shape, "float32", name="x")
    view = _matrix_view(x, spec)
    stats = stats_compute(spec, view, spec.m, spec.k)
    code = te.compute((spec.m, spec.k_pad), lambda m, k: tirx.if_then_else(
        k < spec.k, quantize_code(view(m, tirx.min(k, spec.k - 1)), stats, spec.act_bits),
        tirx.const(0, "int32")), name="code")

    def quad(m: Any, q: Any) -> Any:
        byte = [tirx.Cast("uint32", code[m, q * SDOT_GROUP + j] & 0xFF) << (8 * j) for j in range(SDOT_GROUP)]
        return byte[0] | byte[1] | byte[2] | byte[3]

    quads = te.compute((spec.m, spec.words), quad, name="quads")
    # the sum of a row's codes, read back from its quads (so that the codes stay local to the row)
    rq, rj = te.reduce_axis((0, spec.words), "rq"), te.reduce_axis((0, SDOT_GROUP), "rj")
    rowsum = te.compute((spec.m,), lambda m: te.sum(tirx.Cast("int32", tirx.Cast(
        "int8", (quads[m, rq] >> (tirx.Cast("uint32", rj) * tirx.const(8, "uint32"))) & tirx.const(0xFF, "uint32"))),
        axis=[rq, rj]), name="rowsum")
    return te.create_prim_func([x, quads, stats, rowsum]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")


def sdot_kernel(spec: Any) -> Any:
    """PrimFunc (A quads, stats, rowsum, W [G, Q, 16] uint8, scale) -> float32 output.

    TVMScript like `kernels.vnni_kernel`: the dot block's body is one SDOT on vectors (the weight
    vector decoded with a shift and a mask, the activation quad broadcast), accumulating 4
    channels; `schedule_sdot` tiles it. The output block iterates like the accumulators."""
    from tvm import tirx
    from tvm.script import tirx as T

    assert spec.sdot, "sdot_kernel needs a LayerSpec with dot='sdot' or 'neon'"
    M, Q, N = spec.m, spec.words, spec.n
    MP = padded_rows(M)  # the accumulators' rows: padding rows read row M - 1, write nothing
    V, L, bits = vectors_per_group(spec.weights), group_lanes(spec.weights), weight_bits(spec.weights)
    G = spec.n_pad // L
    # ternary: acc = dot + rowsum (sdot: digits w + 1) or dot (neon: w itself, as its byte
    # products must fit int8); binary: acc = -(dot + rowsum) / 2 (the decoded bytes are -digit),
    # or dot where the weights are bytes
    factor = 1 if spec.weights == "ternary" else -2
    bytes_ = byte_weights(spec.dot, spec.n_pad, Q)
    offset = not (bytes_ or _signed_fields(spec.weights, spec.dot))  # whether acc counts the rowsum
    w_shape = (G, Q, V, SDOT_BYTES) if bytes_ else (G, Q, SDOT_BYTES)
    conv, nhwc = spec.conv is not None, spec.nhwc
    OH, OW = spec.conv.out_hw if conv else (1, 1)
    HW = OH * OW
    out_shape = spec.out_shape
    mask = (1 << bits) - 1
    a_shape = quads_shape(spec) if nhwc else (M, Q)  # NHWC: the im2col matrix read from quads (arm_nhwc.py)
    C4 = a_shape[-1]

    def weight(W: Any, g: Any, q: Any, v: Any) -> Any:  # the weight vector (g, q, v) as 16 bytes
        if bytes_:
            return tirx.reinterpret("int8x16", W[g, q, v, tirx.Ramp(0, 1, SDOT_BYTES)])
        return decode(W[g, q, tirx.Ramp(0, 1, SDOT_BYTES)], v)

    def decode(word: Any, v: Any) -> Any:  # vector v as 16 bytes: ternary digits; binary -digits
        if spec.weights == "binary":  # -1 where bit v is set, else 0: one CMTST
            bit = tirx.Cast("uint8", tirx.const(1, "int32") << v)
            return tirx.Select((word & tirx.Broadcast(bit, SDOT_BYTES)) != tirx.Broadcast(tirx.const(0, "uint8"), SDOT_BYTES),
                               tirx.Broadcast(tirx.const(-1, "int8"), SDOT_BYTES),
                               tirx.Broadcast(tirx.const(0, "int8"), SDOT_BYTES))
        if not offset:  # neon ternary: w in 2-bit two's complement, SHL then SSHR (SSHR alone for the last v)
            up = tirx.reinterpret("int8x16", word << tirx.Broadcast(tirx.Cast("uint8", 8 - bits - v * bits), SDOT_BYTES))
            return up >> tirx.Broadcast(tirx.const(8 - bits, "int8"), SDOT_BYTES)
        shift = tirx.Cast("uint8", v * bits)  # USHR + AND (one of them for the first and last v)
        digits = tirx.reinterpret("int8x16", (word >> tirx.Broadcast(shift, SDOT_BYTES))
                                  & tirx.Broadcast(tirx.const(mask, "uint8"), SDOT_BYTES))
        return digits

    def quad(A: Any, m: Any, q: Any) -> Any:  # 4 code bytes of row m, broadcast to 16 (ld1r)
        m = tirx.min(m, M - 1) if MP > M else m
        if not nhwc:
            return tirx.reinterpret("int8x16", A[m, tirx.Ramp(q, 0, SDOT_LANES)])
        # NHWC quads (arm_nhwc.py): q = (kh, kw, channel quad) of output pixel m, read in place
        (_, kw), (sh, sw), (dh, dw) = spec.conv.kernel, spec.conv.strides, spec.conv.dilation
        r, c = q // C4, q % C4
        pixel = (m // HW, m % HW // OW * sh + r // kw * dh, m % OW * sw + r % kw * dw)
        if C4 % SDOT_LANES or spec.dot != "sdot":
            return tirx.reinterpret("int8x16", A[(*pixel, tirx.Ramp(c, 0, SDOT_LANES))])
        # SDOT: 4 neighbouring quads in one 16-byte load, quad c % 4 taken from it (a DUP of a lane)
        # rather than one LD1R and its address per quad; once the channel quads are unrolled the
        # lane is a constant and the 4 loads one (MNIST's convs: 0.429M -> 0.407M instructions;
        # the neon kernel, short of registers, went 0.581M -> 0.616M: it keeps LD1R)
        four = A[(*pixel, tirx.Ramp(c - c % SDOT_LANES, 1, SDOT_LANES))]
        lane = c % SDOT_LANES
        picked = tirx.Shuffle([four], [tirx.const(SDOT_LANES - 1, "int32")] * SDOT_LANES)
        for j in range(SDOT_LANES - 2, -1, -1):
            picked = tirx.Select(lane == j, tirx.Shuffle([four], [tirx.const(j, "int32")] * SDOT_LANES), picked)
        return tirx.reinterpret("int8x16", picked)

    def dot(acc: Any, a: Any, w: Any) -> Any:
        if spec.dot == "sdot":
            return tirx.call_llvm_pure_intrin("int32x4", SDOT_INTRINSIC, acc, a, w)
        # Armv8.0: the 16 byte products (MUL; |code * w| <= 127 * 2 fits int16 after SADDLP),
        # pairs added into int16 (SADDLP), those pairs into the int32 lanes (SADALP): SDOT's sums
        pairs = tirx.call_llvm_pure_intrin("int16x8", _SADDLP, a * w)
        return acc + tirx.call_llvm_pure_intrin("int32x4", _SADDLP_16, pairs)

    def zeros() -> Any:
        return tirx.Ramp(tirx.const(0, "int32"), tirx.const(0, "int32"), SDOT_LANES)

    def dequant(acc: Any, stats: Any, rowsum: Any, scale: Any, bias: Any, m: Any, g: Any, v: Any, c: Any) -> Any:
        # then bias and relu (spec.bias, spec.relu), each rounded as the separate Relax add and
        # relu were (the fence keeps LLVM from fusing the multiply and the add into one FMA), as
        # kernels.vnni_kernel's
        n = g * L + v * SDOT_LANES + c
        dot = acc[m, g, v, c] * factor - rowsum[m] if offset else acc[m, g, v, c]
        y = T.Cast("float32", dot) * stats[0] * scale[n]
        if spec.bias:
            y = tirx.call_llvm_pure_intrin("float32", "llvm.arithmetic.fence", y) + bias[n]
        if spec.relu:
            y = tirx.max(y, tirx.const(0.0, "float32"))
        return y

    @T.prim_func(s_tir=True)
    def sdot(A: T.Buffer(a_shape, "uint32"), stats: T.Buffer((3,), "float32"), rowsum: T.Buffer((M,), "int32"),
             W: T.Buffer(w_shape, "uint8"), scale: T.Buffer((spec.n_pad,), "float32"),
             bias: T.Buffer((N,), "float32"), out: T.Buffer(out_shape, "float32")):
        T.func_attr({"tir.noalias": True})
        acc = T.sblock_alloc_buffer((MP, G, V, SDOT_LANES), "int32")
        for m, g, v, q in T.grid(MP, G, V, Q):
            with T.sblock("dot"):
                vm, vg, vv, vq = T.axis.remap("SSSR", [m, g, v, q])
                with T.init():
                    acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)] = zeros()
                acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)] = dot(
                    acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)], quad(A, vm, vq), weight(W, vg, vq, vv))
        for m, g, v, c in T.grid(MP, G, V, SDOT_LANES):
            with T.sblock("out"):
                vm, vg, vv, vc = T.axis.remap("SSSS", [m, g, v, c])
                if vg * L + vv * SDOT_LANES + vc < N and vm < M:
                    if nhwc:
                        out[vm // HW, vm % HW // OW, vm % OW, vg * L + vv * SDOT_LANES + vc] = dequant(
                            acc, stats, rowsum, scale, bias, vm, vg, vv, vc)
                    elif conv:
                        out[vm // HW, vg * L + vv * SDOT_LANES + vc, vm % HW // OW, vm % OW] = dequant(
                            acc, stats, rowsum, scale, bias, vm, vg, vv, vc)
                    else:
                        out[vm, vg * L + vv * SDOT_LANES + vc] = dequant(acc, stats, rowsum, scale, bias, vm, vg, vv, vc)

    chunk = neon_chunk(spec)
    if chunk is None:
        return _drop_bias(sdot, spec).with_attr(SPEC_ATTR, f"sdot:{spec.to_json()}")
    QO = Q // chunk
    D = neon_depth(spec)
    QI = chunk // D

    def products(A: Any, W: Any, m: Any, g: Any, v: Any, q: Any) -> Any:
        # D quads' byte products summed in int8 (MUL, then MLA: |sum| <= D * qmax <= 127), then
        # pairs into int16 (SADDLP; with the add SADALP)
        total = None
        for j in range(D):
            p = quad(A, m, q * D + j) * weight(W, g, q * D + j, v)
            total = p if total is None else total + p
        return tirx.call_llvm_pure_intrin("int16x8", _SADDLP, total)

    def widen(pairs: Any) -> Any:  # int16 pairs into the int32 lanes (SADALP with the add)
        return tirx.call_llvm_pure_intrin("int32x4", _SADDLP_16, pairs)

    def zeros16() -> Any:
        return tirx.Ramp(tirx.const(0, "int16"), tirx.const(0, "int16"), 8)

    # "neon" in two levels: `chunk` quads of byte products summed in int16 lanes (one SADALP a
    # vector and quad), then added into the int32 accumulators (one SADALP a vector and chunk)
    @T.prim_func(s_tir=True)
    def neon(A: T.Buffer(a_shape, "uint32"), stats: T.Buffer((3,), "float32"), rowsum: T.Buffer((M,), "int32"),
             W: T.Buffer(w_shape, "uint8"), scale: T.Buffer((spec.n_pad,), "float32"),
             bias: T.Buffer((N,), "float32"), out: T.Buffer(out_shape, "float32")):
        T.func_attr({"tir.noalias": True})
        acc16 = T.sblock_alloc_buffer((MP, G, V, QO), "int16x8")  # vector elements: every index a block var
        acc = T.sblock_alloc_buffer((MP, G, V, SDOT_LANES), "int32")
        for m, g, v, qo, qi in T.grid(MP, G, V, QO, QI):
            with T.sblock("dot16"):
                vm, vg, vv, vo, vi = T.axis.remap("SSSSR", [m, g, v, qo, qi])
                with T.init():
                    acc16[vm, vg, vv, vo] = zeros16()
                acc16[vm, vg, vv, vo] = acc16[vm, vg, vv, vo] + products(A, W, vm, vg, vv, vo * QI + vi)
        for m, g, v, qo in T.grid(MP, G, V, QO):
            with T.sblock("dot"):
                vm, vg, vv, vo = T.axis.remap("SSSR", [m, g, v, qo])
                with T.init():
                    acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)] = zeros()
                acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)] = acc[vm, vg, vv, T.ramp(0, 1, SDOT_LANES)] + widen(
                    acc16[vm, vg, vv, vo])
        for m, g, v, c in T.grid(MP, G, V, SDOT_LANES):
            with T.sblock("out"):
                vm, vg, vv, vc = T.axis.remap("SSSS", [m, g, v, c])
                if vg * L + vv * SDOT_LANES + vc < N and vm < M:
                    if nhwc:
                        out[vm // HW, vm % HW // OW, vm % OW, vg * L + vv * SDOT_LANES + vc] = dequant(
                            acc, stats, rowsum, scale, bias, vm, vg, vv, vc)
                    elif conv:
                        out[vm // HW, vg * L + vv * SDOT_LANES + vc, vm % HW // OW, vm % OW] = dequant(
                            acc, stats, rowsum, scale, bias, vm, vg, vv, vc)
                    else:
                        out[vm, vg * L + vv * SDOT_LANES + vc] = dequant(acc, stats, rowsum, scale, bias, vm, vg, vv, vc)

    return _drop_bias(neon, spec).with_attr(SPEC_ATTR, f"sdot:{spec.to_json()}")


def _drop_bias(func: Any, spec: Any) -> Any:
    """`func` without its bias parameter (the one before the output) unless spec.bias."""
    from tvm import tirx

    if spec.bias:
        return func
    params = list(func.params[:-2]) + [func.params[-1]]
    return tirx.PrimFunc(params, func.body, func.ret_type, func.attrs)


# "neon": quads of byte products an int16 lane can sum without overflow (each adds two products of
# at most 127 in magnitude: 128 * 254 < 2^15), and the fewest a chunk is worth splitting for.
_NEON_MAX_CHUNK, _NEON_MIN_CHUNK = 128, 8


# "neon": quads of byte products summed in int8 lanes before they are widened, for activations of
# at most 7 bits (|code| <= 63: two products fit a byte; 6 bits: four). MLA then replaces MUL +
# SADALP. Each step keeps a tile row's `depth` activation quads live beside the 4 x 4 int16
# accumulators, so deeper sums spill (MNIST's convs at 6 bits: depth 2 0.318M instructions, 4
# 0.307M, cortex-a72).
_NEON_MAX_DEPTH = 4


def neon_depth(spec: Any) -> int:
    """Quads whose byte products a "neon" layer sums in int8 before widening: the most, up to
    _NEON_MAX_DEPTH, whose sum fits a signed byte and that divide its int16 chunk."""
    chunk = neon_chunk(spec)
    if chunk is None:
        return 1
    limit = min(_NEON_MAX_DEPTH, 127 // qmax(spec.act_bits))
    return max(d for d in range(1, limit + 1) if chunk % d == 0)


def neon_chunk(spec: Any) -> int | None:
    """Quads per int16 chunk of a "neon" layer (the largest divisor of its quads up to 128), or
    None: one level (SDOT, or no divisor of at least 8)."""
    if spec.dot != "neon":
        return None
    q = spec.words
    best = max(d for d in range(1, min(q, _NEON_MAX_CHUNK) + 1) if q % d == 0)
    return best if best >= _NEON_MIN_CHUNK else None


# Register tile: at most this many int32x4 accumulators (of 32 NEON registers: the rest hold the
# weight vector, its decoded vectors, the masks and the broadcast activation quads).
_SDOT_MAX_ACCUMULATORS = 16
_NEON_BYTES_ACCUMULATORS = 8
_SDOT_MAX_ROWS = 8


# Rows of a register tile that M is padded to a multiple of, where M has no such divisor and is
# large enough (MNIST's 7x7 conv, M = 49, took 1-row tiles: each weight vector decoded for one row)
_SDOT_ROW_BLOCK = 4


def padded_rows(m: int) -> int:
    """The rows the sdot / neon kernels compute for M rows: M, or M rounded up to a multiple of
    _SDOT_ROW_BLOCK where that adds under 1/8 of the work (the extra rows are thrown away)."""
    p = ceil_to(m, _SDOT_ROW_BLOCK)
    return p if (p - m) * 8 < m else m


def sdot_tile(m: int, groups: int, vectors: int, cores: int, accumulators: int = _SDOT_MAX_ACCUMULATORS) -> tuple[int, int]:
    """(rows MR, channel groups NR) of the rule's register tile: the most rows (up to the
    accumulator budget) that divide M, then groups to fill the budget, keeping at least `cores`
    tiles where there are that many."""
    budget = accumulators // vectors

    def enough(mr: int, nr: int) -> bool:
        return (m // mr) * (groups // nr) >= cores

    mr = max((r for r in range(1, min(budget, _SDOT_MAX_ROWS) + 1) if m % r == 0), key=lambda r: (enough(r, 1), r))
    nr = max((n for n in range(1, budget // mr + 1) if groups % n == 0), key=lambda n: (enough(mr, n), n))
    return mr, nr


def _unroll_channel_quads(sch: Any, loop: Any, spec: Any, extent: int, depth: int = 1) -> None:
    """NHWC quads (arm_nhwc.py): split the reduction `loop` over `extent` quads into (kh, kw,
    channel quad) (or, where it is a part of the reduction, (pixel of the window, channel quad)),
    the channel quads unrolled, so that a quad's address is a constant offset from the window
    pixel's, itself a sum of strides (no division by the quads per pixel, nor by KW, per quad
    and row). Each step of `loop` takes `depth` quads (`neon_depth`): split where they lie in one
    pixel."""
    if not getattr(spec, "nhwc", False):
        return
    c4 = quads_shape(spec)[-1]
    if c4 % depth:
        return
    if extent == spec.words:
        sch.unroll(sch.split(loop, factors=[*spec.conv.kernel, c4 // depth])[-1])
    elif extent % c4 == 0:
        sch.unroll(sch.split(loop, factors=[None, c4 // depth])[1])


def schedule_sdot(sch: Any, spec: Any, cores: int = 2) -> Any:
    """Schedule `sdot_kernel` in `sch`: parallel MR x NR register tiles (rows x channel groups),
    the reduction over quads inside a tile with every decoded vector unrolled (each weight vector
    loaded and decoded once per tile, each activation quad broadcast once per row), the
    accumulators in registers, and the dequantizing epilogue inside the tile."""
    vectors = vectors_per_group(spec.weights)
    groups = spec.n_pad // group_lanes(spec.weights)
    dot, out = sch.get_sblock("dot"), sch.get_sblock("out")
    m, g, v, q = sch.get_loops(dot)
    parallel = spec.m * spec.words * spec.n_pad >= _MIN_PARALLEL_WORK * 64
    # neon summing quads in int8 over byte weights: half the tile, as each row keeps `depth`
    # activation quads live and a weight vector costs a load, not a decode shared by the rows
    # (MNIST's convs at 6 bits: 0.307M -> 0.291M instructions, no spills; at 7, 0.318M -> 0.315M)
    small = neon_depth(spec) > 1 and byte_weights(spec.dot, spec.n_pad, spec.words)
    acc = _NEON_BYTES_ACCUMULATORS if small else _SDOT_MAX_ACCUMULATORS
    mr, nr = sdot_tile(int(sch.get(m).extent), groups, vectors, cores if parallel else 1, acc)  # padded_rows
    mo, mi = sch.split(m, factors=[None, mr])
    go, gi = sch.split(g, factors=[None, nr])
    sch.reorder(mo, go, q, mi, gi, v)
    outer = sch.fuse(mo, go)
    if parallel:
        sch.parallel(outer)
    tile = sch.cache_write(dot, 0, "global")  # on the stack (under 4 KiB): promoted to registers
    sch.reverse_compute_at(tile, outer, preserve_unit_loops=True)
    if neon_chunk(spec) is not None:  # the int16 chunk's products inside each step of q (chunks)
        dot16 = sch.get_sblock("dot16")
        sch.compute_at(dot16, q, preserve_unit_loops=True)
        loops16 = sch.get_loops(dot16)
        m16, g16, v16, _, qi = loops16[-5:]
        sch.reorder(qi, g16, v16, m16)
        sch.decompose_reduction(dot16, qi)
        sch.unroll(m16)
        sch.unroll(g16)
        sch.unroll(v16)
        _unroll_channel_quads(sch, qi, spec, neon_chunk(spec), neon_depth(spec))
    sch.decompose_reduction(dot, q)
    if neon_chunk(spec) is None:
        _unroll_channel_quads(sch, q, spec, spec.words)
    sch.unroll(mi)
    sch.unroll(gi)
    sch.unroll(v)
    sch.vectorize(sch.get_loops(tile)[-1])
    sch.reverse_compute_at(out, outer, preserve_unit_loops=True)
    if spec.n % group_lanes(spec.weights) == 0:  # else the lane loop carries the n < N predicate
        sch.vectorize(sch.get_loops(out)[-1])
    return sch


def schedule_pack(sch: Any, spec: Any) -> Any:
    """Schedule `pack_kernel` (sdot) in `sch`: one row at a time, its codes (kept local) in
    vectors of 16, then its quads and sum; rows in parallel when there is enough work; max |x| as
    schedule._parallel_absmax."""
    quads, code, rowsum = sch.get_sblock("quads"), sch.get_sblock("code"), sch.get_sblock("rowsum")
    m = sch.get_loops(quads)[0]
    sch.compute_at(code, m)
    sch.reverse_compute_at(rowsum, m)
    width = 16 if spec.k_pad % 16 == 0 else 4
    _, inner = sch.split(sch.get_loops(code)[-1], factors=[None, width])
    sch.vectorize(inner)
    _parallel_outer(sch, [m], spec.m, spec.m * spec.k * spec.act_bits // 8)
    if spec.static_stats is None:
        _parallel_absmax(sch, spec.m * spec.k)
    return sch


# --- bit-serial popcount on NEON (both aarch64 targets) ---
#
# `kernels.bitserial_kernel` sums popcount(X & W) over words in int32 per channel; LLVM lowers each
# 64-bit popcount to CNT and three widening pairwise adds (UADDLP .8h, .4s, .2d) and a narrowing
# shuffle before the int32 add: ~5 instructions of bookkeeping per CNT. The NEON kernel below keeps
# the per-byte counts instead: per word and 128 bits, CNT of the AND (ternary: the difference of
# the two planes' byte counts, SUB) and one SADALP (pairwise add and accumulate into int16 lanes);
# the int16 lanes of a channel are summed once, after the reduction. Same inputs, packed layout and
# output as the generic kernel (the rule substitutes it), the same integers.

_NEON_BITS = 128
_NEON_MAX_ACCUMULATORS = 16  # int16x8 accumulators of a register tile
_SADDLP = "llvm.aarch64.neon.saddlp.v8i16.v16i8"
_SADDLP_16 = "llvm.aarch64.neon.saddlp.v4i32.v8i16"


def neon_bitserial_fits(spec: Any) -> bool:
    """Whether the int16 byte-pair accumulators cannot overflow: each word adds at most 16 to a
    lane (two bytes of at most 8 set bits, or their difference)."""
    return spec.dot == "popcount" and 16 * spec.words <= (1 << 15) - 1 and spec.word_bits in (32, 64)


def bitserial_neon_kernel(spec: Any) -> Any:
    """PrimFunc with `kernels.bitserial_kernel`'s parameters (X planes, stats[, rowsum], W planes,
    scale[, wsum]) -> the same float32 output, accumulating byte counts in int16 (see above)."""
    from tvm import tirx
    from tvm.script import tirx as T

    wdt, lanes, bits, P = word_dtype(spec.word_bits), spec.lanes, spec.act_bits, spec.planes
    E = _NEON_BITS // spec.word_bits  # words (channels) per 128-bit vector
    H = spec.word_bits // 16  # int16 accumulator lanes per channel
    CG = lanes // E  # vectors per lane group
    M, Wd, NP, N, K = spec.m, spec.words, spec.n_pad, spec.n, spec.k
    C = NP // E
    B = 1 if spec.xnor else bits
    ternary, xnor, rowsum_needed = spec.weights == "ternary", spec.xnor, spec.needs_rowsum
    coef = plane_coefficients(bits)
    conv = spec.conv is not None
    OH, OW = spec.conv.out_hw if conv else (1, 1)
    HW = OH * OW
    out_shape = spec.out_shape
    one = 1 << THRESHOLD_FRACTION_BITS

    def counts(v: Any) -> Any:  # per-byte popcounts of a 128-bit vector, as int8x16
        return tirx.reinterpret("int8x16", tirx.popcount(tirx.reinterpret("uint8x16", v)))

    def step(X: Any, W: Any, m: Any, b: Any, c: Any, w: Any) -> Any:
        x = X[m, b, tirx.Ramp(w, 0, E)]
        plus = W[0, c // CG, w, tirx.Ramp(c % CG * E, 1, E)]
        if xnor:
            return counts(x ^ plus)
        if ternary:
            return counts(x & plus) - counts(x & W[1, c // CG, w, tirx.Ramp(c % CG * E, 1, E)])
        return counts(x & plus)

    def accumulate(acc: Any, d: Any) -> Any:  # SADALP
        return acc + tirx.call_llvm_pure_intrin("int16x8", _SADDLP, d)

    def zeros() -> Any:
        return tirx.Ramp(tirx.const(0, "int16"), tirx.const(0, "int16"), 8)

    def channel(acc: Any, m: Any, b: Any, c: Any, e: Any) -> Any:  # int32 count of channel c * E + e
        total = T.Cast("int32", acc[m, b, c, e * H])
        for i in range(1, H):
            total = total + T.Cast("int32", acc[m, b, c, e * H + i])
        return total

    def value(acc: Any, stats: Any, rowsum: Any, scale: Any, wsum: Any, m: Any, c: Any, e: Any) -> Any:
        n = c * E + e
        if xnor:
            dot = tirx.const(K, "int32") - channel(acc, m, 0, c, e) * 2
            v = dot * one + T.Cast("int32", stats[2]) * wsum[n]
        else:
            v = channel(acc, m, 0, c, e) * coef[0]
            for b in range(1, B):
                v = v + channel(acc, m, b, c, e) * coef[b]
            if rowsum_needed:
                v = v * 2 - rowsum[m]
        return T.Cast("float32", v) * stats[0] * scale[n]

    @T.prim_func(s_tir=True)
    def kernel(X: T.Buffer((M, bits, Wd), wdt), stats: T.Buffer((3,), "float32"), rowsum: T.Buffer((M,), "int32"),
               W: T.Buffer((P, NP // lanes, Wd, lanes), wdt), scale: T.Buffer((NP,), "float32"),
               wsum: T.Buffer((NP,), "int32"), out: T.Buffer(out_shape, "float32")):
        T.func_attr({"tir.noalias": True})
        acc = T.sblock_alloc_buffer((M, B, C, 8), "int16")
        for m, b, c, w in T.grid(M, B, C, Wd):
            with T.sblock("dot"):
                vm, vb, vc, vw = T.axis.remap("SSSR", [m, b, c, w])
                with T.init():
                    acc[vm, vb, vc, T.ramp(0, 1, 8)] = zeros()
                acc[vm, vb, vc, T.ramp(0, 1, 8)] = accumulate(acc[vm, vb, vc, T.ramp(0, 1, 8)],
                                                              step(X, W, vm, vb, vc, vw))
        for m, c, e in T.grid(M, C, E):
            with T.sblock("out"):
                vm, vc, ve = T.axis.remap("SSS", [m, c, e])
                if vc * E + ve < N:
                    if conv:
                        out[vm // HW, vc * E + ve, vm % HW // OW, vm % OW] = value(
                            acc, stats, rowsum, scale, wsum, vm, vc, ve)
                    else:
                        out[vm, vc * E + ve] = value(acc, stats, rowsum, scale, wsum, vm, vc, ve)

    drop = ({2} if not rowsum_needed else set()) | ({5} if not xnor else set())
    params = [p for i, p in enumerate(kernel.params) if i not in drop]
    kernel = tirx.PrimFunc(params, kernel.body, kernel.ret_type, kernel.attrs)
    return kernel.with_attr(SPEC_ATTR, f"bitserial:{spec.to_json()}")


def neon_tile(m: int, chunks: int, planes: int, cores: int) -> tuple[int, int]:
    """(rows MR, 128-bit channel chunks CR) of the NEON bit-serial register tile: MR * planes * CR
    int16x8 accumulators within budget; chunks first (each weight vector loaded once serves every
    plane and row of the tile), at least `cores` tiles where there are that many."""
    budget = max(1, _NEON_MAX_ACCUMULATORS // planes)

    def enough(mr: int, cr: int) -> bool:
        return (m // mr) * (chunks // cr) >= cores

    cr = max((c for c in range(1, min(budget, 4) + 1) if chunks % c == 0), key=lambda c: (enough(1, c), c))
    mr = max((r for r in range(1, max(1, budget // cr) + 1) if m % r == 0), key=lambda r: (enough(r, cr), r))
    return mr, cr


def schedule_bitserial_neon(sch: Any, spec: Any, cores: int = 2) -> Any:
    """Schedule `bitserial_neon_kernel` in `sch`: parallel MR x CR register tiles (rows x 128-bit
    channel chunks), every activation plane of the tile's rows inside it, the reduction over words
    outside the unrolled tile; then the epilogue."""
    B = 1 if spec.xnor else spec.act_bits
    E = _NEON_BITS // spec.word_bits
    chunks = spec.n_pad // E
    dot, out = sch.get_sblock("dot"), sch.get_sblock("out")
    m, b, c, w = sch.get_loops(dot)
    work = spec.m * spec.n_pad * spec.words * spec.planes * B // spec.lanes
    parallel = work >= _MIN_PARALLEL_WORK
    mr, cr = neon_tile(spec.m, chunks, B, cores if parallel else 1)
    mo, mi = sch.split(m, factors=[None, mr])
    co, ci = sch.split(c, factors=[None, cr])
    sch.reorder(mo, co, w, mi, b, ci)
    outer = sch.fuse(mo, co)
    if parallel:
        sch.parallel(outer)
    tile = sch.cache_write(dot, 0, "global")
    sch.reverse_compute_at(tile, outer, preserve_unit_loops=True)
    sch.decompose_reduction(dot, w)
    sch.unroll(mi)
    sch.unroll(b)
    sch.unroll(ci)
    sch.vectorize(sch.get_loops(tile)[-1])
    # The epilogue reads each channel's int16 lanes at constant offsets, which reverse_compute_at
    # cannot place inside the tile: it runs after the reduction, rows in parallel.
    if parallel and spec.m * spec.n >= 1 << 14:
        sch.parallel(sch.get_loops(out)[0])
    return sch


def neon_bitserial_schedule(func: Any, spec: Any, cores: int) -> Any:
    """The NEON kernel substituted for the generic bit-serial `func` (same parameters and
    attributes), scheduled; None where it does not fit (`neon_bitserial_fits`)."""
    from tvm import s_tir

    if not neon_bitserial_fits(spec):
        return None
    kernel = bitserial_neon_kernel(spec)
    for key, val in (func.attrs.items() if func.attrs is not None else []):
        kernel = kernel.with_attr(key, val)
    sch = s_tir.Schedule(kernel)
    sch.work_on("main")
    return schedule_bitserial_neon(sch, spec, cores)


def _is_aarch64(target: Any) -> bool:
    return target is not None and str(target.attrs.get("mtriple", "")).startswith("aarch64")


def _schedule_hook(func: Any, sch: Any, kind: str, spec: Any, target: Any, cores: int) -> Any:
    """schedule.TARGET_SCHEDULES entry: the sdot / neon kernels (any target: their spec says so),
    and the NEON bit-serial kernel for the generic one on AArch64 targets; None otherwise."""
    if spec.sdot:
        if kind == "sdot":
            return schedule_sdot(sch, spec, cores)
        if spec.nhwc:
            return schedule_quantize(sch, spec)
        return schedule_pack(sch, spec)
    if kind == "bitserial" and _is_aarch64(target):
        return neon_bitserial_schedule(func, spec, cores)
    return None


FAMILY_PACKERS["sdot"], FAMILY_PACKERS["neon"] = pack_weights_sdot, pack_weights_neon
for _dot in ("sdot", "neon"):
    FAMILY_KERNELS[_dot] = (pack_kernel, sdot_kernel)
if _schedule_hook not in TARGET_SCHEDULES:
    TARGET_SCHEDULES.append(_schedule_hook)
