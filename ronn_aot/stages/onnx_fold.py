"""ONNX-level folding of shape arithmetic, before TVM's importer sees the graph.

Exporters compute masks and reshape targets at run time (Shape -> Gather -> Concat -> Expand ...).
With every input shape fixed, those subgraphs are constants; folding them here lets TVM's ONNX
frontend see static shapes instead of failing on data-dependent ones. Evaluation uses onnx's own
reference implementation, one node at a time. Large tensors are left to Relax's FoldConstant,
so this stays a cheap pass over small shape tensors.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from .onnx_shapes import static_shapes
from .onnx_unroll import unroll_static_loops

MAX_FOLDED_ELEMENTS = 1 << 16
_NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                     "Bernoulli", "Multinomial"}


def _evaluate(node: onnx.NodeProto, values: dict[str, np.ndarray], opset: list[onnx.OperatorSetIdProto]
              ) -> list[np.ndarray] | None:
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(values[n].dtype), None)
              for n in node.input if n]
    outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = ReferenceEvaluator(helper.make_model(graph, opset_imports=opset))
            return [np.asarray(v) for v in ev.run(None, {n: values[n] for n in node.input if n})]
    except Exception:  # the reference lacks an op or rejects it: leave the node to TVM
        return None


MAX_ROUNDS = 16


def fold_shape_arithmetic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace nodes whose inputs are all known (or are Shape of a static tensor) by initializers,
    re-inferring shapes between rounds: a folded Reshape target gives its output a static shape,
    whose Shape then folds in the next round (onnx's function expansions chain these). Ifs with a
    known condition become their branch, Scans and Loops of static length their unrolled body."""
    for _ in range(MAX_ROUNDS):
        folded = _unroll_loops(_inline_known_ifs(_fold_once(model)))
        if folded is model:
            break
        model = folded
    return model


def _inline_known_ifs(model: onnx.ModelProto) -> onnx.ModelProto:
    """An If whose condition folded to a constant becomes the branch it takes (its nodes and
    initializers, and an Identity per output), so the next round folds the branch's arithmetic
    (silero-vad picks its sample-rate branch this way once `sr` is frozen)."""
    conds = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if int(np.prod(i.dims)) == 1}
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    changed = False
    for node in model.graph.node:
        if node.op_type == "If" and node.domain in ("", "ai.onnx") and node.input[0] in conds:
            which = "then_branch" if bool(conds[node.input[0]].reshape(-1)[0]) else "else_branch"
            branch = next(a.g for a in node.attribute if a.name == which)
            nodes.extend(branch.node)
            inits.extend(branch.initializer)
            nodes.extend(helper.make_node("Identity", [b.name], [o]) for o, b in zip(node.output, branch.output))
            changed = True
        else:
            nodes.append(node)
    if not changed:
        return model
    result = _with_nodes(model, nodes)
    result.graph.initializer.extend(inits)
    return _infer(result)


def _unroll_loops(model: onnx.ModelProto) -> onnx.ModelProto:
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if int(np.prod(i.dims)) == 1}
    unrolled = unroll_static_loops(model, values)
    return model if unrolled is None else _infer(unrolled)


def _with_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> onnx.ModelProto:
    """A copy of `model` whose graph holds `nodes`, its intermediate types dropped (re-inferred)."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.node[:]
    result.graph.node.extend(nodes)
    del result.graph.value_info[:]
    return result


def _captured(graph: onnx.GraphProto) -> set[str]:
    """Names that the subgraphs of `graph`'s nodes read (at any depth): outer values they capture."""
    names: set[str] = set()
    for node in graph.node:
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                names.update(n for sn in sub.node for n in sn.input)
                names |= _captured(sub)
    return names


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except onnx.shape_inference.InferenceError:
        # Strict mode refuses some subgraphs (an If branch reading an outer value) that it types
        # fine once the rest is known; the importer needs the types, not the strictness.
        return onnx.shape_inference.infer_shapes(model)


def _fold_once(model: onnx.ModelProto) -> onnx.ModelProto:
    shapes = static_shapes(model)
    values: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer
                                     if int(np.prod(i.dims)) <= MAX_FOLDED_ELEMENTS}
    graph_outputs = {o.name for o in model.graph.output}
    kept, folded = [], {}
    for node in model.graph.node:
        out = None
        if node.domain in ("", "ai.onnx"):  # graph outputs too: a constant output is copied from the weights
            if node.op_type == "Shape" and node.input[0] in shapes:
                attrs = {a.name: a.i for a in node.attribute}
                dims = shapes[node.input[0]]
                start, end = attrs.get("start", 0), attrs.get("end", len(dims))
                out = [np.array(dims[start:end], dtype=np.int64)]
            elif node.op_type == "Size" and node.input[0] in shapes:
                out = [np.array(int(np.prod(shapes[node.input[0]])), dtype=np.int64)]
            elif (node.op_type not in _NONDETERMINISTIC and all(not n or n in values for n in node.input)
                  and not any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute)):
                out = _evaluate(node, values, list(model.opset_import))
        if out is not None and all(o.size <= MAX_FOLDED_ELEMENTS for o in out):
            for name, v in zip(node.output, out):
                values[name] = v
                folded[name] = v
        else:
            kept.append(node)
    if not folded:
        return model
    result = _with_nodes(model, kept)
    # A folded value read only inside a branch must stay, as an initializer the branch captures.
    used = {n for node in kept for n in node.input} | graph_outputs | _captured(result.graph)
    result.graph.initializer.extend(numpy_helper.from_array(v, name) for name, v in folded.items() if name in used)
    live = {i.name for i in result.graph.initializer if i.name in used}
    kept_inits = [i for i in result.graph.initializer if i.name in live]
    del result.graph.initializer[:]
    result.graph.initializer.extend(kept_inits)
    # Models of IR version < 4 also list initializers as graph inputs: a dropped initializer must
    # leave the inputs too, or the importer takes it for a real input (onnx's light zoo does this).
    dropped = {i.name for i in model.graph.initializer} - live
    kept_inputs = [i for i in result.graph.input if i.name not in dropped]
    del result.graph.input[:]
    result.graph.input.extend(kept_inputs)
    return _infer(result)
