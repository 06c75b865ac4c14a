"""Pow with an exponent of another type than the base (float ** int is common in exports): the
exponent is cast to the base's type, as ONNX computes it; TVM's converter refuses mixed types.
Integer bases (ONNX's result has the base's type) are computed in float64 and truncated, as onnx's
reference (numpy's power, then a cast) does; TVM's power takes floats only."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Pow", opsets=(1, None))
def pow_(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    base, exponent = inputs
    dtype = ctx.dtype(base)
    if dtype.startswith(("int", "uint")):
        wide = relax.op.power(relax.op.astype(base, "float64"), relax.op.astype(exponent, "float64"))
        return relax.op.astype(ctx.emit(wide), dtype)
    if ctx.dtype(exponent) != dtype and dtype.startswith(("float", "bfloat")):
        exponent = ctx.emit(relax.op.astype(exponent, dtype))
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Pow converter is missing")
    return ctx.tvm_converter([base, exponent])
