"""LayerNormalization with all three outputs.

TVM's converter returns scalar zero placeholders for the optional Mean and InvStdDev outputs,
wrong wherever a model (or onnx's node cases, all of which read them) uses them. Y stays
`relax.nn.layer_norm` where the scale has the normalized shape; Mean and InvStdDev (computed in
float32, stash_type=1) are separate reductions that dead-code elimination drops when unused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("LayerNormalization", opsets=(17, None))
def layer_normalization(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    shape, dtype = ctx.shape(x), ctx.dtype(x)
    rank = len(shape)
    axis = int(attrs.get("axis", -1))
    if not -rank <= axis < rank:
        raise ctx.refuse(f"axis={axis} is out of range for an input of rank {rank}")
    if int(attrs.get("stash_type", 1)) != 1:
        raise ctx.refuse(f"stash_type={attrs['stash_type']}; only 1 (float32 statistics) is supported")
    axis %= rank
    axes = list(range(axis, rank))
    epsilon = float(attrs.get("epsilon", 1e-5))

    x32 = x if dtype == "float32" else ctx.emit(relax.op.astype(x, "float32"))
    mean = ctx.emit(relax.op.mean(x32, axis=axes, keepdims=True))
    centered = ctx.emit(relax.op.subtract(x32, mean))
    var = ctx.emit(relax.op.mean(relax.op.multiply(centered, centered), axis=axes, keepdims=True))
    inv_std = ctx.emit(relax.op.rsqrt(relax.op.add(var, relax.const(epsilon, "float32"))))

    normalized = tuple(shape[axis:])
    if ctx.shape(scale) == normalized and (bias is None or ctx.shape(bias) == normalized):
        beta = bias if bias is not None else relax.const(np.zeros(normalized, dtype=dtype))
        y = ctx.emit(relax.op.nn.layer_norm(x, scale, beta, axes, epsilon))
    else:  # a scale or bias that broadcasts to the normalized shape
        y = relax.op.multiply(relax.op.multiply(centered, inv_std), relax.op.astype(scale, "float32"))
        if bias is not None:
            y = relax.op.add(y, relax.op.astype(bias, "float32"))
        y = ctx.emit(relax.op.astype(y, dtype) if dtype != "float32" else y)
    return relax.Tuple([y, mean, inv_std])
