"""BitShift with ONNX's defined results for shifts outside [0, bit width).

TVM's converter emits a plain shift, which LLVM leaves undefined (poison) for negative shifts and
shifts of the bit width or more: x86 masks the count, so `1 << 32` came out 1 and `x << -1` a
garbage value. ONNX defines those: 0, except a right shift of a negative signed value, which is -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("BitShift", opsets=(11, None))
def bit_shift(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, shift = inputs[0], inputs[1]
    direction = attrs.get("direction", "")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.refuse(f"direction={direction!r}; expected LEFT or RIGHT")
    dtype = ctx.dtype(x)
    bits = np.iinfo(np.dtype(dtype)).bits
    in_range = relax.op.less(shift, relax.const(bits, ctx.dtype(shift)))
    if np.issubdtype(np.dtype(dtype), np.signedinteger):
        in_range = relax.op.logical_and(relax.op.greater_equal(shift, relax.const(0, ctx.dtype(shift))), in_range)
    in_range = ctx.emit(in_range)
    safe = ctx.emit(relax.op.where(in_range, shift, relax.const(0, ctx.dtype(shift))))
    op = relax.op.left_shift if direction == "LEFT" else relax.op.right_shift
    shifted = ctx.emit(op(x, safe))
    zero = relax.const(0, dtype)
    if direction == "RIGHT" and np.issubdtype(np.dtype(dtype), np.signedinteger):
        fill = ctx.emit(relax.op.where(relax.op.less(x, zero), relax.const(-1, dtype), zero))
    else:
        fill = zero
    return relax.op.where(in_range, shifted, fill)
