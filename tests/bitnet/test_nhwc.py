"""NHWC BitNet convolutions on the VNNI kernels, with bias / relu in the epilogue and max pools
carried in NHWC: the kernels bit-exact against the numpy reference (NCHW im2col arithmetic),
the rewrite leaving no transposes or separate bias / relu kernels around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import pack_kernel, vnni_kernel
from ronn_aot.bitnet.kernels import quads_shape
from ronn_aot.bitnet.nhwc import covers_input, nhwc_spec
from ronn_aot.bitnet.schedule import scheduled
from test_vnni import TARGET, _run, needs_vnni

# odd on purpose: 5 channels (padded to 8), stride (2, 1), asymmetric padding, batch 2
ODD = R.ConvGeometry(2, 5, 7, 6, 20, (3, 3), (2, 1), (1, 1, 1, 0))
DILATED = R.ConvGeometry(1, 8, 9, 9, 16, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2))


def packed_reordered(pack_matrix: Any, pack_conv_nhwc: Any, weights: str) -> tuple[Any, np.ndarray]:
    """ODD's random conv weights packed by a family's NHWC conv packer, checked to hold the scales
    and values of its matrix packer reordered to (kh, kw, channel) with zero-padded channels;
    returns (the NHWC packing, those values [N, KH, KW, C4])."""
    g = ODD
    w = np.random.default_rng(1).standard_normal((g.out_channels, g.channels, 3, 3)).astype(np.float32)
    nchw = pack_matrix(w.reshape(g.out_channels, -1), weights)
    nhwc = pack_conv_nhwc(w, weights)
    np.testing.assert_array_equal(nhwc.scale, nchw.scale)  # scales from the same matrix, same order
    hwc = np.zeros((g.out_channels, 3, 3, 8), np.int8)
    hwc[..., :5] = nchw.values.reshape(g.out_channels, 5, 3, 3).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(nhwc.values, hwc.reshape(g.out_channels, -1))
    return nhwc, hwc


@pytest.mark.parametrize("weights", ["ternary", "binary"])
def test_nhwc_packing_is_the_nchw_quantization_reordered(weights: str) -> None:
    g = ODD
    nhwc, _ = packed_reordered(Q.pack_weights_vnni, Q.pack_conv_nhwc_vnni, weights)
    # the planes hold those values; a binary layer's padded channels are zero bits, expanded to -1
    expanded = nhwc.values if weights == "ternary" else np.where(nhwc.values == 1, 1, -1)
    np.testing.assert_array_equal(Q.unpack_planes(nhwc.planes, g.out_channels, nhwc.k), expanded)
    np.testing.assert_array_equal(nhwc.wsum[:g.out_channels], expanded.sum(axis=1))


def test_covers_input() -> None:
    assert covers_input(ODD) and covers_input(DILATED)
    assert not covers_input(R.ConvGeometry(1, 4, 8, 8, 16, (1, 1), (2, 2)))  # odd rows/cols never read
    assert not covers_input(R.ConvGeometry(1, 4, 9, 9, 16, (3, 3), (4, 4)))


def test_nhwc_kernels_structure() -> None:
    """The quantize kernel writes padded NHWC quads; the VNNI kernel reads them in place (no im2col
    buffer), takes the bias after wsum, and writes NHWC."""
    spec = nhwc_spec(ODD, ODD.out_channels, "ternary", 8, (0.05, 0.0), True, True)
    assert quads_shape(spec) == (2, 9, 7, 2) and spec.k == 72 and spec.words == 18
    assert spec.out_shape == (2, 4, 5, 20)
    pack = scheduled(pack_kernel(spec))
    assert [tuple(int(d) for d in p.shape) for p in pack.params] == [(2, 7, 6, 5), (2, 9, 7, 2), (3,)]
    mul = scheduled(vnni_kernel(spec))
    shapes = [tuple(int(d) for d in p.shape) for p in mul.params]
    assert shapes == [(2, 9, 7, 2), (3,), (2, 18, 2), (32,), (32,), (20,), (2, 4, 5, 20)]
    text = mul.script()
    assert "llvm.x86.avx512.vpdpbusd.512" in text and "llvm.arithmetic.fence" in text and "T.max" in text
    plain = vnni_kernel(nhwc_spec(ODD, ODD.out_channels, "ternary", 8, None, False, False))
    assert len(plain.params) == 6 and "llvm.arithmetic.fence" not in plain.script()


@needs_vnni
@pytest.mark.parametrize("weights", ["ternary", "binary"])
@pytest.mark.parametrize("static", [None, (0.04, 0.0)])
@pytest.mark.parametrize("epilogue", ["none", "bias", "bias_relu"])
@pytest.mark.parametrize("g", [ODD, DILATED], ids=["odd", "dilated"])
def test_nhwc_kernels_bit_exact(weights: str, static: Any, epilogue: str, g: R.ConvGeometry) -> None:
    rng = np.random.default_rng(len(epilogue) + g.channels)
    x = rng.standard_normal((g.batch, g.channels, g.height, g.width)).astype(np.float32)
    w = rng.standard_normal((g.out_channels, g.channels) + g.kernel).astype(np.float32)
    bias = rng.standard_normal(g.out_channels).astype(np.float32)
    bits = 8 if weights == "ternary" else 4
    spec = nhwc_spec(g, g.out_channels, weights, bits, static, epilogue != "none", epilogue == "bias_relu")
    acts = _run(scheduled(pack_kernel(spec)), [np.ascontiguousarray(x.transpose(0, 2, 3, 1))], spec.act_outputs)

    stats = R.ActStats(*static) if static else R.activation_stats(R.im2col(x, g), bits)
    np.testing.assert_array_equal(acts[1], stats.vector(bits))
    top, left, bottom, right = g.pads
    codes = np.zeros((g.batch, g.height + top + bottom, g.width + left + right, quads_shape(spec)[3] * 4), np.int32)
    codes[:, top:top + g.height, left:left + g.width, :g.channels] = \
        R.quantize_activations(x.transpose(0, 2, 3, 1), bits, stats)
    np.testing.assert_array_equal(acts[0], (codes + 128).astype(np.uint8).view("<u4"))

    packed = Q.pack_conv_nhwc_vnni(w, weights)
    extra = [bias] if spec.bias else []
    y = _run(scheduled(vnni_kernel(spec)), acts + [packed.planes, packed.scale, packed.wsum] + extra,
             [(spec.out_shape, "float32")])[0]
    expected = R.conv2d(x, Q.pack_weights_vnni(w.reshape(g.out_channels, -1), weights), g, bits,
                        R.ActStats(*static) if static else None)
    if spec.bias:
        expected = expected + bias.reshape(1, -1, 1, 1)
    if spec.relu:
        expected = np.maximum(expected, np.float32(0))
    np.testing.assert_array_equal(y, expected.transpose(0, 2, 3, 1))


def pooled_cnn(seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
    """Conv+b -> Relu -> MaxPool -> Conv+b -> Relu -> MaxPool -> Flatten -> Gemm -> Relu -> Gemm:
    the MNIST CNN's shape, small."""
    rng = np.random.default_rng(seed)
    w = {"w1": rng.standard_normal((8, 3, 3, 3)) / 5, "b1": rng.standard_normal(8) * 0.1,
         "w2": rng.standard_normal((16, 8, 3, 3)) / 8, "b2": rng.standard_normal(16) * 0.1,
         "w3": rng.standard_normal((32, 16 * 9)) / 12, "b3": rng.standard_normal(32) * 0.1,
         "w4": rng.standard_normal((10, 32)) / 6, "b4": rng.standard_normal(10) * 0.1}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], **pool),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("MaxPool", ["r2"], ["p2"], **pool),
             helper.make_node("Flatten", ["p2"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
             helper.make_node("Relu", ["g"], ["r3"]),
             helper.make_node("Gemm", ["r3", "w4", "b4"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "pooled_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w


def pooled_reference(x: np.ndarray, w: dict[str, np.ndarray], kind: str, bits: int,
                     stats: list[R.ActStats] | None = None) -> np.ndarray:
    """`pooled_cnn` with every layer quantized, in numpy (reference.py's arithmetic)."""
    def pool(v: np.ndarray) -> np.ndarray:
        b, c, h, wd = v.shape
        return v.reshape(b, c, h // 2, 2, wd // 2, 2).max(axis=(3, 5))

    def conv(i: int, v: np.ndarray, wt: np.ndarray, b: np.ndarray) -> np.ndarray:
        g = R.ConvGeometry(1, v.shape[1], v.shape[2], v.shape[3], wt.shape[0], (3, 3), (1, 1), (1, 1, 1, 1))
        y = R.conv2d(v, Q.pack_weights(wt.reshape(wt.shape[0], -1), kind), g, bits, stats[i] if stats else None)
        return pool(np.maximum(y + b.reshape(1, -1, 1, 1), np.float32(0)))

    def dense(i: int, v: np.ndarray, m: np.ndarray, b: np.ndarray) -> np.ndarray:
        return R.dense(v, Q.pack_weights(m, kind), bits, stats[i] if stats else None) + b

    h = conv(1, conv(0, x, w["w1"], w["b1"]), w["w2"], w["b2"])
    h = np.maximum(dense(2, h.reshape(1, -1), w["w3"], w["b3"]), np.float32(0))
    return dense(3, h, w["w4"], w["b4"])


def _bitnet_main(model: Any, stats: list[R.ActStats] | None) -> Any:
    """`main` after the bitnet stage, vnni kernels, every layer quantized."""
    from ronn_aot.bitnet.rewrite import quantize_module
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.targets import get_target

    mod = import_model(model).mod
    config = ronn_aot.CompileOptions().with_bitnet("ternary", 8, "all", calibration=stats).bitnet
    new, report = quantize_module(mod, config, get_target(TARGET))
    return new, report


def test_rewrite_fuses_bias_relu_and_carries_the_pool_in_nhwc() -> None:
    from tvm import relax

    model, _ = pooled_cnn()
    mod, report = _bitnet_main(model, [R.ActStats(0.05)] * 4)
    assert [r.index for r in report.quantized] == [0, 1, 2, 3]
    ops: list[str] = []
    relax.analysis.post_order_visit(mod["main"], lambda e: ops.append(
        e.op.name if isinstance(e, relax.Call) and hasattr(e.op, "name") else
        e.args[0].name_hint if isinstance(e, relax.Call) and e.op.name == "relax.call_tir" else "")
        if isinstance(e, relax.Call) else None)
    names = [o for o in ops if o]
    # bias adds and relus all live in the kernels' epilogues; both pools are NHWC
    assert "relax.add" not in names and "relax.nn.relu" not in names, names
    pools = []
    relax.analysis.post_order_visit(mod["main"], lambda e: pools.append(str(e.attrs.layout))
                                    if isinstance(e, relax.Call) and getattr(e.op, "name", "") == "relax.nn.max_pool2d"
                                    else None)
    # the first pool's only user is the second conv: its quantize kernel takes it; the second
    # (before Flatten) runs in the second conv's epilogue, which quantizes for the dense layer
    # (requant.py: 16 channels, a 2x2 pool; the first conv's 8 channels are no whole group of 16)
    assert pools == []
    assert '"pool": [12, 12, 2, 2, 2, 2]' in str(mod["bitnet_conv2d_1_pack"].attrs["ronn.bitnet"])
    assert '"pool": null' in str(mod["bitnet_conv2d_0_pack"].attrs["ronn.bitnet"])
    assert str(mod["bitnet_conv2d_1_vnni"].attrs["ronn.bitnet"]).startswith("requant:")
    assert '"pool": [6, 6, 2, 2, 2, 2]' in str(mod["bitnet_conv2d_1_vnni"].attrs["ronn.bitnet"]).split("|")[1]
    kernels = sorted(gv.name_hint for gv, f in mod.functions_items() if not isinstance(f, relax.Function))
    assert kernels == sorted(f"bitnet_{op}_{i}_{k}" for i, op in enumerate(["conv2d", "conv2d", "matmul", "matmul"])
                             for k in ("pack", "vnni") if (i, k) != (2, "pack"))
    assert '"layout": "NHWC"' in str(mod["bitnet_conv2d_1_vnni"].attrs["ronn.bitnet"])
    assert '"bias": true, "relu": true' in str(mod["bitnet_conv2d_1_vnni"].attrs["ronn.bitnet"])
    assert '"bias": true, "relu": false' in str(mod["bitnet_matmul_3_vnni"].attrs["ronn.bitnet"])


@needs_vnni
@pytest.mark.parametrize("static", [False, True])
def test_pooled_cnn_compiles_to_nhwc_kernels_bit_exact(static: bool, tmp_path: Path) -> None:
    """End to end: no transpose kernel between the convs, no separate bias / relu kernels, and the
    outputs the numpy reference's, bit for bit."""
    model, w = pooled_cnn()
    stats = [R.ActStats(0.03), R.ActStats(0.02), R.ActStats(0.02), R.ActStats(0.05)] if static else None
    opts = ronn_aot.CompileOptions().with_target(TARGET).with_output(tmp_path / "nhwc.so")
    art = ronn_aot.compile(model, opts.with_bitnet("ternary", 8, "all", calibration=stats))
    rules = art.schedule_report.rule_of
    # a transpose only for the NCHW input: Flatten's NCHW order is the dense layer's weight columns
    # reordered (rewrite._nhwc_flatten)
    assert sorted(k for k in rules if "transpose" in k) == ["transpose"], rules
    assert not [k for k in rules if "add" in k or "relu" in k], rules
    # no pool kernel: one in conv 2's quantize kernel, the other in the dense layer's pack kernel
    assert not [r for r in rules.values() if r == "cpu.pooling"], rules
    sess = art.session(num_threads=2)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 3, 12, 12)).astype(np.float32)
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], pooled_reference(x, w, "ternary", 8, stats))


@needs_vnni
@pytest.mark.parametrize("static", [None, (0.04, 0.0)])
@pytest.mark.parametrize("pool", [(7, 9, 2, 2, 2, 2), (7, 7, 3, 3, 2, 2), (96, 96, 2, 2, 2, 2)],
                         ids=["2x2_odd", "3x3_s2", "parallel_absmax"])
def test_quantize_kernel_takes_the_pool_bit_exact(static: Any, pool: tuple[int, ...]) -> None:
    """The quantize kernel with a max pool on its input: the codes and stats of the pooled tensor."""
    from dataclasses import replace

    in_h, in_w, kh, kw, sh, sw = pool
    h, w = (in_h - kh) // sh + 1, (in_w - kw) // sw + 1
    g = R.ConvGeometry(2, 5, h, w, 16, (3, 3), (1, 1), (1, 1, 1, 1))
    spec = nhwc_spec(g, 16, "ternary", 8, static, True, True)
    x = np.random.default_rng(in_w).standard_normal((2, in_h, in_w, 5)).astype(np.float32)
    pooled = np.stack([np.stack([x[:, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(1, 2)) for j in range(w)], 1)
                       for i in range(h)], 1)
    fused = _run(scheduled(pack_kernel(replace(spec, pool=pool))), [x], spec.act_outputs)
    plain = _run(scheduled(pack_kernel(spec)), [np.ascontiguousarray(pooled)], spec.act_outputs)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


@needs_vnni
@pytest.mark.parametrize("static", [None, (0.04, 0.0)])
@pytest.mark.parametrize("pool", [(7, 7, 2, 2, 2, 2), (9, 8, 3, 3, 2, 2)], ids=["2x2_floor", "3x3_s2"])
def test_dense_pack_kernel_takes_the_pool_bit_exact(static: Any, pool: tuple[int, ...]) -> None:
    """A vnni dense layer's pack kernel with the max pool before Flatten on its NHWC input: the codes
    and stats of the pooled tensor flattened in NHWC order."""
    from dataclasses import replace

    from ronn_aot.bitnet.kernels import LayerSpec

    in_h, in_w, kh, kw, sh, sw = pool
    h, w, c = (in_h - kh) // sh + 1, (in_w - kw) // sw + 1, 12
    spec = LayerSpec(2, h * w * c, 16, "ternary", 8, 64, None, static, "vnni")
    x = np.random.default_rng(in_w).standard_normal((2, in_h, in_w, c)).astype(np.float32)
    pooled = np.stack([np.stack([x[:, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(1, 2)) for j in range(w)], 1)
                       for i in range(h)], 1)
    fused = _run(scheduled(pack_kernel(replace(spec, pool=pool))), [x], spec.act_outputs)
    plain = _run(scheduled(pack_kernel(spec)), [np.ascontiguousarray(pooled.reshape(2, -1))], spec.act_outputs)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


def test_a_pool_after_a_float_layer_is_taken_by_the_quantized_conv() -> None:
    """Default layers (the first conv and the last dense stay float): the pool between the float
    first conv and the quantized second one runs in the latter's quantize kernel."""
    from tvm import relax

    from ronn_aot.bitnet.rewrite import quantize_module
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.targets import get_target

    model, _ = pooled_cnn()
    config = ronn_aot.CompileOptions().with_bitnet("ternary", 8, calibration=[R.ActStats(0.05)] * 4).bitnet
    mod, report = quantize_module(import_model(model).mod, config, get_target(TARGET))
    assert [r.index for r in report.quantized] == [1, 2]
    layouts: list[str] = []
    relax.analysis.post_order_visit(mod["main"], lambda e: layouts.append(str(e.attrs.layout))
                                    if isinstance(e, relax.Call) and getattr(e.op, "name", "") == "relax.nn.max_pool2d"
                                    else None)
    assert layouts == []  # the pool before Flatten in the quantized conv's epilogue (requant.py)
    assert '"pool": [12, 12, 2, 2, 2, 2]' in str(mod["bitnet_conv2d_1_pack"].attrs["ronn.bitnet"])


@needs_vnni
def test_pooled_cnn_with_a_float_first_layer_bit_exact(tmp_path: Path) -> None:
    """End to end with the pool taken from the graph: the quantized part equals the numpy
    reference applied to the float prefix (conv, relu, pool) as a float artifact computes it."""
    model, w = pooled_cnn()
    stats = [R.ActStats(0.03), R.ActStats(0.02), R.ActStats(0.02), R.ActStats(0.05)]
    opts = ronn_aot.CompileOptions().with_target(TARGET)
    art = ronn_aot.compile(model, opts.with_output(tmp_path / "q.so").with_bitnet("ternary", 8, calibration=stats))
    prefix = helper.make_model(helper.make_graph(
        list(model.graph.node[:3]), "prefix", list(model.graph.input),
        [helper.make_tensor_value_info("p1", TensorProto.FLOAT, [1, 8, 6, 6])],
        [i for i in model.graph.initializer if i.name in ("w1", "b1")]), opset_imports=[helper.make_opsetid("", 17)])
    float_prefix = ronn_aot.compile(prefix, opts.with_output(tmp_path / "prefix.so")).session(num_threads=2)
    sess = art.session(num_threads=2)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 3, 12, 12)).astype(np.float32)
        p1 = float_prefix.run(None, {"x": x})[0]
        g = R.ConvGeometry(1, 8, 6, 6, 16, (3, 3), (1, 1), (1, 1, 1, 1))
        y = R.conv2d(p1, Q.pack_weights(w["w2"].reshape(16, -1), "ternary"), g, 8, stats[1])
        h = np.maximum(y + w["b2"].reshape(1, -1, 1, 1), np.float32(0)).reshape(1, 16, 3, 2, 3, 2).max(axis=(3, 5))
        h = np.maximum(R.dense(h.reshape(1, -1), Q.pack_weights(w["w3"], "ternary"), 8, stats[2]) + w["b3"],
                       np.float32(0))
        expected = h @ w["w4"].T + w["b4"]
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], expected, rtol=1e-5, atol=1e-5)


@needs_vnni
def test_matmul_on_a_3d_input_keeps_its_reshapes_and_relu(tmp_path: Path) -> None:
    """A dense layer on a [1, 4, 8] input is no chain (its input is not 2-D): reshaped around the
    kernels, its relu a kernel of its own, the result still bit-exact."""
    w = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
                              "mm3", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 16])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ronn_aot.CompileOptions().with_target(TARGET).with_output(tmp_path / "mm3.so")
    art = ronn_aot.compile(model, opts.with_bitnet("ternary", 8, "all"))
    assert any("relu" in k for k in art.schedule_report.rule_of), art.schedule_report.rule_of
    x = np.random.default_rng(1).standard_normal((1, 4, 8)).astype(np.float32)
    expected = np.maximum(R.dense(x.reshape(4, 8), Q.pack_weights_vnni(w.T, "ternary"), 8), np.float32(0))
    np.testing.assert_array_equal(art.session(num_threads=1).run(None, {"x": x})[0], expected.reshape(1, 4, 16))
