"""Numerics of the convolution rules on the shape classes real models have (stride 2, 5x5 windows,
odd and short rows, asymmetric padding, channel counts no vector width divides, no padding):
the scheduled kernel against the same kernel unscheduled, on both x86 targets, in both layouts
(NCHW at O2, NHWC at O3 with the weights pre-packed as the compile does)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper

from graphs import make_model, w
from kernels import kernel_of, run_kernel, tvm_target
from test_rules import HAS_AVX512

TARGETS = ["x86_64-avx2"] + (["x86_64-avx512"] if HAS_AVX512 else [])

# name -> (channels in, channels out, group, H, W, kernel, stride, pads [top, left, bottom, right])
CONVS: dict[str, tuple[int, int, int, int, int, int, int, list[int]]] = {
    "dw3x3_s1_w14": (48, 48, 48, 14, 14, 3, 1, [1, 1, 1, 1]),
    "dw5x5_s1_w7": (32, 32, 32, 7, 7, 5, 1, [2, 2, 2, 2]),
    "dw5x5_s2_asym": (16, 16, 16, 15, 15, 5, 2, [1, 1, 2, 2]),
    "dw3x3_s2_pad0011": (24, 24, 24, 28, 28, 3, 2, [0, 0, 1, 1]),
    "dw3x3_nopad_c12": (12, 12, 12, 9, 11, 3, 1, [0, 0, 0, 0]),
    "dw3x3_c5_w30": (5, 5, 5, 10, 30, 3, 1, [1, 1, 1, 1]),
    "conv1x1_s2": (32, 48, 1, 14, 14, 1, 2, [0, 0, 0, 0]),
    "conv1x1_w7": (40, 24, 1, 7, 7, 1, 1, [0, 0, 0, 0]),
    # 1x1 layers whose GEMM pixel tiles (4, 8, ...) do not divide the row (EfficientNet-Lite0's)
    "conv1x1_w14_c240": (240, 80, 1, 14, 14, 1, 1, [0, 0, 0, 0]),
    "conv1x1_w28_c40": (40, 240, 1, 28, 28, 1, 1, [0, 0, 0, 0]),
    "conv1x1_w56_c32": (32, 16, 1, 56, 56, 1, 1, [0, 0, 0, 0]),  # AVX-512: a GEMM (many pixels)
    # 1x1 layers with more than 1 MiB of weights, or over 256 KiB on few pixel tiles: the NHWC
    # rule's GEMM path; 256 KiB - 1 MiB on enough pixel tiles: the direct tiles, pixels outer
    "conv1x1_gemm_w14": (512, 640, 1, 14, 14, 1, 1, [0, 0, 0, 0]),
    "conv1x1_gemm_w7": (512, 160, 1, 7, 7, 1, 1, [0, 0, 0, 0]),
    "conv1x1_l2_w14": (256, 320, 1, 14, 14, 1, 1, [0, 0, 0, 0]),
    # 3x3 layers with MiBs of weights: the NHWC rule streams them in reduction slices
    "conv3x3_streamed_w7": (256, 192, 1, 7, 7, 3, 1, [1, 1, 1, 1]),
    "conv3x3_streamed_s2": (192, 256, 1, 14, 14, 3, 2, [1, 1, 1, 1]),
    "conv3x3_s2_pad0011": (8, 16, 1, 15, 15, 3, 2, [0, 0, 1, 1]),
    "conv3x3_s2_odd_stem": (3, 16, 1, 14, 14, 3, 2, [0, 0, 1, 1]),
    "conv3x3_s2_odd_w": (4, 8, 1, 12, 13, 3, 2, [1, 1, 1, 1]),
}


def _conv_kernel(case: str, level: int = 2) -> Any:
    cin, cout, group, h, wd, k, s, pads = CONVS[case]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], group=group, strides=[s, s], pads=pads),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    inits = {"W": w(cout, cin // group, k, k), "B": w(cout, seed=2),
             "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    return kernel_of(make_model(nodes, {"x": w(1, cin, h, wd, seed=1, scale=1.0)}, ["y"], inits), case, level)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("case", sorted(CONVS))
def test_conv_shape_matches_naive(case: str, target_name: str, layout: str) -> None:
    from ronn_aot.stages.prepack import _transform, with_constant_params
    from ronn_aot.stages.schedule import _first_rule

    func = _conv_kernel(case, 2 if layout == "nchw" else 3)
    target = tvm_target(target_name)
    # The compile marks the kernel's weights (every parameter but the data and the output) as
    # compile-time constants, which lets the NHWC rule repack them.
    annotated = with_constant_params(func, list(range(1, len(func.params) - 1)))
    found = _first_rule(annotated, "x86_64", target, None, case)
    assert found is not None
    scheduled, rule, packings = found
    if layout == "nhwc":
        assert rule == "cpu.conv2d_nhwc"
    else:
        assert rule == ("cpu.depthwise_conv2d" if case.startswith("dw") else "cpu.conv2d_nchw")
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.standard_normal([int(d) for d in p.ty.shape]), dtype=str(p.ty.dtype))
            for p in func.params]
    expected = run_kernel(func, target, [a.copy() for a in args])
    for p in packings:
        args[p.param] = _transform(args[p.param], p.index_map)
    actual = run_kernel(scheduled, target, [a.copy() for a in args])
    # Sums of N(0, 1) products in another order: the rounding grows with the reduction length
    # (the streamed cases sum 2304 and 1728 terms, of magnitude ~50, and differ by ~1e-4).
    cin, _, group, _, _, k, _, _ = CONVS[case]
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * max(1.0, k * k * cin / group / 128))


def test_nhwc_weights_are_packed_per_channel_tile() -> None:
    """A 3x3 convolution with 64 output channels at O3: the HWIO weight becomes [F/NR, 3, 3, C, NR]
    (one output-channel tile's panel contiguous); depthwise weights stay as they are."""
    from ronn_aot.stages.prepack import with_constant_params
    from ronn_aot.stages.schedule import _first_rule

    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])]
    model = make_model(nodes, {"x": w(1, 16, 7, 7, seed=1, scale=1.0)}, ["y"], {"W": w(64, 16, 3, 3)})
    func = kernel_of(model, "pack", 3)
    target = tvm_target("x86_64-avx2")
    scheduled, rule, packings = _first_rule(with_constant_params(func, [1]), "x86_64", target, None, "pack")
    assert rule == "cpu.conv2d_nhwc" and [p.param for p in packings] == [1]
    shape = [int(d) for d in scheduled.params[1].ty.shape]
    assert shape[1:4] == [3, 3, 16] and shape[0] * shape[4] == 64 and shape[4] % 8 == 0 and shape[0] > 1
    # Without the constant annotation (a weight computed at run time) nothing is repacked.
    _, _, none = _first_rule(func, "x86_64", target, None, "pack")
    assert none == []
    dw = _conv_kernel("dw3x3_s1_w14", 3)
    _, rule, packings = _first_rule(with_constant_params(dw, [1, 2]), "x86_64", target, None, "dw")
    assert rule == "cpu.conv2d_nhwc" and packings == []
