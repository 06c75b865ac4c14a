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
    epilogue (bias, activation, residual add) runs on it before it is stored;
  - a strided convolution would gather its data vectors: a 1x1 one first copies the pixels it
    reads into a compact buffer, a stride-2 KxK one stores its padded data as four phase planes
    (even rows/columns apart), so either then loads contiguous vectors like a stride-1 one.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import (const_int, inline_injective_chain, largest_divisor,
                    num_cores, parallel_vectorize, top_blocks, vector_lanes, vector_registers)
from ._conv_match import ConvMatch, buffer_loads, is_copy, match_conv, read_index


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
    if strided:
        mr = largest_divisor(out_channels, max(1, min(16, budget // vectors)))
        yr = largest_divisor(out_h, max(1, budget // (mr * vectors)))
        return mr, yr, nr
    # The most accumulators that fit beside the row's data vectors (all live across the unrolled
    # channels) and the broadcast weight; ties: more channels. A short row (7 or 14 pixels) left
    # registers unused when at most 8 channels were tried (EfficientNet's 1x1 layers: 12 x 7).
    # Fewer channels and more rows measured slower (ResNet-50: each tile streams more input rows).
    floor = largest_divisor(out_channels, max(1, min(8, budget // vectors)))
    best = (0, floor, largest_divisor(out_h, max(1, budget // (floor * vectors))))
    for mr in range(floor, 13):
        if out_channels % mr == 0:
            yr = largest_divisor(out_h, max(1, (registers - 1) // (vectors * (mr + 1))))
            if yr * vectors * (mr + 1) <= registers - 1:
                best = max(best, (mr * yr * vectors, mr, yr))
    mr, yr = best[1], best[2]
    return mr, yr, nr


@register_rule("cpu.conv2d_nchw", arches=CPU_ARCHES, order=20)
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
    unpadded = all(is_copy(sch, pad) for pad in m.producers)
    phased = False
    if m.strided and len(m.producers) == 1 and not unpadded:
        phased = split_phases(sch, conv, m.producers[0], lanes, cores)
    for pad in m.producers:
        if is_copy(sch, pad):  # an identity "padding" (pad 0): read the data in place
            sch.compute_inline(pad)
        elif not phased:
            parallel_vectorize(sch, pad, lanes, cores)
    strided = m.strided
    if strided and m.kernel == (1, 1) and unpadded:
        subsample_data(sch, conv, m.weight, lanes, cores)
        strided = False
    elif phased:
        strided = False

    n, f, y, x, c, ky, kx = sch.get_loops(conv)
    mr, yr, nr = pick_tile(m.out_channels, m.out_h, m.out_w, lanes, vector_registers(target), strided)
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


def subsample_data(sch: Any, conv: Any, weight: Any, lanes: int, cores: int) -> None:
    """A strided 1x1 convolution reads every other pixel: copy those pixels once into a compact
    NCHW buffer, so that the convolution's data vectors are contiguous loads instead of gathers."""
    # reindex gives copy[n, y, x, c] = data[n, c, y * s, x * s]; store it as [n, c, y, x]
    copy = sch.reindex(conv, ("read", 1 - read_index(sch, conv, weight)))
    sch.transform_layout(copy, ("write", 0), lambda n, y, x, c: (n, c, y, x))
    n, y, x, c = sch.get_loops(copy)
    sch.reorder(n, c, y, x)
    parallel_vectorize(sch, copy, lanes, cores)


def _stride2(sch: Any, conv: Any, pad_buffer: Any) -> bool:
    """Whether the convolution reads the padded data at rows 2*y + ky and columns 2*x + kx."""
    import tvm

    block = sch.get(conv)
    _, _, y, x, _, ky, kx = (iv.var for iv in block.iter_vars)
    loads = [ld for ld in buffer_loads(block.body) if ld.source.same_as(pad_buffer)]
    if len(loads) != 1:
        return False
    az = tvm.sym.Analyzer()
    h, w = loads[0].indices[2], loads[0].indices[3]
    return bool(az.can_prove_equal(h - (y * 2 + ky), 0) and az.can_prove_equal(w - (x * 2 + kx), 0))


def split_phases(sch: Any, conv: Any, pad: Any, lanes: int, cores: int) -> bool:
    """A stride-2 convolution reads every other column: store the padded data as four phase
    planes [c, h % 2, w % 2, h // 2, w // 2], so tap (ky, kx) of a row of outputs is one
    contiguous run of plane (ky % 2, kx % 2). Only for even padded sizes: with an odd one
    (EfficientNet's stem, 224 + pads [0, 0, 1, 1]) the zero-filled ragged planes measured slower
    than the gathers."""
    pad_buffer = sch.get(pad).writes[0].source
    dims = [const_int(d) for d in pad_buffer.shape]
    if len(dims) != 4 or any(d is None or d % 2 for d in dims[2:]) or not _stride2(sch, conv, pad_buffer):
        return False
    phases = lambda n, c, h, w: (n, c, h % 2, w % 2, h // 2, w // 2)  # noqa: E731
    sch.transform_layout(pad, ("write", 0), phases)
    sch.transform_block_layout(pad, phases)
    parallel_vectorize(sch, pad, lanes, cores)
    return True
