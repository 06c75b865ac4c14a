"""The single-input-channel convolution rule (schedules/cpu/conv2d_nhwc_shallow.py): which layers
it takes, and its numerics on the shapes first layers have (stride 2, 5x5 windows, odd rows, no
or asymmetric padding, row counts no tile divides): the scheduled kernel against the unscheduled
one, and whole compiled models against onnxruntime at two threads. Its golden structure is in
test_rules.py (case conv2d_nhwc_one_channel)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper

from graphs import make_model, w
from helpers import assert_close, onnxruntime_outputs, run_artifact
from kernels import kernel_of, run_kernel, tvm_target
from test_rules import HAS_AVX512

from ronn_aot.schedules.cpu.conv2d_nhwc_shallow import MIN_PARALLEL_MACS

TARGETS = ["x86_64-avx2"] + (["x86_64-avx512"] if HAS_AVX512 else [])

# name -> (channels out, H, W, kernel, stride, pads [top, left, bottom, right], epilogue)
CONVS: dict[str, tuple[int, int, int, int, int, list[int], str | None]] = {
    "mnist_28": (16, 28, 28, 3, 1, [1, 1, 1, 1], "Relu"),
    "odd_13x11": (8, 13, 11, 3, 1, [1, 1, 1, 1], None),
    "s2_5x5_asym": (32, 15, 17, 5, 2, [1, 2, 2, 1], "Relu"),
    "nopad_c24": (24, 9, 10, 3, 1, [0, 0, 0, 0], "Relu"),
    "c3_out": (3, 7, 7, 3, 1, [1, 1, 1, 1], None),
    "parallel_64": (16, 64, 64, 3, 1, [1, 1, 1, 1], "Relu"),  # 590k multiply-adds: bands in parallel
}


def _model(case: str) -> tuple[Any, dict[str, np.ndarray]]:
    cout, h, wd, k, s, pads, epilogue = CONVS[case]
    x = w(1, 1, h, wd, seed=1, scale=1.0)
    out = "y" if epilogue is None else "c"
    nodes = [helper.make_node("Conv", ["x", "W", "B"], [out], strides=[s, s], pads=pads)]
    if epilogue is not None:
        nodes.append(helper.make_node(epilogue, ["c"], ["y"]))
    return make_model(nodes, {"x": x}, ["y"], {"W": w(cout, 1, k, k), "B": w(cout, seed=2)}), {"x": x}


@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("case", sorted(CONVS))
def test_one_channel_conv_matches_naive(case: str, target_name: str) -> None:
    from ronn_aot.stages.prepack import _transform, with_constant_params
    from ronn_aot.stages.schedule import _first_rule

    func = kernel_of(_model(case)[0], case, 3, target_name)
    target = tvm_target(target_name)
    annotated = with_constant_params(func, list(range(1, len(func.params) - 1)))
    found = _first_rule(annotated, "x86_64", target, None, case)
    assert found is not None
    scheduled, rule, packings = found
    assert rule == "cpu.conv2d_nhwc_shallow"
    # Padding runs inside the bands: at most one parallel loop (none below MIN_PARALLEL_MACS), no
    # region of its own before the convolution.
    cout, h, wd, k, s, pads, _ = CONVS[case]
    macs = ((h + pads[0] + pads[2] - k) // s + 1) * ((wd + pads[1] + pads[3] - k) // s + 1) * cout * k * k
    assert scheduled.script().count("T.parallel(") == (1 if macs >= MIN_PARALLEL_MACS else 0)
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.standard_normal([int(d) for d in p.ty.shape]), dtype=str(p.ty.dtype))
            for p in func.params]
    expected = run_kernel(func, target, [a.copy() for a in args])
    for p in packings:
        args[p.param] = _transform(args[p.param], p.index_map)
    actual = run_kernel(scheduled, target, [a.copy() for a in args])
    # The same sums in the same order (ry, rx): equal up to FMA contraction.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_other_convolutions_keep_their_rules() -> None:
    """Two input channels, a depthwise layer and a 1x1 layer over one channel are not this rule's."""
    from ronn_aot.stages.schedule import _first_rule

    target = tvm_target("x86_64-avx2")
    layers = {
        "two_channels": (helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1]), (1, 2, 8, 8), (8, 2, 3, 3)),
        "depthwise": (helper.make_node("Conv", ["x", "W"], ["y"], group=4, pads=[1, 1, 1, 1]), (1, 4, 8, 8),
                      (4, 1, 3, 3)),
        "one_by_one": (helper.make_node("Conv", ["x", "W"], ["y"]), (1, 1, 8, 8), (16, 1, 1, 1)),
    }
    for name, (node, xs, ws) in layers.items():
        func = kernel_of(make_model([node], {"x": w(*xs, seed=1)}, ["y"], {"W": w(*ws)}), name, 3)
        found = _first_rule(func, "x86_64", target, None, name)
        assert found is not None and found[1] != "cpu.conv2d_nhwc_shallow", name


@pytest.mark.parametrize("case", ["mnist_28", "s2_5x5_asym"])
def test_compiled_model_matches_onnxruntime(case: str, compile_model: Any) -> None:
    model, feeds = _model(case)
    target = "x86_64-avx512" if HAS_AVX512 else "x86_64-avx2"
    art = compile_model(model, opt_level=3, target=target)
    assert_close(run_artifact(art.path, feeds, threads=2), onnxruntime_outputs(model, feeds), rtol=1e-5, atol=1e-5)
