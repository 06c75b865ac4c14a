"""Operators that onnx defines as functions of other operators, expanded into their definition.

Many onnx operators (the loss functions, Swish, CenterCropPad, opset-23 Attention, ...) carry a
function body in their schema: onnx's own expansion into primitive operators, context-dependent
where the body depends on attributes or input types. Where no converter (ours or TVM's) handles
such an operator, or where the converter is known to implement another definition, onnx's
inliner replaces the node by that body, before the shape arithmetic is folded, so the expansion's
Shape/Reshape plumbing becomes constants under static input shapes.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import onnx
import onnx.inliner

MAX_ROUNDS = 8  # a body may call other function operators (SoftmaxCrossEntropyLoss -> NLL loss)

# Operators TVM's frontend converts under the same name but to another definition, or wrongly for
# some uses: expanded when the predicate holds for a node.
_PREFER_EXPANSION: dict[str, Callable[[onnx.NodeProto], bool]] = {
    # TVM converts com.microsoft's Attention (a num_heads attribute), not onnx's opset-23 operator.
    "Attention": lambda node: True,
    # TVM's rms_norm is right only over the last axis (axis 0 of a 2-D input fails in a TIR pass).
    "RMSNormalization": lambda node: any(a.name == "axis" and a.i != -1 for a in node.attribute),
}


def _zero_linear_attention_state(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]],
                                 types: dict[str, int]) -> onnx.TensorProto | None:
    """LinearAttention without past_state starts from a zero state (B, H_kv, d_k, d_v)."""
    heads = next((a.i for a in node.attribute if a.name == "kv_num_heads"), 0)
    key, value = node.input[1], node.input[2]
    if not heads or key not in shapes or value not in shapes or len(shapes[key]) != 3:
        return None
    (b, _, hk), (_, _, hv) = shapes[key], shapes[value]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(types[node.input[0]])
    return onnx.numpy_helper.from_array(np.zeros((b, heads, hk // heads, hv // heads), dtype),
                                        f"{node.output[0]}__zero_past_state")


def _no_linear_attention_decay(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]],
                               types: dict[str, int]) -> onnx.TensorProto | None:
    """LinearAttention without decay: a log-space decay of 0 per head (B, T, H_kv), exp(0) = 1."""
    heads = next((a.i for a in node.attribute if a.name == "kv_num_heads"), 0)
    key = node.input[1]
    if not heads or key not in shapes or len(shapes[key]) != 3:
        return None
    b, t, _ = shapes[key]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(types[node.input[0]])
    return onnx.numpy_helper.from_array(np.zeros((b, t, heads), dtype), f"{node.output[0]}__no_decay")


# onnx's inliner asserts on an omitted optional input followed by a given one ("Type unknown
# for ''"); where ONNX defines what the omitted input means, it is given that value.
_OMITTED_INPUTS: dict[tuple[str, int], Callable[..., onnx.TensorProto | None]] = {
    ("LinearAttention", 3): _zero_linear_attention_state,
    ("LinearAttention", 4): _no_linear_attention_decay,
}


def _fill_omitted_inputs(model: onnx.ModelProto, ops: set[str]) -> onnx.ModelProto:
    shapes, types = {}, {}
    for vi in list(model.graph.value_info) + list(model.graph.input):
        tt = vi.type.tensor_type
        types[vi.name] = tt.elem_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(d.dim_value for d in tt.shape.dim)
    for init in model.graph.initializer:
        shapes[init.name], types[init.name] = tuple(init.dims), init.data_type
    constants = []
    for node in model.graph.node:
        if node.op_type not in ops:
            continue
        for i, name in enumerate(node.input):
            fill = _OMITTED_INPUTS.get((node.op_type, i))
            if name or fill is None or all(not n for n in node.input[i:]):
                continue
            value = fill(node, shapes, types)
            if value is not None:  # a Constant node, which shape inference types for the inliner
                constants.append(onnx.helper.make_node("Constant", [], [value.name], value=value))
                node.input[i] = value.name
    if not constants:
        return model
    nodes = constants + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return onnx.shape_inference.infer_shapes(model)


def _has_function(op: str, opset: int) -> bool:
    try:
        schema = onnx.defs.get_schema(op, opset, "")
    except onnx.defs.SchemaError:
        return False
    return bool(schema.has_function or schema.has_context_dependent_function)


def to_expand(graph: onnx.GraphProto, opset: int, supported: Iterable[str]) -> set[str]:
    """The standard-domain operators of `graph` that should be replaced by their function body."""
    supported = set(supported)
    ops: set[str] = set()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or not _has_function(node.op_type, opset):
            continue
        prefer = _PREFER_EXPANSION.get(node.op_type)
        if node.op_type not in supported or (prefer is not None and prefer(node)):
            ops.add(node.op_type)
    return ops


def expand_functions(model: onnx.ModelProto, opset: int, supported: Iterable[str]) -> onnx.ModelProto:
    """`model` with every node of a to_expand operator replaced by onnx's definition of it."""
    supported = set(supported)
    changed = False
    for _ in range(MAX_ROUNDS):
        ops = to_expand(model.graph, opset, supported)
        if not ops:
            break
        # Context-dependent bodies read the inputs' types: give the inliner inferred ones.
        model = _fill_omitted_inputs(onnx.shape_inference.infer_shapes(model), ops)
        try:
            expanded = onnx.inliner.inline_selected_functions(model, [("", op) for op in sorted(ops)],
                                                              inline_schema_functions=True)
        except Exception:  # noqa: BLE001 - onnx's inliner asserts on untyped values: keep the node
            break
        if [n.op_type for n in expanded.graph.node] == [n.op_type for n in model.graph.node]:
            break  # the inliner could not expand them (no body for this opset): leave to the check
        model, changed = expanded, True
    if changed:  # the bodies' values get shapes, so their Shape arithmetic folds
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        except onnx.shape_inference.InferenceError:
            model = onnx.shape_inference.infer_shapes(model)
    return model
