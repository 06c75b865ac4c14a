"""Scan and Loop of static length, unrolled before import (stages/onnx_unroll.py), against
onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from conftest import check_against_onnxruntime


def _scan_model() -> onnx.ModelProto:
    """A running sum over a reversed scan input along axis 1, a product state, and two scan
    outputs, one stacked on axis 1 in reverse."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
         helper.make_node("Mul", ["p_in", "x_t"], ["p_out"]),
         helper.make_node("Sub", ["s_out", "w"], ["y_t"]),
         helper.make_node("Identity", ["p_out"], ["z_t"])],
        "body",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("s_in", "p_in", "x_t")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("s_out", "p_out", "y_t", "z_t")])
    node = helper.make_node("Scan", ["s0", "p0", "x"], ["s", "p", "y", "z"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[0, -1],
                            scan_output_directions=[0, 1])
    graph = helper.make_graph(
        [node], "scan",
        [helper.make_tensor_value_info("s0", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("p0", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("p", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 2]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor("w", TensorProto.FLOAT, [2], [0.5, -1.0])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])


def test_scan_unrolled(compile_model: Any) -> None:
    rng = np.random.default_rng(0)
    feeds = {"s0": rng.standard_normal(2).astype(np.float32), "p0": rng.standard_normal(2).astype(np.float32),
             "x": rng.standard_normal((2, 5)).astype(np.float32)}
    check_against_onnxruntime(compile_model, _scan_model(), feeds)


def test_loop_with_constant_trip_count_unrolled(compile_model: Any) -> None:
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["acc_in", "i_f"], ["scaled"]),
         helper.make_node("Add", ["scaled", "x"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["scan_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, [3])])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "acc0"], ["acc", "all"], body=body)], "loop",
        [helper.make_tensor_value_info("acc0", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("all", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor("n", TensorProto.INT64, [], [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    rng = np.random.default_rng(1)
    feeds = {"acc0": rng.standard_normal(3).astype(np.float32), "x": rng.standard_normal(3).astype(np.float32)}
    check_against_onnxruntime(compile_model, model, feeds)
