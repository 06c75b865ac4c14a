"""QLinearConv, ConvInteger and QLinearMatMul beyond onnx's node cases (per-channel scales and zero
points, groups, auto_pad, bias, int8), against onnx's reference evaluator: exact integers."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx.reference import ReferenceEvaluator

from conftest import check_against_onnxruntime, single_node_model


def test_qlinear_conv_per_channel_grouped(compile_model: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (1, 4, 6, 5), dtype=np.uint8)
    consts = {"x_scale": np.array(0.02, np.float32), "x_zero_point": np.array(128, np.uint8),
              "w": rng.integers(-128, 128, (6, 2, 3, 3), dtype=np.int8),
              "w_scale": rng.uniform(0.01, 0.05, 6).astype(np.float32), "w_zero_point": np.zeros(6, np.int8),
              "y_scale": np.array(0.1, np.float32), "y_zero_point": np.array(3, np.uint8),
              "bias": rng.integers(-500, 500, 6, dtype=np.int32)}
    model = single_node_model("QLinearConv", {"x": x}, consts, ["y"], 13, group=2, auto_pad="SAME_UPPER",
                              strides=[2, 1])
    expected = ReferenceEvaluator(model).run(None, {"x": x})
    check_against_onnxruntime(compile_model, model, {"x": x}, expected=expected)


def test_conv_integer_dilated(compile_model: Any) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 3, 7, 7), dtype=np.uint8)
    consts = {"w": rng.integers(0, 256, (4, 3, 2, 2), dtype=np.uint8), "x_zero_point": np.array(100, np.uint8),
              "w_zero_point": rng.integers(0, 256, 4, dtype=np.uint8)}
    model = single_node_model("ConvInteger", {"x": x}, consts, ["y"], 10, dilations=[2, 2], pads=[1, 0, 1, 2])
    expected = ReferenceEvaluator(model).run(None, {"x": x})
    check_against_onnxruntime(compile_model, model, {"x": x}, expected=expected)


def test_qlinear_matmul_int8(compile_model: Any) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(-128, 128, (3, 5, 8), dtype=np.int8)
    consts = {"a_scale": np.array(0.05, np.float32), "a_zero_point": np.array(-3, np.int8),
              "b": rng.integers(-128, 128, (8, 4), dtype=np.int8), "b_scale": np.array(0.02, np.float32),
              "b_zero_point": np.array(1, np.int8), "y_scale": np.array(0.3, np.float32),
              "y_zero_point": np.array(-10, np.int8)}
    model = single_node_model("QLinearMatMul", {"a": a}, consts, ["y"], 21,
                              input_order=["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                           "y_scale", "y_zero_point"])
    check_against_onnxruntime(compile_model, model, {"a": a})
