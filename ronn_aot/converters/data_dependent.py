"""Operators whose output shape depends on the values of their inputs: NonZero, Unique,
NonMaxSuppression and Compress.

An artifact's plan is static (every tensor's size is fixed at compile time), so these compile only
where the values that decide the shape are constants: all inputs constant (the outputs are then
computed here, with onnx's reference implementation, and become constants), or, for Compress, a
constant condition (then it is a gather with constant indices). Otherwise they are refused with a
message that says so; TVM's converters would produce dynamic shapes that fail later, deep in
lowering, as a compiler error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter

_WHY = ("its output shape depends on the values of its input, and an ahead-of-time artifact has a "
        "static plan; compute it outside the model, or, if the input is fixed for your use, compile it "
        "as a constant with --freeze-input NAME=FILE.npy")


def _reference(ctx: ConvertContext, values: list[np.ndarray | None], attrs: dict[str, Any], n_out: int) -> list[np.ndarray]:
    """The node's outputs from onnx's reference implementation, for constant inputs."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    names = [f"i{k}" if v is not None else "" for k, v in enumerate(values)]
    outs = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(ctx.op_type, names, outs, **attrs)
    graph = helper.make_graph([node], "fold", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                                               for n, v in zip(names, values) if v is not None],
                              [helper.make_tensor_value_info(o, 0, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ctx.opset)])
    feeds = {n: v for n, v in zip(names, values) if v is not None}
    return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]


def _fold_or_refuse(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any], n_out: int) -> Any:
    from tvm import relax

    values = [None if x is None else ctx.constant(x) for x in inputs]
    if any(v is None and x is not None for v, x in zip(values, inputs)):
        raise ctx.refuse(_WHY)
    outs = [relax.const(o) for o in _reference(ctx, values, attrs, n_out)]
    return outs[0] if n_out == 1 else relax.Tuple(outs)


@register_converter("NonZero", opsets=(9, None))
def non_zero(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    return _fold_or_refuse(ctx, inputs, attrs, 1)


@register_converter("Unique", opsets=(11, None))
def unique(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    return _fold_or_refuse(ctx, inputs, attrs, 4)


@register_converter("NonMaxSuppression", opsets=(10, None))
def non_max_suppression(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    return _fold_or_refuse(ctx, inputs, attrs, 1)


@register_converter("Compress", opsets=(9, None))
def compress(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, condition = inputs[0], inputs[1]
    cond = ctx.constant(condition)
    if cond is None:
        raise ctx.refuse("its output shape depends on the values of `condition`; compile the condition as "
                         "a constant with --freeze-input NAME=FILE.npy, or select outside the model")
    axis = attrs.get("axis")
    if axis is None:
        x = ctx.emit(relax.op.reshape(x, (int(np.prod(ctx.shape(x))),)))
        axis = 0
    length = ctx.shape(x)[axis]
    # Compress reads the condition up to the axis' length (a shorter condition selects fewer).
    indices = np.nonzero(np.asarray(cond).reshape(-1)[:length].astype(bool))[0].astype("int64")
    return relax.op.take(x, relax.const(indices), axis=int(axis))
