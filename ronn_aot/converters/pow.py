"""Pow with an exponent of another type than the base (float ** int is common in exports): the
exponent is cast to the base's type, as ONNX computes it; TVM's converter refuses mixed types."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Pow", opsets=(1, None))
def pow_(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    base, exponent = inputs
    if ctx.dtype(base) != ctx.dtype(exponent) and ctx.dtype(base).startswith(("float", "bfloat")):
        exponent = ctx.emit(relax.op.astype(exponent, ctx.dtype(base)))
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Pow converter is missing")
    return ctx.tvm_converter([base, exponent])
