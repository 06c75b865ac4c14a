"""Pooling and other window reductions (max/avg pool, sums over a stacked axis): one reduction
block whose innermost spatial axis is long enough to vectorize, elementwise blocks around it.

Schedule: padding and other producers are inlined (the window reads the input directly); the
reduction loops move outside the innermost spatial loop, which is vectorized, so each output
vector accumulates in a register over the window; outer spatial loops run in parallel and the
epilogue (the average's division) runs on each row.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import (MIN_PARALLEL_ELEMENTS, block_iter_kinds, const_int, inline_injective_chain,
                    largest_divisor, num_cores, top_blocks, vector_lanes)
from .conv2d_nchw import vectorize_tile


@register_rule("cpu.pooling", arches=CPU_ARCHES, order=30)
class Pooling:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        blocks = top_blocks(sch)
        kinds = [block_iter_kinds(sch, b) for b in blocks]
        reductions = [i for i, k in enumerate(kinds) if "R" in k]
        if len(reductions) != 1 or any(set(k) != {"S"} for i, k in enumerate(kinds) if i != reductions[0]):
            return None
        red = blocks[reductions[0]]
        kind = kinds[reductions[0]]
        spatial = kind.rstrip("R")
        if not spatial or set(spatial) != {"S"} or len(spatial) + kind.count("R") != len(kind):
            return None
        lanes, cores = vector_lanes(target), num_cores(target)
        extents = [const_int(sch.get(lp).extent) for lp in sch.get_loops(red)]
        if any(e is None for e in extents):
            return None
        inner = int(extents[len(spatial) - 1])  # type: ignore[arg-type]
        if inner < lanes // 2:
            return None  # nothing to vectorize across: the reduction rule takes it
        for producer in blocks[:reductions[0]]:
            sch.compute_inline(producer)
        epilogue = inline_injective_chain(sch, red)
        loops = sch.get_loops(red)
        outer, last, window = loops[:len(spatial) - 1], loops[len(spatial) - 1], loops[len(spatial):]
        vec = largest_divisor(inner, 2 * lanes) if inner % lanes == 0 else largest_divisor(inner, lanes)
        x_o, x_i = sch.split(last, factors=[None, vec])
        sch.reorder(*outer, x_o, *window, x_i)
        par = sch.fuse(*outer, x_o)
        total = 1
        for e in extents[:len(spatial)]:
            total *= int(e)  # type: ignore[arg-type]
        if cores > 1 and total >= MIN_PARALLEL_ELEMENTS // 4:
            sch.parallel(par)
        if epilogue is not None:
            sch.reverse_compute_at(epilogue, par)
        sch.vectorize(x_i)
        init = sch.decompose_reduction(red, window[0])
        vectorize_tile(sch, init, vec)
        if epilogue is not None:
            vectorize_tile(sch, epilogue, vec)
        return sch
