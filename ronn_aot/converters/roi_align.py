"""RoiAlign: mode "avg" goes to TVM's converter; mode "max" is refused, because TVM's max pools the
sampled points before the bilinear weights, where onnx takes the max of the weighted samples, and
gave other values."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("RoiAlign", opsets=(10, None))
def roi_align(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    mode = attrs.get("mode", "avg")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "avg":
        raise ctx.refuse(f"mode={mode!r} is not supported (its values differ from onnx's); use mode='avg'")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's RoiAlign converter is missing")
    return ctx.tvm_converter(inputs)
