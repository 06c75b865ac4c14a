"""Scan and Loop with a static trip count, unrolled into straight-line ONNX.

An ahead-of-time artifact has no control flow; with every input shape fixed, a Scan's sequence
length is known (and so is a Loop's trip count when it is a constant and its condition stays
true), so the loop is its body repeated: each iteration's copy reads the previous copy's state
outputs, scan inputs are sliced per iteration (Gather at a constant index) and scan outputs are
stacked (Unsqueeze + Concat). onnx's linear attention (LinearAttention's function body) and
recurrent exports are Scans of this kind. A loop whose length is not static, whose body holds
another subgraph, or that would unroll past MAX_UNROLLED_NODES nodes is left for the import to
refuse.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .onnx_shapes import static_shapes

MAX_UNROLLED_NODES = 20_000


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


class _Builder:
    """Nodes and initializers of an unrolled loop, with names unique to it."""

    def __init__(self, prefix: str, opset: int) -> None:
        self.prefix, self.opset = prefix, opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}__{hint}_{self.count}"

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: object) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def unsqueeze(self, x: str, axis: int) -> str:
        if self.opset >= 13:
            return self.node("Unsqueeze", [x, self.const(np.array([axis], np.int64), "axes")], "unsq")
        return self.node("Unsqueeze", [x], "unsq", axes=[axis])

    def body(self, graph: onnx.GraphProto, bound: dict[str, str], iteration: int) -> list[str]:
        """A copy of `graph`'s nodes whose inputs are bound to `bound` (body input -> outer name);
        returns the outer names of the body's outputs."""
        names = dict(bound)
        for init in graph.initializer:  # the same constant in every iteration: copied once
            if iteration == 0:
                copy = onnx.TensorProto()
                copy.CopyFrom(init)
                copy.name = f"{self.prefix}__{init.name}"
                self.inits.append(copy)
            names[init.name] = f"{self.prefix}__{init.name}"
        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"{self.prefix}__{iteration}__{node.name}" if node.name else ""
            del copy.input[:]
            copy.input.extend(names.get(n, n) if n else "" for n in node.input)
            del copy.output[:]
            for n in node.output:
                if n:
                    names[n] = f"{self.prefix}__{iteration}__{n}"
                copy.output.append(names[n] if n else "")
            self.nodes.append(copy)
        return [names.get(o.name, o.name) for o in graph.output]


def _has_subgraph(graph: onnx.GraphProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node
               for a in n.attribute)


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _unroll_scan(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]], opset: int) -> _Builder | None:
    body: onnx.GraphProto = _attr(node, "body", None)  # type: ignore[assignment]
    m = int(_attr(node, "num_scan_inputs", 0))  # type: ignore[arg-type]
    if body is None or opset < 9 or _has_subgraph(body):
        return None
    n = len(node.input) - m
    k = len(body.output) - n
    scan_in = list(node.input[n:])
    if any(x not in shapes for x in scan_in) or not scan_in:
        return None
    in_axes = [int(a) for a in _attr(node, "scan_input_axes", [0] * m)]  # type: ignore[union-attr]
    in_dirs = [int(d) for d in _attr(node, "scan_input_directions", [0] * m)]  # type: ignore[union-attr]
    out_axes = [int(a) for a in _attr(node, "scan_output_axes", [0] * k)]  # type: ignore[union-attr]
    out_dirs = [int(d) for d in _attr(node, "scan_output_directions", [0] * k)]  # type: ignore[union-attr]
    in_axes = [a % len(shapes[x]) for a, x in zip(in_axes, scan_in)]
    lengths = {shapes[x][a] for a, x in zip(in_axes, scan_in)}
    if len(lengths) != 1:
        return None
    steps = lengths.pop()
    if steps == 0 or steps * len(body.node) > MAX_UNROLLED_NODES:
        return None
    for j, a in enumerate(out_axes):
        if a < 0:
            out = node.output[n + j]
            if out not in shapes:
                return None
            out_axes[j] = a % len(shapes[out])
    b = _Builder(node.output[0] or node.name or "scan", opset)
    states = list(node.input[:n])
    elems: list[list[str]] = [[] for _ in range(k)]
    for t in range(steps):
        slices = []
        for x, a, d in zip(scan_in, in_axes, in_dirs):
            index = b.const(np.array(steps - 1 - t if d else t, np.int64), "t")
            slices.append(b.node("Gather", [x, index], "slice", axis=a))
        outs = b.body(body, {i.name: v for i, v in zip(body.input, states + slices)}, t)
        states = outs[:n]
        for j in range(k):
            elems[j].append(outs[n + j])
    for name, state in zip(node.output[:n], states):
        if name:
            b.nodes.append(helper.make_node("Identity", [state], [name]))
    for j, (name, a, d) in enumerate(zip(node.output[n:], out_axes, out_dirs)):
        if name:
            parts = [b.unsqueeze(e, a) for e in (reversed(elems[j]) if d else elems[j])]
            b.nodes.append(helper.make_node("Concat", parts, [name], axis=a))
    return b


def _passed_through(graph: onnx.GraphProto, name: str) -> str:
    """The value `name` copies through Identity nodes of `graph`."""
    producers = {o: n for n in graph.node for o in n.output}
    while name in producers and producers[name].op_type == "Identity":
        name = producers[name].input[0]
    return name


def _unroll_loop(node: onnx.NodeProto, values: dict[str, np.ndarray], opset: int) -> _Builder | None:
    """A Loop whose trip count is a constant and whose condition is absent or a constant true that
    the body passes on unchanged."""
    body: onnx.GraphProto = _attr(node, "body", None)  # type: ignore[assignment]
    if body is None or _has_subgraph(body) or not node.input[0] or node.input[0] not in values:
        return None
    cond = node.input[1] if len(node.input) > 1 else ""
    if cond and (cond not in values or not bool(values[cond].reshape(-1)[0])):
        return None
    if _passed_through(body, body.output[0].name) != body.input[1].name:  # a computed condition: data-dependent
        return None
    steps = int(values[node.input[0]].reshape(-1)[0])
    if steps <= 0 or steps * len(body.node) > MAX_UNROLLED_NODES:
        return None
    n = len(node.input) - 2
    k = len(body.output) - 1 - n
    b = _Builder(node.output[0] or node.name or "loop", opset)
    cond_name = b.const(np.array(True), "cond")
    states = list(node.input[2:])
    elems: list[list[str]] = [[] for _ in range(k)]
    for t in range(steps):
        bound = {body.input[0].name: b.const(np.array(t, np.int64), "iter"), body.input[1].name: cond_name}
        bound.update({i.name: v for i, v in zip(body.input[2:], states)})
        outs = b.body(body, bound, t)
        states = outs[1:1 + n]
        for j in range(k):
            elems[j].append(outs[1 + n + j])
    for name, state in zip(node.output[:n], states):
        if name:
            b.nodes.append(helper.make_node("Identity", [state], [name]))
    for j, name in enumerate(node.output[n:]):
        if name:
            parts = [b.unsqueeze(e, 0) for e in elems[j]]
            b.nodes.append(helper.make_node("Concat", parts, [name], axis=0))
    return b


def unroll_static_loops(model: onnx.ModelProto, values: dict[str, np.ndarray]) -> onnx.ModelProto | None:
    """`model` with its top-level Scans and Loops of static length unrolled (`values`: the
    constants known so far), or None where there is none."""
    opset = _opset(model)
    shapes = static_shapes(model, initializers=True)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    changed = False
    for node in model.graph.node:
        built = None
        if node.domain in ("", "ai.onnx") and node.op_type == "Scan":
            built = _unroll_scan(node, shapes, opset)
        elif node.domain in ("", "ai.onnx") and node.op_type == "Loop":
            built = _unroll_loop(node, values, opset)
        if built is None:
            nodes.append(node)
            continue
        nodes.extend(built.nodes)
        inits.extend(built.inits)
        changed = True
    if not changed:
        return None
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.node[:]
    result.graph.node.extend(nodes)
    result.graph.initializer.extend(inits)
    del result.graph.value_info[:]
    return result
