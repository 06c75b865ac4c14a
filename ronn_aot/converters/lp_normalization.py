"""LpNormalization (p = 1 or 2, any axis), which TVM's frontend lacks.

A zero norm gives 0 (onnx's reference), not 0/0.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("LpNormalization", opsets=(1, None))
def lp_normalization(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    p, axis = int(attrs.get("p", 2)), int(attrs.get("axis", -1))
    rank = len(ctx.shape(x))
    if not -rank <= axis < rank:
        raise ctx.refuse(f"axis={axis} is out of range for an input of rank {rank}")
    axis %= rank
    if p == 1:
        norm = relax.op.sum(relax.op.abs(x), axis=[axis], keepdims=True)
    elif p == 2:
        norm = relax.op.sqrt(relax.op.sum(relax.op.multiply(x, x), axis=[axis], keepdims=True))
    else:
        raise ctx.refuse(f"p={p}; ONNX defines p = 1 and 2")
    norm = ctx.emit(norm)
    zero = relax.const(0.0, ctx.dtype(x))
    safe = ctx.emit(relax.op.where(relax.op.equal(norm, zero), relax.const(1.0, ctx.dtype(x)), norm))
    return relax.op.divide(x, safe)
