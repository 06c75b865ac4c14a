"""ReverseSequence: each batch's first sequence_lens[b] steps reversed, the rest kept, as one
gather_elements along the time axis whose indices are computed from the run-time lengths."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("ReverseSequence", opsets=(10, None))
def reverse_sequence(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, lens = inputs
    shape = ctx.shape(x)
    rank = len(shape)
    time_axis, batch_axis = int(attrs.get("time_axis", 0)) % rank, int(attrs.get("batch_axis", 1)) % rank
    if rank < 2 or time_axis == batch_axis or {time_axis, batch_axis} != {0, 1}:
        raise ctx.refuse(f"time_axis={time_axis}, batch_axis={batch_axis}; ONNX wants axes 0 and 1")

    def along(axis: int) -> list[int]:
        return [-1 if a == axis else 1 for a in range(rank)]

    t = relax.const(np.arange(shape[time_axis], dtype=np.int64).reshape(along(time_axis)), "int64")
    n = ctx.emit(relax.op.reshape(ctx.emit(relax.op.astype(lens, "int64")), along(batch_axis)))
    reversed_t = ctx.emit(relax.op.subtract(relax.op.subtract(n, relax.const(1, "int64")), t))
    inside = ctx.emit(relax.op.less(t, n))
    index = ctx.emit(relax.op.where(inside, reversed_t, t))
    index = ctx.emit(relax.op.broadcast_to(index, list(shape)))
    return relax.op.gather_elements(x, index, axis=time_axis)
