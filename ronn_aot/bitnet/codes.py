"""What the quantize kernels and the fused kernels that stand in for them (head.py, requant.py)
share: the spec attribute, an int8 code, the padded NHWC quads' shape, the input pixel a conv tap
reads. Apart from kernels.py and arm_nhwc.py so that those modules need not import them (both
build head.py's kernel)."""

from __future__ import annotations

from typing import Any

from .quantize import VNNI_GROUP, ceil_to
from .reference import ConvGeometry, qmax

SPEC_ATTR = "ronn.bitnet"  # PrimFunc attribute holding the LayerSpec (JSON) of a bit-serial kernel


def quantize_code(v: Any, stats: Any, bits: int) -> Any:
    """int32 code of the float `v`: round(v / scale) clamped to [-qmax, qmax] (reference.quantize_activations)."""
    from tvm import tirx

    q = float(qmax(bits))
    return tirx.Cast("int32", tirx.max(tirx.min(tirx.round(v / stats[0]), tirx.const(q, "float32")),
                                       tirx.const(-q, "float32")))


def quads_shape(spec: Any) -> tuple[int, int, int, int]:
    """Shape of the quantize kernel's padded NHWC quads [B, H', W', C4 / 4]."""
    g = spec.conv
    assert g is not None
    top, left, bottom, right = g.pads
    return (g.batch, g.height + top + bottom, g.width + left + right, ceil_to(g.channels, VNNI_GROUP) // VNNI_GROUP)


def window_pixel(g: ConvGeometry, m: Any, rh: Any, rw: Any) -> tuple[Any, Any, Any]:
    """(b, h, w) of the padded input pixel that tap (rh, rw) of output pixel m reads: a row's sum
    of codes is the sum of these pixels' sums."""
    oh, ow = g.out_hw
    (sh, sw), (dh, dw) = g.strides, g.dilation
    return m // (oh * ow), m % (oh * ow) // ow * sh + rh * dh, m % ow * sw + rw * dw
