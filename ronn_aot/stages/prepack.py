"""Weight pre-packing: schedule rules may store a constant weight in the layout their micro-kernel
streams (e.g. a convolution's HWIO weights as [F/NR, KH, KW, C, NR], so one output-channel tile's
panel is contiguous instead of NR floats every F*4 bytes); this module does the compile-time half.

The protocol, in three steps around the schedule stage:
  1. `constant_params(plan, kernels)`: which parameters of each kernel are weights (constants in
     the weights blob) at every one of its call sites; the schedule stage hands them to the rules
     as the PrimFunc attribute CONSTANT_PARAMS_ATTR. A rule may `transform_layout` only those.
  2. `packed_params(original, scheduled)`: after a rule, the parameters whose shape changed and
     the IndexMap the rule applied to each (read back from the schedule's trace).
  3. `apply_packing(built, packings)`: rewrite those weights in the blob with the same IndexMaps
     and give their plan tensors the packed shapes. A weight that something else also reads (an
     unpacked use, another kernel, another packing) is copied, never changed under its other users.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..artifact.format import PlanTensor, StepKind, Storage, align_up, tensor_nbytes
from ..errors import CompilationError

CONSTANT_PARAMS_ATTR = "ronn.constant_params"


@dataclass(frozen=True)
class Packing:
    param: int  # the kernel parameter (= plan step argument) index
    index_map: Any  # tvm.tirx.IndexMap from the original weight layout to the packed one


def constant_params(plan: Any, kernels: list[str]) -> dict[str, list[int]]:
    """Kernel name -> parameter indices that are weights at every call of the kernel."""
    found: dict[str, set[int] | None] = {}
    for step in plan.steps:
        if step.kind != StepKind.KERNEL:
            continue
        name = kernels[step.kernel]
        here = {i for i, t in enumerate(step.args) if plan.tensors[t].storage == Storage.WEIGHTS}
        prev = found.get(name)
        found[name] = here if prev is None else prev & here
    return {k: sorted(v) for k, v in found.items() if v}


def with_constant_params(func: Any, params: list[int]) -> Any:
    """`func` annotated for the rules (step 1)."""
    return func.with_attr(CONSTANT_PARAMS_ATTR, params) if params else func


def allowed_params(func: Any) -> set[int]:
    """The parameters a rule may repack (read from the annotation of step 1)."""
    attrs = func.attrs
    if attrs is None or CONSTANT_PARAMS_ATTR not in attrs:
        return set()
    return {int(i) for i in attrs[CONSTANT_PARAMS_ATTR]}


def _shape(param: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in param.shape)


def packed_params(original: Any, sch: Any) -> list[Packing]:
    """The parameters whose layout the schedule `sch` transformed, with their IndexMaps (step 2)."""
    scheduled = sch.mod["main"]
    # A schedule may also transform buffers of its own (cpu.dense packs A into a local copy):
    # only maps of the parameter's rank can be its packing.
    maps = [inst.inputs[1] for inst in sch.trace.insts if inst.kind.name == "TransformLayout"]
    out = []
    for i, (p0, p1) in enumerate(zip(original.params, scheduled.params)):
        before, after = _shape(p0), _shape(p1)
        if before == after:
            continue
        match = [m for m in maps if len(m.initial_indices) == len(before)
                 and tuple(int(d) for d in m.map_shape(list(before))) == after]
        if not match:
            raise CompilationError(f"parameter {i} of a kernel changed shape {before} -> {after} "
                                   "without a layout transformation in its schedule's trace")
        out.append(Packing(i, match[0]))
    return out


_NUMPY_OPS = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "FloorDiv": np.floor_divide, "FloorMod": np.mod,
}


def _evaluate(expr: Any, env: dict[Any, np.ndarray]) -> Any:
    """An index expression (variables, integer constants, + - * // %) over numpy index grids."""
    kind = type(expr).__name__
    if kind == "Var":
        return env[expr]
    if kind == "IntImm":
        return int(expr.value)
    if kind in _NUMPY_OPS:
        return _NUMPY_OPS[kind](_evaluate(expr.a, env), _evaluate(expr.b, env))
    raise CompilationError(f"weight pre-packing: unsupported index expression {expr} ({kind})")


def _transform(arr: np.ndarray, index_map: Any) -> np.ndarray:
    """`arr` stored in the layout `index_map` gives, as numpy scatters. (IndexMap.map_tensor does
    the same element by element: 30 s for ResNet-50's 100 MB of weights.)"""
    grids = np.indices(arr.shape, dtype=np.int64, sparse=True)
    env = {v: g for v, g in zip(index_map.initial_indices, grids)}
    shape = tuple(int(d) for d in index_map.map_shape(list(arr.shape)))
    out = np.zeros(shape, arr.dtype)
    new = [np.broadcast_to(_evaluate(e, env), arr.shape) for e in index_map.final_indices]
    out[tuple(new)] = arr
    return out


def apply_packing(built: Any, packings: dict[str, list[Packing]]) -> Any:
    """`built` (a plan_builder.BuiltPlan) with the packed weights (step 3)."""
    if not any(packings.values()):
        return built
    plan = built.plan
    blob = bytearray(built.weights)
    tensors = list(plan.tensors)
    kernel_of = {i: name for i, name in enumerate(built.kernels)}
    # Every (tensor, kernel, param) use, to know whether a weight may be packed in place.
    uses: dict[int, set[tuple[str, int]]] = {}
    for step in plan.steps:
        for a, t in enumerate(step.args):
            key = (kernel_of.get(step.kernel, "") if step.kind == StepKind.KERNEL else "", a)
            uses.setdefault(t, set()).add(key)
    packed: dict[tuple[int, str, int], int] = {}  # (tensor, kernel, param) -> packed tensor id
    steps = []
    for step in plan.steps:
        name = kernel_of.get(step.kernel) if step.kind == StepKind.KERNEL else None
        args = list(step.args)
        for p in packings.get(name, []) if name else []:
            t = args[p.param]
            key = (t, name, p.param)
            if key not in packed:
                src = tensors[t]
                if src.storage != Storage.WEIGHTS:
                    raise CompilationError(f"kernel {name} repacked parameter {p.param}, which is not a weight")
                raw = bytes(blob[src.offset:src.offset + src.nbytes])  # a copy: the blob may grow
                arr = np.frombuffer(raw, dtype=src.dtype).reshape(src.shape)
                new = np.ascontiguousarray(_transform(arr, p.index_map))
                if uses[t] == {(name, p.param)} and new.nbytes == tensor_nbytes(src.dtype, src.shape):
                    blob[src.offset:src.offset + new.nbytes] = new.tobytes()  # only this use: in place
                    tensors[t] = replace(src, shape=tuple(new.shape))
                    packed[key] = t
                else:
                    blob += b"\0" * (align_up(len(blob)) - len(blob))
                    tensors.append(PlanTensor(f"{src.name}.packed", Storage.WEIGHTS, src.dtype,
                                              tuple(new.shape), len(blob)))
                    blob += new.tobytes()
                    packed[key] = len(tensors) - 1
            args[p.param] = packed[key]
        steps.append(replace(step, args=args))
    new_plan = replace(plan, tensors=tensors, steps=steps)
    return replace(built, plan=new_plan, weights=bytes(blob),
                   notes=built.notes + [f"{len(packed)} weights pre-packed for their kernels"])
