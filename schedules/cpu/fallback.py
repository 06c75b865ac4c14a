"""The fallback, tried last: takes every kernel. Loop nests of spatial blocks are fused, vectorized
and parallelized; blocks with reductions get their leading spatial loops fused and run in
parallel (never reordered, so any reduction stays correct)."""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import (MIN_PARALLEL_ELEMENTS, block_iter_kinds, const_int, num_cores, parallel_vectorize,
                    top_blocks, vector_lanes)


@register_rule("cpu.fallback", arches=CPU_ARCHES, order=1000)
class Fallback:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        lanes, cores = vector_lanes(target), num_cores(target)
        for block in top_blocks(sch):
            loops = sch.get_loops(block)
            extents = [const_int(sch.get(lp).extent) for lp in loops]
            if not loops or any(e is None for e in extents):
                continue
            kinds = block_iter_kinds(sch, block)
            if set(kinds) == {"S"} and len(kinds) == len(loops):
                parallel_vectorize(sch, block, lanes, cores)
                continue
            leading = len(kinds) - len(kinds.lstrip("S"))
            if leading == 0 or len(kinds) != len(loops):
                continue
            total = 1
            for e in extents[:leading]:
                total *= int(e)  # type: ignore[arg-type]
            if cores > 1 and total >= 2 * cores:
                fused = sch.fuse(*loops[:leading]) if leading > 1 else loops[0]
                sch.parallel(fused)
        return sch
