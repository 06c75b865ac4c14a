"""Stage 4, plan: turn the lowered Relax `main` into the artifact's execution plan.

After static memory planning, `main` is a straight line of: storage allocations, tensors placed
in storages, direct calls of PrimFuncs (kernels) on tensors, reshapes (views), and constants.
We interpret it once at compile time and record what the runtime must do: one arena holding
every storage at a fixed offset, the weights blob, and the list of kernel calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..artifact.format import Plan, PlanStep, PlanTensor, StepKind, Storage, align_up, tensor_nbytes
from ..errors import CompilationError, ShapeError
from .frontend import TensorSpec


@dataclass
class _Region:
    """A storage: arena bytes owned by one alloc_storage / builtin.alloc_tensor."""

    size: int
    offset: int = -1  # arena offset once laid out
    output: int = -1  # graph output number, when re-homed into the caller's output buffer


@dataclass
class _Tensor:
    storage: Storage
    dtype: str
    shape: tuple[int, ...]
    offset: int = 0
    index: int = 0  # input number or weight number
    region: _Region | None = None
    name: str = ""


_SHAPE_VALUE = object()  # a Relax shape value; never a kernel argument
# No device this compiler targets holds a tensor of 2^36 elements (256 GiB of float32); a bigger
# one comes from a corrupted or hostile model, and its offsets would overflow the artifact's
# 64-bit fields further on.
MAX_TENSOR_ELEMENTS = 1 << 36


@dataclass
class BuiltPlan:
    plan: Plan
    weights: bytes
    kernels: list[str]  # PrimFunc names, in kernel-table order
    weight_bytes: int
    kernel_steps: int = 0
    notes: list[str] = field(default_factory=list)


def _shape_of(ty: Any, what: str) -> tuple[str, tuple[int, ...]]:
    from tvm import relax

    if not isinstance(ty, relax.TensorType) or ty.shape is None:
        raise CompilationError(f"{what} is not a tensor of known shape ({ty})")
    dims = []
    for d in ty.shape.values:
        if not hasattr(d, "value"):
            raise CompilationError(f"{what} has a dynamic dimension {d} after import; "
                                   "give static shapes with --input-shape")
        dims.append(int(d.value))
    if any(d < 0 for d in dims):
        raise ShapeError(f"{what} has the negative shape {tuple(dims)}: an operator's attributes do not "
                         "fit its input (a window or padding larger than the input, a bad axis or "
                         "slice); check the attributes of the operator that produces it")
    elements = 1
    for d in dims:
        elements *= d
    if elements > MAX_TENSOR_ELEMENTS:
        raise ShapeError(f"{what} of shape {tuple(dims)} has {elements:,} elements, more than the "
                         f"{MAX_TENSOR_ELEMENTS:,} a tensor may: check the model's input shapes and "
                         "the dimensions it computes")
    return str(ty.dtype), tuple(dims)


def build_plan(mod: Any, inputs: list[TensorSpec], output_names: list[str],
               metadata: dict[str, Any]) -> BuiltPlan:
    """Interpret the lowered `main` and produce the plan, the weights blob and the kernel list."""
    import tvm
    from tvm import relax

    func = mod["main"]
    env: dict[Any, Any] = {}  # relax.Var -> _Tensor | tuple | _Region
    tensors: list[_Tensor] = []
    weights: list[np.ndarray] = []
    weight_ids: dict[Any, _Tensor] = {}  # keyed by the constant node (hash = object handle)
    regions: list[_Region] = []
    kernels: dict[str, int] = {}
    steps: list[tuple[StepKind, int, list[_Tensor], str]] = []

    def new(t: _Tensor) -> _Tensor:
        tensors.append(t)
        return t

    def const(c: Any) -> _Tensor:
        if c not in weight_ids:
            arr = c.value.numpy()
            weight_ids[c] = new(_Tensor(Storage.WEIGHTS, str(arr.dtype), tuple(arr.shape),
                                        index=len(weights)))
            weights.append(np.ascontiguousarray(arr))
        return weight_ids[c]

    def value(e: Any, what: str) -> Any:
        if isinstance(e, tvm.ir.GenericConst):
            return const(e)
        if isinstance(e, relax.Var) and e in env:
            return env[e]
        if isinstance(e, relax.Tuple):
            return tuple(value(f, what) for f in e.fields)
        raise CompilationError(f"{what}: cannot place expression {type(e).__name__} {e}")

    if len(func.params) != len(inputs):
        raise CompilationError(f"lowered main takes {len(func.params)} inputs, model has {len(inputs)}")
    for i, (param, spec) in enumerate(zip(func.params, inputs)):
        env[param] = new(_Tensor(Storage.INPUT, spec.dtype, spec.shape, index=i, name=spec.name))

    for block in func.body.blocks:
        for b in block.bindings:
            v, e = b.var, b.value
            what = f"binding {v.name}"
            if isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.Op):
                op = e.op.name
                if op == "relax.memory.alloc_storage":
                    size = int(e.args[0].values[0].value)
                    env[v] = _Region(align_up(size))
                    regions.append(env[v])
                elif op == "relax.memory.alloc_tensor":
                    region = env[e.args[0]]
                    dtype, shape = _shape_of(v.ty, what)
                    env[v] = new(_Tensor(Storage.ARENA, dtype, shape, int(e.args[1].value),
                                         region=region))
                elif op == "relax.builtin.alloc_tensor":
                    dtype, shape = _shape_of(v.ty, what)
                    t = _Tensor(Storage.ARENA, dtype, shape)
                    t.region = _Region(align_up(max(tensor_nbytes(dtype, shape), 1)))
                    regions.append(t.region)
                    env[v] = new(t)
                elif op == "relax.reshape":
                    src = value(e.args[0], what)
                    dtype, shape = _shape_of(v.ty, what)
                    env[v] = new(_Tensor(src.storage, dtype, shape, src.offset, src.index, src.region))
                elif op == "relax.shape_of":
                    # Shapes are static: kernels have them baked in; only Relax-level uses remain.
                    env[v] = _SHAPE_VALUE
                elif op in ("relax.memory.kill_storage", "relax.memory.kill_tensor"):
                    pass
                else:
                    raise CompilationError(f"{what}: operator {op} survived lowering; ronn-aot has "
                                           "no runtime support for it")
            elif isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.GlobalVar):
                callee = mod[e.op]
                if not isinstance(callee, tvm.tirx.PrimFunc):
                    raise CompilationError(f"{what}: calls Relax function {e.op.name_hint}; "
                                           "only kernel calls are supported after lowering")
                args = [value(a, f"{what} argument {i}") for i, a in enumerate(e.args)]
                if any(not isinstance(a, _Tensor) for a in args):
                    raise CompilationError(f"{what}: kernel {e.op.name_hint} takes a non-tensor argument")
                k = kernels.setdefault(e.op.name_hint, len(kernels))
                steps.append((StepKind.KERNEL, k, args, e.op.name_hint))
            elif isinstance(e, (relax.Var, relax.Tuple, tvm.ir.GenericConst)):
                env[v] = value(e, what)
            elif isinstance(e, relax.TupleGetItem):
                env[v] = value(e.tuple_value, what)[e.index]
            else:
                raise CompilationError(f"{what}: unsupported expression {type(e).__name__} after lowering")

    result = value(func.body.body, "function result")
    outs = list(result) if isinstance(result, tuple) else [result]
    if len(outs) != len(output_names):
        raise CompilationError(f"lowered main returns {len(outs)} values, model has {len(output_names)} outputs")

    # Outputs: write kernels' results straight into the caller's buffer when the producing storage
    # holds nothing else the caller could see; otherwise copy at the end.
    out_tensors: list[_Tensor] = []
    copies: list[tuple[_Tensor, _Tensor]] = []
    for j, (t, name) in enumerate(zip(outs, output_names)):
        dst = new(_Tensor(Storage.OUTPUT, t.dtype, t.shape, index=j, name=name))
        out_tensors.append(dst)
        reg = t.region
        if (t.storage == Storage.ARENA and reg is not None and reg.output < 0 and t.offset == 0
                and sum(1 for u in outs if u.region is reg) == 1):
            reg.output = j
        else:
            copies.append((t, dst))

    # Lay out the arena: each storage region at a 64-aligned offset, then io staging areas.
    arena = 0
    for reg in regions:
        if reg.output < 0:
            reg.offset = arena
            arena += reg.size
    in_tensors = [t for t in tensors if t.storage == Storage.INPUT and t.name]
    stages = []
    for t in in_tensors + out_tensors:
        stages.append(arena)
        arena += align_up(max(tensor_nbytes(t.dtype, t.shape), 1))

    # Weights blob: each weight 64-aligned.
    blob = bytearray()
    w_offsets = []
    for w in weights:
        blob += b"\0" * (align_up(len(blob)) - len(blob))
        w_offsets.append(len(blob))
        blob += w.tobytes()

    ids: dict[int, int] = {}
    records: list[PlanTensor] = []

    def tid(t: _Tensor) -> int:
        if id(t) not in ids:
            if t.storage == Storage.WEIGHTS:
                rec = PlanTensor(t.name, Storage.WEIGHTS, t.dtype, t.shape, w_offsets[t.index] + t.offset)
            elif t.storage == Storage.INPUT or t.storage == Storage.OUTPUT:
                rec = PlanTensor(t.name, t.storage, t.dtype, t.shape, t.offset, t.index)
            elif t.region is not None and t.region.output >= 0:
                rec = PlanTensor(t.name, Storage.OUTPUT, t.dtype, t.shape, t.offset, t.region.output)
            else:
                assert t.region is not None
                rec = PlanTensor(t.name, Storage.ARENA, t.dtype, t.shape, t.region.offset + t.offset)
            ids[id(t)] = len(records)
            records.append(rec)
        return ids[id(t)]

    plan_steps = [PlanStep(kind, [tid(a) for a in args], name, k) for kind, k, args, name in steps]
    plan_steps += [PlanStep(StepKind.COPY, [tid(src), tid(dst)], f"copy_output_{dst.index}")
                   for src, dst in copies]
    plan = Plan(records, plan_steps, [tid(t) for t in in_tensors], [tid(t) for t in out_tensors],
                align_up(arena), stages, metadata)
    return BuiltPlan(plan, bytes(blob), list(kernels), sum(w.nbytes for w in weights), len(steps))
