"""Operators whose output shape depends on input values (converters/data_dependent.py): compiled
where those values are constants, refused with a clear message otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

import ronn_aot
from conftest import check_against_onnxruntime, single_node_model


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress_with_a_frozen_condition(axis: int | None, compile_model: Any, tmp_path: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    cond = np.array([True, False, True] if axis == 0 else [False, True, True, False][: 4 if axis is not None else 4])
    attrs = {} if axis is None else {"axis": axis}
    model = single_node_model("Compress", {"x": x, "cond": cond}, {}, ["y"], 11, **attrs)
    want = [np.compress(cond, x, axis=axis)]
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_frozen_input("cond", cond)
                           .with_output(tmp_path / "m.so"))
    sess = art.session()
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_array_equal(got, want[0])


def test_nonzero_and_unique_of_constants_fold(compile_model: Any) -> None:
    x = np.array([[0, 3, 0], [5, 0, 3]], dtype=np.float32)
    y = np.ones((2, 3), np.float32)
    # NonZero of a constant, consumed by a graph whose input is y
    nodes = [onnx.helper.make_node("NonZero", ["c"], ["nz"]), onnx.helper.make_node("Unique", ["c"], ["u", "idx", "inv", "cnt"], sorted=1),
             onnx.helper.make_node("Cast", ["nz"], ["nzf"], to=onnx.TensorProto.FLOAT),
             onnx.helper.make_node("ReduceSum", ["nzf"], ["s"], keepdims=0),
             onnx.helper.make_node("Mul", ["y", "s"], ["out"])]
    graph = onnx.helper.make_graph(nodes, "g", [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])],
                                   [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                                    for n in ("out", "u", "cnt")],
                                   [onnx.numpy_helper.from_array(x, "c")])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)])
    model = onnx.shape_inference.infer_shapes(model)
    u, cnt = np.unique(x, return_counts=True)
    expected = [y * float(np.array(np.nonzero(x)).sum()), u, cnt.astype(np.int64)]
    check_against_onnxruntime(compile_model, model, {"y": y}, expected=expected)


@pytest.mark.parametrize("op,n_out,attrs", [("NonZero", 1, {}), ("Unique", 4, {"sorted": 1})])
def test_value_dependent_shapes_are_refused_clearly(op: str, n_out: int, attrs: dict[str, Any], tmp_path: Any) -> None:
    x = np.array([1.0, 0.0, 2.0], np.float32)
    outs = ["y", "i", "v", "c"][:n_out]
    model = single_node_model(op, {"x": x}, {}, outs, 13, **attrs)
    with pytest.raises(ronn_aot.UnsupportedOperatorError, match="output shape depends on the values.*--freeze-input"):
        ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))


def test_compress_with_a_run_time_condition_is_refused(tmp_path: Any) -> None:
    model = single_node_model("Compress", {"x": np.ones((3,), np.float32), "cond": np.ones((3,), bool)}, {}, ["y"], 11)
    with pytest.raises(ronn_aot.UnsupportedOperatorError, match="values of `condition`"):
        ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
