"""BatchNormalization: inference mode goes to TVM's converter; training mode (opset 14+: batch
statistics normalise, the running ones are updated: Y, running_mean, running_var) is ours, since
TVM's converter computed it as inference."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("BatchNormalization", opsets=(1, None))
def batch_normalization(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    if ctx.opset < 7 and int(attrs.get("is_test", 1)) == 0:
        raise ctx.refuse("is_test=0 computes batch statistics; export the model for inference")
    if int(attrs.get("training_mode", 0)):
        if ctx.opset < 14:
            raise ctx.refuse("training_mode before opset 14")
        return _training(ctx, inputs, float(attrs.get("epsilon", 1e-5)), float(attrs.get("momentum", 0.9)))
    if ctx.tvm_converter is None:
        raise ctx.refuse("TVM's BatchNormalization converter is missing")
    return ctx.tvm_converter(inputs)


def _training(ctx: ConvertContext, inputs: list[Any], epsilon: float, momentum: float) -> Any:
    from tvm import relax

    x, scale, bias, mean, var = inputs
    rank = len(ctx.shape(x))
    dtype = ctx.dtype(x)
    axes = [a for a in range(rank) if a != 1]
    per_channel = [1, -1] + [1] * (rank - 2)

    def channel(v: Any) -> Any:
        return ctx.emit(relax.op.reshape(v, per_channel))

    batch_mean = ctx.emit(relax.op.mean(x, axis=axes))
    centered = ctx.emit(relax.op.subtract(x, channel(batch_mean)))
    batch_var = ctx.emit(relax.op.mean(relax.op.multiply(centered, centered), axis=axes))  # population variance
    inv_std = ctx.emit(relax.op.rsqrt(relax.op.add(batch_var, relax.const(epsilon, dtype))))
    y = ctx.emit(relax.op.add(relax.op.multiply(relax.op.multiply(centered, channel(inv_std)), channel(scale)),
                              channel(bias)))
    m, rest = relax.const(momentum, dtype), relax.const(1.0 - momentum, dtype)
    running_mean = relax.op.add(relax.op.multiply(mean, m), relax.op.multiply(batch_mean, rest))
    running_var = relax.op.add(relax.op.multiply(var, m), relax.op.multiply(batch_var, rest))
    return relax.Tuple([y, ctx.emit(running_mean), ctx.emit(running_var)])
