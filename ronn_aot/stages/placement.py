"""Stage 5b, place (GPU targets): put every kernel argument in the memory of the processor that
runs the kernel, and insert the copies between host and device memory.

The plan built for the host already lays every tensor out in one arena, with no two live tensors
overlapping. The device gets an arena of the same size and layout: a tensor's device copy lives
at the same offset in the device arena as its host copy in the host arena (graph inputs and
outputs at their staging offsets), so the copies need no new memory planning. Weights are
uploaded once per session to the device in one piece, at the same offsets.

A simulation over the steps tracks, for each location, in which memory its current value is
valid; a kernel that reads a value not valid in its memory gets a copy step before it, and graph
outputs last written on the device are copied back at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..artifact.format import Plan, PlanStep, PlanTensor, StepKind, Storage
from ..errors import CompilationError

HOST, DEVICE = "host", "device"

# A location: (storage kind of its host copy, input/output number, byte offset, bytes).
_Key = tuple[Storage, int, int, int]


@dataclass
class Placement:
    plan: Plan
    device_arena_size: int
    copies_to_device: int = 0
    copies_to_host: int = 0
    notes: list[str] = field(default_factory=list)


def written_params(func: Any) -> set[int]:
    """Indices of the parameters of a PrimFunc whose buffers it stores into (its outputs)."""
    import tvm_ffi
    from tvm import tirx

    stored: set[Any] = set()

    def visit(node: Any) -> None:
        stored.add(node.buffer)

    tvm_ffi.structural_walk(func.body, [(tirx.BufferStore, visit)], order="post")
    # Parameters are buffer-typed variables, the very objects that stores name.
    return {i for i, p in enumerate(func.params) if p in stored}


def _key(t: PlanTensor) -> _Key:
    index = t.index if t.storage in (Storage.INPUT, Storage.OUTPUT) else 0
    return (t.storage, index, t.offset, t.nbytes)


class _Placer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tensors = list(plan.tensors)
        self.mirrors: dict[tuple[int, str], int] = {}
        self.valid: dict[_Key, set[str]] = {}
        self.steps: list[PlanStep] = []
        self.copies = {HOST: 0, DEVICE: 0}

    def on(self, tid: int, mem: str) -> int:
        """The id of the record for tensor `tid` in memory `mem` (made on first use)."""
        t = self.tensors[tid]
        if mem == HOST:
            return tid
        if (tid, mem) not in self.mirrors:
            ni = len(self.plan.inputs)
            if t.storage == Storage.WEIGHTS:
                rec = PlanTensor(t.name, Storage.DEVICE_WEIGHTS, t.dtype, t.shape, t.offset)
            elif t.storage == Storage.ARENA:
                rec = PlanTensor(t.name, Storage.DEVICE_ARENA, t.dtype, t.shape, t.offset)
            elif t.storage == Storage.INPUT:
                rec = PlanTensor(t.name, Storage.DEVICE_ARENA, t.dtype, t.shape,
                                 self.plan.stages[t.index] + t.offset)
            elif t.storage == Storage.OUTPUT:
                rec = PlanTensor(t.name, Storage.DEVICE_ARENA, t.dtype, t.shape,
                                 self.plan.stages[ni + t.index] + t.offset)
            else:
                raise CompilationError(f"tensor {tid} ({t.name!r}) is already a device record")
            self.mirrors[(tid, mem)] = len(self.tensors)
            self.tensors.append(rec)
        return self.mirrors[(tid, mem)]

    def valid_in(self, key: _Key) -> set[str]:
        if key not in self.valid:
            # Graph inputs start valid on the host; anything else has not been written yet.
            self.valid[key] = {HOST} if key[0] == Storage.INPUT else set()
        return self.valid[key]

    def ensure(self, tid: int, mem: str, reader: str) -> None:
        """Copy tensor `tid` into `mem` before `reader` runs unless it is valid there."""
        key = _key(self.tensors[tid])
        where = self.valid_in(key)
        if mem in where:
            return
        if not where:
            raise CompilationError(f"placement: {reader} reads tensor {tid} ({self.tensors[tid].name!r}) "
                                   "before any step writes it")
        src = HOST if mem == DEVICE else DEVICE
        self.steps.append(PlanStep(StepKind.COPY, [self.on(tid, src), self.on(tid, mem)],
                                   f"copy_to_{mem}_{self.tensors[tid].name or tid}"))
        self.copies[mem] += 1
        where.add(mem)

    def written(self, tid: int, mem: str) -> None:
        key = _key(self.tensors[tid])
        kind, index, offset, nbytes = key
        for other, where in self.valid.items():
            if (other != key and other[0] == kind and other[1] == index
                    and other[2] < offset + nbytes and offset < other[2] + other[3]):
                where.clear()  # overwritten in part: no memory holds that value any more
        self.valid[key] = {mem}

    def kernel(self, step: PlanStep, mem: str, outputs: set[int]) -> None:
        args = []
        for j, tid in enumerate(step.args):
            if self.tensors[tid].storage != Storage.WEIGHTS and j not in outputs:
                self.ensure(tid, mem, f"kernel {step.name}")
        for j, tid in enumerate(step.args):
            if j in outputs:
                self.written(tid, mem)
            args.append(self.on(tid, mem))
        self.steps.append(PlanStep(StepKind.KERNEL, args, step.name, step.kernel))

    def copy(self, step: PlanStep) -> None:
        src, dst = step.args
        where = self.valid_in(_key(self.tensors[src]))
        mem = HOST if HOST in where or not where else DEVICE
        self.steps.append(PlanStep(StepKind.COPY, [self.on(src, mem), dst], step.name))
        self.written(dst, HOST)


def place(plan: Plan, kernels: list[str], on_device: set[str], outputs_of: dict[str, set[int]]) -> Placement:
    """The plan with device records and copies for the kernels named in `on_device`.

    `kernels` is the kernel table (indexed by steps), `outputs_of` the parameter indices each
    kernel writes.
    """
    p = _Placer(plan)
    for step in plan.steps:
        if step.kind == StepKind.KERNEL:
            name = kernels[step.kernel]
            p.kernel(step, DEVICE if name in on_device else HOST, outputs_of[name])
        else:
            p.copy(step)
    for tid in plan.outputs:
        p.ensure(tid, HOST, "the graph output")
    placed = Plan(p.tensors, p.steps, plan.inputs, plan.outputs, plan.arena_size, plan.stages,
                  plan.metadata)
    return Placement(placed, plan.arena_size, p.copies[DEVICE], p.copies[HOST])


def place_kernels(mod: Any, plan: Plan, kernels: list[str], on_device: set[str]) -> Placement:
    """`place` for the lowered module `mod`: each kernel's outputs are the parameters it stores into."""
    outputs_of = {name: written_params(mod[mod.get_global_var(name)]) for name in kernels}
    return place(plan, kernels, on_device, outputs_of)
