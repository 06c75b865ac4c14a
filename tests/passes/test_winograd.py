"""O3's Winograd F(2x2, 3x3) rewrite (ronn_aot/passes/winograd.py): the transforms' algebra, which
convolutions it takes, and the compiled result against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from graphs import Case, make_model, w
from helpers import assert_close, onnxruntime_outputs, run_artifact
from kernel_graph import lowered_plan

TARGET = "x86_64-avx2"


def conv_case(hw: int, c: int, k: int, stride: int = 1, residual: bool = False) -> Case:
    x = w(1, c, hw, hw, seed=1, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], strides=[stride, stride]),
             helper.make_node("Relu", ["c"], ["y" if not residual else "r"])]
    inits = {"W": w(k, c, 3, 3, seed=2, scale=0.05), "B": w(k, seed=3)}
    if residual:  # the output transform keeps a residual add and the activation after it
        nodes.append(helper.make_node("Add", ["r", "x"], ["y"]))
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def kernel_names(model: object) -> list[str]:
    from ronn_aot.artifact.format import StepKind

    plan, _ = lowered_plan(model, 3, TARGET)
    return [s.name for s in plan.steps if s.kind == StepKind.KERNEL]


def test_transforms_compute_the_convolution() -> None:
    """A^T [U . (B^T d B)] A over one 4x4 window equals the direct 3x3 convolution's 2x2 outputs,
    with U from transform_weight (summed over the input channels)."""
    from ronn_aot.passes.winograd import transform_weight

    rng = np.random.default_rng(0)
    c, k = 3, 5
    g = rng.standard_normal((3, 3, c, k))  # HWIO
    d = rng.standard_normal((4, 4, c))
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
    u = transform_weight(g).reshape(4, 4, c, k)
    v = np.einsum("ai,ijc,bj->abc", bt, d, bt)
    y = np.einsum("xa,abk,yb->xyk", at, np.einsum("abck,abc->abk", u, v), at)
    direct = np.array([[np.einsum("ijc,ijck->k", d[p:p + 3, q:q + 3], g) for q in range(2)] for p in range(2)])
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hw,c,k,stride", [(10, 128, 128, 1), (14, 128, 256, 1)])
def test_takes_stride_1_convolutions_of_few_pixels_and_many_channels(hw: int, c: int, k: int, stride: int) -> None:
    names = kernel_names(conv_case(hw, c, k, stride)[0])
    assert any(n.startswith("winograd_input") for n in names), names
    assert any("matmul" in n for n in names), names
    assert not any("conv2d" in n for n in names), names
    # The output transform takes the epilogue but not the layout transform back to NCHW at the
    # graph's output (fused, no rule scheduled the pair well), nor the input transform anything.
    assert not any("winograd_output" in n and "transpose" in n for n in names), names
    assert "winograd_input" in names, names


@pytest.mark.parametrize("hw,c,k,stride", [
    (112, 64, 64, 1),  # past the 56x56 maps measured
    (14, 32, 32, 1),  # short reductions
    (14, 128, 128, 2),  # strided
    (7, 256, 256, 1),  # odd: would pad to 8x8 tiles
])
def test_leaves_other_convolutions_direct(hw: int, c: int, k: int, stride: int) -> None:
    names = kernel_names(conv_case(hw, c, k, stride)[0])
    assert any("conv2d" in n for n in names), names
    assert not any("winograd" in n for n in names), names


@pytest.mark.parametrize("residual", [False, True])
def test_compiled_winograd_matches_onnxruntime(module_compile: object, residual: bool) -> None:
    model, feeds = conv_case(10, 128, 128, residual=residual)
    art = module_compile(model, 3)  # type: ignore[operator]
    expected = onnxruntime_outputs(model, feeds)
    # F(2x2, 3x3) adds and halves in another order than the direct sum: a few ulps of the
    # 1152-term sums (outputs up to ~5 here).
    assert_close(run_artifact(art.path, feeds), expected, rtol=1e-4, atol=1e-4)
