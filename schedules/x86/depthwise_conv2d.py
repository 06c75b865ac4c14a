"""Depthwise conv2d (NCHW, one input channel per group), with its fused elementwise epilogue.

Recognized by the shared convolution matcher: reduction block SSSSRRR with one input channel and
the data channel equal to the output channel.

Schedule: each output channel is independent, so (n, channel) runs in parallel; the padding is one
parallel vectorized pass; each tile of YR rows x NR
pixels keeps its accumulators in registers over the KHxKW window, with pixels vectorized.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from ..base import (inline_injective_chain, largest_divisor, num_cores, parallel_vectorize, vector_lanes,
                    vector_registers)
from ._conv_match import is_copy, match_conv
from .conv2d_nchw import vectorize_tile


@register_rule("x86.depthwise_conv2d", arches=("x86_64",), order=21)
class DepthwiseConv2d:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_conv(sch, func)
        if m is None or not m.depthwise:
            return None
        lanes, cores = vector_lanes(target, m.dtype), num_cores(target)
        conv = m.block
        epilogue = inline_injective_chain(sch, conv)
        if epilogue is None:
            epilogue = sch.cache_write(conv, 0, "global")
        nr = next((v * lanes for v in (2, 1) if m.out_w % (v * lanes) == 0), 0) or largest_divisor(m.out_w, lanes)
        vectors = -(-nr // lanes)
        yr = largest_divisor(m.out_h, max(1, (vector_registers(target) - 4) // (2 * vectors)))
        n, f, y, x, c, ky, kx = sch.get_loops(conv)
        y_o, y_i = sch.split(y, factors=[None, yr])
        x_o, x_i = sch.split(x, factors=[None, nr])
        sch.reorder(n, f, y_o, x_o, c, ky, kx, y_i, x_i)
        plane = sch.fuse(n, f)
        if cores > 1:
            sch.parallel(plane)
        tile = sch.fuse(y_o, x_o)
        sch.reverse_compute_at(epilogue, tile)
        for pad in m.producers:
            if is_copy(sch, pad):
                sch.compute_inline(pad)
            else:
                sch.compute_inline(pad)
        sch.unroll(y_i)
        sch.vectorize(x_i)
        init = sch.decompose_reduction(conv, c)
        vectorize_tile(sch, init, nr, first=2)
        vectorize_tile(sch, epilogue, nr, first=2)
        return sch
