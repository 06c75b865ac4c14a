"""Resize forms TVM's converter lacks (other ranks, axes, antialias, keep_aspect_ratio_policy,
scales that do not give whole sizes) and Upsample, against onnx's reference evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from conftest import check_against_onnxruntime, single_node_model

CASES = {
    "1d_linear_scale_0.6": ((1, 2, 7), {"scales": np.array([1, 1, 0.6], np.float32)}, {"mode": "linear"}),
    "3d_cubic_axes": ((1, 1, 3, 4, 5), {"sizes": np.array([6, 3], np.int64)},
                      {"mode": "cubic", "axes": [2, 4], "exclude_outside": 1}),
    "2d_linear_antialias": ((1, 1, 8, 8), {"sizes": np.array([1, 1, 3, 5], np.int64)},
                            {"mode": "linear", "antialias": 1}),
    "nearest_not_smaller": ((1, 1, 4, 6), {"sizes": np.array([5, 5], np.int64)},
                            {"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_smaller"}),
    "tf_crop_extrapolate": ((2, 5, 6), {"roi": np.array([0.2, -0.3, 0.9, 1.2], np.float32),
                                        "sizes": np.array([4, 7], np.int64)},
                            {"mode": "linear", "axes": [1, 2], "coordinate_transformation_mode": "tf_crop_and_resize",
                             "extrapolation_value": 9.0}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_resize(name: str, compile_model: Any) -> None:
    shape, consts, attrs = CASES[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    order = ["x", "roi" if "roi" in consts else "", "scales" if "scales" in consts else "",
             "sizes" if "sizes" in consts else ""]
    while order[-1] == "":
        order.pop()
    model = single_node_model("Resize", {"x": x}, consts, ["y"], 19, input_order=order, **attrs)
    expected = ReferenceEvaluator(model).run(None, {"x": x})
    check_against_onnxruntime(compile_model, model, {"x": x}, expected=expected)


def test_upsample_linear(compile_model: Any) -> None:
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)
    model = single_node_model("Upsample", {"x": x}, {"scales": np.array([1, 1, 2, 1.5], np.float32)}, ["y"], 9,
                              mode="linear")
    check_against_onnxruntime(compile_model, model, {"x": x})
