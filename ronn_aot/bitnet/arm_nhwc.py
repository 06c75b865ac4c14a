"""NCHW convolutions on the sdot / neon kernels with the im2col matrix read in place from NHWC quads.

The NCHW pack kernel (`arm.pack_kernel`) quantizes every value of the im2col matrix: KH * KW
times as many values as the input holds, each through a gather and scalar rounding (~37
instructions per im2col value under qemu: 74% of MNIST's System 1 on aarch64). Here a conv runs as

- `quantize` (`quantize_kernel`): the NCHW input x [B, C, H, W] -> its codes as signed bytes,
  four channels to a uint32, zero-padded in space and in channels up to a multiple of 4:
  quads [B, H', W', C4 / 4] (nhwc.py's layout, with the codes themselves where VNNI stores
  code + 128), plus the stats and each output pixel's sum of codes (rowsum, summed from the
  padded pixels' sums). Each input value is quantized once.
- the sdot / neon kernel (`arm.sdot_kernel` with `LayerSpec.nhwc_quads`): row = output pixel,
  reduction index q = (kh, kw, channel quad); quad q of row m is one uint32 of the quads, read in
  place (broadcast by LD1R as before); weights packed in that order (`pack_conv_nhwc_sdot`);
  NCHW output as the NCHW kernels'.

Results are the NCHW kernels' bit for bit: the same codes (padding and padded channels are code 0,
as im2col's zeros are), the same rowsum, exact integer dot products in another order, and the
same weights and scales. With run-time statistics max |x| over the input equals the im2col
matrix's only when every input pixel lies in some receptive field (`nhwc.covers_input`); the
rewrite keeps the NCHW pack kernel for a conv where it does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import SPEC_ATTR, quads_shape, quantize_code
from .kernels import LayerSpec, stats_compute
from .nhwc import covers_input
from .quantize import VNNI_GROUP, PackedWeights, ceil_to, quantize_weights
from .reference import ConvGeometry


def takes_nhwc_quads(g: ConvGeometry, static: bool) -> bool:
    """Whether a conv of geometry `g` runs on NHWC quads: static scales, or every input pixel read."""
    return static or covers_input(g)


def nhwc_quads_spec(g: ConvGeometry, n: int, weights: str, act_bits: int,
                    static_stats: tuple[float, float] | None, dot: str) -> LayerSpec:
    """The LayerSpec of an sdot / neon conv on NHWC quads (reduction length KH * KW * C4)."""
    k = g.kernel[0] * g.kernel[1] * ceil_to(g.channels, VNNI_GROUP)
    return LayerSpec(g.m, k, n, weights, act_bits, 8, g, static_stats, dot, nhwc_quads=True)


def pack_conv_nhwc_sdot(w: np.ndarray, kind: str) -> PackedWeights:
    """Quantize OIHW conv weights [N, C, KH, KW] as the [N, C * KH * KW] matrix (the same values
    and scales as `arm.pack_weights_sdot` of that matrix), then pack them in the reduction order of
    NHWC quads: k = (kh * KW + kw) * C4 + c, channels padded with zero weights to C4."""
    from .arm import pack_values_sdot

    n, c, kh, kw = w.shape
    q, scale = quantize_weights(w.reshape(n, c * kh * kw), kind)
    c4 = ceil_to(c, VNNI_GROUP)
    hwc = np.zeros((n, kh, kw, c4), np.int8)
    hwc[..., :c] = q.reshape(n, c, kh, kw).transpose(0, 2, 3, 1)
    return pack_values_sdot(hwc.reshape(n, kh * kw * c4), scale, kind)


def quantize_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x [B, C, H, W] float32) -> (quads [B, H', W', C4 / 4] uint32 of signed code bytes,
    stats float32[3], rowsum int32 [M]) of an sdot / neon conv on NHWC quads (see the module doc)."""
    from tvm import te, tirx

    g = spec.conv
    assert g is not None and spec.nhwc_quads
    b_, c_, h_, w_ = g.batch, g.channels, g.height, g.width
    top, left = g.pads[0], g.pads[1]
    _, hp, wp, quads_c = quads_shape(spec)
    x = te.placeholder((b_, c_, h_, w_), "float32", name="x")
    stats = stats_compute(spec, lambda r, c: x[r // (c_ * h_), r // h_ % c_, r % h_, c], b_ * c_ * h_, w_)

    def clamp(v: Any, n: int) -> Any:
        return tirx.max(tirx.min(v, n - 1), 0)

    def code(b: Any, h: Any, w: Any, c: Any) -> Any:
        inside = tirx.all(h >= top, h < top + h_, w >= left, w < left + w_, c < c_)
        value = x[b, tirx.min(c, c_ - 1), clamp(h - top, h_), clamp(w - left, w_)]
        return tirx.if_then_else(inside, quantize_code(value, stats, spec.act_bits), tirx.const(0, "int32"))

    codes = te.compute((b_, hp, wp, quads_c * VNNI_GROUP), code, name="code")

    def quad(b: Any, h: Any, w: Any, q: Any) -> Any:
        byte = [tirx.Cast("uint32", codes[b, h, w, q * VNNI_GROUP + j] & 0xFF) << (8 * j) for j in range(VNNI_GROUP)]
        return byte[0] | byte[1] | byte[2] | byte[3]

    quads = te.compute((b_, hp, wp, quads_c), quad, name="quads")
    # a padded pixel's sum of codes, read back from its quads (so that the codes stay local to it)
    rq, rj = te.reduce_axis((0, quads_c), "rq"), te.reduce_axis((0, VNNI_GROUP), "rj")
    pixsum = te.compute((b_, hp, wp), lambda b, h, w: te.sum(tirx.Cast("int32", tirx.Cast(
        "int8", (quads[b, h, w, rq] >> (tirx.Cast("uint32", rj) * tirx.const(8, "uint32"))) & tirx.const(0xFF, "uint32"))),
        axis=[rq, rj]), name="pixsum")
    oh, ow = g.out_hw
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
    rh, rw = te.reduce_axis((0, kh), "rh"), te.reduce_axis((0, kw), "rw")
    rowsum = te.compute((spec.m,), lambda m: te.sum(
        pixsum[m // (oh * ow), m % (oh * ow) // ow * sh + rh * dh, m % ow * sw + rw * dw], axis=[rh, rw]), name="rowsum")
    return te.create_prim_func([x, quads, stats, rowsum]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")


def schedule_quantize(sch: Any, spec: LayerSpec) -> Any:
    """Schedule `quantize_kernel` in `sch`: one padded pixel at a time, its codes (kept local), then
    its quads and its sum; the rows' sums after; max |x| as schedule._parallel_absmax."""
    from .schedule import _parallel_absmax

    quads, code, pixsum = sch.get_sblock("quads"), sch.get_sblock("code"), sch.get_sblock("pixsum")
    w = sch.get_loops(quads)[2]
    sch.reverse_compute_at(pixsum, w)
    sch.compute_at(code, w)
    g = spec.conv
    if spec.static_stats is None:
        _parallel_absmax(sch, g.batch * g.channels * g.height * g.width, k_outer=False)  # rows of W values
    return sch
