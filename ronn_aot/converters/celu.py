"""Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) in the input's type, float16 computed in
float32 and rounded once (TVM's converter mixes a float32 alpha into float16 arithmetic)."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Celu", opsets=(12, None))
def celu(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    dtype = ctx.dtype(x)
    compute = "float32" if dtype in ("float16", "bfloat16") else dtype
    wide = x if compute == dtype else ctx.emit(relax.op.astype(x, compute))
    alpha = relax.const(float(attrs.get("alpha", 1.0)), compute)
    zero = relax.const(0.0, compute)
    neg = relax.op.multiply(alpha, relax.op.subtract(relax.op.exp(relax.op.divide(wide, alpha)),
                                                     relax.const(1.0, compute)))
    y = ctx.emit(relax.op.add(relax.op.maximum(wide, zero), relax.op.minimum(zero, neg)))
    return y if compute == dtype else relax.op.astype(y, dtype)
