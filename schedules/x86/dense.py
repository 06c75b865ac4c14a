"""Dense: matmul / batch matmul / Gemm (after legalization: C[.., i, j] += A[.., i, k] * B[.., k, j],
B usually a constant weight), with the fused elementwise epilogue (bias, activation).

Recognized structurally: one reduction block with iterators S..SR (one reduction axis) reading
A[..., i, k] and B[..., k, j]; the other blocks elementwise.

Schedule: register tile of MR rows x NR columns (NR a multiple of the vector width): for each k
one B row segment is loaded as vectors and each A element broadcast (an outer-product
micro-kernel); tiles run in parallel; the epilogue runs on the tile before it is stored.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from ..base import (block_iter_kinds, const_int, inline_injective_chain, largest_divisor, num_cores,
                    top_blocks, vector_lanes, vector_registers)
from ._conv_match import buffer_loads
from .conv2d_nchw import vectorize_tile


def match_dense(sch: Any) -> Any:
    """The matmul block when the kernel is a (batched) matmul with an epilogue, else None."""
    blocks = top_blocks(sch)
    kinds = [block_iter_kinds(sch, b) for b in blocks]
    reductions = [i for i, k in enumerate(kinds) if "R" in k]
    if len(reductions) != 1 or any(set(k) != {"S"} for i, k in enumerate(kinds) if i != reductions[0]):
        return None
    idx = reductions[0]
    if idx != 0 or not kinds[idx].endswith("SSR") or kinds[idx].count("R") != 1:
        return None
    block = sch.get(blocks[idx])
    ivs = [iv.var for iv in block.iter_vars]
    i, j, k = ivs[-3:]
    out = block.writes[0].source
    loads = [ld for ld in buffer_loads(block.body) if not ld.source.same_as(out)]
    if len(loads) != 2 or any(const_int(iv.dom.extent) is None for iv in block.iter_vars):
        return None
    a = [ld for ld in loads if ld.indices[-2].same_as(i) and ld.indices[-1].same_as(k)]
    b = [ld for ld in loads if ld.indices[-2].same_as(k) and ld.indices[-1].same_as(j)]
    if len(a) != 1 or len(b) != 1:
        return None
    return blocks[idx]


@register_rule("x86.dense", arches=("x86_64",), order=25)
class Dense:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        mm = match_dense(sch)
        if mm is None:
            return None
        lanes, cores = vector_lanes(target), num_cores(target)
        loops = sch.get_loops(mm)
        *batch, i, j, k = loops
        m_ext, n_ext = (const_int(sch.get(lp).extent) for lp in (i, j))
        assert m_ext is not None and n_ext is not None
        epilogue = inline_injective_chain(sch, mm)
        if epilogue is None:
            epilogue = sch.cache_write(mm, 0, "global")
        nr = next((v * lanes for v in (4, 2, 1) if n_ext % (v * lanes) == 0), 0) or largest_divisor(n_ext, lanes)
        vectors = -(-nr // lanes)
        mr = largest_divisor(m_ext, max(1, (vector_registers(target) - 4) // vectors))
        i_o, i_i = sch.split(i, factors=[None, mr])
        j_o, j_i = sch.split(j, factors=[None, nr])
        sch.reorder(*batch, i_o, j_o, k, i_i, j_i)
        par = sch.fuse(*batch, i_o, j_o)
        if cores > 1:
            sch.parallel(par)
        sch.reverse_compute_at(epilogue, par)
        sch.unroll(i_i)
        sch.vectorize(j_i)
        init = sch.decompose_reduction(mm, k)
        vectorize_tile(sch, init, nr)
        vectorize_tile(sch, epilogue, nr)
        return sch
