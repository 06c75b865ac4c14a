"""TensorScatter (opset 24): a KV-cache write, `update` placed along `axis` at each batch's
write index (modulo the cache length in circular mode), as one scatter_elements whose indices are
computed from the run-time write_indices."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("TensorScatter", opsets=(24, None))
def tensor_scatter(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    past, update = inputs[0], inputs[1]
    write = inputs[2] if len(inputs) > 2 else None
    shape, ushape = ctx.shape(past), ctx.shape(update)
    rank = len(shape)
    axis = int(attrs.get("axis", -2)) % rank
    if axis == 0 or any(shape[i] != ushape[i] for i in range(rank) if i != axis) or ushape[axis] > shape[axis]:
        raise ctx.refuse(f"past_cache {list(shape)} and update {list(ushape)} on axis {axis}: the update must "
                         "match the cache except along the (non-batch) axis, and be no longer there")
    mode = str(attrs.get("mode", "linear"))
    if mode not in ("linear", "circular"):
        raise ctx.refuse(f"mode={mode!r}; ONNX defines linear and circular")
    steps = np.arange(ushape[axis], dtype=np.int64).reshape([1] * axis + [-1] + [1] * (rank - axis - 1))
    index = relax.const(steps, "int64")
    if write is not None:
        start = relax.op.reshape(ctx.emit(relax.op.astype(write, "int64")), [shape[0]] + [1] * (rank - 1))
        index = ctx.emit(relax.op.add(index, start))
    if mode == "circular":
        index = ctx.emit(relax.op.floor_mod(index, relax.const(shape[axis], "int64")))
    index = ctx.emit(relax.op.broadcast_to(index, list(ushape)))
    return relax.op.scatter_elements(past, index, update, axis=axis)
