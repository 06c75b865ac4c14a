"""Transposes: injective kernels whose output's innermost axis is not the innermost axis of a
tensor they read (NCHW <-> NHWC at a model's boundaries after O3's layout choice, attention's
head splits and merges, a Transpose node), with any elementwise work fused into them.

Why not the elementwise rule: it fuses every loop into one and vectorizes that, so each lane of
a transposed read recomputes its input index from the fused one, a division and a modulo per
axis: NHWC -> NCHW of a 112x112x64 tensor (a stem's output) took 2.2 ms, 1.5 GB/s.

Schedule: the two axes that trade places (`w`, the output's innermost, and `c`, the innermost
index of the transposed read) are cut into tiles of TC x TW elements, TW one vector of the
output. Parallel over the other axes and the tiles; in a tile the TC output rows are unrolled,
each storing one vector along w whose lanes read TW input elements C apart: the tile reads TW
runs of TC contiguous input elements, so TC decides how much of each input cache line a visit
uses. That 112x112x64 NHWC -> NCHW, 2 threads, AVX2: 2.13 ms before, TC = 4: 0.66-0.72, 8: 0.43-
0.45, 16: 0.26-0.32, 32: 0.19-0.21, 64: 0.25-0.30 (AVX-512, TW = 16: 2.0 ms before, TC = 16: 0.27,
32: 0.23, 64: 0.19-0.23). Its input's NCHW -> NHWC (224x224x3): 0.07-0.11 -> 0.02 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import MIN_PARALLEL_ELEMENTS, const_int, largest_divisor, num_cores, vector_lanes
from ._conv_match import buffer_loads
from .elementwise import injective, inline_all


TILE_C_BYTES = 128  # TC x element size: two cache lines of each input run (measured above)


@dataclass(frozen=True)
class TransposeMatch:
    block: Any
    c: int  # position (in the output's loops) of the axis that is innermost in the read
    extents: list[int]
    element_bytes: int  # of the transposed read


def match_transpose(sch: Any) -> TransposeMatch | None:
    """The kernel's only block (after inlining) when it reads some tensor transposed: the read's
    last index is the block's iterator `c`, not its innermost `w`, and `w` indexes another axis."""
    import tvm

    if not injective(sch):
        return None
    blocks = inline_all(sch)
    if len(blocks) != 1:
        return None
    block = sch.get(blocks[0])
    ivs = [iv.var for iv in block.iter_vars]
    loops = sch.get_loops(blocks[0])
    if len(ivs) < 2 or len(loops) != len(ivs):
        return None
    w = ivs[-1]
    for load in buffer_loads(block.body):
        last = load.indices[-1]
        pos = next((i for i, v in enumerate(ivs[:-1]) if last.same_as(v)), None)
        if pos is not None and any(ix.same_as(w) for ix in load.indices[:-1]):
            extents = [const_int(sch.get(lp).extent) for lp in loops]
            bits = tvm.DataType(str(load.source.ty.dtype)).bits
            return TransposeMatch(blocks[0], pos, extents, max(1, bits // 8))
    return None


@register_rule("cpu.transpose", arches=CPU_ARCHES, order=9)
class Transpose:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_transpose(sch)
        if m is None:
            return None
        schedule_transpose(sch, m, vector_lanes(target), num_cores(target))
        return sch


def schedule_transpose(sch: Any, m: TransposeMatch, lanes: int, cores: int) -> None:
    loops = sch.get_loops(m.block)
    ext_c, ext_w = m.extents[m.c], m.extents[-1]
    tw = lanes  # a power of two: LLVM splits odd-sized vectors badly
    while ext_w % tw:
        tw //= 2
    tc = largest_divisor(ext_c, max(1, TILE_C_BYTES // m.element_bytes))
    c_o, c_i = sch.split(loops[m.c], factors=[None, tc])
    w_o, w_i = sch.split(loops[-1], factors=[None, tw])
    outer = [*loops[:m.c], c_o, *loops[m.c + 1:-1]]
    sch.reorder(*outer, w_o, c_i, w_i)
    par = sch.fuse(*outer, w_o)
    total = 1
    for e in m.extents:
        total *= e
    if cores > 1 and total >= MIN_PARALLEL_ELEMENTS:
        sch.parallel(par)
    sch.unroll(c_i)
    if tw >= 4:
        sch.vectorize(w_i)
    else:
        sch.unroll(w_i)
