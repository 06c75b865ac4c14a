"""The Winograd input transform (ronn_aot/passes/winograd.py): two blocks, `winograd_rows`
(B^T applied down each 4-row window: [4, tiles_h, W + 2, C]) and `winograd_input` (B^T along the
rows' 4 columns: [16, tiles, C]).

Why not the elementwise rule: it inlines the first block into the second, so every output
recomputed four window rows (16 loads per element instead of 4), and it vectorizes one fused loop
with the transform point (a, b) inside it, where the select on the point's row of B^T cannot fold:
ResNet-50's 14x14 256-channel transform took 0.25 ms, as much as a third of the layer's matmul.

Schedule: each block on its own, the transform point unrolled innermost but one (its selects
fold to one addition), the channels vectorized, parallel over tiles (rows) or tiles (points).
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from ..base import largest_divisor, num_cores, top_blocks, vector_lanes

ROWS, POINTS = "winograd_rows", "winograd_input"


@register_rule("x86.winograd_input", arches=("x86_64",), order=8)
class WinogradInput:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        blocks = {sch.get(b).name_hint: b for b in top_blocks(sch)}
        if set(blocks) != {ROWS, POINTS}:
            return None
        lanes, cores = vector_lanes(target), num_cores(target)
        # rows[a, th, x, c]: parallel over (th, x), a unrolled, c vectorized
        a, th, x, c = sch.get_loops(blocks[ROWS])
        c_o, c_i = sch.split(c, factors=[None, largest_divisor(int(sch.get(c).extent), lanes)])
        sch.reorder(th, x, c_o, a, c_i)
        par = sch.fuse(th, x)
        if cores > 1:
            sch.parallel(par)
        sch.unroll(a)
        sch.vectorize(c_i)
        # points[ab, t, c]: parallel over t, ab unrolled, c vectorized
        ab, t, c = sch.get_loops(blocks[POINTS])
        c_o, c_i = sch.split(c, factors=[None, largest_divisor(int(sch.get(c).extent), lanes)])
        sch.reorder(t, c_o, ab, c_i)
        if cores > 1:
            sch.parallel(t)
        sch.unroll(ab)
        sch.vectorize(c_i)
        return sch
