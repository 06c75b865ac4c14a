"""Resize: the forms TVM's converter computes correctly go to it; the others are refused instead of
computed wrong.

- `antialias=1` (downsampling with a widened filter): TVM ignores it.
- linear and cubic resizes by scales whose output size is not exactly input * scale: ONNX maps
  coordinates with the given scale, TVM with output / input size, so a 4 -> 2 linear resize by 0.6
  samples other points (nearest picks the same pixels in onnx's cases).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("Resize", opsets=(10, None))
def resize(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    if int(attrs.get("antialias", 0)):
        raise ctx.refuse("antialias=1 is not supported; resize without antialiasing or give sizes that "
                         "upsample")
    scales_in = inputs[2] if ctx.opset >= 11 and len(inputs) > 2 else (inputs[1] if ctx.opset < 11 else None)
    scales = ctx.constant(scales_in) if scales_in is not None else None
    mode = attrs.get("mode", "nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if scales is not None and scales.size and mode != "nearest":  # nearest picks the same pixels
        shape = ctx.shape(inputs[0])
        axes = [int(a) for a in attrs.get("axes", range(len(shape)))]
        for axis, s in zip(axes, scales.reshape(-1).tolist()):
            n = shape[axis]
            if abs(n * s - round(n * s)) > 1e-5 * n * s:  # (a float32 scale such as 1/3 is not exact)
                raise ctx.refuse(f"scale {s} on an axis of {n} does not give a whole output size; ONNX then "
                                 "maps coordinates with the scale, which is not supported: give `sizes` "
                                 "instead of `scales`")
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's Resize converter is missing")
    return ctx.tvm_converter(inputs)
