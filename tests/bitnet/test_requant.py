"""An NHWC vnni conv whose epilogue pools and quantizes for the next quantized conv
(ronn_aot/bitnet/requant.py): the kernel's codes are those of the conv kernel followed by the
next layer's quantize kernel, bit for bit; the rewrite drops that quantize kernel; the artifact's
outputs are those of the same compile without the fusion."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import pack_kernel, vnni_kernel
from ronn_aot.bitnet.nhwc import nhwc_spec
from ronn_aot.bitnet.requant import takes_requant, vnni_requant_kernel
from ronn_aot.bitnet.schedule import scheduled
from test_vnni import TARGET, _run, needs_vnni


@needs_vnni
@pytest.mark.parametrize("weights", ["ternary", "binary"])
@pytest.mark.parametrize("bias,relu", [(True, True), (False, False)])
@pytest.mark.parametrize("g", [R.ConvGeometry(1, 16, 14, 14, 32, (3, 3), (1, 1), (1, 1, 1, 1)),
                               R.ConvGeometry(2, 5, 11, 13, 16, (3, 3), (2, 1), (1, 1, 1, 0))],
                         ids=["mnist_conv2", "odd"])
def test_requant_kernel_is_the_conv_then_the_next_quantize_kernel(weights: str, bias: bool, relu: bool,
                                                                  g: R.ConvGeometry) -> None:
    oh, ow = g.out_hw
    spec = nhwc_spec(g, g.out_channels, weights, 8, (0.02, 0.0), bias, relu)
    nxt_g = R.ConvGeometry(g.batch, g.out_channels, oh // 2, ow // 2, 24, (3, 3), (1, 1), (1, 1, 1, 1))
    nxt = replace(nhwc_spec(nxt_g, 24, weights, 8, (0.03, 0.0), True, True), pool=(oh, ow, 2, 2, 2, 2))
    assert takes_requant(spec, nxt.pool)
    rng = np.random.default_rng(g.width)
    x = rng.standard_normal((g.batch, g.height, g.width, g.channels)).astype(np.float32)
    packed = Q.pack_conv_nhwc_vnni(rng.standard_normal((g.out_channels, g.channels, 3, 3)).astype(np.float32), weights)
    b = [(rng.standard_normal(g.out_channels) * 0.1).astype(np.float32)] if bias else []
    acts = _run(scheduled(pack_kernel(spec)), [x], spec.act_outputs)
    consts = [packed.planes, packed.scale, packed.wsum] + b
    y = _run(scheduled(vnni_kernel(spec)), acts + consts, [(spec.out_shape, "float32")])[0]
    expected = _run(scheduled(pack_kernel(nxt)), [y], nxt.act_outputs)
    got = _run(scheduled(vnni_requant_kernel(spec, nxt)), acts + consts, nxt.act_outputs)
    for a, e in zip(got, expected):
        np.testing.assert_array_equal(a, e)


@needs_vnni
@pytest.mark.parametrize("g", [R.ConvGeometry(1, 32, 7, 7, 64, (3, 3), (1, 1), (1, 1, 1, 1)),
                               R.ConvGeometry(2, 8, 9, 10, 32, (3, 3), (1, 1), (1, 1, 1, 1))],
                         ids=["mnist_conv3", "batch2"])
def test_requant_kernel_for_a_dense_layer_is_the_conv_then_its_pack_kernel(g: R.ConvGeometry) -> None:
    """The next layer a dense one (after Flatten): its row of quads in the pooled tensor's NHWC
    order, the output pixels the floor-mode pool leaves out not computed."""
    from ronn_aot.bitnet.kernels import LayerSpec

    oh, ow = g.out_hw
    spec = nhwc_spec(g, g.out_channels, "ternary", 8, (0.02, 0.0), True, True)
    k = (oh // 2) * (ow // 2) * g.out_channels
    nxt = LayerSpec(g.batch, k, 24, "ternary", 8, 64, None, (0.03, 0.0), "vnni", bias=True, relu=True,
                    pool=(oh, ow, 2, 2, 2, 2))
    rng = np.random.default_rng(g.width)
    x = rng.standard_normal((g.batch, g.height, g.width, g.channels)).astype(np.float32)
    packed = Q.pack_conv_nhwc_vnni(rng.standard_normal((g.out_channels, g.channels, 3, 3)).astype(np.float32), "ternary")
    consts = [packed.planes, packed.scale, packed.wsum, (rng.standard_normal(g.out_channels) * 0.1).astype(np.float32)]
    acts = _run(scheduled(pack_kernel(spec)), [x], spec.act_outputs)
    y = _run(scheduled(vnni_kernel(spec)), acts + consts, [(spec.out_shape, "float32")])[0]
    expected = _run(scheduled(pack_kernel(nxt)), [y], nxt.act_outputs)
    got = _run(scheduled(vnni_requant_kernel(spec, nxt)), acts + consts, nxt.act_outputs)
    for a, e in zip(got, expected):
        np.testing.assert_array_equal(a, e)


def test_takes_requant_only_non_overlapping_pools() -> None:
    g = R.ConvGeometry(1, 16, 14, 14, 32, (3, 3), (1, 1), (1, 1, 1, 1))
    spec = nhwc_spec(g, 32, "ternary", 8, (0.02, 0.0), True, True)
    assert takes_requant(spec, (14, 14, 2, 2, 2, 2))
    assert not takes_requant(spec, (14, 14, 3, 3, 2, 2))  # overlapping windows
    assert not takes_requant(replace(spec, n=20), (14, 14, 2, 2, 2, 2))  # channels not whole groups of 16
    odd = nhwc_spec(replace(g, height=13, width=13), 32, "ternary", 8, (0.02, 0.0), True, True)
    assert takes_requant(odd, (13, 13, 2, 2, 2, 2))  # the last row and column, which the pool leaves out, not computed
    wide = nhwc_spec(replace(g, height=30, width=30), 32, "ternary", 8, (0.02, 0.0), True, True)
    assert not takes_requant(wide, (30, 30, 2, 2, 2, 2))  # 60 rows per task: more than the registers


def three_conv_cnn(seed: int = 0, last_pool: bool = False) -> Any:
    """Conv(1->8)+b -> Relu -> MaxPool -> Conv(8->16)+b -> Relu -> MaxPool -> Conv(16->16)+b -> Relu
    [-> MaxPool (3x3 -> 1x1: the last row and column left out)] -> Flatten -> Gemm -> Gemm, on 12x12 inputs."""
    rng = np.random.default_rng(seed)
    init = {"w1": rng.standard_normal((8, 1, 3, 3)) / 3, "b1": rng.standard_normal(8) * 0.1,
            "w2": rng.standard_normal((16, 8, 3, 3)) / 6, "b2": rng.standard_normal(16) * 0.1,
            "w3": rng.standard_normal((16, 16, 3, 3)) / 8, "b3": rng.standard_normal(16) * 0.1,
            "w4": rng.standard_normal((24, 16 * (1 if last_pool else 9))) / 12, "b4": rng.standard_normal(24) * 0.1,
            "w5": rng.standard_normal((10, 24)) / 5, "b5": rng.standard_normal(10) * 0.1}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]), helper.make_node("MaxPool", ["r1"], ["p1"], **pool),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]), helper.make_node("MaxPool", ["r2"], ["p2"], **pool),
             helper.make_node("Conv", ["p2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c3"], ["r3"])] + \
        ([helper.make_node("MaxPool", ["r3"], ["p3"], **pool)] if last_pool else []) + [
             helper.make_node("Flatten", ["p3" if last_pool else "r3"], ["f"]),
             helper.make_node("Gemm", ["f", "w4", "b4"], ["g"], transB=1),
             helper.make_node("Gemm", ["g", "w5", "b5"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "three_conv_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [numpy_helper.from_array(v.astype(np.float32), n) for n, v in init.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


STATS = [R.ActStats(0.05), R.ActStats(0.03), R.ActStats(0.02), R.ActStats(0.02), R.ActStats(0.05)]


@pytest.mark.parametrize("last_pool", [False, True])
def test_rewrite_drops_the_next_quantize_kernel(last_pool: bool) -> None:
    from tvm import relax

    from ronn_aot.bitnet.rewrite import quantize_module
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.targets import get_target

    config = ronn_aot.CompileOptions().with_bitnet("ternary", 8, calibration=STATS).bitnet
    mod, report = quantize_module(import_model(three_conv_cnn(last_pool=last_pool)).mod, config, get_target(TARGET))
    kernels = sorted(gv.name_hint for gv, f in mod.functions_items() if not isinstance(f, relax.Function))
    # conv 1 (its quantize kernel computes the float conv 0, head.py) quantizes for conv 2; conv 2
    # for the dense layer 3 when a pool is between them
    assert kernels == ["bitnet_conv2d_1_pack", "bitnet_conv2d_1_vnni", "bitnet_conv2d_2_vnni"] + \
        ([] if last_pool else ["bitnet_matmul_3_pack"]) + ["bitnet_matmul_3_vnni"], kernels
    assert str(mod["bitnet_conv2d_1_vnni"].attrs["ronn.bitnet"]).startswith("requant:")
    assert str(mod["bitnet_conv2d_2_vnni"].attrs["ronn.bitnet"]).startswith("requant:" if last_pool else "vnni:")
    ops: list[str] = []
    relax.analysis.post_order_visit(mod["main"], lambda e: ops.append(e.op.name) if isinstance(e, relax.Call)
                                    and hasattr(e.op, "name") else None)
    assert "relax.nn.max_pool2d" not in ops, ops
    assert [(r.index, r.quantized) for r in report.layers] == [(0, False), (1, True), (2, True), (3, True), (4, False)]


@needs_vnni
@pytest.mark.parametrize("last_pool", [False, True])
def test_requant_is_bit_exact_against_the_separate_kernels(last_pool: bool, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import ronn_aot.bitnet.rewrite as rewrite

    model = three_conv_cnn(last_pool=last_pool)
    opts = ronn_aot.CompileOptions().with_target(TARGET).with_bitnet("ternary", 8, calibration=STATS)
    fused = ronn_aot.compile(model, opts.with_output(tmp_path / "fused.so"))
    monkeypatch.setattr(rewrite, "takes_requant", lambda spec, pool: False)
    plain = ronn_aot.compile(model, opts.with_output(tmp_path / "plain.so"))
    assert "bitnet_conv2d_2_pack" not in fused.schedule_report.rule_of
    assert "bitnet_conv2d_2_pack" in plain.schedule_report.rule_of
    assert ("bitnet_matmul_3_pack" in fused.schedule_report.rule_of) != last_pool
    a, b = fused.session(num_threads=2), plain.session(num_threads=2)
    for seed in range(8):
        x = np.random.default_rng(seed).standard_normal((1, 1, 12, 12)).astype(np.float32)
        np.testing.assert_array_equal(a.run(None, {"x": x})[0], b.run(None, {"x": x})[0])


def test_written_out_kernels_are_not_tuned() -> None:
    """The requant and head kernels are written loop by loop: the bitnet rule leaves them as they
    are and the tuner has no design space for them (MetaSchedule's FLOP estimate cannot read their
    vector expressions either); `ronn-aot tune` reports them untunable."""
    from ronn_aot.bitnet.schedule import has_design_space, schedule_kernel

    g = R.ConvGeometry(1, 16, 14, 14, 32, (3, 3), (1, 1), (1, 1, 1, 1))
    spec = nhwc_spec(g, 32, "ternary", 8, (0.02, 0.0), True, True)
    nxt = replace(nhwc_spec(R.ConvGeometry(1, 32, 7, 7, 64, (3, 3), (1, 1), (1, 1, 1, 1)), 64, "ternary", 8,
                            (0.03, 0.0), True, True), pool=(14, 14, 2, 2, 2, 2))
    head = replace(spec, pool=(28, 28, 2, 2, 2, 2), head=R.ConvGeometry(1, 1, 28, 28, 16, (3, 3), (1, 1), (1, 1, 1, 1)))
    for func in (vnni_requant_kernel(spec, nxt), pack_kernel(head)):
        assert not has_design_space(func)
        assert schedule_kernel(func).mod["main"].same_as(func)
    assert has_design_space(vnni_kernel(spec)) and has_design_space(pack_kernel(replace(head, head=None)))
