"""ConvTranspose through our converter (phase convolution + interleave) against onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from conftest import check_against_onnxruntime, single_node_model

# name -> (input spatial shape, kernel, in/out channels, group, attributes)
CASES: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, int], int, dict[str, Any]]] = {
    "stride1": ((5, 5), (3, 3), (4, 6), 1, {}),
    "upsample_k4_s2_p1": ((6, 6), (4, 4), (8, 4), 1, {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "asym_pads_strides": ((5, 4), (3, 2), (4, 6), 1, {"strides": [2, 3], "pads": [0, 1, 2, 0]}),
    "output_padding_group": ((5, 5), (3, 3), (4, 6), 2, {"strides": [2, 2], "output_padding": [1, 0]}),
    "depthwise_dilated": ((5, 5), (3, 3), (4, 4), 4, {"strides": [2, 2], "dilations": [2, 1]}),
    "same_upper": ((5, 5), (3, 3), (4, 6), 1, {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    "same_lower": ((5, 5), (3, 3), (4, 6), 1, {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    "valid": ((5, 5), (2, 2), (4, 6), 1, {"strides": [3, 3], "auto_pad": "VALID"}),
    "output_shape": ((5, 5), (3, 3), (4, 6), 1, {"strides": [2, 2], "output_shape": [10, 12]}),
    "1d": ((7,), (4,), (4, 6), 2, {"strides": [2], "pads": [1, 2]}),
    "1d_same_lower": ((7,), (3,), (4, 6), 1, {"strides": [2], "auto_pad": "SAME_LOWER"}),
}


WITHOUT_BIAS = ("stride1", "upsample_k4_s2_p1", "1d")


@pytest.mark.parametrize("case,bias", [(c, True) for c in sorted(CASES)] + [(c, False) for c in WITHOUT_BIAS])
def test_matches_onnxruntime(case: str, bias: bool, compile_model: Any) -> None:
    spatial, kernel, (cin, cout), group, attrs = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, cin, *spatial)).astype(np.float32)
    consts = {"w": rng.standard_normal((cin, cout // group, *kernel)).astype(np.float32)}
    if bias:
        consts["b"] = rng.standard_normal(cout).astype(np.float32)
    model = single_node_model("ConvTranspose", {"x": x}, consts, ["y"], 17, group=group, **attrs)
    check_against_onnxruntime(compile_model, model, {"x": x})


def test_weights_computed_at_run_time(compile_model: Any) -> None:
    """Weights that are a graph input are rearranged in the graph (Relax gathers), not with numpy."""
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((1, 4, 5, 5)).astype(np.float32),
             "w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)}
    model = single_node_model("ConvTranspose", feeds, {"b": rng.standard_normal(6).astype(np.float32)}, ["y"], 17,
                              group=2, strides=[2, 2], pads=[1, 0, 0, 1])
    check_against_onnxruntime(compile_model, model, feeds)


def test_after_nhwc_convolution(compile_model: Any) -> None:
    """At O3 the layout pass makes the convolution before it NHWC: TVM's conv2d_transpose then
    took NHWC too and had no lowering ("survived lowering")."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 8, 8, 8)).astype(np.float32)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in [("wc", (8, 8, 3, 3)), ("wt", (8, 4, 4, 4)), ("bt", (4,))]]
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("ConvTranspose", ["r", "wt", "bt"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "conv_then_convtranspose",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (1, 4, 16, 16))], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    check_against_onnxruntime(compile_model, model, {"x": x})
