"""Stage between schedule and codegen: kernels read graph inputs at the caller's alignment.

Why: every kernel parameter is a TVM buffer with data_alignment 64, which MakePackedAPI turns
into an alignment fact LLVM may use (an aligned vector load faults on a misaligned address). So
the runtime staged every input whose data was not 64-byte aligned, and NumPy puts large arrays
16 bytes off a page: a 1024x1024 float32 input cost a 0.26 ms copy per run, 3% of the matmul it
feeds. On x86 an unaligned vector load is as fast as an aligned one when the data happen to be
aligned, and barely slower when they are not, so the parameters that receive a graph input are
compiled with their element size as alignment, and the plan records it (PlanTensor.align); the
runtime then reads any element-aligned input in place.

Not relaxed: an input that a device kernel reads (the runtime copies inputs to the device
anyway), and a kernel parameter that is not a plain buffer.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..artifact.format import Plan, StepKind, Storage, dtype_to_dl


def element_bytes(dtype: str) -> int:
    return max(1, dtype_to_dl(dtype)[1] // 8)


def input_params(plan: Plan, kernels: list[str],
                 on_device: frozenset[str]) -> tuple[dict[str, set[int]], set[int]]:
    """(kernel name -> parameters that receive a graph input at some call, the plan tensors
    stored in a graph input that only host kernels and copies read)."""
    params: dict[str, set[int]] = {}
    relaxed = {i for i, t in enumerate(plan.tensors) if t.storage == Storage.INPUT}
    for step in plan.steps:
        if step.kind != StepKind.KERNEL:
            continue
        name = kernels[step.kernel]
        for p, t in enumerate(step.args):
            if t not in relaxed:
                continue
            if name in on_device:
                relaxed.discard(t)
            else:
                params.setdefault(name, set()).add(p)
    return params, relaxed


def _relax_func(func: Any, params: set[int]) -> Any | None:
    """`func` with parameters `params` compiled at their element size's alignment, or None when
    one of them is not a buffer. Edits the function's JSON form: TVM 0.27 has no Python API to
    rebuild a parameter's buffer type."""
    import tvm

    if any(type(func.params[p].ty).__name__ != "BufferType" for p in params):
        return None
    graph = json.loads(tvm.ir.save_json(func))
    nodes = graph["nodes"]
    param_ids = nodes[nodes[graph["root_index"]]["data"]["params"]]["data"]
    for p in sorted(params):
        var = nodes[param_ids[p]]
        ty = nodes[var["data"]["ty"]]
        align = element_bytes(str(func.params[p].ty.dtype))
        # A copy of the type, so that no other variable sharing the node changes with it.
        nodes.append({"type": ty["type"], "data": {**ty["data"], "data_alignment": align}})
        var["data"]["ty"] = len(nodes) - 1
    return tvm.ir.load_json(json.dumps(graph))


def relax_input_alignment(mod: Any, plan: Plan, kernels: list[str],
                          on_device: frozenset[str] = frozenset()) -> tuple[Any, Plan]:
    """`mod` with the kernels' graph-input parameters compiled at element alignment, and `plan`
    with those input tensors marked so (`PlanTensor.align`)."""
    params, relaxed = input_params(plan, kernels, on_device)
    for name, ps in params.items():
        gv = mod.get_global_var(name)
        new = _relax_func(mod[gv], ps)
        if new is None:  # keeps the 64-byte assumption, so the runtime keeps staging these inputs
            for step in plan.steps:
                if step.kind == StepKind.KERNEL and kernels[step.kernel] == name:
                    relaxed.difference_update(step.args[p] for p in ps)
            continue
        mod[gv] = new
    tensors = [replace(t, align=element_bytes(t.dtype)) if i in relaxed else t
               for i, t in enumerate(plan.tensors)]
    return mod, replace(plan, tensors=tensors)
