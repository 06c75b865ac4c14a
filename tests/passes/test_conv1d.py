"""conv1d_as_conv2d (O2): every Conv1d runs as a height-1 Conv2d, with the results of the 1-D op."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from onnx import helper

from graphs import Case, make_model, w
from helpers import assert_close, onnxruntime_outputs, run_artifact
from kernel_graph import KernelGraph, lowered_plan


def strided_padded_dilated() -> Case:
    x = w(1, 3, 40, seed=1, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], strides=[2], pads=[3, 1], dilations=[2]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(8, 3, 5, seed=2), "B": w(8, seed=3)}), {"x": x}


def grouped_and_depthwise_chain() -> Case:
    """Two conv1d layers back to back (the squeeze of one meets the expand_dims of the next),
    the first grouped, the second depthwise, batch 2."""
    x = w(2, 8, 33, seed=4, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W1"], ["a"], group=2, pads=[1, 1]),
             helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Conv", ["s", "W2", "B2"], ["y"], group=6, strides=[3])]
    inits = {"W1": w(6, 4, 3, seed=5), "W2": w(6, 1, 4, seed=6), "B2": w(6, seed=7)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def stft_like() -> Case:
    """Silero VAD's front end: one input channel, many long filters, stride = half the filter."""
    x = w(1, 1, 640, seed=8, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], strides=[64])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(66, 1, 128, seed=9, scale=0.05)}), {"x": x}


CASES: dict[str, Callable[[], Case]] = {f.__name__: f for f in (
    strided_padded_dilated, grouped_and_depthwise_chain, stft_like)}


@pytest.mark.parametrize("level", [1, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case: str, level: int, compile_model: Any) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, opt_level=level)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_o2_has_no_conv1d_kernel(case: str) -> None:
    model = CASES[case]()[0]
    o1 = KernelGraph.of(lowered_plan(model, 1)[0])
    assert any("conv1d" in o1.ops(i) for i in range(len(o1.names))), o1.names
    for level in (2, 3):
        g = KernelGraph.of(lowered_plan(model, level)[0])
        ops = set().union(*(g.ops(i) for i in range(len(g.names))))
        assert "conv1d" not in ops and "conv2d" in ops, (level, g.names)


def test_nwc_conv1d_is_left_alone() -> None:
    """Only NCW / OIW (what the ONNX importer makes) is rewritten; another layout stays conv1d."""
    from tvm import relax

    from ronn_aot.passes.conv1d import conv1d_as_conv2d

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 16, 3), "float32"))
    wt = relax.Var("w", relax.TensorType((4, 3, 3), "float32"))
    with bb.function("main", [x, wt]):
        with bb.dataflow():
            y = bb.emit_output(relax.op.nn.conv1d(x, wt, data_layout="NWC"))
        bb.emit_func_output(y)
    mod = conv1d_as_conv2d()(bb.get())
    assert "conv1d" in str(mod["main"]) and "conv2d" not in str(mod["main"])
