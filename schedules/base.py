"""What the rules share: the target's vector width, registers and core count (from its ISA
description, isa.py), block analysis, and the schedule steps every rule uses (inline elementwise
chains, parallel + vectorize a spatial nest)."""

from __future__ import annotations

import os
from typing import Any

from .isa import isa_of


def vector_bits(target: Any) -> int:
    """Width of the target's vector registers in bits."""
    return isa_of(target).vector_bits


def vector_lanes(target: Any, dtype: str = "float32") -> int:
    """How many elements of `dtype` one vector register holds on `target`."""
    import tvm

    return max(1, vector_bits(target) // tvm.DataType(dtype).bits)


def max_accumulators(width: int, dtype_bytes: int = 4, limit: int | None = None) -> int:
    """The most accumulator vectors of `width` lanes a register tile may hold and still stay on the
    stack (`limit` bytes, default: what our build keeps there). A tile buffer allocated with
    TVMBackendAllocWorkspace lives in memory instead: LLVM does not promote it to registers, so
    every FMA loads and stores its accumulator (EfficientNet-Lite0's depthwise kernels at 28
    AVX-512 accumulators: three loads and a store per FMA). TVM's own limit is under 1 KiB (15
    AVX-512 vectors); our build raises it (ronn_aot/backends/tir_pipeline.py)."""
    from ronn_aot.backends.tir_pipeline import MAX_STACK_BYTES

    return max(1, (limit or MAX_STACK_BYTES) // (width * dtype_bytes))


def vector_registers(target: Any) -> int:
    """Architectural vector registers (NEON and AVX-512 have 32, AVX2 16)."""
    return isa_of(target).vector_registers


def num_cores(target: Any) -> int:
    """Cores the kernels are scheduled for (target `num-cores`, else this machine's)."""
    n = target.attrs.get("num-cores") if target is not None else None
    if n:
        return int(n)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def const_int(x: Any) -> int | None:
    """`x` as a Python int when it is a constant, else None."""
    import tvm

    if isinstance(x, int):
        return x
    if isinstance(x, tvm.tirx.IntImm):
        return int(x.value)
    return None


def largest_divisor(n: int, limit: int, multiple_of: int = 1) -> int:
    """The largest d <= limit dividing n with d % multiple_of == 0 (1 if none)."""
    for d in range(min(n, limit), 0, -1):
        if n % d == 0 and d % multiple_of == 0:
            return d
    return 1


def split(sch: Any, loop: Any, factors: list[int | None], tunable: bool = False,
          max_innermost: int | None = None) -> list[Any]:
    """`sch.split(loop, factors)`; when tuning (`tunable`), the same split as a sampled perfect tile
    whose decision is these factors. The rule's schedule is then one point of a MetaSchedule design
    space (ronn_aot/tools/tune.py), and the search moves the factors from there (MutateTileSize) while
    the rule's structure (loop order, where the epilogue runs, how weights are packed) stays.
    `max_innermost` bounds the innermost factor the search may try (default: the rule's)."""
    if not tunable:
        return list(sch.split(loop, factors=factors))
    extent = const_int(sch.get(loop).extent)
    if extent is None:
        raise ValueError("a tunable split needs a constant loop extent")
    known = 1
    for f in factors:
        known *= f or 1
    decision = [extent // known if f is None else int(f) for f in factors]
    inner = max(max_innermost or 0, decision[-1])
    sampled = sch.sample_perfect_tile(loop, n=len(factors), max_innermost_factor=inner, decision=decision)
    return list(sch.split(loop, factors=sampled))


def is_tunable(sch: Any) -> bool:
    """Whether a schedule samples any of its choices (a design space, not a single schedule)."""
    return any(inst.kind.name.startswith("Sample") for inst in sch.trace.insts)


def block_iter_kinds(sch: Any, block: Any) -> str:
    """The kinds of a block's iterators as a string: "S" spatial, "R" reduction, "O" other."""
    import tvm

    kinds = {tvm.tirx.IterVar.DataPar: "S", tvm.tirx.IterVar.CommReduce: "R"}
    return "".join(kinds.get(iv.iter_type, "O") for iv in sch.get(block).iter_vars)


def top_blocks(sch: Any) -> list[Any]:
    """The blocks directly under the function's root, in order."""
    return list(sch.get_child_blocks(sch.get_sblock("root")))


def inline_injective_chain(sch: Any, keep: Any) -> Any:
    """Inline the elementwise blocks after `keep` into the last one; returns that last block.

    After FuseTIR a kernel like conv2d+add+clip is a reduction block followed by one block per
    elementwise op, each writing a full-size intermediate. Inlining them leaves one epilogue that
    reads the reduction's result once, so it can run on the tile while it is hot.
    """
    blocks = top_blocks(sch)
    names = [sch.get(b).name_hint for b in blocks]
    start = names.index(sch.get(keep).name_hint)
    chain = blocks[start + 1:]
    for b in chain[:-1]:
        sch.compute_inline(b)
    return chain[-1] if chain else None


# Below this many output elements a parallel launch costs more than it saves.
MIN_PARALLEL_ELEMENTS = 16384


def parallel_vectorize(sch: Any, block: Any, lanes: int, cores: int, max_vector: int = 4) -> None:
    """Schedule a spatial loop nest: fuse it, vectorize the innermost elements and run the rest in
    parallel. Only for blocks whose loops are all spatial and constant."""
    loops = sch.get_loops(block)
    if not loops:
        return
    extents = [const_int(sch.get(lp).extent) for lp in loops]
    if any(e is None for e in extents):
        return
    total = 1
    for e in extents:
        total *= int(e)  # type: ignore[arg-type]
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    vec = largest_divisor(total, lanes * max_vector, lanes)
    if vec > 1:
        outer, vloop = sch.split(fused, factors=[None, vec])
        sch.vectorize(vloop)
    else:
        outer = fused
    if cores > 1 and total >= MIN_PARALLEL_ELEMENTS:
        sch.parallel(outer)


def pack_constant(sch: Any, func: Any, block: Any, buffer: Any, index_map: Any) -> bool:
    """Store the weight `buffer` that `block` reads in the layout `index_map` gives, when it is a
    parameter that is a compile-time constant at every call of the kernel (ronn_aot/stages/prepack.py:
    the compile applies the same map to the weight's bytes). Returns whether it did."""
    from ronn_aot.stages.prepack import allowed_params

    allowed = allowed_params(func)
    names = [p.name for p in func.params]
    if buffer.name not in names or names.index(buffer.name) not in allowed:
        return False
    reads = [r.source.name for r in sch.get(block).reads]
    if buffer.name not in reads:
        return False
    sch.transform_layout(block, ("read", reads.index(buffer.name)), index_map)
    return True
