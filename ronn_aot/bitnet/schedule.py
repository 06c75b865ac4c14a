"""Schedules of the bit-serial kernels for CPUs with wide vectors (x86 AVX2 / AVX-512, AArch64 NEON).

Both kernels are scheduled the same way on every CPU target: the packed layout already groups
output channels by 512 bits, so one vector op handles one word of `lanes` channels; LLVM maps
the vector popcount to VPOPCNTQ/VPOPCNTD (AVX-512 VPOPCNTDQ), to a PSHUFB nibble table (AVX2),
or to CNT + pairwise adds (NEON).

The VNNI kernel (x86 with AVX-512 VNNI) is register-tiled instead: a tile of MR rows x NR groups
of 16 channels keeps its MR * NR int32x16 accumulators in registers over the whole reduction, each
weight word expanded once per tile row, each activation quad broadcast once per tile column.

Each schedule is written once, over its choices (tile sizes, loop order, vector width,
unrolling). The rules take fixed choices; `design_space` takes sampled ones, so MetaSchedule
tunes around the rules' schedules. Its generic space does not fit these kernels: on the bit-serial
kernel its ReverseComputeAt fails on the `W[0:2, n // lanes, w, n % lanes]` reads; on the pack
kernel it cost minutes per handful of trials here, and its rfactor / parallel reductions may
reorder the float sums of the statistics, which must keep the reference's order to stay bit-exact.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .kernels import SPEC_ATTR, LayerSpec

# Parallel launches cost a few microseconds: below this many popcount word-ops a kernel runs serially.
_MIN_PARALLEL_WORK = 1 << 15

# Schedules of kernels this module does not define, or of substitutes for its kernels on some
# targets: hook(func, sch, kind, spec, target | None, cores) -> a schedule, or None to pass. Filled
# by the modules that define them (arm.py: the sdot / neon families, the NEON bit-serial kernel).
TARGET_SCHEDULES: list[Callable[..., Any]] = []

# Loop orders inside one tile of the bit-serial kernel: "planes" accumulates one bit-plane over
# all words at a time (one accumulator, the rule's); "words" reads each weight word once and
# accumulates every plane of the tile (weights loaded once, more accumulators in registers).
PLANES_OUTER, WORDS_OUTER = "planes", "words"
LOOP_ORDERS = (PLANES_OUTER, WORDS_OUTER)

# Sampled choices: rows and lane groups per tile (register blocking), codes per vector when
# packing (all divide the padded reduction, a multiple of 32), unroll limits.
_MAX_TILE = 4
_CODE_VECTORS = [8, 16, 32]
_RULE_CODE_VECTOR = 16
_UNROLL_STEPS = [0, 16, 64, 512]


class Choices(Protocol):
    """How the schedule's free parameters are picked: fixed (the rule) or sampled (tuning)."""

    def tile(self, sch: Any, loop: Any) -> list[Any]:
        """Factors [outer, inner] splitting `loop` into tiles."""
        ...

    def vector(self, sch: Any, candidates: list[int], rule: int) -> Any:
        """A vector width out of `candidates` (`rule` is the rule's)."""
        ...

    def unroll(self, sch: Any) -> None:
        """Set (or leave) the unrolling of the function's loops."""
        ...

    def register_tile(self, sch: Any, loop: Any, rule: int, limit: int) -> list[Any]:
        """Factors [outer, inner] of a register tile along `loop`: the rule's `rule`, or sampled
        up to `limit`."""
        ...


class RuleChoices:
    """The hand-written rule's picks: one row and one lane group per tile, no explicit unrolling."""

    def tile(self, sch: Any, loop: Any) -> list[Any]:
        return [None, 1]

    def vector(self, sch: Any, candidates: list[int], rule: int) -> Any:
        return rule

    def unroll(self, sch: Any) -> None:
        return None

    def register_tile(self, sch: Any, loop: Any, rule: int, limit: int) -> list[Any]:
        return [None, rule]


class SampledChoices:
    """Picks recorded as MetaSchedule decisions, which its mutators then vary."""

    def tile(self, sch: Any, loop: Any) -> list[Any]:
        return list(sch.sample_perfect_tile(loop, n=2, max_innermost_factor=_MAX_TILE))

    def vector(self, sch: Any, candidates: list[int], rule: int) -> Any:
        return sch.sample_categorical(candidates, [1.0 / len(candidates)] * len(candidates))

    def unroll(self, sch: Any) -> None:
        # The root annotation is MetaSchedule's own: its RewriteParallelVectorizeUnroll postproc
        # turns it into unroll pragmas, and its MutateUnroll varies the step.
        step = sch.sample_categorical(_UNROLL_STEPS, [1.0 / len(_UNROLL_STEPS)] * len(_UNROLL_STEPS))
        sch.annotate(sch.get_sblock("root"), "meta_schedule.unroll_explicit", step)

    def register_tile(self, sch: Any, loop: Any, rule: int, limit: int) -> list[Any]:
        return list(sch.sample_perfect_tile(loop, n=2, max_innermost_factor=limit))


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


def schedule_bitserial(sch: Any, spec: LayerSpec, choices: Choices | None = None,
                       order: str = PLANES_OUTER) -> Any:  # -> tvm.s_tir.Schedule
    """Schedule `kernels.bitserial_kernel` in `sch`: tiles of (rows, channel groups) in parallel,
    popcount over words with the channel lanes in one vector, bit-plane partial sums kept in
    registers. `choices` (default: the rule's) picks the tiles and unrolling, `order` the loop
    order inside a tile (one of LOOP_ORDERS)."""
    choices = choices or RuleChoices()
    partial, acc, out = sch.get_sblock("partial"), sch.get_sblock("acc"), sch.get_sblock("out")
    m, n = sch.get_loops(acc)
    groups, lane = sch.split(n, factors=[None, spec.lanes])
    mo, mi = sch.split(m, factors=choices.tile(sch, m))
    go, gi = sch.split(groups, factors=choices.tile(sch, groups))
    sch.reorder(mo, go, mi, gi, lane)
    outer = sch.fuse(mo, go)
    work = spec.m * spec.n_pad * spec.words * spec.planes * spec.act_bits // spec.lanes
    if spec.m * spec.n_pad // spec.lanes > 1 and work >= _MIN_PARALLEL_WORK:
        sch.parallel(outer)
    # Unit loops kept: the loop structure must not depend on sampled tile sizes, or a trace
    # replayed with other decisions would address loops that are no longer there.
    sch.compute_at(partial, outer, preserve_unit_loops=True)
    pm, pb, pn, pw = sch.get_loops(partial)[1:]
    pg, pl = sch.split(pn, factors=[None, spec.lanes])
    if order == PLANES_OUTER:
        sch.reorder(pm, pg, pb, pw, pl)
    elif order == WORDS_OUTER:
        sch.reorder(pw, pm, pg, pb, pl)
    else:
        raise ValueError(f"unknown loop order {order!r}; choose one of {', '.join(LOOP_ORDERS)}")
    sch.vectorize(pl)
    sch.vectorize(lane)
    init = sch.decompose_reduction(partial, pw)
    sch.vectorize(sch.get_loops(init)[-1])
    out_loops = sch.get_loops(out)
    _vectorize_inner(sch, out, 16)
    if spec.m * spec.n >= 1 << 14:
        sch.parallel(out_loops[0])
    choices.unroll(sch)
    return sch


# VNNI register tile: at most this many int32x16 accumulators. The tile buffer must stay under
# 1 KiB: TVM keeps smaller "global" temporaries on the stack, where LLVM promotes them to
# registers; at 1 KiB and above they come from the workspace allocator and every accumulation
# is stored to memory (and, as LLVM cannot rule out aliasing, each weight word is expanded again
# for every row of the tile): 2-4x slower, measured. Our build now keeps tiles up to 4 KiB on the
# stack (ronn_aot/backends/tir_pipeline.py); larger VNNI tiles have not been measured, so the limit stays.
_VNNI_MAX_ACCUMULATORS = 15
_VNNI_MAX_ROWS, _VNNI_MAX_GROUPS = 14, 4  # rows of the rule's tile; sampled tile limits (tuning)
_VNNI_MIN_ROW_TILE = 4  # below this many rows a tile takes channel groups too
# Tiles in parallel from this many quads x channels (4 multiply-adds each), far below the
# bit-serial kernels' threshold: MNIST's 14x14 16->32 and 7x7 32->64 convs (903k multiply-adds,
# 225k quads x channels) went 5.3 -> 2.9 and 6.2 -> 3.5 us on 2 threads (x86_64-avx512 here).
_VNNI_MIN_PARALLEL_QUADS = 1 << 15


def vnni_tile(m: int, groups: int, cores: int) -> tuple[int, int]:
    """The rule's register tile (rows MR, channel groups NR), dividing M and the groups, keeping
    at least `cores` tiles when there are that many.

    Rows first: the most rows up to 14 that divide M, one group of 16 channels. A weight word is
    expanded (mask loads, VPMOVM2B, combine) once per group and step and a row costs one
    broadcast load, so groups look cheaper by uop count, but measured (one thread, x86_64-avx512
    here) one-group tiles win: MNIST's 14x14 3x3 16->32 conv 5.70 -> 4.86 us with (14, 1) over (7, 2),
    its 7x7 32->64 conv 5.57 -> 5.25 us with (7, 1), a 64x512x256 dense layer 61.3 -> 52.7 us with
    (8, 1) over (4, 2), a 56x56 1x1 24->144 conv 93.0 -> 76.9 us with (14, 1) over (4, 3); a 14x14 3x3
    64->64 binary conv is even. With fewer than 4 rows (a dense layer at batch 1) the channel
    groups fill the accumulators instead: (1, 8) 1.13 us against (1, 1) 1.24 us on 1x576x128."""
    def enough(mr: int, nr: int) -> bool:
        return (m // mr) * (groups // nr) >= cores

    mr = max((r for r in range(1, _VNNI_MAX_ROWS + 1) if m % r == 0), key=lambda r: (enough(r, 1), r))
    if mr >= _VNNI_MIN_ROW_TILE:
        return mr, 1
    nr = max((n for n in range(1, _VNNI_MAX_ACCUMULATORS // mr + 1) if groups % n == 0),
             key=lambda n: (enough(mr, n), n))
    return mr, nr


def schedule_vnni(sch: Any, spec: LayerSpec, choices: Choices | None = None, cores: int = 2) -> Any:
    """Schedule `kernels.vnni_kernel` in `sch`: parallel MR x NR register tiles (rows x groups of
    16 channels), the reduction inside a tile, accumulators in registers (see vnni_tile), and the
    dequantizing epilogue inside the tile, vectorized over the 16 channels of a group."""
    choices = choices or RuleChoices()
    groups = spec.n_pad // spec.lanes
    dot, out = sch.get_sblock("dot"), sch.get_sblock("out")
    m, g, q = sch.get_loops(dot)
    parallel = spec.m * spec.words * spec.n_pad >= _VNNI_MIN_PARALLEL_QUADS
    rule_mr, rule_nr = vnni_tile(spec.m, groups, cores if parallel else 1)
    mo, mi = sch.split(m, factors=choices.register_tile(sch, m, rule_mr, min(_VNNI_MAX_ROWS, spec.m)))
    go, gi = sch.split(g, factors=choices.register_tile(sch, g, rule_nr, _VNNI_MAX_GROUPS if spec.m > 1
                                                        else _VNNI_MAX_ACCUMULATORS))
    sch.reorder(mo, go, q, mi, gi)
    outer = sch.fuse(mo, go)
    if parallel:
        sch.parallel(outer)
    tile = sch.cache_write(dot, 0, "global")  # "global", not "local": see _VNNI_MAX_ACCUMULATORS
    sch.reverse_compute_at(tile, outer, preserve_unit_loops=True)
    sch.decompose_reduction(dot, q)
    sch.unroll(mi)
    sch.unroll(gi)
    sch.vectorize(sch.get_loops(tile)[-1])
    # The dequantizing epilogue inside the tile, from the tile's accumulators: no pass over an
    # M x N int32 buffer in memory (on EfficientNet's 112x112 1x1 convs that pass was 95% of the time).
    sch.reverse_compute_at(out, outer, preserve_unit_loops=True)
    if spec.n % spec.lanes == 0:  # else the lane loop carries the n < N predicate
        sch.vectorize(sch.get_loops(out)[-1])
    choices.unroll(sch)
    return sch


_ABSMAX_LANES, _ABSMAX_CHUNKS = 16, 4  # partial maxima: parallel chunks x lanes (the same on any machine)


def _parallel_absmax(sch: Any, total: int, k_outer: bool = True) -> None:
    """The int activations' scale, max |V| over the whole input matrix, as 16 partial maxima per
    chunk, chunks in parallel (rfactor), combined at the end. Max is exact in any order, so this
    stays bit-exact; serially it was one dependent compare per element, half of a pack kernel's
    time (a 56x56x144 input: 0.42 of 0.73 ms). The reduction walks k outer, m inner: for a convolution the view's
    rows are neighbouring pixels, contiguous in the NCHW input. (The sums behind the sign
    activations' statistics keep their serial order: a float sum is not exact in any order.)
    `total` is the matrix's size; `k_outer` False keeps its rows outer (NHWC: channels contiguous)."""
    chunks = _ABSMAX_CHUNKS
    if total % (chunks * _ABSMAX_LANES) or total < (1 << 14):
        return
    amax = sch.get_sblock("amax")
    _, rm, rk = sch.get_loops(amax)
    if k_outer:
        sch.reorder(rk, rm)
    p, ro, ri = sch.split(sch.fuse(rk, rm) if k_outer else sch.fuse(rm, rk), factors=[chunks, None, _ABSMAX_LANES])
    sch.reorder(p, ri, ro)
    partial = sch.rfactor(sch.fuse(p, ri), 0)
    pr, ro = sch.get_loops(partial)[-2:]
    p, ri = sch.split(pr, factors=[chunks, _ABSMAX_LANES])
    sch.reorder(p, ro, ri)
    sch.parallel(p)
    sch.unroll(ri)  # 16 independent maxima per step (a vector for LLVM's SLP vectorizer)


def schedule_pack(sch: Any, spec: LayerSpec, choices: Choices | None = None) -> Any:  # -> tvm.s_tir.Schedule
    """Schedule `kernels.pack_kernel` in `sch`: codes of one row at a time (kept local) in vectors
    of `choices.vector` codes, rows in parallel. The max behind int scales is a parallel exact
    reduction (`_parallel_absmax`); the float sums behind sign statistics keep their serial order."""
    choices = choices or RuleChoices()
    if spec.nhwc:
        return schedule_quantize_nhwc(sch, spec, choices)
    planes, code = sch.get_sblock("quads" if spec.vnni else "planes"), sch.get_sblock("code")
    m = sch.get_loops(planes)[0]
    sch.compute_at(code, m)
    # One loop over the padded row remains (the unit row loop vanishes); its extent is a multiple
    # of the word size (of 4 for vnni), so every candidate width divides it.
    widths = [w for w in _CODE_VECTORS + [4] if spec.k_pad % w == 0]
    width = choices.vector(sch, widths, max(w for w in widths if w <= _RULE_CODE_VECTOR))
    _, inner = sch.split(sch.get_loops(code)[-1], factors=[None, width])
    sch.vectorize(inner)
    _parallel_outer(sch, [m], spec.m, spec.m * spec.k * spec.act_bits // 8)
    if spec.static_stats is None and not spec.xnor:
        _parallel_absmax(sch, spec.m * spec.k)
    # No unrolling choice: with a 512-step unroll the statistics' reductions took minutes to
    # compile (64x256 layer), which stalls tuning.
    return sch


def schedule_quantize_nhwc(sch: Any, spec: LayerSpec, choices: Choices | None = None) -> Any:
    """Schedule `kernels.quantize_nhwc_kernel` in `sch`: one padded pixel at a time, its channels'
    codes in vectors of `choices.vector` codes (kept local), then its quads as one vector;
    pixels in parallel when there is enough work; max |x| as `_parallel_absmax`."""
    choices = choices or RuleChoices()
    quads, code = sch.get_sblock("quads"), sch.get_sblock("code")
    b, h, w, _ = sch.get_loops(quads)
    pixel = sch.fuse(b, h, w)
    sch.compute_at(code, pixel)
    channels = int(sch.get(sch.get_loops(code)[-1]).extent)  # C4: a multiple of 4
    widths = [v for v in _CODE_VECTORS + [4] if channels % v == 0]
    width = choices.vector(sch, widths, max(v for v in widths if v <= _RULE_CODE_VECTOR))
    _, inner = sch.split(sch.get_loops(code)[-1], factors=[None, width])
    sch.vectorize(inner)
    sch.vectorize(sch.get_loops(quads)[-1])
    g = spec.conv
    assert g is not None
    _parallel_outer(sch, [pixel], int(sch.get(pixel).extent), g.batch * g.height * g.width * channels)
    if spec.static_stats is None:
        _parallel_absmax(sch, g.batch * g.height * g.width * g.channels, k_outer=False)
    return sch


def _kernel_spec(func: Any) -> tuple[str, LayerSpec] | None:
    """("pack" | "bitserial" | "vnni" | "sdot", spec) of a BitNet kernel (its `ronn.bitnet` attribute), else None."""
    attrs = func.attrs
    if attrs is None or SPEC_ATTR not in attrs.keys():
        return None
    kind, _, spec_json = str(attrs[SPEC_ATTR]).partition(":")
    return kind, LayerSpec.from_json(spec_json.split("|")[0])  # requant: "spec|next layer's spec"


def schedule_kernel(func: Any, target: Any = None) -> Any:
    """The schedule of a BitNet kernel (recognized by its `ronn.bitnet` attribute), else None."""
    from tvm import s_tir

    from ronn_aot.schedules.base import num_cores

    found = _kernel_spec(func)
    if found is None:
        return None
    kind, spec = found
    sch = s_tir.Schedule(func)
    sch.work_on("main")
    if _written_out(kind, spec):  # nothing to schedule
        return sch
    if kind == "vnni":
        return schedule_vnni(sch, spec, cores=num_cores(target))
    for hook in TARGET_SCHEDULES:  # kernel families and substitutes of other modules (arm.py)
        found_sch = hook(func, sch, kind, spec, target, num_cores(target))
        if found_sch is not None:
            return found_sch
    return schedule_pack(sch, spec) if kind == "pack" else schedule_bitserial(sch, spec)


def _written_out(kind: str, spec: LayerSpec) -> bool:
    """Whether a BitNet kernel is written loop by loop (head.py, requant.py): no schedule, nothing
    to tune (its vector expressions are also beyond MetaSchedule's FLOP estimate)."""
    return kind == "requant" or (kind == "pack" and spec.head is not None)


def has_design_space(func: Any) -> bool:
    """Whether `func` is tuned in `design_space` rather than in MetaSchedule's generic space
    (a kernel written loop by loop has neither: its rule's schedule has no choices to tune)."""
    found = _kernel_spec(func)
    return found is not None and not _written_out(*found)


def design_space(sch: Any) -> list[Any]:
    """MetaSchedule design space of a pack or bit-serial kernel (a `ScheduleFn` body): the rule's
    schedule with its choices sampled; for the bit-serial kernel once per loop order."""
    found = _kernel_spec(sch.mod["main"])
    if found is None:
        raise ValueError(f"design_space schedules only the kernels of ronn_aot.bitnet.kernels "
                         f"(PrimFuncs with a {SPEC_ATTR!r} attribute)")
    kind, spec = found
    sch.work_on("main")
    if _written_out(kind, spec):
        return [sch]
    for hook in TARGET_SCHEDULES:  # no sampled choices there yet: the rule's schedule is the space
        found_sch = hook(sch.mod["main"], sch, kind, spec, None, 2)
        if found_sch is not None:
            return [found_sch]
    if kind == "pack":
        return [schedule_pack(sch, spec, SampledChoices())]
    if kind == "vnni":
        return [schedule_vnni(sch, spec, SampledChoices())]
    spaces = []
    for order in LOOP_ORDERS:
        space = sch.copy()
        space.work_on("main")
        spaces.append(schedule_bitserial(space, spec, SampledChoices(), order))
    return spaces


def scheduled(func: Any) -> Any:
    """A bit-serial kernel with its schedule applied (for use outside the compile pipeline)."""
    return schedule_kernel(func).mod["main"]
