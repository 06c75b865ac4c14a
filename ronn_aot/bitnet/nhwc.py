"""NHWC convolutions on the VNNI kernels: the layout the O3 graph's convolutions use on CPUs
(passes/layout.py), so a BitNet conv between them needs no transposes.

A layer runs as two kernels:

- `quantize` (this module): the NHWC input x [B, H, W, C] -> its codes as bytes (code + 128),
  four channels to a uint32, zero-padded in space (and in channels up to a multiple of 4):
  quads [B, H + top + bottom, W + left + right, C4 / 4], plus the stats. It quantizes each input
  value once, where the NCHW pack kernel quantizes every value of the im2col matrix, KH * KW
  times as many, each through a gather.
- the VNNI kernel (`kernels.vnni_kernel` with layout NHWC): reads the im2col matrix in place from
  the quads (row = output pixel, reduction index = (kh, kw, channel quad)), with weights packed in
  that reduction order (`quantize.pack_conv_nhwc_vnni`); NHWC output, bias and relu in its epilogue.

Results are those of the NCHW kernels bit for bit: the codes are the same values (padding and
padded channels are code 0, as im2col's zeros are), the integer dot products are exact in any
order, and the weights and their scales are the same numbers. With run-time statistics the scale
is max |x| over the input, which equals the im2col matrix's when every input pixel lies in some
receptive field (`covers_input`); the rewrite keeps the NCHW kernels for a conv where it does not.
"""

from __future__ import annotations

from typing import Any

from .kernels import SPEC_ATTR, LayerSpec, quantize_code, stats_compute
from .quantize import VNNI_GROUP, ceil_to
from .reference import ConvGeometry


def quads_shape(spec: LayerSpec) -> tuple[int, int, int, int]:
    """Shape of the quantize kernel's padded NHWC quads [B, H', W', C4 / 4]."""
    g = spec.conv
    assert g is not None
    top, left, bottom, right = g.pads
    return (g.batch, g.height + top + bottom, g.width + left + right, ceil_to(g.channels, VNNI_GROUP) // VNNI_GROUP)


def covers_input(g: ConvGeometry) -> bool:
    """Whether every input pixel is read by some output pixel (so that max |x| is max |im2col(x)|)."""
    oh, ow = g.out_hw
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
    rows = {o * sh - g.pads[0] + k * dh for o in range(oh) for k in range(kh)}
    cols = {o * sw - g.pads[1] + k * dw for o in range(ow) for k in range(kw)}
    return rows.issuperset(range(g.height)) and cols.issuperset(range(g.width))


def nhwc_spec(g: ConvGeometry, n: int, weights: str, act_bits: int,
              static_stats: tuple[float, float] | None, bias: bool, relu: bool) -> LayerSpec:
    """The LayerSpec of an NHWC VNNI conv (reduction length KH * KW * C4)."""
    k = g.kernel[0] * g.kernel[1] * ceil_to(g.channels, VNNI_GROUP)
    return LayerSpec(g.m, k, n, weights, act_bits, 64, g, static_stats, "vnni", "NHWC", bias, relu)


def quantize_nhwc_kernel(spec: LayerSpec) -> Any:
    """PrimFunc (x [B, H, W, C] float32) -> (quads [B, H', W', C4 / 4] uint32, stats float32[3])."""
    from tvm import te, tirx

    g = spec.conv
    assert g is not None and spec.nhwc
    b_, h_, w_, c_ = g.batch, g.height, g.width, g.channels
    top, left = g.pads[0], g.pads[1]
    _, hp, wp, quads_c = quads_shape(spec)
    x = te.placeholder((b_, h_, w_, c_), "float32", name="x")
    hw = h_ * w_
    stats = stats_compute(spec, lambda r, c: x[r // hw, r % hw // w_, r % w_, c], b_ * hw, c_)

    def clamp(v: Any, n: int) -> Any:
        return tirx.max(tirx.min(v, n - 1), 0)

    def code(b: Any, h: Any, w: Any, c: Any) -> Any:
        inside = tirx.all(h >= top, h < top + h_, w >= left, w < left + w_, c < c_)
        value = x[b, clamp(h - top, h_), clamp(w - left, w_), tirx.min(c, c_ - 1)]
        return tirx.if_then_else(inside, quantize_code(value, stats, spec.act_bits), tirx.const(0, "int32"))

    codes = te.compute((b_, hp, wp, quads_c * VNNI_GROUP), code, name="code")

    def quad(b: Any, h: Any, w: Any, q: Any) -> Any:
        byte = [tirx.Cast("uint32", codes[b, h, w, q * VNNI_GROUP + j] + 128) << (8 * j) for j in range(VNNI_GROUP)]
        return byte[0] | byte[1] | byte[2] | byte[3]

    quads = te.compute((b_, hp, wp, quads_c), quad, name="quads")
    return te.create_prim_func([x, quads, stats]).with_attr(SPEC_ATTR, f"pack:{spec.to_json()}")
