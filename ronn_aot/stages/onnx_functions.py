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


def _function_body(node: onnx.NodeProto, opset: int, types: dict[str, onnx.TypeProto]) -> onnx.FunctionProto | None:
    """onnx's definition of `node` at `opset` (context-dependent bodies are built for its
    attributes and input types; an omitted input has an empty type)."""
    schema = onnx.defs.get_schema(node.op_type, opset, "")
    body = onnx.FunctionProto()
    if schema.has_context_dependent_function:
        if any(n and n not in types for n in node.input):
            return None
        arg_types = [types[n].SerializeToString() if n else onnx.TypeProto().SerializeToString() for n in node.input]
        try:
            body.ParseFromString(schema.get_context_dependent_function(node.SerializeToString(), arg_types))
        except Exception:  # noqa: BLE001 - the builder refuses these attributes or types
            return None
        return body
    if schema.has_function:
        fn = schema.get_function_with_opset_version(opset) if hasattr(schema, "get_function_with_opset_version") else None
        return fn if fn is not None else schema.function_body
    return None


def _expand_node(node: onnx.NodeProto, opset: int, types: dict[str, onnx.TypeProto], prefix: str
                 ) -> list[onnx.NodeProto] | None:
    """`node` replaced by its function body, names made unique by `prefix`: for nodes with an
    omitted optional input followed by a given one, on which onnx's inliner asserts ("Type unknown
    for ''") where the body itself handles the omission."""
    body = _function_body(node, opset, types)
    if body is None:
        return None
    attrs = {a.name: a for a in node.attribute}
    names = {formal: actual for formal, actual in zip(body.input, node.input)}
    names.update({formal: "" for formal in body.input[len(node.input):]})
    outputs = dict(zip(body.output, node.output))
    nodes = []
    for n in body.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.name = f"{prefix}_{n.name}" if n.name else ""
        del copy.input[:]
        copy.input.extend(names.get(i, f"{prefix}_{i}") if i else "" for i in n.input)
        del copy.output[:]
        for o in n.output:
            names[o] = outputs.get(o) or (f"{prefix}_{o}" if o else "")
            copy.output.append(names[o])
        del copy.attribute[:]
        for a in n.attribute:
            if a.ref_attr_name:  # an attribute of the function: the node's value, or left at its default
                if a.ref_attr_name in attrs:
                    value = onnx.AttributeProto()
                    value.CopyFrom(attrs[a.ref_attr_name])
                    value.name = a.name
                    copy.attribute.append(value)
            else:
                copy.attribute.append(a)
                for g in [copy.attribute[-1].g] if a.type == onnx.AttributeProto.GRAPH else copy.attribute[-1].graphs:
                    _rename_captured(g, names, prefix)
        nodes.append(copy)
    return nodes


def _rename_captured(graph: onnx.GraphProto, names: dict[str, str], prefix: str) -> None:
    """Rename, in a body's subgraph, the body values it reads from the enclosing scope."""
    local = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    local |= {o for n in graph.node for o in n.output}
    for n in graph.node:
        for k, i in enumerate(n.input):
            if i and i not in local:
                n.input[k] = names.get(i, f"{prefix}_{i}")
        for a in n.attribute:
            for g in [a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs:
                _rename_captured(g, {**names, **{x: x for x in local}}, prefix)
    for o in graph.output:
        if o.name not in local:
            o.name = names.get(o.name, f"{prefix}_{o.name}")


def _expand_nodes(model: onnx.ModelProto, opset: int, ops: set[str], gaps_only: bool) -> onnx.ModelProto:
    """`model` with the nodes of `ops` expanded by _expand_node (`gaps_only`: only those with an
    omitted input before a given one)."""
    types = {vi.name: vi.type for vi in list(model.graph.value_info) + list(model.graph.input)}
    for init in model.graph.initializer:
        t = onnx.TypeProto()
        t.tensor_type.elem_type = init.data_type
        t.tensor_type.shape.dim.extend(onnx.TensorShapeProto.Dimension(dim_value=d) for d in init.dims)
        types[init.name] = t
    nodes: list[onnx.NodeProto] = []
    changed = False
    for i, node in enumerate(model.graph.node):
        gaps = any(not n and any(node.input[j:]) for j, n in enumerate(node.input))
        chosen = node.op_type in ops and node.domain in ("", "ai.onnx") and (gaps or not gaps_only)
        expanded = _expand_node(node, opset, types, f"{node.output[0] or node.op_type}__fn{i}") if chosen else None
        if expanded is None:
            nodes.append(node)
        else:
            nodes.extend(expanded)
            changed = True
    if not changed:
        return model
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
        model = onnx.shape_inference.infer_shapes(model)
        before = len(model.graph.node)
        model = _expand_nodes(model, opset, ops, gaps_only=True)
        changed |= len(model.graph.node) != before
        ops = to_expand(model.graph, opset, supported)
        if not ops:
            continue
        try:
            expanded = onnx.inliner.inline_selected_functions(model, [("", op) for op in sorted(ops)],
                                                              inline_schema_functions=True)
        except Exception:  # noqa: BLE001 - onnx's inliner asserts on values it cannot type
            expanded = _expand_nodes(model, opset, ops, gaps_only=False)  # (a frozen initializer input)
            if len(expanded.graph.node) == len(model.graph.node):
                break
            model, changed = expanded, True
            continue
        if [n.op_type for n in expanded.graph.node] == [n.op_type for n in model.graph.node]:
            break  # the inliner could not expand them (no body for this opset): leave to the check
        model, changed = expanded, True
    if changed:  # the bodies' values get shapes, so their Shape arithmetic folds
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        except onnx.shape_inference.InferenceError:
            model = onnx.shape_inference.infer_shapes(model)
    return model
