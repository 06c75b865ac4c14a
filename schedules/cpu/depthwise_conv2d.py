"""Depthwise conv2d (NCHW, one input channel per group), with its fused elementwise epilogue.

Recognized by the shared convolution matcher: reduction block SSSSRRR with one input channel and
the data channel equal to the output channel.

Schedule: vectorize over channels, not pixels. Output rows are 7, 14, 28... pixels wide, which no
8- or 16-lane vector divides, and a stride-2 row reads every other pixel; a block of `lanes`
channels is always contiguous once it is innermost. So, per block of `lanes` channels (the
parallel loop):
  - the padded input plane is copied (padding included) into a channels-innermost local buffer
    [Hp, Wp, lanes], and the block's weights into [KH, KW, lanes];
  - each register tile of YR rows x XR pixels holds YR*XR accumulator vectors over the KHxKW
    window: one weight vector and one input vector per FMA, all loads contiguous;
  - the epilogue (bias, activation) runs on each finished tile and writes the NCHW output.
At most 256 bits of channels per block (see below).
A channel count that the vector width does not divide takes its largest divisor below it as the
block (narrower vectors).
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import inline_injective_chain, largest_divisor, num_cores, vector_lanes, vector_registers
from ._conv_match import match_conv, read_index


def _bits(dtype: str) -> int:
    import tvm

    return int(tvm.DataType(dtype).bits)


def pick_tile(out_h: int, out_w: int, registers: int) -> tuple[int, int]:
    """(YR, XR): rows and pixels of one register tile, one accumulator vector per pixel."""
    budget = registers - 4  # the rest hold the weight vector and input vectors
    xr = largest_divisor(out_w, min(budget, 14))
    yr = largest_divisor(out_h, max(1, budget // xr))
    return yr, xr


def _to_blocked(sch: Any, block: Any, buffer: tuple[str, int], lanes: int) -> None:
    """Lay a 4-D [n, c, h, w] buffer out as [n, c // lanes, h, w, c % lanes]."""
    sch.transform_layout(block, buffer, lambda n, c, h, w: (n, c // lanes, h, w, c % lanes))


@register_rule("cpu.depthwise_conv2d", arches=CPU_ARCHES, order=21)
class DepthwiseConv2d:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_conv(sch, func)
        if m is None or not m.depthwise:
            return None
        # At most 256 bits of channels: the kernel is bound by streaming the planes through the
        # cache, not by FMAs, and a wider channel block doubles each block's working set (AVX-512
        # with 16 channels measured ~15% slower than 8 on EfficientNet-Lite0's depthwise layers).
        lanes = largest_divisor(m.out_channels, min(vector_lanes(target, m.dtype), 256 // _bits(m.dtype)))
        cores = num_cores(target)
        conv = m.block
        epilogue = inline_injective_chain(sch, conv)
        if epilogue is None:
            epilogue = sch.cache_write(conv, 0, "global")
        # Step 1. The data and weight copies the tile reads, channels innermost.
        for pad in m.producers[:-1]:
            sch.compute_inline(pad)
        weight_index = read_index(sch, conv, m.weight)
        data_copy = m.producers[-1] if m.producers else sch.cache_read(conv, 1 - weight_index, "global")
        weight_copy = sch.cache_read(conv, weight_index, "global")
        _to_blocked(sch, data_copy, ("write", 0), lanes)
        sch.transform_layout(weight_copy, ("write", 0),
                             lambda f, c, ky, kx: (f // lanes, c, ky, kx, f % lanes))
        _to_blocked(sch, conv, ("write", 0), lanes)
        # Step 2. Tile: parallel over channel blocks, YR x XR pixels of `lanes` channels in registers.
        yr, xr = pick_tile(m.out_h, m.out_w, vector_registers(target) if lanes > 1 else 8)
        n, f, y, x, c, ky, kx = sch.get_loops(conv)
        f_o, f_i = sch.split(f, factors=[None, lanes])
        y_o, y_i = sch.split(y, factors=[None, yr])
        x_o, x_i = sch.split(x, factors=[None, xr])
        sch.reorder(n, f_o, y_o, x_o, c, ky, kx, y_i, x_i, f_i)
        block_loop = sch.fuse(n, f_o)
        if cores > 1:
            sch.parallel(block_loop)
        sch.unroll(kx)
        sch.unroll(y_i)
        sch.unroll(x_i)
        sch.vectorize(f_i)
        init = sch.decompose_reduction(conv, c)
        *_, init_y, init_x, init_f = sch.get_loops(init)
        sch.unroll(init_y)
        sch.unroll(init_x)
        sch.vectorize(init_f)
        # Step 3. The copies run once per channel block, before its tiles: channel lane innermost
        # (the weight's lanes vectorized; the data's unrolled, each lane a row-contiguous read).
        sch.compute_at(weight_copy, block_loop)
        w_f, *w_rest = sch.get_loops(weight_copy)[1:]
        sch.reorder(*w_rest, w_f)
        sch.vectorize(w_f)
        sch.compute_at(data_copy, block_loop)
        d_c, d_h, d_w = sch.get_loops(data_copy)[-3:]
        sch.reorder(d_h, d_w, d_c)
        sch.unroll(d_c)
        # Step 4. The epilogue runs on each tile while it is in registers and writes NCHW rows.
        sch.reverse_compute_at(epilogue, x_o)
        return sch
