"""The TIR lowering pipeline every CPU kernel is built with: TVM's s_tir pipeline, plus one pass
that keeps register tiles on the stack.

Why: TVM's LowerTVMBuiltin turns every temporary buffer of 1 KiB or more into a
TVMBackendAllocWorkspace call (kMaxStackAlloca), and LLVM cannot promote heap memory to registers.
A register tile is such a buffer: the accumulators of a dense 8 x 32 AVX-512 micro-kernel are
exactly 1 KiB, a 7-pixel x 4-vector convolution tile 1.75 KiB. In workspace memory every FMA
loads and stores its accumulator; on the stack, after unrolling, LLVM's SROA keeps them in
registers. The pass marks temporaries up to MAX_STACK_BYTES with TVM's own
`disable_lower_builtin` annotation (which LowerTVMBuiltin honours) right before LowerTVMBuiltin
runs. Larger temporaries (packed panels, padded copies) stay workspace allocations: thread
stacks are not the place for hundreds of KiB.

TVM 0.27 has no Python statement mutator, so the annotation is written into the module's JSON
form (save_json / load_json), touching only the AllocBuffer nodes.
"""

from __future__ import annotations

import json
from typing import Any

PIPELINE = "ronn"
# Temporaries up to this size live on the stack (TVM's own limit is < 1 KiB). 4 KiB holds any
# register tile (32 AVX-512 registers are 2 KiB) with room for a spilled one; the runtime's
# threads have the default 8 MiB stacks, and a kernel has a handful of such tiles.
MAX_STACK_BYTES = 4096
_ANNOTATION = "disable_lower_builtin"


def _buffer_bytes(nodes: list[dict], var: dict) -> int | None:
    """Bytes of the buffer an AllocBuffer allocates (its data var's BufferType in the JSON graph:
    dtype a PrimType node, shape an Array of IntImm nodes), or None when the shape is not constant."""
    ty = nodes[var["data"]["ty"]]
    if ty.get("type") != "tirx.BufferType":
        return None
    bits = _dtype_bits(str(nodes[ty["data"]["dtype"]]["data"]["dtype"]))
    if bits is None:
        return None
    count = 1
    for idx in nodes[ty["data"]["shape"]]["data"]:
        dim = nodes[idx]
        if dim.get("type") != "ir.IntImm":
            return None
        count *= int(nodes[dim["data"]["value"]]["data"])
    return count * bits // 8


def _dtype_bits(dtype: str) -> int | None:
    import tvm

    try:
        t = tvm.DataType(dtype)
    except Exception:
        return None
    return t.bits * t.lanes


def keep_tiles_on_stack(mod: Any, limit: int = MAX_STACK_BYTES) -> Any:
    """`mod` with every AllocBuffer of at most `limit` bytes annotated to stay on the stack."""
    import tvm

    graph = json.loads(tvm.ir.save_json(mod))
    nodes = graph["nodes"]
    allocs = [n for n in nodes if n.get("type") == "tirx.AllocBuffer"]
    small = [n for n in allocs if (b := _buffer_bytes(nodes, nodes[n["data"]["buffer"]])) is not None
             and 0 < b <= limit]
    if not small:
        return mod

    def add(node: dict) -> int:
        nodes.append(node)
        return len(nodes) - 1

    none = add({"type": "None"})
    true = add({"type": "ir.IntImm", "data": {
        "span": none, "ty": add({"type": "ir.PrimType", "data": {"span": none, "dtype": "bool"}}),
        "value": add({"type": "int", "data": 1})}})
    key = add({"type": "ffi.String", "data": _ANNOTATION})
    for n in small:
        old = nodes[n["data"]["annotations"]]["data"] if isinstance(n["data"].get("annotations"), int) else []
        n["data"]["annotations"] = add({"type": "ffi.Map", "data": [*old, key, true]})
    return tvm.ir.load_json(json.dumps(graph))


def _pipeline_factory() -> tuple[Any, Any, Any]:
    import tvm
    from tvm import tirx
    from tvm.s_tir import pipeline as s_tir_pipeline

    lower, _, finalize_device = s_tir_pipeline.default_s_tir_pipeline()

    @tvm.transform.module_pass(opt_level=0, name="ronn.KeepTilesOnStack")
    def keep(mod: Any, _ctx: Any) -> Any:
        return keep_tiles_on_stack(mod)

    def finalize_host() -> Any:
        # s_tir's finalize_host_passes, with the annotation first.
        return tvm.ir.transform.Sequential([keep, tirx.transform.LowerTVMBuiltin(), tirx.transform.LowerIntrin()])

    return lower, finalize_host, finalize_device


def register() -> str:
    """Register the pipeline with TVM (idempotent); returns its name for `tvm.tirx.build(pipeline=)`."""
    from tvm.tirx import compilation_pipeline

    compilation_pipeline.register_tir_pipeline(PIPELINE, _pipeline_factory)
    return PIPELINE


def build(mod: Any, target: Any) -> Any:
    """`tvm.tirx.build` of a module of scheduled CPU kernels with this pipeline."""
    import tvm

    return tvm.tirx.build(mod, target=target, pipeline=register())


# MetaSchedule's builder workers build candidates with this function, so tuning times kernels as
# the compile builds them (a tile over 1 KiB would otherwise be timed in workspace memory).
METASCHEDULE_BUILD = "ronn.tir_pipeline.metaschedule_build"


def metaschedule_build(mod: Any, target: Any, _params: Any) -> Any:
    """MetaSchedule's default_build (s_tir/meta_schedule/builder/local_builder.py) with this pipeline."""
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    return build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target)


def register_metaschedule_build() -> None:
    """Register METASCHEDULE_BUILD in this process (the builder's worker initializer)."""
    import tvm

    tvm.register_global_func(METASCHEDULE_BUILD, metaschedule_build, override=True)
