"""LpNormalization, LayerNormalization (all outputs) and BitShift (out-of-range shifts) against
onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import check_against_onnxruntime, single_node_model


@pytest.mark.parametrize("p,axis", [(1, -1), (2, 0), (2, 1), (1, 2)])
def test_lp_normalization(p: int, axis: int, compile_model: Any) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    x[1, :, 2] = 0.0  # a zero vector along some axes: 0, not 0/0
    model = single_node_model("LpNormalization", {"x": x}, {}, ["y"], 13, p=p, axis=axis)
    check_against_onnxruntime(compile_model, model, {"x": x})


@pytest.mark.parametrize("axis,scale_shape", [(0, (2, 3, 4)), (-1, (4,)), (1, (3, 4)), (1, (1, 4))])
def test_layer_normalization_all_outputs(axis: int, scale_shape: tuple[int, ...], compile_model: Any) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    consts = {"scale": rng.standard_normal(scale_shape).astype(np.float32),
              "bias": rng.standard_normal(scale_shape).astype(np.float32)}
    model = single_node_model("LayerNormalization", {"x": x}, consts, ["y", "mean", "inv_std"], 17,
                              axis=axis, epsilon=1e-3)
    check_against_onnxruntime(compile_model, model, {"x": x})


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_bit_shift_out_of_range(direction: str, dtype: type, compile_model: Any) -> None:
    info = np.iinfo(dtype)
    x = np.array([1, 7, info.max, info.min, 5, 3, 100, 1], dtype=dtype)
    shift = np.array([0, 1, 3, 2, info.bits - 1, info.bits, info.bits + 3, 2], dtype=dtype)
    if info.min < 0:
        x[-1], shift[-1] = -9, -1
    feeds = {"x": x, "shift": shift}
    opset = 28 if info.min < 0 else 11  # signed integers are BitShift-28 types
    model = single_node_model("BitShift", feeds, {}, ["y"], opset, direction=direction)
    expected = _onnx_bit_shift(x, shift, direction)
    check_against_onnxruntime(compile_model, model, feeds, expected=[expected])


def _onnx_bit_shift(x: np.ndarray, shift: np.ndarray, direction: str) -> np.ndarray:
    """ONNX's definition (onnx.reference's BitShift): onnxruntime leaves out-of-range shifts to C++."""
    from onnx.reference.ops.op_bitshift import BitShift

    return BitShift._run(type("Node", (), {"direction": direction})(), x, shift)[0]
