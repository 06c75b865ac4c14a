"""IsInf with its detect_negative / detect_positive attributes (TVM's converter ignores them and
reports both infinities)."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("IsInf", opsets=(10, None))
def is_inf(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    neg, pos = int(attrs.get("detect_negative", 1)), int(attrs.get("detect_positive", 1))
    inf = ctx.emit(relax.op.isinf(x))
    zero = relax.const(0, ctx.dtype(x))
    if neg and pos:
        return inf
    if not neg and not pos:
        return relax.op.logical_and(inf, relax.op.not_equal(x, x))  # all false, shaped like x
    sign = relax.op.greater(x, zero) if pos else relax.op.less(x, zero)
    return relax.op.logical_and(inf, sign)
