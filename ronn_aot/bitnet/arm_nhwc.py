"""NHWC convolutions on the sdot / neon kernels, the im2col matrix read in place from NHWC quads.

The NCHW pack kernel (`arm.pack_kernel`) quantizes every value of the im2col matrix: KH * KW
times as many values as the input holds, each through a gather and scalar rounding (~37
instructions per im2col value under qemu: 74% of MNIST's System 1 on aarch64). As on x86's VNNI
kernels (nhwc.py, epilogue.py), a conv chain (conv, bias add, relu, max pool) runs in NHWC:

- `quantize` (`quantize_kernel`): the NHWC input x [B, H, W, C] (or the input of the max pool that
  produces it, each value the max over its window) -> its codes as signed bytes, four channels
  to a uint32, zero-padded in space and in channels up to a multiple of 4: quads
  [B, H', W', C4 / 4] (nhwc.py's layout, with the codes themselves where VNNI stores code + 128),
  plus the stats and each output pixel's sum of codes (rowsum, summed from the padded pixels'
  sums). Each input value is quantized once.
- the sdot / neon kernel (`arm.sdot_kernel` with layout NHWC): row = output pixel, reduction index
  q = (kh, kw, channel quad); quad q of row m is one uint32 of the quads, read in place (broadcast
  by LD1R as before); weights packed in that order (`arm.pack_conv_nhwc_sdot`); NHWC output, the bias
  and relu in its epilogue; the chain's pool in NHWC after it (or in the next conv's quantize
  kernel), the transposes at the chain's NCHW boundaries cancelling those of the O3 layout pass.

Results are the NCHW kernels' bit for bit: the same codes (padding and padded channels are code 0,
as im2col's zeros are; max is exact in any order), the same rowsum, exact integer dot products in
another order, the same weights and scales, and the bias add and relu rounded as the Relax ops
were. With run-time statistics max |x| over the input equals the im2col matrix's only when every
input pixel lies in some receptive field (`nhwc.covers_input`); the rewrite keeps the NCHW
kernels for a conv where it does not.
"""

from __future__ import annotations

from typing import Any

from .codes import SPEC_ATTR, quads_shape, window_pixel
from .kernels import LayerSpec, nhwc_quads
from .quantize import VNNI_GROUP, ceil_to
from .reference import ConvGeometry
from .schedule import _parallel_absmax


def nhwc_sdot_spec(g: ConvGeometry, n: int, weights: str, act_bits: int, static_stats: tuple[float, float] | None,
                   dot: str, bias: bool, relu: bool) -> LayerSpec:
    """The LayerSpec of an NHWC sdot / neon conv (reduction length KH * KW * C4)."""
    k = g.kernel[0] * g.kernel[1] * ceil_to(g.channels, VNNI_GROUP)
    return LayerSpec(g.m, k, n, weights, act_bits, 8, g, static_stats, dot, "NHWC", bias, relu)


def sdot_byte(code: Any) -> Any:
    """SDOT's signed operand: the code's two's complement byte (a uint32 in 0..255)."""
    from tvm import tirx

    return tirx.Cast("uint32", code) & tirx.const(0xFF, "uint32")


def quantize_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x [B, H, W, C] float32) -> (quads [B, H', W', C4 / 4] uint32 of signed code bytes,
    stats float32[3], rowsum int32 [M]) of an NHWC sdot / neon conv (see the module doc). With
    `spec.pool`, x is the max pool's input [B, in_h, in_w, C] and each value the max over its
    window, term by term (`kernels.window_max`); with `spec.head` too, the float conv before the
    pool from its NCHW input (head.py)."""
    from tvm import te, tirx

    g = spec.conv
    assert g is not None and spec.nhwc and spec.sdot
    if spec.head is not None:
        from .head import head_quantize_kernel

        return head_quantize_kernel(spec, sdot_byte)
    b_ = g.batch
    _, hp, wp, quads_c = quads_shape(spec)
    x, stats, quads = nhwc_quads(spec, sdot_byte)
    # a padded pixel's sum of codes, read back from its quads (so that the codes stay local to it)
    rq, rj = te.reduce_axis((0, quads_c), "rq"), te.reduce_axis((0, VNNI_GROUP), "rj")
    pixsum = te.compute((b_, hp, wp), lambda b, h, w: te.sum(tirx.Cast("int32", tirx.Cast(
        "int8", (quads[b, h, w, rq] >> (tirx.Cast("uint32", rj) * tirx.const(8, "uint32"))) & tirx.const(0xFF, "uint32"))),
        axis=[rq, rj]), name="pixsum")
    rh, rw = te.reduce_axis((0, g.kernel[0]), "rh"), te.reduce_axis((0, g.kernel[1]), "rw")
    rowsum = te.compute((spec.m,), lambda m: te.sum(pixsum[window_pixel(g, m, rh, rw)], axis=[rh, rw]),
                        name="rowsum")
    return te.create_prim_func([x, quads, stats, rowsum]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")


def schedule_quantize(sch: Any, spec: LayerSpec) -> Any:
    """Schedule `quantize_kernel` in `sch`: one padded pixel at a time, its codes (kept local), then
    its quads and its sum; the rows' sums after; max |x| as schedule._parallel_absmax."""
    quads, code, pixsum = sch.get_sblock("quads"), sch.get_sblock("code"), sch.get_sblock("pixsum")
    w = sch.get_loops(quads)[2]
    sch.reverse_compute_at(pixsum, w)
    sch.compute_at(code, w)
    g = spec.conv
    if spec.static_stats is None:  # rows of C values
        _parallel_absmax(sch, g.batch * g.channels * g.height * g.width, k_outer=False)
    return sch
