"""Helpers for the converter tests: one-node models and their comparison with a reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from helpers import assert_close, onnxruntime_outputs, run_artifact

RTOL, ATOL = 1e-4, 1e-5


def single_node_model(op_type: str, inputs: dict[str, np.ndarray], constants: dict[str, np.ndarray],
                      outputs: list[str], opset: int, input_order: list[str] | None = None,
                      **attrs: Any) -> onnx.ModelProto:
    """A model of one `op_type` node: `inputs` become graph inputs, `constants` initializers,
    `input_order` the node's input list ("" for an omitted one); output shapes by inference."""
    order = input_order or [*inputs, *constants]
    node = helper.make_node(op_type, order, outputs, name=f"{op_type.lower()}_0", **attrs)
    graph = helper.make_graph(
        [node], op_type.lower(),
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        [numpy_helper.from_array(v, n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    del model.graph.output[:]
    model.graph.output.extend(inferred.graph.output)
    return model


def check_against_onnxruntime(compile_model: Any, model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                              expected: list[np.ndarray] | None = None) -> None:
    """Compile `model`, run it on `feeds`, compare with onnxruntime (or with `expected`)."""
    art = compile_model(model, opt_level=3)
    want = expected if expected is not None else onnxruntime_outputs(model, feeds)
    assert_close(run_artifact(art.path, feeds), want, rtol=RTOL, atol=ATOL)
