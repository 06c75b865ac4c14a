"""Elementwise / injective kernels (bias, activations, batch norm in inference, reshape, transpose,
concat, pad...): every block is spatial.

Schedule: inline every block into its consumer (one pass over memory instead of one per op),
then fuse each remaining loop nest, vectorize its innermost elements and run the rest in parallel.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import block_iter_kinds, const_int, num_cores, parallel_vectorize, top_blocks, vector_lanes


def injective(sch: Any) -> bool:
    """Whether every block of the kernel is spatial with constant loop extents."""
    blocks = top_blocks(sch)
    if not blocks or any(set(block_iter_kinds(sch, b)) - {"S"} for b in blocks):
        return False
    return all(const_int(sch.get(lp).extent) is not None for b in blocks for lp in sch.get_loops(b))


def inline_all(sch: Any) -> list[Any]:
    """Inline every top-level block that can be (not those writing the kernel's outputs)."""
    for block in top_blocks(sch)[:-1]:
        try:
            sch.compute_inline(block)
        except Exception:  # writes an output of the kernel, or is read by several blocks
            continue
    return top_blocks(sch)


@register_rule("cpu.elementwise", arches=CPU_ARCHES, order=10)
class Elementwise:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        if not injective(sch):
            return None
        lanes, cores = vector_lanes(target), num_cores(target)
        for block in inline_all(sch):
            parallel_vectorize(sch, block, lanes, cores)
        return sch
