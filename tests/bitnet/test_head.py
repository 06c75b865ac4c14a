"""A float first conv (one input channel) with its bias, relu and max pool computed inside the quantize
kernel of the quantized conv it feeds (ronn_aot/bitnet/head.py): the rewrite takes exactly that
chain, and the artifact's outputs are those of the same compile without the fusion, bit for bit, on
x86 (VNNI) and under qemu on both aarch64 families (sdot, neon: NHWC quads of signed code bytes
and the rows' sums of codes, arm_nhwc.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
from ronn_aot.bitnet import reference as R
from test_arm_nhwc import _run as _host_run  # a PrimFunc built for this host
from test_aarch64_dot import _run as run_under_qemu
from test_aarch64_dot import qemu_ronn_run  # noqa: F401 (the fixture)
from test_vnni import TARGET, needs_vnni

# the aarch64 targets, their qemu CPU, the family that the rewrite chooses there for 8-bit codes
ARM = [("aarch64-dotprod", "cortex-a76", "sdot"), ("aarch64", "cortex-a72", "neon")]

# (input h, w, batch, first conv: channels, kernel, stride, pads, pool: kernel, stride)
MNIST_LIKE = (12, 12, 1, 8, 3, 1, [1, 1, 1, 1], 2, 2)
# odd on purpose: a 5x3 kernel with stride 2 and asymmetric pads, 6 channels (quads padded to
# 8), a 3x3 pool of stride 2 that leaves the last rows out, batch 2
ODD = (17, 13, 2, 6, (5, 3), 2, [2, 1, 1, 0], 3, 2)
# MNIST's 16 channels: on Arm two blocks of 8 (head.py)
WIDE = (14, 14, 1, 16, 3, 1, [1, 1, 1, 1], 2, 2)


def headed_cnn(case: tuple[Any, ...], bias: bool = True, relu: bool = True, seed: int = 0) -> Any:
    """Conv(1 channel)[+b] -> [Relu] -> MaxPool -> Conv+b -> Relu -> Flatten -> Gemm -> Gemm."""
    h, w, batch, c1, k, stride, pads, pk, ps = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    oh, ow = (h + pads[0] + pads[2] - kh) // stride + 1, (w + pads[1] + pads[3] - kw) // stride + 1
    ph, pw = (oh - pk) // ps + 1, (ow - pk) // ps + 1
    init = {"w1": rng.standard_normal((c1, 1, kh, kw)) / 3, "b1": rng.standard_normal(c1) * 0.1,
            "w2": rng.standard_normal((16, c1, 3, 3)) / 6, "b2": rng.standard_normal(16) * 0.1,
            "w3": rng.standard_normal((32, 16 * ph * pw)) / 12, "b3": rng.standard_normal(32) * 0.1,
            "w4": rng.standard_normal((10, 32)) / 6, "b4": rng.standard_normal(10) * 0.1}
    init = {n: v.astype(np.float32) for n, v in init.items()}
    first = helper.make_node("Conv", ["x", "w1"] + (["b1"] if bias else []), ["c1"], pads=pads,
                             strides=[stride, stride], kernel_shape=[kh, kw])
    nodes = [first] + ([helper.make_node("Relu", ["c1"], ["r1"])] if relu else []) + [
        helper.make_node("MaxPool", ["r1" if relu else "c1"], ["p1"], kernel_shape=[pk, pk], strides=[ps, ps]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
        helper.make_node("Gemm", ["g", "w4", "b4"], ["y"], transB=1)]
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, "headed_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
                              [numpy_helper.from_array(v, n) for n, v in init.items() if n in used])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


STATS = [R.ActStats(0.05), R.ActStats(0.03), R.ActStats(0.02), R.ActStats(0.05)]


def _bitnet_main(model: Any, stats: list[R.ActStats] | None, target: str = TARGET) -> Any:
    from ronn_aot.bitnet.rewrite import quantize_module
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.targets import get_target

    config = ronn_aot.CompileOptions().with_bitnet("ternary", 8, calibration=stats).bitnet
    return quantize_module(import_model(model).mod, config, get_target(target))


def _ops(func: Any) -> list[str]:
    from tvm import relax

    names: list[str] = []
    relax.analysis.post_order_visit(func, lambda e: names.append(e.op.name) if isinstance(e, relax.Call)
                                    and hasattr(e.op, "name") else None)
    return names


@pytest.mark.parametrize("bias,relu", [(True, True), (False, True), (True, False)])
def test_rewrite_takes_the_float_conv_into_the_quantize_kernel(bias: bool, relu: bool) -> None:
    mod, report = _bitnet_main(headed_cnn(MNIST_LIKE, bias, relu), STATS)
    ops = _ops(mod["main"])
    assert "relax.nn.conv2d" not in ops and "relax.nn.max_pool2d" not in ops, ops
    assert "relax.nn.relu" not in ops and ops.count("relax.add") == 1, ops  # the float last layer's bias only
    spec = str(mod["bitnet_conv2d_1_pack"].attrs["ronn.bitnet"])
    assert '"head": {"batch": 1, "channels": 1, "height": 12, "width": 12, "out_channels": 8' in spec
    assert f'"head_bias": {str(bias).lower()}, "head_relu": {str(relu).lower()}' in spec
    assert [(r.index, r.quantized) for r in report.layers] == [(0, False), (1, True), (2, True), (3, False)]
    assert len(mod["bitnet_conv2d_1_pack"].params) == 5  # x, its weights, its bias -> quads, stats


def test_the_float_conv_stays_where_the_fusion_does_not_apply() -> None:
    # run-time scales: the pool's max is needed before the first code
    assert "relax.nn.conv2d" in _ops(_bitnet_main(headed_cnn(MNIST_LIKE), None)[0]["main"])
    # three input channels: the NCHW and NHWC convs sum in different orders (head.py)
    from test_nhwc import pooled_cnn

    mod, _ = _bitnet_main(pooled_cnn()[0], STATS)
    assert "relax.nn.conv2d" in _ops(mod["main"])
    assert '"head": null' in str(mod["bitnet_conv2d_1_pack"].attrs["ronn.bitnet"])


def _fused_and_plain(model: Any, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """`model` compiled for `target` with the float conv fused into the quantize kernel, and without."""
    import ronn_aot.bitnet.rewrite as rewrite

    opts = ronn_aot.CompileOptions().with_target(target).with_bitnet("ternary", 8, calibration=STATS)
    fused = ronn_aot.compile(model, opts.with_output(tmp_path / "fused.so"))
    assert not [k for k in fused.schedule_report.rule_of if "conv2d_add" in k or "pool" in k], \
        fused.schedule_report.rule_of
    monkeypatch.setattr(rewrite, "takes_head", lambda g: False)
    plain = ronn_aot.compile(model, opts.with_output(tmp_path / "plain.so"))
    assert any("conv2d" in k and "bitnet" not in k for k in plain.schedule_report.rule_of)
    return fused, plain


@needs_vnni
@pytest.mark.parametrize("case", [MNIST_LIKE, ODD], ids=["mnist_like", "odd"])
def test_fused_head_is_bit_exact_against_the_separate_kernels(case: tuple[Any, ...], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fused, plain = _fused_and_plain(headed_cnn(case), TARGET, tmp_path, monkeypatch)
    a, b = fused.session(num_threads=2), plain.session(num_threads=2)
    shape = (case[2], 1, case[0], case[1])
    for seed in range(8):
        x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(a.run(None, {"x": x})[0], b.run(None, {"x": x})[0])


@pytest.mark.parametrize("target,cpu,dot", ARM, ids=["sdot", "neon"])
def test_rewrite_takes_the_float_conv_on_arm(target: str, cpu: str, dot: str) -> None:
    """sdot / neon: the same chain goes into the NHWC quantize kernel (arm_nhwc.py), which then also
    writes the rows' sums of codes; with run-time scales the float conv stays."""
    mod, report = _bitnet_main(headed_cnn(MNIST_LIKE), STATS, target)
    ops = _ops(mod["main"])
    assert "relax.nn.conv2d" not in ops and "relax.nn.max_pool2d" not in ops and "relax.nn.relu" not in ops, ops
    spec = str(mod["bitnet_conv2d_1_pack"].attrs["ronn.bitnet"])
    assert f'"dot": "{dot}", "layout": "NHWC"' in spec
    assert '"head": {"batch": 1, "channels": 1, "height": 12, "width": 12, "out_channels": 8' in spec
    assert [(r.index, r.quantized) for r in report.layers] == [(0, False), (1, True), (2, True), (3, False)]
    assert len(mod["bitnet_conv2d_1_pack"].params) == 6  # x, its weights, its bias -> quads, stats, rowsum
    assert "relax.nn.conv2d" in _ops(_bitnet_main(headed_cnn(MNIST_LIKE), None, target)[0]["main"])


@pytest.mark.parametrize("channels", [16, 6], ids=["two_blocks", "padded_quads"])
def test_arm_head_codes_and_row_sums_match_the_vnni_head(channels: int) -> None:
    """On this host: the sdot head kernel (channels in blocks of 8, the window's inputs as a patch)
    writes the VNNI head kernel's codes as two's complement bytes (VNNI's code + 128), the same
    stats, and each output pixel's sum of codes over its receptive field."""
    from dataclasses import replace

    from ronn_aot.bitnet import arm_nhwc, kernels
    from ronn_aot.bitnet.nhwc import nhwc_spec

    head = R.ConvGeometry(2, 1, 13, 11, channels, (3, 3), (1, 1), (1, 1, 1, 1))
    g = R.ConvGeometry(2, channels, 6, 5, 16, (3, 3), (1, 1), (1, 1, 1, 1))
    extra = {"pool": (13, 11, 2, 2, 2, 2), "head": head, "head_bias": True, "head_relu": True}
    sdot = replace(arm_nhwc.nhwc_sdot_spec(g, 16, "ternary", 8, (0.04, 0.0), "sdot", True, True), **extra)
    vnni = replace(nhwc_spec(g, 16, "ternary", 8, (0.04, 0.0), bias=True, relu=True), **extra)
    rng = np.random.default_rng(channels)
    args = [rng.standard_normal((2, 1, 13, 11)).astype(np.float32),
            rng.standard_normal((3, 3, 1, channels)).astype(np.float32) / 3,
            rng.standard_normal(channels).astype(np.float32) * 0.1]
    quads, stats, rowsum = _host_run(arm_nhwc.quantize_kernel(sdot), args, sdot.act_outputs)
    quads_v, stats_v = _host_run(kernels.quantize_nhwc_kernel(vnni), args, vnni.act_outputs)
    codes = quads.view(np.int8)
    np.testing.assert_array_equal(codes, (quads_v.view(np.uint8).astype(np.int16) - 128).astype(np.int8))
    np.testing.assert_array_equal(stats, stats_v)
    assert np.abs(codes).max() > 20 and not codes[..., channels:].any()
    sums = codes.astype(np.int32).sum(axis=-1)  # [B, H', W'] padded pixels' sums
    oh, ow = g.out_hw
    expected = sum(sums[:, i: i + oh, j: j + ow] for i in range(3) for j in range(3))
    np.testing.assert_array_equal(rowsum, expected.reshape(-1))


@pytest.mark.cross
@pytest.mark.parametrize("target,cpu,dot", ARM, ids=["sdot", "neon"])
@pytest.mark.parametrize("case", [WIDE, ODD], ids=["wide", "odd"])
def test_fused_head_is_bit_exact_under_qemu(case: tuple[Any, ...], target: str, cpu: str, dot: str,
                                           qemu_ronn_run: Any, tmp_path: Path,  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The aarch64 artifact with the float conv in the quantize kernel gives the outputs of the one
    without (the float conv kernel, the NHWC quantize kernel with the pool), bit for bit."""
    fused, plain = _fused_and_plain(headed_cnn(case), target, tmp_path, monkeypatch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, case[2], 1, case[0], case[1])).astype(np.float32)
    for xi in x:
        a = run_under_qemu(qemu_ronn_run, cpu, Path(fused.path), xi, tmp_path)
        np.testing.assert_array_equal(a, run_under_qemu(qemu_ronn_run, cpu, Path(plain.path), xi, tmp_path))
