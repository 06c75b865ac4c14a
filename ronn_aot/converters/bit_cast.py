"""BitCast: the bits of each element read as another type of the same width (LLVM's bitcast
through TIR's reinterpret). TVM's frontend has no converter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("BitCast", opsets=(26, None))
def bit_cast(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    import onnx
    from tvm import te, tirx

    x = inputs[0]
    to = onnx.helper.tensor_dtype_to_np_dtype(int(attrs["to"]))
    src = np.dtype(ctx.dtype(x)) if ctx.dtype(x) != "bool" else np.dtype(bool)
    if to.itemsize != src.itemsize or to == np.dtype(bool) or src == np.dtype(bool):
        raise ctx.refuse(f"from {src} to {to}: both types must be numbers of the same width")
    dtype = str(to)
    return ctx.bb.emit_te(lambda t: te.compute(t.shape, lambda *i: tirx.reinterpret(dtype, t(*i)), name="bitcast"), x)
