"""MatMul and Softmax of float16 computed in float32 and rounded once at the end, as onnxruntime
and onnx's reference do: TVM's float16 matmul accumulates in float16, and its softmax sums in
float16, which put attention outputs 1-2 float16 ulps away from the reference."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("MatMul", opsets=(1, None))
def matmul(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    a, b = inputs
    if ctx.dtype(a) == "float16" and ctx.dtype(b) == "float16":
        return relax.op.astype(ctx.emit(relax.op.matmul(a, b, out_dtype="float32")), "float16")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's MatMul converter is missing")
    return ctx.tvm_converter(inputs)


@register_converter("Softmax", opsets=(1, None))
def softmax(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    if ctx.dtype(x) == "float16" and ctx.opset >= 13:
        axis = int(attrs.get("axis", -1))
        wide = ctx.emit(relax.op.astype(x, "float32"))
        return relax.op.astype(ctx.emit(relax.op.nn.softmax(wide, axis)), "float16")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Softmax converter is missing")
    return ctx.tvm_converter(inputs)
