"""The rules' design spaces for `ronn-aot tune` (schedules/base.py: split): a rule applied with
`tunable=True` schedules a kernel exactly as the rule does, with its tile sizes as sampled
instructions; every other point of that space MetaSchedule may try computes the same result,
with the weights repacked the way the trace says (the compile repacks them from the same trace)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx
import pytest
from onnx import helper

from graphs import make_model, w
from kernels import CASES, kernel_of, run_kernel, tvm_target


def _dense_k_slices() -> onnx.ModelProto:  # K in several slices (K > KC_MAX), B packed
    x = w(16, 768, seed=21, scale=1.0)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(768, 64, seed=22)})


def _conv1x1_gemm() -> onnx.ModelProto:  # a 1x1 convolution with > 256 KiB of weights: the GEMM path
    x = w(1, 256, 4, 4, seed=23, scale=1.0)
    return make_model([helper.make_node("Conv", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(320, 256, 1, 1)})


# case -> (model, rule, optimization level)
SPACES: dict[str, tuple[Callable[[], onnx.ModelProto], str, int]] = {
    "dense": (CASES["dense"][0], "cpu.dense", 2),
    "dense_k_slices": (_dense_k_slices, "cpu.dense", 2),
    "conv2d_nhwc": (CASES["conv2d_nhwc"][0], "cpu.conv2d_nhwc", 3),
    "depthwise_conv2d_nhwc": (CASES["depthwise_conv2d_nhwc"][0], "cpu.conv2d_nhwc", 3),
    "conv1x1_gemm": (_conv1x1_gemm, "cpu.conv2d_nhwc", 3),
}


def _space(case: str) -> tuple[Any, Any, Any, Any]:
    """(kernel annotated with its constant weights, target, rule schedule, tunable schedule)."""
    from ronn_aot.stages.prepack import with_constant_params
    from ronn_aot.schedules import get_rule

    make, rule, level = SPACES[case]
    func = kernel_of(make(), case, level)
    func = with_constant_params(func, list(range(1, len(func.params) - 1)))  # all but data and output
    target = tvm_target()
    with target:
        fixed = get_rule(rule).rule.apply(func, target, False)
        tunable = get_rule(rule).rule.apply(func, target, True)
    assert fixed is not None and tunable is not None, f"{rule} does not take the {case} kernel"
    return func, target, fixed, tunable


def _scheduled(func: Any, sch: Any) -> Any:
    from ronn_aot.stages.schedule import scheduled_func

    return scheduled_func(func, sch)[0]


@pytest.mark.parametrize("case", sorted(SPACES))
def test_design_space_starts_at_the_rule(case: str) -> None:
    import tvm_ffi

    from ronn_aot.schedules.base import is_tunable

    func, _, fixed, tunable = _space(case)
    assert is_tunable(tunable) and not is_tunable(fixed)
    assert tvm_ffi.structural_equal(_scheduled(func, tunable), _scheduled(func, fixed))



@pytest.mark.parametrize("case", sorted(SPACES))
def test_sampled_points_match_the_unscheduled_kernel(case: str) -> None:
    """Random tile sizes (what the search's initial population draws), replayed as MetaSchedule
    replays a record, and the weights transformed as the compile transforms them."""
    from tvm import s_tir
    from tvm.s_tir import Trace

    from ronn_aot.stages.prepack import _transform, packed_params
    from ronn_aot.stages.records import workload_of

    func, target, _, tunable = _space(case)
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.standard_normal([int(d) for d in p.ty.shape]), dtype=str(p.ty.dtype))
            for p in func.params]
    expected = run_kernel(func.without_attr("ronn.constant_params"), target, [a.copy() for a in args])
    seen = set()
    for seed in range(1, 7):
        sch = s_tir.Schedule(workload_of(func), seed=seed)
        Trace(tunable.trace.insts, {}).apply_to_schedule(sch, remove_postproc=True)
        decisions = tuple(str(v) for v in sch.trace.decisions.values())
        seen.add(decisions)
        point = [a.copy() for a in args]
        for p in packed_params(func, sch):
            point[p.param] = _transform(point[p.param], p.index_map)
        np.testing.assert_allclose(run_kernel(_scheduled(func, sch), target, point), expected, rtol=1e-5, atol=1e-4)
    assert len(seen) > 1  # the points differ: the sizes are really sampled
