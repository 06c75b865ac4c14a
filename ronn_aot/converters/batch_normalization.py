"""BatchNormalization: inference mode goes to TVM's converter; training mode (running statistics
updated from the batch, extra outputs) is refused: TVM's converter computed it as inference."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("BatchNormalization", opsets=(1, None))
def batch_normalization(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    if int(attrs.get("training_mode", 0)) or (ctx.opset < 7 and int(attrs.get("is_test", 1)) == 0):
        raise ctx.refuse("training_mode=1 computes batch statistics and updates running ones; export the "
                         "model for inference (training_mode=0)")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's BatchNormalization converter is missing")
    return ctx.tvm_converter(inputs)
