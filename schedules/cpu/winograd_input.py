"""The Winograd input transform (ronn_aot/passes/winograd.py): one block, `winograd_input`,
V[4a + b, t, c] = (B^T d B)[a, b] over tile t's 4x4 window d of the (implicitly padded) input.

Why not the elementwise rule: it fuses the loops and vectorizes the innermost, so the transform
point (a, b) varies inside the vector loop's nest and its select over B^T's rows never folds:
ResNet-50's 14x14 256-channel transform took 0.25 ms, a third of the layer's matmul.

Schedule: parallel over tiles; for each vector of channels the 16 points unrolled, so each point's
selects fold to its few additions and the 16 window vectors are loaded once for all of them
(LLVM shares the loads between the unrolled points). 14x14 256 channels 0.017-0.024 ms, 56x56 64
channels 0.06-0.08 (a first version materialized B^T d one stage before: 0.025 and 0.12).
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import largest_divisor, num_cores, top_blocks, vector_lanes

POINTS = "winograd_input"


@register_rule("cpu.winograd_input", arches=CPU_ARCHES, order=8)
class WinogradInput:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        blocks = {sch.get(b).name_hint: b for b in top_blocks(sch)}
        if set(blocks) != {POINTS}:
            return None
        lanes, cores = vector_lanes(target), num_cores(target)
        # points[ab, t, c]: parallel over t, ab unrolled, c vectorized
        ab, t, c = sch.get_loops(blocks[POINTS])
        c_o, c_i = sch.split(c, factors=[None, largest_divisor(int(sch.get(c).extent), lanes)])
        sch.reorder(t, c_o, ab, c_i)
        if cores > 1:
            sch.parallel(t)
        sch.unroll(ab)
        sch.vectorize(c_i)
        return sch

