"""pad_matmul_columns (O3): a constant weight with a column count no 8-wide vector divides is
padded with zero columns and the product sliced back, with the unpadded results."""

from __future__ import annotations

from typing import Any

import pytest
from onnx import helper

from graphs import Case, make_model, w
from helpers import assert_close, onnxruntime_outputs, run_artifact
from kernel_graph import KernelGraph, lowered_plan


def gemm_odd_classes() -> Case:
    """A classifier over 262 classes (2 x 131), weights stored transposed as Gemm's transB."""
    x = w(5, 32, seed=1, scale=1.0)
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(262, 32, seed=2), "B": w(262, seed=3)}), {"x": x}


def matmul_3d_odd_relu() -> Case:
    x = w(2, 7, 24, seed=4, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(24, 301, seed=5)}), {"x": x}


def matmul_even() -> Case:
    """264 = 33 x 8 columns: whole 8-wide vectors already, left alone."""
    x = w(3, 16, seed=6, scale=1.0)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(16, 264, seed=7)}), {"x": x}


CASES = {f.__name__: f for f in (gemm_odd_classes, matmul_3d_odd_relu, matmul_even)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case: str, compile_model: Any) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, opt_level=3)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case,padded", [("gemm_odd_classes", True), ("matmul_3d_odd_relu", True),
                                         ("matmul_even", False)])
def test_odd_columns_are_padded_and_sliced_in_the_epilogue(case: str, padded: bool) -> None:
    model = CASES[case]()[0]
    g = KernelGraph.of(lowered_plan(model, 3)[0])
    assert len(g.names) == 1, g.names  # the slice is the matmul kernel's epilogue
    assert ("slice" in g.ops(0)) == padded, g.names
    assert "slice" not in KernelGraph.of(lowered_plan(model, 2)[0]).ops(0)
