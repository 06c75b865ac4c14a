"""The Winograd output transform (ronn_aot/passes/winograd.py) with the convolution's epilogue
fused after it: blocks `winograd_cols` (A^T down the 4 transform rows), `winograd_output` (A^T
along them, the 2x2 outputs of each tile) and the elementwise epilogue blocks.

Why not the elementwise rule: it vectorizes the fused output loops, so each output vector took
both rows of A^T for its row and its column, with selects on (y mod 2, x mod 2) that never fold,
and reloaded its tile's 16 values of m for each of the tile's four outputs: ResNet-50's 56x56
64-channel transform took 0.11 ms.

Schedule: everything inlined into the last block; its output pixels split into 2x2 tiles, the
tile's four outputs unrolled (the selects fold, LLVM shares the loads), channels vectorized,
parallel over tiles: 0.11 -> 0.077 ms.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import largest_divisor, num_cores, top_blocks, vector_lanes
from .elementwise import injective, inline_all

COLUMNS, OUTPUTS = "winograd_cols", "winograd_output"


@register_rule("cpu.winograd_output", arches=CPU_ARCHES, order=8)
class WinogradOutput:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        names = [sch.get(b).name_hint for b in top_blocks(sch)]
        if names[:2] != [COLUMNS, OUTPUTS] or not injective(sch):
            return None
        last = inline_all(sch)
        if len(last) != 1:
            return None
        n, y, x, k = sch.get_loops(last[0])
        lanes, cores = vector_lanes(target), num_cores(target)
        if int(sch.get(y).extent) % 2 or int(sch.get(x).extent) % 2:
            return None
        th, a = sch.split(y, factors=[None, 2])
        tw, b = sch.split(x, factors=[None, 2])
        k_o, k_i = sch.split(k, factors=[None, largest_divisor(int(sch.get(k).extent), lanes)])
        sch.reorder(n, th, tw, k_o, a, b, k_i)
        par = sch.fuse(n, th, tw)
        if cores > 1:
            sch.parallel(par)
        sch.unroll(a)
        sch.unroll(b)
        sch.vectorize(k_i)
        return sch
