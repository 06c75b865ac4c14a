"""cpu.dense beyond the golden case: the tile choice (no compile) and the numerics of every shape
class the rule must handle, built for AVX2 and AVX-512 against the unscheduled kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
from onnx import helper

from graphs import make_model, w
from kernels import kernel_of, run_kernel, tvm_target

HAS_AVX512 = "avx512f" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
TARGETS = ["x86_64-avx2"] + (["x86_64-avx512"] if HAS_AVX512 else [])


@pytest.mark.parametrize("lanes,registers", [(8, 16), (16, 32)])
@pytest.mark.parametrize("m,n,k,batch", [(1024, 1024, 1024, 1), (128, 384, 1536, 1), (1, 1000, 64, 1),
                                         (7, 13, 5, 1), (128, 32, 128, 12), (3, 24, 1021, 1)])
def test_tiles_divide_and_fit_the_registers(m: int, n: int, k: int, batch: int, lanes: int, registers: int) -> None:
    from ronn_aot.schedules.cpu.dense import pick_tiles

    t = pick_tiles(m, n, k, batch, lanes, registers, cores=2)
    assert m % t.mc == 0 and t.mc % t.mr == 0 and n % t.nc == 0 and t.nc % t.nr == 0 and k % t.kc == 0
    assert t.nr % t.vec == 0 and t.vec <= lanes
    vectors = t.nr // t.vec
    assert t.mr * vectors + vectors + 1 <= registers or t.nr < lanes  # accumulators + B row + broadcast
    if n % lanes == 0:
        assert t.vec == lanes
    assert batch * (m // t.mc) * (n // t.nc) >= 2 or (t.mc == t.mr and t.nc == t.nr)


@pytest.mark.parametrize("k,k_unit,lanes,registers,kc", [
    (4608, 512, 8, 16, 512),  # 3x3 x 512 channels on AVX2: a 32 KiB micro-panel, one position per slice
    (4608, 512, 16, 32, 256),  # AVX-512 (NR = 32): 64 KiB would leave L1, slices within a position
    (512, 512, 8, 16, 256),  # 1x1: one run, sliced as any K
    (1152, 128, 8, 16, 128),  # runs up to KC_MAX: slices of whole runs (256 does not divide 1152)
])
def test_k_slices_keep_kernel_positions_whole(k: int, k_unit: int, lanes: int, registers: int, kc: int) -> None:
    from ronn_aot.schedules.cpu.dense import pick_tiles

    t = pick_tiles(49, 512, k, 1, lanes, registers, cores=2, k_unit=k_unit)
    assert t.kc == kc and k % t.kc == 0
    assert t.kc % k_unit == 0 or k_unit % t.kc == 0  # within one run, or whole runs


def _small_m() -> onnx.ModelProto:  # GEMV-like: parallel over N
    x = w(3, 64, seed=1, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(64, 80), "B": w(80, seed=2)})


def _batch_matmul() -> onnx.ModelProto:  # both operands activations, as in attention
    a, b = w(2, 3, 16, 8, seed=3, scale=1.0), w(2, 3, 8, 40, seed=4, scale=1.0)
    return make_model([helper.make_node("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, ["y"])


def _gemm_trans_b() -> onnx.ModelProto:  # W^T folded into B at compile time
    x = w(5, 32, seed=5, scale=1.0)
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(24, 32, seed=6), "B": w(24, seed=7)})


def _odd_sizes() -> onnx.ModelProto:  # no extent divisible by a vector or a register tile
    x = w(7, 13, seed=8, scale=1.0)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(13, 5, seed=9)})


def _gelu_k_blocked() -> onnx.ModelProto:  # K in several KC slices, erf-GELU + residual epilogue
    x, r = w(24, 600, seed=10, scale=1.0), w(24, 96, seed=11, scale=1.0)
    c = {"W": w(600, 96, seed=12, scale=0.05), "B": w(96, seed=13), "s": np.array(1.4142135, np.float32),
         "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["h"]),
             helper.make_node("Div", ["h", "s"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["h", "e1"], ["g"]),
             helper.make_node("Mul", ["g", "half"], ["g2"]), helper.make_node("Add", ["g2", "r"], ["y"])]
    return make_model(nodes, {"x": x, "r": r}, ["y"], c)


def _wide_b() -> onnx.ModelProto:  # B much wider than a register tile: packed into NR-wide panels
    x = w(4, 48, seed=14, scale=1.0)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(48, 512, seed=15)})


def _ragged_k_blocked() -> onnx.ModelProto:  # 49 rows (ragged on AVX2), K slices, bias + ReLU
    x = w(49, 600, seed=16, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["h"]),
             helper.make_node("Relu", ["h"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(600, 64, seed=17, scale=0.05), "B": w(64, seed=18)})


def _ragged_prime() -> onnx.ModelProto:  # 17 rows: ragged on both targets; no epilogue
    x = w(17, 48, seed=19, scale=1.0)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(48, 64, seed=20)})


def _rows_3d() -> onnx.ModelProto:  # A [20, 1, K] x a 2-D B: the leading axes are rows, not a batch
    x = w(20, 1, 48, seed=21, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(48, 64, seed=22), "B": w(64, seed=23)})


def _rows_2x5() -> onnx.ModelProto:  # [2, 5, K] x a 2-D B: two axes of rows, kept apart
    x = w(2, 5, 6, seed=27, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(6, 6, seed=28)})


def _epilogue_input_first() -> onnx.ModelProto:  # an LSTM step: a squeezed input added to h W
    h, p = w(1, 48, seed=24, scale=1.0), w(1, 1, 64, seed=25, scale=1.0)
    nodes = [helper.make_node("Squeeze", ["p", "axes"], ["q"]), helper.make_node("MatMul", ["h", "W"], ["m"]),
             helper.make_node("Add", ["q", "m"], ["y"])]
    return make_model(nodes, {"p": p, "h": h}, ["y"], {"W": w(48, 64, seed=26), "axes": np.array([0], np.int64)})


SHAPES: dict[str, Callable[[], onnx.ModelProto]] = {
    "rows_3d": _rows_3d, "rows_2x5": _rows_2x5, "epilogue_input_first": _epilogue_input_first,
    "wide_b": _wide_b, "small_m": _small_m, "batch_matmul": _batch_matmul, "gemm_trans_b": _gemm_trans_b,
    "odd_sizes": _odd_sizes, "gelu_k_blocked": _gelu_k_blocked, "ragged_k_blocked": _ragged_k_blocked,
    "ragged_prime": _ragged_prime,
}


@pytest.mark.parametrize("m", [1024, 196, 128, 49])
def test_avx2_rows_go_ragged_for_six_by_two_vectors(m: int) -> None:
    """AVX2's fastest tile, 6 rows x 2 vectors, divides none of these; the cache blocks divide the
    rows rounded up to 6, so that only the last tile is partial."""
    from ronn_aot.schedules.cpu.dense import pick_tiles, ragged_tiles, tile_rate

    t = pick_tiles(m, 512, 1024, 1, 8, 16, cores=2)
    r = ragged_tiles(m, 512, 1024, 8, 16, 2, t)
    assert r is not None and (r.mr, r.nr, r.vec) == (6, 16, 8)
    assert -(-m // 6) * 6 % r.mc == 0 and r.mc % 6 == 0
    assert tile_rate(6, 2) > tile_rate(t.mr, t.nr // t.vec)


@pytest.mark.parametrize("m", [1024, 12544, 3136, 784, 196, 128, 49, 1])
def test_avx512_tiles_that_divide_are_kept(m: int) -> None:
    """Wherever M has a divisor of 7 or more (every layer of the benchmark models), AVX-512's
    dividing tile is as fast as a ragged one: no partition."""
    from ronn_aot.schedules.cpu.dense import pick_tiles, ragged_tiles

    t = pick_tiles(m, 512, 1024, 1, 16, 32, cores=2)
    assert ragged_tiles(m, 512, 1024, 16, 32, 2, t) is None


@pytest.mark.parametrize("target_name", TARGETS)
def test_ragged_rows_are_partitioned(target_name: str) -> None:
    """On AVX2 the 49 rows become 8 whole 6-row tiles and one partial tile (two copies of the
    matmul block inside the same N and K loops), and the epilogue a pass of its own;
    AVX-512 keeps its 7 x 2-vector tile, which divides them."""
    from ronn_aot.schedules import get_rule

    func = kernel_of(_ragged_k_blocked())
    target = tvm_target(target_name)
    with target:
        sch = get_rule("cpu.dense").rule.apply(func, target, False)
    script = sch.mod["main"].script()
    if target_name == "x86_64-avx2":
        assert script.count("_partition\")") == 2
        assert "T.unroll(T.int64(6))" in script
    else:
        assert "_partition" not in script and "T.unroll(T.int64(7))" in script


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_dense_shape_matches_naive(shape: str, target_name: str, packed: bool) -> None:
    """Unpacked: B read in place; packed: the constant parameters marked as the compile marks
    them, B stored as [N/NR, K, NR] (and transformed here the way the compile transforms it)."""
    from ronn_aot.stages.prepack import _transform, packed_params, with_constant_params
    from ronn_aot.schedules import get_rule

    func = kernel_of(SHAPES[shape](), shape)
    # all but the first input and the output (the LSTM step's second input is an activation too)
    constants = list(range(1, len(func.params) - 1)) if packed and shape != "epilogue_input_first" else []
    target = tvm_target(target_name)
    with target:
        sch = get_rule("cpu.dense").rule.apply(with_constant_params(func, constants), target, False)
    assert sch is not None, f"cpu.dense does not take the {shape} kernel"
    packings = packed_params(func, sch)
    if packed and shape == "wide_b":
        assert [p.param for p in packings] == [1] and len(sch.mod["main"].params[1].ty.shape) == 3
    if not packed or shape in ("batch_matmul", "odd_sizes", "epilogue_input_first"):  # activations / a single panel
        assert packings == []
    if shape == "rows_3d":  # one 20-row GEMM: B streamed once, not once per row
        assert any(inst.kind.name == "Fuse" for inst in sch.trace.insts)
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.standard_normal([int(d) for d in p.ty.shape]), dtype=str(p.ty.dtype))
            for p in func.params]
    expected = run_kernel(func, target, [a.copy() for a in args])
    for p in packings:
        args[p.param] = _transform(args[p.param], p.index_map)
    actual = run_kernel(sch.mod["main"], target, [a.copy() for a in args])
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def test_avx2_dense_kernel_has_no_zmm() -> None:
    import tvm

    from ronn_aot.backends import tir_pipeline
    from ronn_aot.schedules import get_rule

    func = kernel_of(_gelu_k_blocked())
    target = tvm_target("x86_64-avx2")
    with target:
        sch = get_rule("cpu.dense").rule.apply(func, target, False)
    lib = tir_pipeline.build(tvm.IRModule({"main": sch.mod["main"].with_attr("global_symbol", "main")}), target)
    asm = lib.inspect_source("asm")
    assert "vfmadd" in asm and "ymm" in asm
    assert "zmm" not in asm
