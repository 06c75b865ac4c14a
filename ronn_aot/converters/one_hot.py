"""OneHot with a constant depth and values (the Backend and --freeze-input make them constants).

TVM's converter passes ONNX's depth through as the tensor's element type, and `relax.op.one_hot`
takes an int: a float depth (ONNX allows any numeric type) fails the import. Negative indices
count from the end of the depth, as ONNX defines.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("OneHot", opsets=(9, None))
def one_hot(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    indices, depth_in, values_in = inputs[0], inputs[1], inputs[2]
    depth_v, values_v = ctx.constant(depth_in), ctx.constant(values_in)
    if depth_v is None or values_v is None:
        raise ctx.refuse("depth and values must be constants: freeze them with --freeze-input NAME=FILE.npy")
    depth = int(depth_v.reshape(-1)[0])
    off, on = values_v.reshape(-1)[:2].tolist()
    dtype = str(values_v.dtype)
    idx_dtype = ctx.dtype(indices)
    idx = indices
    if not idx_dtype.startswith("int"):  # float or unsigned indices: ONNX casts them to integers
        idx = ctx.emit(relax.op.astype(idx, "int64"))
        idx_dtype = "int64"
    # Negative indices wrap once; anything still out of [0, depth) gives an all-`off` row.
    zero = relax.const(0, idx_dtype)
    idx = ctx.emit(relax.op.where(relax.op.less(idx, zero), relax.op.add(idx, relax.const(depth, idx_dtype)), idx))
    axis = int(attrs.get("axis", -1)) % (len(ctx.shape(indices)) + 1)  # of the output, one rank more
    # one_hot takes Python scalars and picks its own element type: cast to the values' type.
    as_py = float if dtype.startswith("float") else int
    y = ctx.emit(relax.op.one_hot(idx, as_py(on), as_py(off), depth, axis))
    return y if ctx.dtype(y) == dtype else relax.op.astype(y, dtype)
