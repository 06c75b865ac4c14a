"""Our Squeeze converter (negative axes made non-negative, attribute and input forms) through O3.

Why it exists: TVM's ConvertLayout fails with std::bad_alloc on a relax squeeze with a negative
axis (reproducer: a TVMScript function of one `R.squeeze(x, axis=[-1])` under
`relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "HWIO"]})`); in whole models it depends
on the surrounding graph (these one-Conv models compile either way), so the crash itself is
covered by test_real_models.py's default test (silero-vad, which fails without this converter).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import assert_close, onnxruntime_outputs, run_artifact


def _model(axes: list[int], shape: tuple[int, ...], opset: int) -> Any:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    w = numpy_helper.from_array(np.linspace(-1, 1, shape[1] * shape[1] * 3, dtype=np.float32)
                                .reshape(shape[1], shape[1], 3), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1])]
    if opset >= 13:
        inits = [w, numpy_helper.from_array(np.array(axes, np.int64), "axes")]
        nodes.append(helper.make_node("Squeeze", ["c", "axes"], ["y"]))
    else:
        inits = [w]
        nodes.append(helper.make_node("Squeeze", ["c"], ["y"], axes=axes))
    out = list(np.squeeze(np.zeros(shape), axis=tuple(axes)).shape)
    graph = helper.make_graph(nodes, "squeeze", [x], 
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("axes,opset", [([-1], 16), ([-1], 11), ([0, -1], 16), ([2], 16)])
def test_squeeze_negative_axis_compiles_at_o3(axes: list[int], opset: int, compile_model: Any) -> None:
    model = _model(axes, (1, 8, 1), opset)
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 8, 1)).astype(np.float32)}
    art = compile_model(model, opt_level=3)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-5, atol=1e-6)
