"""--freeze-input: a graph input compiled as a constant, so shapes that depend on its value are
static (the recognizer's computed Reshape, TopK's k, a Slice's ends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers import assert_close, onnxruntime_outputs, run_artifact
from ronn_aot.cli import main as cli_main
from ronn_aot.errors import InvalidModelError, ShapeError
from ronn_aot.stages.freeze import freeze_inputs, shape_deciding_inputs


def _reshape_model() -> onnx.ModelProto:
    """y = relu(reshape(x, shape)) + 1: the target shape is a graph input."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["a"]),
             helper.make_node("Add", ["a", "one"], ["y"])]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _slice_tile_model() -> onnx.ModelProto:
    """y = tile(x[:, starts:ends], repeats): ends and repeats are graph inputs."""
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["s"]),
         helper.make_node("Tile", ["s", "repeats"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 10]),
         helper.make_tensor_value_info("ends", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("repeats", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])],
        [helper.make_tensor("starts", TensorProto.INT64, [1], [2]),
         helper.make_tensor("axes", TensorProto.INT64, [1], [1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("target", [(6, 4), (4, -1), (24, 1)])
def test_frozen_reshape_target_matches_onnxruntime(tmp_path: Path, target: tuple[int, int]) -> None:
    import ronn_aot

    model = _reshape_model()
    assert shape_deciding_inputs(model) == ["shape"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    shape = np.array(target, np.int64)
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_frozen_input("shape", shape)
                           .with_output(tmp_path / "m.so"))
    assert [s.name for s in art.inputs] == ["x"]  # the frozen input is no longer taken
    got = run_artifact(art.path, {"x": x})
    assert_close(got, onnxruntime_outputs(model, {"x": x, "shape": shape}), rtol=1e-6, atol=1e-6)


def test_frozen_slice_ends_and_tile_repeats_through_the_cli(tmp_path: Path) -> None:
    model = _slice_tile_model()
    assert shape_deciding_inputs(model) == ["ends", "repeats"]
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    ends, repeats = np.array([7], np.int64), np.array([2, 3], np.int64)
    np.save(tmp_path / "ends.npy", ends)
    np.save(tmp_path / "repeats.npy", repeats)
    out = tmp_path / "m.so"
    assert cli_main(["compile", str(path), "--freeze-input", f"ends={tmp_path / 'ends.npy'}",
                     "--freeze-input", f"repeats={tmp_path / 'repeats.npy'}", "-o", str(out)]) == 0
    x = np.random.default_rng(1).standard_normal((3, 10)).astype(np.float32)
    ref = onnxruntime_outputs(model, {"x": x, "ends": ends, "repeats": repeats})
    got = run_artifact(out, {"x": x})
    assert got[0].shape == (6, 15)
    assert_close(got, ref, rtol=0, atol=0)


def test_freezing_errors_name_what_to_change() -> None:
    model = _reshape_model()
    with pytest.raises(ShapeError, match="'nope'.*its inputs are: 'x', 'shape'"):
        freeze_inputs(model, {"nope": np.zeros(2, np.int64)})
    with pytest.raises(InvalidModelError, match="the value is int32, the input is int64"):
        freeze_inputs(model, {"shape": np.zeros(2, np.int32)})
    with pytest.raises(ShapeError, match=r"shape \[3\], the input is declared \[2\]"):
        freeze_inputs(model, {"shape": np.zeros(3, np.int64)})
    assert cli_main(["compile", "m.onnx", "--freeze-input", "shape"]) == 1
