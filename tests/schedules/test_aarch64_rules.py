"""aarch64 runs the CPU rules over its own ISA description (targets/aarch64.toml [isa]): the same
rule takes each golden case as on x86-64, its parallel loops are there, its vectors are NEON's
4 fp32 lanes, and its register tiles use NEON's 32 registers. No compile to machine code: the
numerics under qemu are tests/cross/test_aarch64_kernels.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kernels import CASES, TARGET, kernel, tvm_target

AARCH64 = "aarch64"
# Where NEON's narrower vectors make another rule fit: the column sum's 3-wide inner axis is at
# least half a 4-lane vector, so the pooling rule vectorizes it (AVX2's 8 lanes leave it to the
# fallback). The softmax takes cpu.softmax, registered for aarch64 only (exp computed inline).
AARCH64_RULE = {"fallback": "cpu.pooling", "reduction": "cpu.softmax"}


def _kinds(func: Any) -> tuple[int, set[int]]:
    """(parallel loops, extents of the vectorized loops) of a scheduled PrimFunc, as printed."""
    text = func.script()
    vectors = {int(n) for n in re.findall(r"T\.vectorized\((?:\w+, )?(\d+)\)", text)}
    return text.count("T.parallel("), vectors


def test_isa_from_the_target_files() -> None:
    from ronn_aot.schedules.isa import isa_of
    from ronn_aot.targets import get_target

    neon = isa_of(tvm_target(AARCH64))
    assert (neon.vector_bits, neon.vector_registers, neon.l1d_bytes) == (128, 32, 32 << 10)
    assert (isa_of(tvm_target("x86_64-avx2")).vector_bits, isa_of(tvm_target("x86_64-avx2")).vector_registers) == (256, 16)
    assert isa_of(tvm_target("x86_64-avx512")).vector_registers == 32
    # Kernels are scheduled for the target file's cores unless the compile says otherwise.
    assert int(get_target(AARCH64).tvm_target().attrs["num-cores"]) == 4
    assert int(get_target(AARCH64).tvm_target(2).attrs["num-cores"]) == 2
    assert "num-cores" not in get_target("x86_64-avx2").tvm_target().attrs


def test_isa_of_an_undescribed_target() -> None:
    import tvm

    from ronn_aot.schedules.isa import isa_of

    other = tvm.target.Target({"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a55",
                               "mattr": ["+neon"]})
    assert (isa_of(other).vector_bits, isa_of(other).vector_registers) == (128, 32)


def test_cpu_rules_registered_for_aarch64() -> None:
    from ronn_aot.schedules import rules_for

    x86 = [r.name for r in rules_for("x86_64")]
    arm = [r.name for r in rules_for(AARCH64)]
    # written once: the same rules, in the same order, fallback last; aarch64 adds cpu.softmax and
    # cpu.int8_dot (the SDOT kernels of passes/int8_dot.py), x86-64 cpu.conv2d_nhwc_shallow
    # (measured there only; aarch64's cpu.conv2d_nhwc has its own implicit GEMM for such layers)
    assert [r for r in arm if r not in ("cpu.softmax", "cpu.int8_dot")] == \
        [r for r in x86 if r != "cpu.conv2d_nhwc_shallow"]
    assert arm[-1] == "cpu.fallback"


@pytest.mark.parametrize("case", ["dense", "dense_ragged", "conv2d_nhwc", "conv2d_nhwc_1x1",
                                  "conv2d_nhwc_implicit_gemm", "depthwise_conv2d_nhwc", "pooling",
                                  "reduction", "elementwise", "transpose", "winograd_input",
                                  "winograd_output", "fallback"])
def test_aarch64_rule_fires_with_threads_and_neon_vectors(case: str) -> None:
    from ronn_aot.stages.schedule import schedule_kernel
    from ronn_aot.targets import get_target

    func, rule = schedule_kernel(kernel(case, AARCH64), get_target(AARCH64), tvm_target(AARCH64))
    assert rule == AARCH64_RULE.get(case, CASES[case][1])
    x86_func, _ = schedule_kernel(kernel(case), get_target(TARGET), tvm_target())
    parallel, vectors = _kinds(func)
    x86_parallel, _ = _kinds(x86_func)
    assert parallel >= min(1, x86_parallel), f"{case}: no parallel loop on aarch64"
    # Vectors of 4 fp32 lanes or a few of them (LLVM splits 8- and 16-wide ones into q registers);
    # never the 8-lane tiles of AVX2.
    if vectors and case not in ("fallback", "reduction"):
        assert min(vectors) <= 16 and all(v % 4 == 0 or v < 4 for v in vectors), vectors


def test_dense_register_tile_uses_32_neon_registers() -> None:
    from ronn_aot.schedules.cpu.dense import register_tile

    mr, nr, width = register_tile(196, 256, lanes=4, registers=32)  # 14 x 2 vectors
    assert width == 4
    accumulators = mr * nr // width
    assert accumulators > 16  # more than AVX2's register file could hold
    assert accumulators + nr // width + 1 <= 32


@pytest.mark.parametrize("case", ["dense", "conv2d_nhwc_implicit_gemm"])
def test_neon_gemm_reads_a_by_lane(case: str) -> None:
    """[isa] fma_by_lane: the GEMM tile's A rows are loaded 4 k at a time into a local tile (one q
    register per row, read lane by lane by fmla); a convolution's input is first copied into GEMM
    form (reindex) so the tile's rows are one range. x86's tiles broadcast A's elements."""
    from ronn_aot.stages.schedule import schedule_kernel
    from ronn_aot.targets import get_target

    func, _ = schedule_kernel(kernel(case, AARCH64), get_target(AARCH64), tvm_target(AARCH64))
    text = func.script()
    assert re.search(r'T\.sblock\("\w+_local"\)', text), text
    x86_func, _ = schedule_kernel(kernel(case), get_target(TARGET), tvm_target())
    assert "_local" not in x86_func.script()


def test_neon_gemm_loads_a_lane_groups_per_k_loop() -> None:
    """The by-lane tile runs LANE_GROUPS groups of K_UNROLL k per iteration of its k loop: A's
    local tile is loaded in an unrolled loop of LANE_GROUPS under it (the loop's own instructions
    amortized over twice the FMAs). x86's tiles broadcast A and keep their golden schedules."""
    from tvm import s_tir, tirx

    from ronn_aot.schedules.cpu.dense import K_UNROLL, LANE_GROUPS
    from ronn_aot.stages.schedule import schedule_kernel
    from ronn_aot.targets import get_target

    func, _ = schedule_kernel(kernel("dense", AARCH64), get_target(AARCH64), tvm_target(AARCH64))
    sch = s_tir.Schedule(func)
    tile = sch.get_loops(sch.get_sblock("x_global_local"))
    update = [sch.get(lp) for lp in sch.get_loops(sch.get_sblock("matmul_update"))]
    shared = [lp for lp in tile if any(sch.get(lp).same_as(u) for u in update)]
    k_loop, group = shared[-2:]  # the tile sits in the group loop, under the k loop
    assert int(sch.get(group).extent) == LANE_GROUPS and sch.get(group).kind == tirx.ForKind.UNROLLED
    k = int(kernel("dense", AARCH64).params[0].ty.shape[-1])
    assert int(sch.get(k_loop).extent) == k // (LANE_GROUPS * K_UNROLL)
    lanes = tile[-1]
    assert int(sch.get(lanes).extent) == K_UNROLL and sch.get(lanes).kind == tirx.ForKind.VECTORIZED


def test_neon_gemm_packs_a_into_tile_rows() -> None:
    """A matmul's A is copied into [M/MR, K/4, MR, 4] before the NEON GEMM (dense._pack_a), so a
    tile's MR rows of 4 k are contiguous (ldp pairs); the local tile reads that copy, and the
    weights keep their own packing."""
    from tvm import s_tir

    from ronn_aot.schedules.cpu.dense import K_UNROLL
    from ronn_aot.stages.schedule import schedule_kernel
    from ronn_aot.targets import get_target

    before = kernel("dense", AARCH64)
    func, _ = schedule_kernel(before, get_target(AARCH64), tvm_target(AARCH64))
    sch = s_tir.Schedule(func)
    m, k = (int(d) for d in before.params[0].ty.shape)
    packed = sch.get(sch.get_sblock("x_global")).writes[0].source
    mr = int(packed.shape[-2])
    assert [int(d) for d in packed.shape] == [m // mr, k // K_UNROLL, mr, K_UNROLL]
    assert sch.get(sch.get_sblock("x_global_local")).reads[0].source.same_as(packed)
    x86_func, _ = schedule_kernel(kernel("dense"), get_target(TARGET), tvm_target())
    assert "x_global" not in x86_func.script()
