"""Graph inputs are read at the caller's element alignment (ronn_aot/stages/input_alignment.py): the
kernels' input parameters are compiled without the 64-byte assumption, the plan says so, and a
NumPy input 4-60 bytes off a 64-byte boundary runs in place with the same results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

import ronn_aot
import ronn_aot.build as build
from ronn_aot.artifact.format import Plan, PlanStep, PlanTensor, StepKind, Storage
from ronn_aot.stages.input_alignment import input_params
from ronn_aot.artifact.inspect import inspect_artifact
from helpers import onnxruntime_outputs, run_artifact

SHAPE = (3, 37, 64)


def concat_model() -> onnx.ModelProto:
    """A copy kernel: LLVM loads x with plain vector moves (vmovaps under the 64-byte assumption,
    which faults on a misaligned address) rather than folding them into arithmetic."""
    x = oh.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))
    y = oh.make_tensor_value_info("y", TensorProto.FLOAT, [2 * SHAPE[0], *SHAPE[1:]])
    graph = oh.make_graph([oh.make_node("Concat", ["x", "x"], ["y"], axis=0)], "concat", [x], [y])
    return oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])


def offset_array(shape: tuple[int, ...], offset: int, seed: int) -> np.ndarray:
    """A float32 array whose data start `offset` bytes after a 64-byte boundary."""
    n = int(np.prod(shape))
    raw = np.empty(4 * n + 128, np.uint8)
    start = -raw.ctypes.data % 64 + offset
    x = raw[start:start + 4 * n].view(np.float32).reshape(shape)
    x[...] = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return x


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The concat model's artifact, and the kernels' parameter alignments as compiled."""
    seen: dict[str, Any] = {}
    relax = build.relax_input_alignment

    def spy(mod: Any, plan: Plan, kernels: list[str], on_device: frozenset[str] = frozenset()) -> Any:
        mod, plan = relax(mod, plan, kernels, on_device)
        for name in kernels:
            func = mod[mod.get_global_var(name)]
            seen[name] = [int(p.ty.data_alignment) for p in func.params]
        return mod, plan

    out = tmp_path_factory.mktemp("align") / "concat.so"
    build.relax_input_alignment = spy
    try:
        ronn_aot.compile(concat_model(), ronn_aot.CompileOptions().with_output(out))
    finally:
        build.relax_input_alignment = relax
    return out, seen


def test_the_plan_marks_the_input_and_only_it(compiled) -> None:
    plan = inspect_artifact(compiled[0]).plan
    aligns = {(t.name, t.storage): t.align for t in plan.tensors}
    assert aligns[("x", Storage.INPUT)] == 4
    assert all(t.align == 0 for t in plan.tensors if t.storage != Storage.INPUT)


def test_only_input_parameters_lose_the_64_byte_assumption(compiled) -> None:
    (params,) = compiled[1].values()  # one kernel: concat(x, x) -> y
    assert params == [4, 4, 64], params


@pytest.mark.parametrize("offset", [0, 4, 16, 36])
def test_misaligned_inputs_give_the_same_results(compiled, offset: int) -> None:
    x = offset_array(SHAPE, offset, seed=offset)
    assert x.ctypes.data % 64 == offset
    (y,) = run_artifact(compiled[0], {"x": x}, threads=2)
    np.testing.assert_array_equal(y, np.concatenate([x, x]))


def test_a_convolution_reads_a_misaligned_input(tmp_path: Path) -> None:
    """The residual block (conv, batch norm, add, relu) on an input 16 bytes off, as NumPy
    allocates large arrays, against onnxruntime."""
    from graphs import CASES

    model, feeds = CASES["residual_block"]()
    moved = {}
    for name, value in feeds.items():
        moved[name] = offset_array(value.shape, 16, seed=0)
        moved[name][...] = value
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "residual.so"))
    assert all(t.align == 4 for t in inspect_artifact(art.path).plan.tensors if t.storage == Storage.INPUT)
    got = run_artifact(art.path, moved, threads=2)
    for g, e in zip(got, onnxruntime_outputs(model, feeds)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_inputs_read_on_a_device_keep_the_64_byte_assumption() -> None:
    tensors = [PlanTensor("x", Storage.INPUT, "float32", (4,)),
               PlanTensor("z", Storage.INPUT, "float32", (4,), index=1),
               PlanTensor("t", Storage.ARENA, "float32", (4,)),
               PlanTensor("y", Storage.OUTPUT, "float32", (4,))]
    steps = [PlanStep(StepKind.KERNEL, [0, 2], "host_k", 0),
             PlanStep(StepKind.KERNEL, [2, 1, 3], "gpu_k", 1),  # z is read on the device
             PlanStep(StepKind.KERNEL, [0, 3], "host_k", 0)]
    plan = Plan(tensors, steps, inputs=[0, 1], outputs=[3], arena_size=64, stages=[0, 0, 0])
    params, relaxed = input_params(plan, ["host_k", "gpu_k"], frozenset({"gpu_k"}))
    assert params == {"host_k": {0}}
    assert relaxed == {0}
