"""Our graph rewrites on small graphs: what each removes or folds (the plan's kernels), and that
the result still matches onnxruntime at every level."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from onnx import TensorProto, helper

from graphs import Case, make_model, w
from helpers import assert_close, onnxruntime_outputs, run_artifact
from kernel_graph import KernelGraph, lowered_plan


def noop_chain() -> Case:
    x = w(2, 3, 4, 5, seed=1, scale=1.0)
    nodes = [helper.make_node("Identity", ["x"], ["a"]),
             helper.make_node("Dropout", ["a"], ["b"]),
             helper.make_node("Cast", ["b"], ["c"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["c", "s1"], ["d"]),
             helper.make_node("Reshape", ["d", "s2"], ["e"]),
             helper.make_node("Transpose", ["e"], ["f"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["f"], ["g"], perm=[0, 3, 1, 2]),
             helper.make_node("Relu", ["g"], ["y"])]
    inits = {"s1": np.array([6, 20], np.int64), "s2": np.array([2, 3, 4, 5], np.int64)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def _bn(name: str, c: int, seed: int) -> tuple[list[str], dict[str, np.ndarray]]:
    names = [f"{name}_{k}" for k in "sbmv"]
    vals = [w(c, seed=seed) + 1, w(c, seed=seed + 1), w(c, seed=seed + 2), np.abs(w(c, seed=seed + 3)) + 0.5]
    return names, dict(zip(names, vals))


def conv_bias_bn_relu() -> Case:
    x = w(1, 4, 9, 9, seed=2, scale=1.0)
    bn, inits = _bn("bn", 6, 10)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", *bn], ["n"], epsilon=1e-3),
             helper.make_node("Relu", ["n"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(6, 4, 3, 3), "B": w(6, seed=3), **inits}), {"x": x}


def gemm_bn() -> Case:
    x = w(3, 20, seed=4, scale=1.0)
    bn, inits = _bn("bn", 7, 20)
    nodes = [helper.make_node("Gemm", ["x", "W", "C"], ["g"], transB=1),
             helper.make_node("BatchNormalization", ["g", *bn], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(7, 20), "C": w(7, seed=5), **inits}), {"x": x}


def bn_not_after_conv() -> Case:
    """BN after a Relu (densenet-style pre-activation) and BN on a conv whose output is also used
    elsewhere: neither can go into weights; both become a fused multiply-add."""
    x = w(1, 4, 8, 8, seed=6, scale=1.0)
    bn1, i1 = _bn("bn1", 4, 30)
    bn2, i2 = _bn("bn2", 5, 40)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("BatchNormalization", ["r", *bn1], ["a"]),
             helper.make_node("Conv", ["a", "W"], ["c"]),
             helper.make_node("BatchNormalization", ["c", *bn2], ["b"]),
             helper.make_node("Add", ["b", "c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(5, 4, 1, 1), **i1, **i2}), {"x": x}


def sum3_clip() -> Case:
    """ONNX Sum of three tensors, then Clip (opset 13: bounds as inputs) after a conv."""
    x = w(1, 4, 6, 6, seed=7, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sum", ["c", "x", "c"], ["s"]),
             helper.make_node("Clip", ["s", "lo", "hi"], ["y"])]
    inits = {"W": w(4, 4, 3, 3), "B": w(4, seed=8), "lo": np.array(0, np.float32), "hi": np.array(1.5, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits, opset=13), {"x": x}


def matmul_gelu_erf() -> Case:
    """BERT's feed-forward: MatMul + bias, then GELU written with Erf."""
    x = w(6, 16, seed=9, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["h"]),
             helper.make_node("Div", ["h", "s"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["h", "e1"], ["g"]),
             helper.make_node("Mul", ["g", "half"], ["y"])]
    inits = {"W": w(16, 24, scale=1.0), "B": w(24, seed=10), "s": np.array(1.4142135, np.float32),
             "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def gelu_tanh() -> Case:
    """GPT-2's GELU: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    x = w(4, 40, seed=11, scale=3.0)
    nodes = [helper.make_node("Pow", ["x", "three"], ["p"]), helper.make_node("Mul", ["p", "c"], ["pc"]),
             helper.make_node("Add", ["x", "pc"], ["s"]), helper.make_node("Mul", ["s", "k"], ["sk"]),
             helper.make_node("Tanh", ["sk"], ["t"]), helper.make_node("Add", ["t", "one"], ["t1"]),
             helper.make_node("Mul", ["x", "t1"], ["g"]), helper.make_node("Mul", ["g", "half"], ["y"])]
    inits = {"three": np.array(3.0, np.float32), "c": np.array(0.044715, np.float32),
             "k": np.array(0.7978846, np.float32), "one": np.array(1.0, np.float32),
             "half": np.array(0.5, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits), {"x": x}


def matmul_silu() -> Case:
    """Llama's gated feed-forward (SmolLM2): SiLU(x W1) * (x W2), the SiLU as Sigmoid and Mul.
    Inputs span the range where sigmoid saturates at both ends."""
    x = w(6, 16, seed=12, scale=4.0)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["g"]), helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Mul", ["g", "s"], ["a"]), helper.make_node("MatMul", ["x", "W2"], ["u"]),
             helper.make_node("Mul", ["a", "u"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W1": w(16, 24, scale=3.0), "W2": w(16, 24, seed=13)}), {"x": x}


CASES: dict[str, Callable[[], Case]] = {f.__name__: f for f in (
    noop_chain, conv_bias_bn_relu, gemm_bn, bn_not_after_conv, sum3_clip, matmul_gelu_erf, gelu_tanh,
    matmul_silu)}


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case: str, level: int, compile_model: Any) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, opt_level=level)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)


def kernels(case: str, level: int) -> KernelGraph:
    return KernelGraph.of(lowered_plan(CASES[case]()[0], level)[0])


def test_o1_removes_noops() -> None:
    assert kernels("noop_chain", 0).names != ["relu"]
    assert kernels("noop_chain", 1).names == ["relu"]


@pytest.mark.parametrize("case", ["conv_bias_bn_relu", "gemm_bn"])
def test_o2_folds_batch_norm_into_weights(case: str) -> None:
    g = kernels(case, 2)
    assert len(g.names) == 1, g.names
    assert not g.ops(0) & {"batch_norm", "multiply"}, g.names


def test_o2_batch_norm_elsewhere_becomes_a_fused_epilogue() -> None:
    g = kernels("bn_not_after_conv", 2)
    assert all("batch_norm" not in g.ops(i) for i in range(len(g.names))), g.names
    assert len(g.names) == 2, g.names  # relu+scale+shift, conv+scale+shift+add


def test_sum_and_clip_fuse_into_the_conv() -> None:
    g0 = kernels("sum3_clip", 0)
    assert any({"stack", "sum"} & g0.ops(i) for i in range(len(g0.names))), g0.names
    g = kernels("sum3_clip", 2)
    assert len(g.names) == 1 and {"conv2d", "add", "maximum", "minimum"} <= g.ops(0), g.names


def test_o2_erf_becomes_fast_erf_in_the_matmul_epilogue() -> None:
    assert "fast_erf" not in " ".join(kernels("matmul_gelu_erf", 1).names)
    g = kernels("matmul_gelu_erf", 2)
    assert len(g.names) == 1 and "matmul" in g.names[0] and "fast_erf" in g.names[0], g.names


def test_o2_tanh_gelu_is_arithmetic() -> None:
    g1 = kernels("gelu_tanh", 1)
    assert {"power", "tanh"} <= set().union(*(g1.ops(i) for i in range(len(g1.names)))), g1.names
    g = kernels("gelu_tanh", 2)
    assert len(g.names) == 1 and "fast_tanh" in g.names[0] and "power" not in g.names[0], g.names


def test_o2_sigmoid_is_arithmetic_in_the_matmul_epilogue() -> None:
    assert any("sigmoid" in n and "fast" not in n for n in kernels("matmul_silu", 1).names)
    names = kernels("matmul_silu", 2).names
    assert any("matmul" in n and "fast_sigmoid" in n for n in names), names
    assert not any("tir_sigmoid" in n for n in names), names


def test_graph_passes_reach_a_fixpoint() -> None:
    from ronn_aot.passes import MAX_GRAPH_ROUNDS

    _, report = lowered_plan(CASES["conv_bias_bn_relu"]()[0], 3)
    assert report.converged and 2 <= report.graph_rounds <= MAX_GRAPH_ROUNDS
    last = [r for r in report.passes if r.round == report.graph_rounds]
    assert last and all(r.bindings_before == r.bindings_after for r in last)


def test_numpy_constant_folding_keeps_relax_semantics() -> None:
    """Folded where numpy gives Relax's dtype and shape; integer division (numpy would promote to
    float) is left to TVM's FoldConstant."""
    import tvm
    from tvm import relax

    from ronn_aot.passes.constant import fold_constant_numpy

    bb = relax.BlockBuilder()
    c = relax.const(np.array([0.0, np.nan, 2.0], np.float32))
    ints = relax.const(np.array([7, -7], np.int32)), relax.const(np.array([2, 2], np.int32))
    with bb.function("main", []):
        with bb.dataflow():
            bound = bb.emit(relax.op.where(relax.op.isnan(c), relax.const(np.float32(np.inf)), c))
            grown = bb.emit(relax.op.expand_dims(bound, [0]))
            div = bb.emit(relax.op.divide(*ints))
            out = bb.emit_output(relax.Tuple([grown, div]))
        bb.emit_func_output(out)
    bindings = fold_constant_numpy()(bb.get())["main"].body.blocks[0].bindings
    values = {b.var.name: b.value for b in bindings}
    folded = values[grown.name]
    assert isinstance(folded, tvm.ir.GenericConst), folded
    np.testing.assert_array_equal(folded.value.numpy(), [[0.0, np.inf, 2.0]])
    assert isinstance(values[div.name], relax.Call)
