"""The place stage on hand-made plans (no TVM): copies appear exactly where a kernel reads a value
last written in the other memory, and device records mirror host offsets."""

from __future__ import annotations

from ronn_aot.artifact.format import Plan, PlanStep, PlanTensor, StepKind, Storage
from ronn_aot.stages.placement import place

F = "float32"


def _plan() -> Plan:
    # x -> a = dev(x, w) -> b = host(a) -> y = dev(b, w)
    tensors = [PlanTensor("x", Storage.INPUT, F, (16,)), PlanTensor("w", Storage.WEIGHTS, F, (16,)),
               PlanTensor("a", Storage.ARENA, F, (16,), 0), PlanTensor("b", Storage.ARENA, F, (16,), 64),
               PlanTensor("y", Storage.OUTPUT, F, (16,))]
    steps = [PlanStep(StepKind.KERNEL, [0, 1, 2], "dev1", 0), PlanStep(StepKind.KERNEL, [2, 3], "host", 1),
             PlanStep(StepKind.KERNEL, [3, 1, 4], "dev2", 2)]
    return Plan(tensors, steps, [0], [4], arena_size=256, stages=[128, 192])


def test_copies_around_a_host_kernel() -> None:
    placed = place(_plan(), ["dev1", "host", "dev2"], {"dev1", "dev2"},
                   {"dev1": {2}, "host": {1}, "dev2": {2}})
    p = placed.plan
    names = [s.name for s in p.steps]
    assert names == ["copy_to_device_x", "dev1", "copy_to_host_a", "host", "copy_to_device_b", "dev2",
                     "copy_to_host_y"]
    assert (placed.copies_to_device, placed.copies_to_host) == (2, 2)
    dev1 = p.steps[1]
    storages = [p.tensors[a].storage for a in dev1.args]
    assert storages == [Storage.DEVICE_ARENA, Storage.DEVICE_WEIGHTS, Storage.DEVICE_ARENA]
    # Device copies: inputs and outputs at their staging offsets, arena tensors at theirs.
    assert p.tensors[dev1.args[0]].offset == 128 and p.tensors[dev1.args[2]].offset == 0
    assert [p.tensors[a].storage for a in p.steps[3].args] == [Storage.ARENA, Storage.ARENA]
    assert p.tensors[p.steps[5].args[2]].offset == 192 and p.steps[6].args[1] == 4


def test_all_on_host_needs_no_copies() -> None:
    placed = place(_plan(), ["dev1", "host", "dev2"], set(), {"dev1": {2}, "host": {1}, "dev2": {2}})
    assert [s.name for s in placed.plan.steps] == ["dev1", "host", "dev2"]
    assert not any(t.storage.on_device for t in placed.plan.tensors)
