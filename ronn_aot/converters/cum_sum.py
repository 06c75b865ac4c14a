"""CumSum and CumProd along a constant axis, exclusive and reverse (TVM's converter emits
`relax.cumsum`, which its CPU legalization leaves as an operator no kernel implements, and has no
CumProd; topi's generic scans are plain loop nests the schedule rules take)."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("CumSum", opsets=(11, None))
def cum_sum(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import topi

    return _scan(ctx, inputs, attrs, topi.cumsum)


@register_converter("CumProd", opsets=(26, None))
def cum_prod(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import topi

    return _scan(ctx, inputs, attrs, topi.cumprod)


def _scan(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any], scan: Any) -> Any:
    from tvm import relax

    x, axis_in = inputs[0], inputs[1]
    axis_v = ctx.constant(axis_in)
    if axis_v is None:
        raise ctx.refuse("the axis must be a constant: freeze it with --freeze-input NAME=FILE.npy")
    rank = len(ctx.shape(x))
    axis = int(axis_v.reshape(-1)[0]) % max(rank, 1)
    exclusive, reverse = bool(attrs.get("exclusive", 0)), bool(attrs.get("reverse", 0))
    if reverse:
        x = ctx.emit(relax.op.flip(x, axis))
    y = ctx.bb.emit_te(scan, x, axis, ctx.dtype(x), exclusive)
    return relax.op.flip(y, axis) if reverse else y
