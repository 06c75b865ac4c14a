"""The converter registry and its hook into TVM's frontend (no compilation)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pytest
from onnx import helper

import ronn_aot
from conftest import single_node_model
from ronn_aot.converters import (converter_for, converters_installed, register_converter, registered_ops,
                                 unregister_converter)
from ronn_aot.stages.frontend import check_operators, import_model


@pytest.fixture
def scratch_op() -> Iterator[str]:
    yield "RonnTestOp"
    unregister_converter("RonnTestOp")


def test_opset_ranges(scratch_op: str) -> None:
    @register_converter(scratch_op, opsets=(7, 12))
    def old(ctx: Any, inputs: list[Any], attrs: dict[str, Any]) -> Any:
        return inputs[0]

    @register_converter(scratch_op, opsets=(13, None))
    def new(ctx: Any, inputs: list[Any], attrs: dict[str, Any]) -> Any:
        return inputs[0]

    assert converter_for(scratch_op, 6) is None
    assert converter_for(scratch_op, 12).fn is old  # type: ignore[union-attr]
    assert converter_for(scratch_op, 21).fn is new  # type: ignore[union-attr]
    assert scratch_op in registered_ops(13) and scratch_op not in registered_ops(6)
    with pytest.raises(ronn_aot.RonnError, match="overlaps"):
        register_converter(scratch_op, opsets=(12, 14))(old)


def test_hook_is_scoped_to_the_block() -> None:
    from tvm.relax.frontend.onnx import onnx_frontend

    original = onnx_frontend._get_convert_map
    assert "LSTM" not in original()
    with converters_installed(17):
        assert "LSTM" in onnx_frontend._get_convert_map()
        assert onnx_frontend._get_convert_map()["ConvTranspose"].__name__ == "RonnConvTranspose"
    assert onnx_frontend._get_convert_map is original


def test_check_operators_accepts_registered_ops() -> None:
    x = np.zeros((2, 1, 3), dtype=np.float32)
    model = single_node_model("RNN", {"x": x}, {"w": np.zeros((1, 4, 3), np.float32),
                                                "r": np.zeros((1, 4, 4), np.float32)}, ["y"], 14, hidden_size=4)
    check_operators(model)


def test_refusal_is_a_ronn_error_naming_node_op_opset() -> None:
    x = np.zeros((1, 2, 3, 3), dtype=np.float32)
    model = single_node_model("ConvTranspose", {"x": x}, {"w": np.zeros((2, 2, 2, 2), np.float32)}, ["y"], 17,
                              strides=[2, 2])
    model.graph.node[0].attribute.append(helper.make_attribute("auto_pad", "SAME_SIDEWAYS"))
    with pytest.raises(ronn_aot.UnsupportedOperatorError,
                       match=r"ConvTranspose \(node 'convtranspose_0', opset 17\): auto_pad='SAME_SIDEWAYS'"):
        import_model(model)
