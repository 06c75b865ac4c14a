"""Mutated ONNX models for the compiler: small seed graphs, structure-aware mutations of them, and
raw byte flips of their serialized form. `case(seed, index)` is deterministic."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Operators a mutation may swap in: ones the compiler supports (a wrong arity or attribute then
# reaches its converters), and names it cannot know.
OPS = ["Add", "Mul", "Sub", "Div", "Relu", "Sigmoid", "Tanh", "MatMul", "Gemm", "Conv", "MaxPool",
       "AveragePool", "GlobalAveragePool", "Reshape", "Transpose", "Concat", "Split", "Softmax",
       "LayerNormalization", "Gather", "Slice", "Squeeze", "Unsqueeze", "Flatten", "ReduceMean",
       "Cast", "Resize", "BatchNormalization", "Where", "Expand", "Pad", "Clip", "Pow", "Sqrt",
       "Shape", "ConstantOfShape", "Range", "TopK", "Einsum", "Loop", "If", "NoSuchOp", ""]
ELEM_TYPES = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 16, 17, 40, 999]
INTERESTING = [0, 1, -1, 2, 3, 7, 64, 255, 2**31 - 1, -2**31, 2**40, 2**62, -2**62]


def _vi(name: str, elem: int, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
           outputs: list[onnx.ValueInfoProto], inits: dict[str, np.ndarray], opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "fuzz", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _w(*shape: int) -> np.ndarray:
    return (np.random.default_rng(len(shape) + sum(shape)).standard_normal(shape) * 0.2).astype(np.float32)


def seeds() -> list[onnx.ModelProto]:
    """Small valid models covering the compiler's main paths (each compiles in well under 1 s)."""
    f = TensorProto.FLOAT
    mlp = _model([helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
                  helper.make_node("Relu", ["h"], ["r"]),
                  helper.make_node("Softmax", ["r"], ["y"], axis=-1)],
                 [_vi("x", f, [2, 8])], [_vi("y", f, [2, 4])], {"w": _w(4, 8), "b": _w(4)})
    conv = _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1]),
                   helper.make_node("Relu", ["c"], ["r"]),
                   helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                   helper.make_node("GlobalAveragePool", ["p"], ["y"])],
                  [_vi("x", f, [1, 3, 8, 8])], [_vi("y", f, [1, 4, 1, 1])], {"w": _w(4, 3, 3, 3)})
    shapes = _model([helper.make_node("Reshape", ["x", "s"], ["r"]),
                     helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
                     helper.make_node("Concat", ["t", "t"], ["c"], axis=1),
                     helper.make_node("Slice", ["c", "st", "en", "ax"], ["y"])],
                    [_vi("x", f, [2, 12])], [_vi("y", f, [2, 4, 3])],
                    {"s": np.array([2, 3, 4], np.int64), "st": np.array([0], np.int64),
                     "en": np.array([4], np.int64), "ax": np.array([1], np.int64)})
    norm = _model([helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], axis=-1, epsilon=1e-5),
                   helper.make_node("MatMul", ["n", "w"], ["m"]),
                   helper.make_node("ReduceMean", ["m"], ["y"], axes=[1], keepdims=0)],
                  [_vi("x", f, [1, 4, 8])], [_vi("y", f, [1, 8])],
                  {"g": np.ones(8, np.float32), "b": np.zeros(8, np.float32), "w": _w(8, 8)}, opset=17)
    embed = _model([helper.make_node("Gather", ["table", "ids"], ["e"], axis=0),
                    helper.make_node("Add", ["e", "pos"], ["y"])],
                   [_vi("ids", TensorProto.INT64, [1, 5])], [_vi("y", f, [1, 5, 6])],
                   {"table": _w(10, 6), "pos": _w(1, 5, 6)})
    return [mlp, conv, shapes, norm, embed]


def _pick_value_info(model: onnx.ModelProto, rng: random.Random) -> onnx.ValueInfoProto:
    pool = list(model.graph.input) + list(model.graph.output)
    return rng.choice(pool)


def _mutate_dim(model: onnx.ModelProto, rng: random.Random) -> None:
    vi = _pick_value_info(model, rng)
    dims = vi.type.tensor_type.shape.dim
    if not dims or rng.random() < 0.15:
        vi.type.tensor_type.shape.dim.add().dim_value = rng.choice([1, 2, 0])
        return
    d = rng.choice(dims)
    if rng.random() < 0.25:
        d.dim_param = rng.choice(["N", "batch", "", "?"])
    elif rng.random() < 0.1:
        del dims[rng.randrange(len(dims))]
    else:
        d.dim_value = rng.choice([0, 1, 2, 3, 5, 1000, 2**31, 2**40, -1, -7])


def _mutate_elem_type(model: onnx.ModelProto, rng: random.Random) -> None:
    _pick_value_info(model, rng).type.tensor_type.elem_type = rng.choice(ELEM_TYPES)


def _node(model: onnx.ModelProto, rng: random.Random) -> onnx.NodeProto | None:
    return rng.choice(model.graph.node) if model.graph.node else None


def _mutate_op_type(model: onnx.ModelProto, rng: random.Random) -> None:
    node = _node(model, rng)
    if node is not None:
        node.op_type = rng.choice(OPS)


def _names(model: onnx.ModelProto) -> list[str]:
    g = model.graph
    return ([i.name for i in g.input] + [i.name for i in g.initializer]
            + [o for n in g.node for o in n.output])


def _mutate_edges(model: onnx.ModelProto, rng: random.Random) -> None:
    node = _node(model, rng)
    if node is None:
        return
    choice = rng.randrange(5)
    if choice == 0 and node.input:
        del node.input[rng.randrange(len(node.input))]
    elif choice == 1:
        node.input.append(rng.choice(_names(model) + ["missing", ""]))
    elif choice == 2 and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(_names(model) + ["missing", ""])
    elif choice == 3 and node.output:
        node.output[0] = rng.choice(_names(model) + ["y", ""])  # duplicates, cycles, a lost output
    else:
        node.output.append(f"extra{rng.randrange(3)}")


def _mutate_attribute(model: onnx.ModelProto, rng: random.Random) -> None:
    node = _node(model, rng)
    if node is None:
        return
    if node.attribute and rng.random() < 0.8:
        attr = rng.choice(node.attribute)
        if attr.type == onnx.AttributeProto.INT:
            attr.i = rng.choice(INTERESTING)
        elif attr.type == onnx.AttributeProto.INTS:
            if attr.ints and rng.random() < 0.7:
                attr.ints[rng.randrange(len(attr.ints))] = rng.choice(INTERESTING)
            else:
                del attr.ints[:]
                attr.ints.extend(rng.choice(INTERESTING) for _ in range(rng.randrange(0, 6)))
        elif attr.type == onnx.AttributeProto.FLOAT:
            attr.f = rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e30])
        elif rng.random() < 0.5:
            node.attribute.remove(attr)
        else:
            attr.type = rng.choice([onnx.AttributeProto.INT, onnx.AttributeProto.STRING, 0])
    else:
        name = rng.choice(["axis", "perm", "kernel_shape", "pads", "strides", "group", "transA",
                           "keepdims", "axes", "mode", "bogus"])
        value = rng.choice([rng.choice(INTERESTING), [rng.choice(INTERESTING) for _ in range(rng.randrange(1, 5))],
                            b"linear", 0.5])
        node.attribute.append(helper.make_attribute(name, value))


def _mutate_initializer(model: onnx.ModelProto, rng: random.Random) -> None:
    if not model.graph.initializer:
        return
    init = rng.choice(model.graph.initializer)
    choice = rng.randrange(5)
    if choice == 0 and init.dims:
        init.dims[rng.randrange(len(init.dims))] = rng.choice([0, 1, 3, 2**33, -1])
    elif choice == 1:
        init.data_type = rng.choice(ELEM_TYPES)
    elif choice == 2:
        raw = init.raw_data or numpy_helper.to_array(init).tobytes()
        init.ClearField("float_data")
        init.ClearField("int64_data")
        init.raw_data = raw[: rng.randrange(len(raw) + 1)]
    elif choice == 3:
        init.dims.append(rng.choice([1, 2]))
    else:
        init.name = rng.choice(_names(model) + ["x", ""])


def _mutate_graph(model: onnx.ModelProto, rng: random.Random) -> None:
    nodes = model.graph.node
    choice = rng.randrange(5)
    if choice == 0 and nodes:
        del nodes[rng.randrange(len(nodes))]
    elif choice == 1 and nodes:
        nodes.append(onnx.NodeProto.FromString(rng.choice(nodes).SerializeToString()))
    elif choice == 2 and len(nodes) > 1:
        order = list(nodes)
        rng.shuffle(order)
        del nodes[:]
        nodes.extend(order)
    elif choice == 3:
        model.opset_import[0].version = rng.choice([1, 6, 7, 9, 11, 13, 17, 18, 21, 25, 99])
    else:
        model.ir_version = rng.choice([0, 3, 7, 8, 10, 99])


MUTATIONS: list[Callable[[onnx.ModelProto, random.Random], None]] = [
    _mutate_dim, _mutate_elem_type, _mutate_op_type, _mutate_edges, _mutate_attribute,
    _mutate_initializer, _mutate_graph]


@dataclass(frozen=True)
class Case:
    index: int
    data: bytes  # what the compiler is given (a serialized model, possibly not parseable)
    what: str  # the mutations applied, for the report


def case(seed: int, index: int, seed_models: list[onnx.ModelProto]) -> Case:
    """The index-th mutated model of a run: 1-3 structure-aware mutations of a seed graph, or
    (one case in eight) random byte flips in its serialized form."""
    rng = random.Random(seed * 1_000_003 + index)
    base = rng.randrange(len(seed_models))
    model = onnx.ModelProto.FromString(seed_models[base].SerializeToString())
    if rng.random() < 0.125:
        data = bytearray(model.SerializeToString())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return Case(index, bytes(data), f"seed {base}: byte flips")
    applied = []
    for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
        mutation = rng.choices(MUTATIONS, weights=[3, 1, 2, 1, 4, 2, 1])[0]
        mutation(model, rng)
        applied.append(mutation.__name__.removeprefix("_mutate_"))
    return Case(index, model.SerializeToString(), f"seed {base}: {', '.join(applied)}")
