"""Schedules of the bit-serial kernels for CPUs with wide vectors (x86 AVX2 / AVX-512, AArch64 NEON).

Both kernels are scheduled the same way on every CPU target: the packed layout already groups
output channels by 512 bits, so one vector op handles one word of `lanes` channels; LLVM maps
the vector popcount to VPOPCNTQ/VPOPCNTD (AVX-512 VPOPCNTDQ), to a PSHUFB nibble table (AVX2),
or to CNT + pairwise adds (NEON).
"""

from __future__ import annotations

from typing import Any

from .kernels import SPEC_ATTR, LayerSpec

# Parallel launches cost a few microseconds: below this many popcount word-ops a kernel runs serially.
_MIN_PARALLEL_WORK = 1 << 15


def _parallel_outer(sch: Any, loops: list[Any], extent: int, work: int) -> None:
    if extent > 1 and work >= _MIN_PARALLEL_WORK:
        sch.parallel(sch.fuse(*loops) if len(loops) > 1 else loops[0])


def _vectorize_inner(sch: Any, block: Any, limit: int) -> None:
    """Vectorize the innermost loop of a spatial block when its extent divides `limit` lanes."""
    loops = sch.get_loops(block)
    extent = int(sch.get(loops[-1]).extent)
    if extent > 1 and limit % extent == 0:
        sch.vectorize(loops[-1])
    elif extent > limit and extent % limit == 0:
        _, inner = sch.split(loops[-1], factors=[None, limit])
        sch.vectorize(inner)


def schedule_bitserial(func: Any, spec: LayerSpec) -> Any:  # -> tvm.s_tir.Schedule
    """Schedule `kernels.bitserial_kernel`: parallel over (rows, channel groups), popcount over
    words with the channel lanes in one vector, bit-plane partial sums kept in registers."""
    from tvm import s_tir

    sch = s_tir.Schedule(func)
    sch.work_on("main")
    partial, acc, out = sch.get_sblock("partial"), sch.get_sblock("acc"), sch.get_sblock("out")
    m, n = sch.get_loops(acc)
    no, ni = sch.split(n, factors=[None, spec.lanes])
    work = spec.m * spec.n_pad * spec.words * spec.planes * spec.act_bits // spec.lanes
    outer = sch.fuse(m, no)
    if spec.m * spec.n_pad // spec.lanes > 1 and work >= _MIN_PARALLEL_WORK:
        sch.parallel(outer)
    sch.compute_at(partial, outer)
    inner = sch.get_loops(partial)[1:]  # (bit plane,) channel lane(, word): unit loops vanish
    if spec.words > 1:
        pn, w = inner[-2:]
        sch.reorder(w, pn)
    else:
        pn = w = inner[-1]
    sch.vectorize(pn)
    sch.vectorize(ni)
    init = sch.decompose_reduction(partial, w)
    sch.vectorize(sch.get_loops(init)[-1])
    out_loops = sch.get_loops(out)
    _vectorize_inner(sch, out, 16)
    if spec.m * spec.n >= 1 << 14:
        sch.parallel(out_loops[0])
    return sch


def schedule_pack(func: Any, spec: LayerSpec) -> Any:  # -> tvm.s_tir.Schedule
    """Schedule `kernels.pack_kernel`: codes of one row at a time (kept local), rows in parallel."""
    from tvm import s_tir

    sch = s_tir.Schedule(func)
    sch.work_on("main")
    planes, code = sch.get_sblock("planes"), sch.get_sblock("code")
    m = sch.get_loops(planes)[0]
    sch.compute_at(code, m)
    _vectorize_inner(sch, code, 16)
    _parallel_outer(sch, [m], spec.m, spec.m * spec.k * spec.act_bits // 8)
    return sch


def schedule_kernel(func: Any) -> Any:
    """The schedule of a bit-serial kernel (recognized by its `ronn.bitnet` attribute), else None."""
    attrs = func.attrs
    if attrs is None or SPEC_ATTR not in attrs.keys():
        return None
    kind, _, spec_json = str(attrs[SPEC_ATTR]).partition(":")
    spec = LayerSpec.from_json(spec_json)
    return schedule_pack(func, spec) if kind == "pack" else schedule_bitserial(func, spec)


def scheduled(func: Any) -> Any:
    """A bit-serial kernel with its schedule applied (for use outside the compile pipeline)."""
    return schedule_kernel(func).mod["main"]
