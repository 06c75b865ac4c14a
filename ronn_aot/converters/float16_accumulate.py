"""MatMul and Conv of float16 computed in float32 and rounded once at the end, as onnxruntime
and onnx's reference do, and float16 Softmax rounded step by step as onnx's reference does
(numpy's float16 arithmetic): TVM's float16 matmul and conv accumulate in float16 and its softmax
sums in float16, which put attention and causal-conv outputs 1-2 float16 ulps away."""

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
        # Each step rounded to float16 as onnx's reference computes it (numpy: x - max, exp and
        # the quotient in float16, the sum accumulated in float32 and rounded once).
        axis = int(attrs.get("axis", -1))

        def rounded(e: Any) -> Any:
            return ctx.emit(relax.op.astype(relax.op.astype(e, "float16"), "float32"))

        wide = ctx.emit(relax.op.astype(x, "float32"))
        shifted = rounded(relax.op.subtract(wide, relax.op.max(wide, axis=[axis], keepdims=True)))
        exp = rounded(relax.op.exp(shifted))
        total = rounded(relax.op.sum(exp, axis=[axis], keepdims=True))
        return relax.op.astype(ctx.emit(relax.op.divide(exp, total)), "float16")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Softmax converter is missing")
    return ctx.tvm_converter(inputs)


@register_converter("Conv", opsets=(1, None))
def conv(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    """float16 convolutions accumulate in float32 (TVM's float16 conv2d sums in float16)."""
    from tvm import relax

    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Conv converter is missing")
    if ctx.dtype(inputs[0]) != "float16":
        return ctx.tvm_converter(inputs)
    wide = [None if x is None else ctx.emit(relax.op.astype(x, "float32")) for x in inputs]
    return relax.op.astype(ctx.emit(ctx.tvm_converter(wide)), "float16")
