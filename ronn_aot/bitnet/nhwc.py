"""NHWC convolutions on the VNNI kernels: the layout the O3 graph's convolutions use on CPUs
(passes/layout.py), so a BitNet conv between them needs no transposes.

A layer runs as two kernels:

- `quantize` (`kernels.quantize_nhwc_kernel`, beside the NCHW pack kernel): the NHWC input x [B, H, W, C] -> its codes as bytes (code + 128),
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

from .kernels import LayerSpec
from .quantize import VNNI_GROUP, ceil_to
from .reference import ConvGeometry


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
