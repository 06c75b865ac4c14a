"""QLinearMatMul: an int32 matmul of the zero-point-shifted operands, requantized as onnx's
reference does: y = saturate(rint(acc * (a_scale * b_scale / y_scale)) + y_zero_point).

The multiplier is computed in the scales' own type (float16 scales round as they do in the
reference), the product in float64 so that rint sees the exact accumulator; rint rounds halves
to even, written out (floor, then the even neighbour at exactly .5) rather than left to the
backend's `round`. Per-row / per-column scales and zero points broadcast as ONNX defines them
(a's along its rows, b's along its columns).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


def round_half_even(ctx: ConvertContext, x: Any) -> Any:
    """rint of a float tensor: halves round to the even neighbour."""
    from tvm import relax

    dtype = ctx.dtype(x)
    floor = ctx.emit(relax.op.floor(x))
    frac = ctx.emit(relax.op.subtract(x, floor))
    half = relax.const(0.5, dtype)
    up = relax.op.add(floor, relax.const(1.0, dtype))
    even = relax.op.add(floor, relax.op.floor_mod(floor, relax.const(2.0, dtype)))
    return ctx.emit(relax.op.where(relax.op.greater(frac, half), up,
                                   relax.op.where(relax.op.less(frac, half), floor, even)))


def saturate(ctx: ConvertContext, x: Any, dtype: str) -> Any:
    from tvm import relax

    info = np.iinfo(np.dtype(dtype))
    return relax.op.astype(relax.op.clip(x, float(info.min), float(info.max)), dtype)


def _shifted(ctx: ConvertContext, x: Any, zero_point: Any, axis_shape: list[int]) -> Any:
    from tvm import relax

    wide = ctx.emit(relax.op.astype(x, "int32"))
    if zero_point is None:
        return wide
    zp = relax.op.astype(zero_point, "int32")
    if len(ctx.shape(zero_point)) == 1 and ctx.shape(zero_point)[0] > 1:
        zp = relax.op.reshape(zp, axis_shape)
    return ctx.emit(relax.op.subtract(wide, zp))


@register_converter("QLinearMatMul", opsets=(10, None))
def qlinear_matmul(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = (inputs + [None] * 8)[:8]
    out_dtype = ctx.dtype(y_zp) if y_zp is not None else ctx.dtype(a)
    if out_dtype not in ("int8", "uint8"):
        raise ctx.refuse(f"output type {out_dtype}; QLinearMatMul produces int8 or uint8")
    acc = ctx.emit(relax.op.matmul(_shifted(ctx, a, a_zp, [-1, 1]), _shifted(ctx, b, b_zp, [1, -1]),
                                   out_dtype="int32"))

    def per_axis(scale: Any, axis_shape: list[int]) -> Any:
        if len(ctx.shape(scale)) == 1 and ctx.shape(scale)[0] > 1:
            return relax.op.reshape(scale, axis_shape)
        return scale

    scale_dtype = ctx.dtype(a_scale)
    multiplier = relax.op.divide(relax.op.multiply(per_axis(a_scale, [-1, 1]), per_axis(b_scale, [1, -1])),
                                 relax.op.astype(y_scale, scale_dtype))
    y = relax.op.multiply(relax.op.astype(acc, "float64"), relax.op.astype(ctx.emit(multiplier), "float64"))
    if y_zp is not None:
        y = relax.op.add(y, relax.op.astype(y_zp, "float64"))
    return saturate(ctx, round_half_even(ctx, ctx.emit(y)), out_dtype)
