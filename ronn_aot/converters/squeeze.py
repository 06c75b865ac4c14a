"""Squeeze with its axes made non-negative.

TVM's converter passes ONNX's axes through as given, and TVM's ConvertLayout (our O3
`convert_layout` pass) cannot infer the layout of a `relax.op.squeeze` with a negative axis: it
fails with `std::bad_alloc`, even where no conv2d is converted (silero-vad's `Squeeze(axes=[-1])`
after its last Conv). Data that is a tensor of known rank with constant axes is squeezed here with
the axes normalised; everything else (constant data, shape tensors, axes computed at run time)
goes to TVM's converter.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Squeeze", opsets=(1, None))
def squeeze(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    data = inputs[0]
    if ctx.opset >= 13:
        value = ctx.constant(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None
        axes = None if value is None else [int(a) for a in value.reshape(-1)]
    else:
        axes = [int(a) for a in attrs["axes"]] if "axes" in attrs else None
    computed = ctx.opset >= 13 and len(inputs) > 1 and inputs[1] is not None and axes is None
    if (axes is None or computed or not isinstance(data.ty, relax.TensorType) or ctx.constant(data) is not None
            or not isinstance(data.ty.shape, relax.ShapeExpr)):
        if ctx.tvm_converter is None:
            raise ctx.refuse("this form of Squeeze needs TVM's converter, which is missing")
        return ctx.tvm_converter(inputs)
    shape = ctx.shape(data)
    rank = len(shape)
    if any(not -rank <= a < rank for a in axes):
        raise ctx.refuse(f"axes={axes} are out of range for an input of rank {rank}")
    normalized = sorted({a % rank for a in axes})
    if any(shape[a] != 1 for a in normalized):
        raise ctx.refuse(f"axes={axes} name a dimension of size other than 1 in shape {list(shape)}")
    return relax.op.squeeze(data, normalized)
