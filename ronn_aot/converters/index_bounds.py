"""GatherElements, GatherND, ScatterElements and ScatterND with their indices clamped into range.

TVM's converters hand the indices to kernels that read (or write) data[index] for whatever index
arrives: an out-of-range index from the caller reads or writes outside the tensor. ONNX calls such
an index an error, which a kernel cannot report; here each index is first made non-negative
(+extent, as ONNX defines negative indices) and then clamped to [0, extent - 1], which keeps every
access inside the tensor and leaves valid indices as they were (Gather: see gather.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter

_OPS = {"relax.gather_elements", "relax.scatter_elements", "relax.gather_nd", "relax.scatter_nd"}


def _extents(call: Any, ctx: ConvertContext) -> np.ndarray | None:
    """Per-index extents, broadcastable against the indices; None when a shape is not static."""
    from tvm import relax

    data, indices = call.args[0], call.args[1]
    if not all(isinstance(e.ty, relax.TensorType) and isinstance(e.ty.shape, relax.ShapeExpr)
               for e in (data, indices)):
        return None
    shape, index_shape = ctx.shape(data), ctx.shape(indices)
    name = call.op.name
    if name in ("relax.gather_elements", "relax.scatter_elements"):
        return np.array(shape[int(call.attrs.axis) % len(shape)])
    batch = int(call.attrs.batch_dims) if name == "relax.gather_nd" else 0
    depth = index_shape[-1]
    return np.array(shape[batch:batch + depth])


def _clamped(ctx: ConvertContext, call: Any) -> Any:
    from tvm import relax

    extents = _extents(call, ctx)
    if extents is None or np.any(extents <= 0):
        return call
    indices = call.args[1]
    dtype = ctx.dtype(indices)
    extent = relax.const(extents.astype(dtype), dtype)
    zero = relax.const(np.zeros((), dtype), dtype)
    non_negative = ctx.emit(relax.op.where(relax.op.less(indices, zero), relax.op.add(indices, extent), indices))
    upper = relax.const((extents - 1).astype(dtype), dtype)
    bounded = ctx.emit(relax.op.minimum(relax.op.maximum(non_negative, zero), upper))
    return relax.Call(call.op, [call.args[0], bounded, *call.args[2:]], call.attrs)


def _converter(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    if ctx.tvm_converter is None:
        raise ctx.refuse(f"{ctx.op_type} needs TVM's converter, which is missing")
    out = ctx.tvm_converter(inputs)
    if isinstance(out, relax.Call) and getattr(out.op, "name", "") in _OPS:
        return _clamped(ctx, out)
    return out


for _op in ("GatherElements", "GatherND", "ScatterElements", "ScatterND"):
    register_converter(_op, opsets=(1, None))(_converter)
