"""Small ONNX graphs built with onnx.helper, one per operator family the compiler must handle.

Each builder returns (model, feeds); tests compile the model, run it through runtime_min and
compare with onnxruntime. Weights and inputs come from a seeded generator.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Case = tuple[onnx.ModelProto, dict[str, np.ndarray]]
_rng = np.random.default_rng


def make_model(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: list[str],
               inits: dict[str, np.ndarray] | None = None, opset: int = 17) -> onnx.ModelProto:
    def vi(name: str, arr: np.ndarray) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape)

    graph = helper.make_graph(
        nodes, "test", [vi(k, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    # Fill output types from shape inference so the model is complete for every consumer.
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    del model.graph.output[:]
    model.graph.output.extend(known[o] for o in outputs)
    onnx.checker.check_model(model)
    return model


def w(*shape: int, seed: int = 0, scale: float = 0.2) -> np.ndarray:
    return (_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def conv_groups() -> Case:
    x = w(1, 8, 17, 17, seed=1, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], group=2, strides=[2, 2], pads=[1, 1, 1, 1],
                              kernel_shape=[3, 3])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(12, 4, 3, 3), "B": w(12, seed=2)}), {"x": x}


def conv_depthwise_asymmetric() -> Case:
    x = w(1, 16, 15, 15, seed=3, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], group=16, strides=[2, 2], pads=[0, 0, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    inits = {"W": w(16, 1, 3, 3, seed=4), "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def conv_dilated_1x1() -> Case:
    x = w(2, 6, 12, 12, seed=5, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W1"], ["a"], dilations=[2, 2], pads=[2, 2, 2, 2]),
             helper.make_node("Conv", ["a", "W2", "B2"], ["y"])]
    inits = {"W1": w(8, 6, 3, 3, seed=6), "W2": w(4, 8, 1, 1, seed=7), "B2": w(4, seed=8)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def gemm() -> Case:
    x = w(3, 20, seed=9, scale=1.0)
    nodes = [helper.make_node("Gemm", ["x", "W", "C"], ["y"], transB=1, alpha=0.5, beta=2.0)]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(7, 20), "C": w(7, seed=10)}), {"x": x}


def matmul_broadcast() -> Case:
    a, b = w(2, 3, 4, 5, seed=11, scale=1.0), w(3, 5, 6, seed=12, scale=1.0)
    nodes = [helper.make_node("MatMul", ["a", "b"], ["ab"]),
             helper.make_node("MatMul", ["ab", "W"], ["y"])]
    return make_model(nodes, {"a": a, "b": b}, ["y"], {"W": w(6, 2)}), {"a": a, "b": b}


def batchnorm() -> Case:
    x = w(2, 5, 9, 9, seed=13, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], epsilon=1e-3),
             helper.make_node("Relu", ["bn"], ["y"])]
    inits = {"W": w(7, 5, 3, 3), "s": w(7, seed=1) + 1, "b": w(7, seed=2), "m": w(7, seed=3),
             "v": np.abs(w(7, seed=4)) + 0.5}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def pooling() -> Case:
    x = w(1, 4, 13, 13, seed=14, scale=1.0)
    nodes = [helper.make_node("MaxPool", ["x"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["x"], ["ap"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1], count_include_pad=0),
             helper.make_node("GlobalAveragePool", ["mp"], ["gp"]),
             helper.make_node("Add", ["mp", "ap"], ["s"])]
    return make_model(nodes, {"x": x}, ["s", "gp"]), {"x": x}


def softmax_layernorm_gelu() -> Case:
    x = w(2, 6, 16, seed=15, scale=2.0)
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1, epsilon=1e-5),
             helper.make_node("Gelu", ["ln"], ["ge"]),
             helper.make_node("Softmax", ["ge"], ["y"], axis=-1)]
    inits = {"g": w(16, seed=1) + 1, "b": w(16, seed=2)}
    return make_model(nodes, {"x": x}, ["y"], inits, opset=20), {"x": x}


def erf_gelu() -> Case:
    x = w(4, 32, seed=16, scale=2.0)
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["x", "e1"], ["m"]),
             helper.make_node("Mul", ["m", "half"], ["y"])]
    inits = {"sqrt2": np.array(np.sqrt(2), np.float32), "one": np.array(1, np.float32),
             "half": np.array(0.5, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def concat_split_reshape_transpose() -> Case:
    a, b = w(1, 4, 6, seed=17, scale=1.0), w(1, 2, 6, seed=18, scale=1.0)
    nodes = [helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
             helper.make_node("Split", ["c", "sp"], ["s0", "s1"], axis=1),
             helper.make_node("Reshape", ["s0", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1])]
    inits = {"sp": np.array([3, 3], np.int64), "shape": np.array([1, 6, 3], np.int64)}
    return make_model(nodes, {"a": a, "b": b}, ["t", "s1"], inits), {"a": a, "b": b}


def resize() -> Case:
    x = w(1, 3, 5, 7, seed=19, scale=1.0)
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["n"], mode="nearest"),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["l"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    inits = {"scales": np.array([1, 1, 2, 2], np.float32), "sizes": np.array([1, 3, 9, 11], np.int64)}
    return make_model(nodes, {"x": x}, ["n", "l"], inits), {"x": x}


def residual_block() -> Case:
    x = w(1, 8, 10, 10, seed=20, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    inits = {"W1": w(8, 8, 3, 3, seed=1), "B1": w(8, seed=2), "W2": w(8, 8, 3, 3, seed=3), "B2": w(8, seed=4)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def attention_block(seq: int = 16, dim: int = 32, heads: int = 4) -> Case:
    """Multi-head self-attention + residual + LayerNorm, as exporters write it."""
    x = w(1, seq, dim, seed=21, scale=1.0)
    hd = dim // heads
    nodes = []
    for p in "qkv":
        nodes += [helper.make_node("MatMul", ["x", f"W{p}"], [f"{p}0"]),
                  helper.make_node("Add", [f"{p}0", f"B{p}"], [f"{p}1"]),
                  helper.make_node("Reshape", [f"{p}1", "heads_shape"], [f"{p}2"]),
                  helper.make_node("Transpose", [f"{p}2"], [f"{p}3"],
                                   perm=[0, 2, 3, 1] if p == "k" else [0, 2, 1, 3])]
    nodes += [helper.make_node("MatMul", ["q3", "k3"], ["qk"]),
              helper.make_node("Mul", ["qk", "scale"], ["qks"]),
              helper.make_node("Softmax", ["qks"], ["att"], axis=-1),
              helper.make_node("MatMul", ["att", "v3"], ["o0"]),
              helper.make_node("Transpose", ["o0"], ["o1"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["o1", "merge_shape"], ["o2"]),
              helper.make_node("MatMul", ["o2", "Wo"], ["o3"]),
              helper.make_node("Add", ["o3", "x"], ["res"]),
              helper.make_node("LayerNormalization", ["res", "g", "b"], ["y"], axis=-1)]
    inits = {f"W{p}": w(dim, dim, seed=30 + i) for i, p in enumerate("qkvo")}
    inits.update({f"B{p}": w(dim, seed=40 + i) for i, p in enumerate("qkv")})
    inits.update({"heads_shape": np.array([1, seq, heads, hd], np.int64),
                  "merge_shape": np.array([1, seq, dim], np.int64),
                  "scale": np.array(1 / np.sqrt(hd), np.float32),
                  "g": w(dim, seed=50) + 1, "b": w(dim, seed=51)})
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def embedding_int64() -> Case:
    ids = np.array([[3, 1, 4, 1, 5, 9]], np.int64)
    nodes = [helper.make_node("Gather", ["E", "ids"], ["e"], axis=0),
             helper.make_node("ReduceMean", ["e", "axes"], ["y"], keepdims=0)]
    inits = {"E": w(10, 8, seed=60), "axes": np.array([1], np.int64)}
    return make_model(nodes, {"ids": ids}, ["y"], inits, opset=18), {"ids": ids}


def passthrough_outputs() -> Case:
    """An output that is the input itself, and one output used twice: both need copies."""
    x = w(2, 3, seed=61, scale=1.0)
    nodes = [helper.make_node("Identity", ["x"], ["same"]), helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Identity", ["r"], ["r2"])]
    return make_model(nodes, {"x": x}, ["same", "r", "r2"]), {"x": x}


def shape_arithmetic() -> Case:
    """Exporter-style run-time shape math (Shape -> Gather -> Concat -> Expand/Reshape) and a
    mask built with Where/Equal, as torch writes for attention masks."""
    x = w(2, 5, 6, seed=62, scale=1.0)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int64)
    nodes = [helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Gather", ["sh", "i0"], ["b"], axis=0),
             helper.make_node("Gather", ["sh", "i1"], ["s"], axis=0),
             helper.make_node("Concat", ["b", "one", "one", "s"], ["mshape"], axis=0),
             helper.make_node("Unsqueeze", ["mask", "ax12"], ["m4"]),
             helper.make_node("Expand", ["m4", "mshape"], ["m4e"]),
             helper.make_node("Equal", ["m4e", "zero_i"], ["pad"]),
             helper.make_node("Where", ["pad", "neg", "zero_f"], ["bias"]),
             helper.make_node("MatMul", ["x", "xt_w"], ["q"]),
             helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "xt"], ["scores"]),
             helper.make_node("Unsqueeze", ["scores", "ax1"], ["scores4"]),
             helper.make_node("Add", ["scores4", "bias"], ["masked"]),
             helper.make_node("Softmax", ["masked"], ["att"], axis=-1),
             helper.make_node("Concat", ["b", "s", "minus1"], ["flat_shape"], axis=0),
             helper.make_node("Reshape", ["att", "flat_shape"], ["y"])]
    inits = {"i0": np.array([0], np.int64), "i1": np.array([1], np.int64), "one": np.array([1], np.int64),
             "ax12": np.array([1, 2], np.int64), "ax1": np.array([1], np.int64),
             "zero_i": np.array(0, np.int64), "neg": np.array(-1e4, np.float32),
             "zero_f": np.array(0, np.float32), "minus1": np.array([-1], np.int64), "xt_w": w(6, 6, seed=63)}
    return make_model(nodes, {"x": x, "mask": mask}, ["y"], inits), {"x": x, "mask": mask}


CASES: dict[str, Callable[[], Case]] = {f.__name__: f for f in (
    conv_groups, conv_depthwise_asymmetric, conv_dilated_1x1, gemm, matmul_broadcast, batchnorm,
    pooling, softmax_layernorm_gelu, erf_gelu, concat_split_reshape_transpose, resize,
    residual_block, attention_block, embedding_int64, passthrough_outputs, shape_arithmetic)}
