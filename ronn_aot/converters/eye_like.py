"""EyeLike: a constant (the input's shape is static), in the `dtype` attribute's type when given
(TVM's converter refuses a dtype other than the input's)."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from ._registry import ConvertContext, register_converter


@register_converter("EyeLike", opsets=(9, None))
def eye_like(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    shape = ctx.shape(inputs[0])
    if len(shape) != 2:
        raise ctx.refuse(f"input of rank {len(shape)}; EyeLike takes a 2-D tensor")
    dtype = (helper.tensor_dtype_to_np_dtype(int(attrs["dtype"])) if "dtype" in attrs
             else np.dtype(ctx.dtype(inputs[0])))
    return relax.const(np.eye(shape[0], shape[1], k=int(attrs.get("k", 0)), dtype=dtype), str(dtype))
