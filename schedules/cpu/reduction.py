"""Row reductions with their elementwise companions: softmax, layer norm, RMS norm, mean over the
innermost axes. TVM's dlight CPU `Reduction` rule fits them (leading spatial axes in parallel,
every block computed under them, injective blocks vectorized), so this rule delegates to it.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import block_iter_kinds, const_int, num_cores, top_blocks


@register_rule("cpu.reduction", arches=CPU_ARCHES, order=40)
class Reduction:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir
        from tvm.s_tir.dlight.cpu import Reduction as DlightReduction

        if _rows(s_tir.Schedule(func)) < 2 * num_cores(target):
            return None  # too few rows to share out: a serial loop (the fallback) is faster
        sch = DlightReduction().apply(func, target, tunable)
        if isinstance(sch, list):
            sch = sch[0] if sch else None
        return sch


def _rows(sch: Any) -> int:
    """Product of the leading spatial extents of the first block (the rows the rule shares out)."""
    blocks = top_blocks(sch)
    if not blocks:
        return 0
    rows = 1
    kinds = block_iter_kinds(sch, blocks[0])
    for kind, iv in zip(kinds, sch.get(blocks[0]).iter_vars):
        if kind != "S":
            break
        rows *= const_int(iv.dom.extent) or 1
    return rows
