"""conv2d, NCHW data and OIHW weights (groups = 1), with its fused elementwise epilogue.

Recognized structurally: one reduction block with iterators SSSSRRR (n, f, y, x | c, ky, kx)
whose weight read is [f, c, ky, kx] and whose data read takes channel c; optionally one padding
block before it and elementwise blocks after it.

Schedule (register-blocked direct convolution):
  - output tile = MR output channels x NR output pixels, NR a multiple of the vector width when the
    row allows it; a 1x1 stride-1 unpadded convolution is a GEMM, so its rows are fused into one
    pixel axis (contiguous in memory) before tiling;
  - loops: parallel(n, f_o, y, x_o) / c, ky, kx / f_i (unrolled) / x_i (vectorized): each weight is
    broadcast once per tile step, each data vector loaded once for MR FMAs;
  - the accumulator tile lives in a tile-sized buffer that LLVM keeps in registers, and the
    epilogue (bias, activation, residual add) runs on it before it is stored.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from ..base import (const_int, inline_injective_chain, largest_divisor,
                    num_cores, parallel_vectorize, top_blocks, vector_lanes, vector_registers)
from ._conv_match import ConvMatch, is_copy, match_conv


def pick_tile(out_channels: int, out_h: int, row: int, lanes: int, registers: int,
              strided: bool = False) -> tuple[int, int, int]:
    """(MR, YR, NR): output channels, rows and pixels per row of one register tile. A strided
    convolution gathers its data vectors, so it shares each over more channels (one vector wide)."""
    nr = 0
    for nvec in ((1, 2) if strided else (2, 1, 4, 3)):
        if row % (nvec * lanes) == 0:
            nr = nvec * lanes
            break
    if nr == 0:  # no multiple of the vector width divides the row: one partial vector
        nr = largest_divisor(row, lanes)
    vectors = -(-nr // lanes)
    budget = registers - 4  # accumulators; the rest hold data vectors and the broadcast weight
    mr = largest_divisor(out_channels, max(1, min(16 if strided else 8, budget // vectors)))
    yr = largest_divisor(out_h, max(1, budget // (mr * vectors)))
    return mr, yr, nr


@register_rule("x86.conv2d_nchw", arches=("x86_64",), order=20)
class Conv2dNCHW:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_conv(sch, func)
        if m is None or m.depthwise:
            return None
        schedule_conv(sch, func, m, target)
        return sch


def schedule_conv(sch: Any, func: Any, m: ConvMatch, target: Any) -> None:
    lanes, cores = vector_lanes(target, m.dtype), num_cores(target)
    conv = m.block
    epilogue = inline_injective_chain(sch, conv)
    if epilogue is None:
        # The convolution writes the kernel's output: accumulate in a tile buffer instead.
        epilogue = sch.cache_write(conv, 0, "global")
    for pad in m.producers:
        if is_copy(sch, pad):  # an identity "padding" (pad 0): read the data in place
            sch.compute_inline(pad)
        else:
            parallel_vectorize(sch, pad, lanes, cores)

    n, f, y, x, c, ky, kx = sch.get_loops(conv)
    mr, yr, nr = pick_tile(m.out_channels, m.out_h, m.out_w, lanes, vector_registers(target), m.strided)
    f_o, f_i = sch.split(f, factors=[None, mr])
    y_o, y_i = sch.split(y, factors=[None, yr])
    x_o, x_i = sch.split(x, factors=[None, nr])
    sch.reorder(n, f_o, y_o, x_o, c, ky, kx, f_i, y_i, x_i)
    par = sch.fuse(n, f_o, y_o, x_o)
    if cores > 1:
        sch.parallel(par)
    sch.reverse_compute_at(epilogue, par)
    sch.unroll(f_i)
    sch.unroll(y_i)
    sch.vectorize(x_i)
    init = sch.decompose_reduction(conv, c)
    vectorize_tile(sch, init, nr)
    vectorize_tile(sch, epilogue, nr)


def vectorize_tile(sch: Any, block: Any, width: int, first: int = 1) -> None:
    """Vectorize the innermost loop of `block` below its first `first` (outer, tile) loops: when
    it is `width` long, unroll the loops between; otherwise fuse them and split off `width`."""
    inner = list(sch.get_loops(block))[first:]
    if not inner:
        return
    if const_int(sch.get(inner[-1]).extent) == width:
        sch.vectorize(inner[-1])
        for lp in inner[:-1]:
            sch.unroll(lp)
        return
    fused = sch.fuse(*inner) if len(inner) > 1 else inner[0]
    total = const_int(sch.get(fused).extent) or 0
    vec = largest_divisor(total, width)
    if vec > 1:
        _, vi = sch.split(fused, factors=[None, vec])
        sch.vectorize(vi)
