"""Dense: matmul / batch matmul / Gemm (after legalization: C[.., i, j] += A[.., i, k] * B[.., k, j],
B usually a constant weight; Gemm's transB and Linear's W^T are folded into B at compile time),
with the fused elementwise epilogue (bias, activation, residual add).

Recognized structurally: one reduction block with iterators S..SR (one reduction axis) reading
A[..., i, k] and B[..., k, j]; the other blocks elementwise.

Schedule (the GotoBLAS / BLIS loop nest, without packing: B's rows are read in place):
  - register tile MR x NR (NR a few vectors wide): for each k one NR-wide row segment of B is
    loaded as vectors and each of the MR elements of A broadcast, MR x NR/lanes FMAs into
    accumulators that stay in registers for the whole KC-long inner loop;
  - cache blocks: an MC x NC block of C is one parallel task; inside it the K axis is cut into
    KC-long slices, and for each slice the micro-kernel walks the NR-wide columns (outer) and the
    MR-high rows (inner), so a B micro-panel (KC x NR) is reused from L1/L2 for all MC rows and
    the A block (MC x KC) stays in L2;
  - the epilogue runs on the MC x NC block, still in cache, right after its last K slice.
A constant 2-D B is packed at compile time into NR-wide panels [N/NR, K, NR] (ronn_aot/stages/prepack.py;
a batch of constant Bs, as Winograd's transformed weights are, into [batch, N/NR, K, NR]),
so a micro-panel is contiguous however wide B is (SmolLM2's 49152-wide lm_head: each k step of an
in-place panel was a new page). A B computed at run time is read in place: with these blocks the
in-place rows reach 98% of OpenBLAS on one AVX-512 core at 1024^3 (171 vs 174 GFLOP/s), and
packing each KC x NC block on the fly (cache_read + transform_layout) measured 5-10% slower.
Small M (GEMV-like) gets wider NR and its parallelism from the N axis; tile sizes divide the
extents (odd sizes get smaller tiles, never predicated ones), except for ragged rows (ragged_tiles):
where a register tile whose MR does not divide M is faster (tile_rate) than every one that does,
the rows are partitioned into a head of whole MR-row tiles and one partial tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import register_rule
from . import CPU_ARCHES
from ..base import (block_iter_kinds, const_int, inline_injective_chain, largest_divisor, num_cores,
                    pack_constant, parallel_vectorize, split, top_blocks, vector_lanes, vector_registers)
from ..isa import isa_of
from ._conv_match import buffer_loads

MC_MAX = 128  # rows of A per cache block: MC x KC floats (128 KiB) stay in L2
NC_MAX = 256  # columns of B per cache block
KC_MAX = 256  # K slice: a B micro-panel (KC x NR) fits L1
L1_PANEL_BYTES = 32 << 10  # the largest micro-panel a K slice may have to keep a k_unit run whole
MR_MAX = 16  # rows of the register tile: more only lengthens the unrolled body
K_UNROLL = 4  # k steps per micro-kernel loop iteration (3-5% over 1, measured on AVX2/AVX-512)
# A tile read by lanes (_a_by_lane) runs this many groups of K_UNROLL k per loop iteration: the
# loop's own instructions (two address steps, the count, the branch) then come once per 128 FMAs
# of NEON's 8 x 8 tile instead of once per 64 (MiniLM's six matmul kernels on aarch64: 470 -> 455 M
# instructions per inference; x86's tiles broadcast A and are unchanged).
LANE_GROUPS = 2
MIN_PARALLEL_FMAS = 1 << 16  # below this a parallel launch costs more than it saves
# Cycles before an accumulator can take its next FMA (tile_rate): 4 on Skylake to Ice Lake, plus
# slack, since 8 accumulators (2 ports x 4) measured short of the peak: AVX2 1020^3, 4 x 16
# 10.5-12.2 ms, 6 x 16 10.4 ms.
FMA_LATENCY = 5
# The most a GEMM-form copy of a convolution's input may take (_a_by_lane): a 1x1 layer's is the
# input itself; im2col of a 3x3 one is 9 times it (ResNet-50's 28x28 128-channel 3x3: 3.6 MiB).
REINDEX_MAX_BYTES = 16 << 20
# Ragged rows run the epilogue as a pass of its own over the output (see _tile_ragged): only where
# that pass is cheap, an output of at most this many bytes (ResNet-50's 7x7 layers: 100 KiB).
RAGGED_EPILOGUE_BYTES = 1 << 20


def inline_epilogue_inputs(sch: Any) -> None:
    """Inline the elementwise blocks before the one reduction block that the reduction does not
    read: inputs of the epilogue only (an LSTM step's precomputed input projection, squeezed before
    it is added to the recurrent matmul), which FuseTIR places first. Inlined into their consumer,
    the matmul block comes first and the rule matches; else the pooling rule took the matmul as a
    window reduction (ddddocr's recurrent 1x512x2048 matmuls, 0.21 ms each)."""
    found = _one_reduction(sch)
    if found is None or found[2] == 0:
        return
    blocks, _, idx = found
    reduction_reads = [r.source for r in sch.get(blocks[idx]).reads]
    for b in blocks[:idx]:
        written = sch.get(b).writes
        if len(written) != 1 or any(buf.same_as(written[0].source) for buf in reduction_reads):
            return
    for b in blocks[:idx]:
        sch.compute_inline(b)


def _one_reduction(sch: Any) -> tuple[list[Any], list[str], int] | None:
    """(top blocks, their iterator kinds, the index of the reduction block) when exactly one block
    reduces and every other is spatial, else None."""
    blocks = top_blocks(sch)
    kinds = [block_iter_kinds(sch, b) for b in blocks]
    reductions = [i for i, k in enumerate(kinds) if "R" in k]
    if len(reductions) != 1 or any(set(k) != {"S"} for i, k in enumerate(kinds) if i != reductions[0]):
        return None
    return blocks, kinds, reductions[0]


def _b_loads(block: Any) -> list[Any]:
    """The matmul block's loads of B[..., k, j] (one for a matmul)."""
    out = block.writes[0].source
    *_, j, k = (iv.var for iv in block.iter_vars)
    return [ld for ld in buffer_loads(block.body)
            if not ld.source.same_as(out) and ld.indices[-2].same_as(k) and ld.indices[-1].same_as(j)]


def match_dense(sch: Any) -> Any:
    """The matmul block when the kernel is a (batched) matmul with an epilogue, else None."""
    found = _one_reduction(sch)
    if found is None:
        return None
    blocks, kinds, idx = found
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
    if len(a) != 1 or len(_b_loads(block)) != 1:
        return None
    return blocks[idx]


@dataclass(frozen=True)
class DenseTiles:
    mr: int  # register tile rows
    nr: int  # register tile columns (a multiple of the vector width when N allows it)
    vec: int  # vector width the NR columns are cut into (LLVM splits odd-sized vectors badly)
    mc: int  # cache block rows (one parallel task is MC x NC)
    nc: int  # cache block columns
    kc: int  # K slice


def tile_rate(mr: int, nv: int, by_lane: bool = False, issue_width: int = 0) -> float:
    """FMAs per cycle of an MR x NV-vector register tile on two FMA and two load ports: a k step
    issues MR * NV FMAs, MR broadcasts (`by_lane`: MR / K_UNROLL vector loads of A, see
    _a_by_lane) and NV loads, and takes at least FMA_LATENCY cycles; on a core that issues
    `issue_width` instructions per cycle (0: not the limit, as on x86's wide cores), at least
    all of them over that width."""
    acc = mr * nv
    a_loads = mr / K_UNROLL if by_lane else mr
    issue = (acc + a_loads + nv) / issue_width if issue_width else 0
    return acc / max(acc / 2, (a_loads + nv) / 2, FMA_LATENCY, issue)


def register_tile(m: int, n: int, lanes: int, registers: int, ragged: bool = False,
                  by_lane: bool = False) -> tuple[int, int, int]:
    """(MR, NR, w): the register tile with the most accumulators, where MR x NR/w accumulators,
    NR/w vectors of B and one broadcast of A (`by_lane`: one vector of A per row, see
    _a_by_lane) fit the register file and w is the widest vector width (at most `lanes`) dividing
    N. Among equals the tile closest to two vectors wide wins (AVX-512 1024^3: 8 x 32 beat 4 x 64
    by 12%). MR divides M unless `ragged`."""
    width = lanes
    while width >= 4:
        best: tuple[tuple[int, int], int, int] | None = None
        for nv in range(1, 9):
            if n % (nv * width):
                continue
            cap = min(MR_MAX, (registers - nv) // (nv + 1) if by_lane else (registers - nv - 1) // nv)
            if cap < 1:
                continue
            mr = min(cap, m) if ragged else largest_divisor(m, cap)
            # MR free (ragged): the fastest tile first, then the most accumulators
            score = ((tile_rate(mr, nv),) if ragged else ()) + (mr * nv, -abs(nv - 2))
            if best is None or score > best[0]:
                best = (score, mr, nv * width)
        if best is not None:
            return best[1], best[2], width
        width //= 2
    nr = largest_divisor(n, lanes)
    return largest_divisor(m, 4), nr, nr


def pick_tiles(m: int, n: int, k: int, batch: int, lanes: int, registers: int, cores: int,
               tile: tuple[int, int, int] | None = None, k_unit: int = 1, by_lane: bool = False) -> DenseTiles:
    """Register and cache tiles for an (batch x) M x N x K matmul; every tile divides its extent.
    `tile`: the register tile (MR, NR, w) to use instead of register_tile's. `k_unit`: K slices
    lie within one run of that many k or span whole runs (a convolution's input channels at one
    kernel position: the slice's position, and so its input address, stays out of the
    micro-kernel; 192-channel slices of 128-channel runs made a 3x3 layer 50% slower)."""
    mr, nr, vec = tile or register_tile(m, n, lanes, registers, by_lane=by_lane)
    if k_unit > KC_MAX and k > k_unit and k_unit * nr * 4 <= L1_PANEL_BYTES:
        # Several runs longer than a slice (a 3x3 convolution's 512 channels per kernel position):
        # a whole run per slice while its micro-panel fits L1. A slice cutting a run left TVM
        # unable to see that the slice stays at one kernel position, so every k step divided its
        # index back into (ky, kx, channel) and the tile's row addresses spilled: ResNet-50's 3x3
        # stride-2 512-channel layer on AVX2 (NR = 16) 1.44 -> 1.07 ms.
        kc = k_unit
    elif k_unit > KC_MAX:
        kc = largest_divisor(k_unit, KC_MAX)
    else:
        kc = largest_divisor(k, KC_MAX, k_unit)
    if k > KC_MAX and kc < KC_MAX // 4:  # K with no good divisor: one slice beats tiny ones
        kc = k
    mc = largest_divisor(m, max(mr, MC_MAX), mr)
    nc = largest_divisor(n, max(nr, NC_MAX), nr)
    # Enough tasks for every core (twice as many, to even out blocks that finish unevenly). Each
    # cut re-reads an operand: cutting M re-reads B (K x N) once per M block, cutting N re-reads A.
    # When all of M is one block and B is the larger operand (a convolution's 7x7 or 14x14 pixels
    # against MiBs of weights, a transformer's 128 tokens), cut N: B is then read once. ResNet-50's
    # 2048->512 1x1 at 7x7 cut M instead and streamed its 4 MiB of weights 7 times.
    weights_first = mc == m and k * n > k * m

    def unbalanced(tasks: int) -> bool:
        # Fewer than two tasks per core, or few enough that one core gets a whole task more than
        # another (5 tasks on 2 cores: 3 + 2, the second core idles a sixth of the kernel).
        return tasks < 2 * cores or (tasks % cores != 0 and tasks < 8 * cores)

    while cores > 1 and unbalanced(batch * (m // mc) * (n // nc)):
        if weights_first and nc > nr:
            nc = largest_divisor(n, nc - 1, nr)
        elif mc > mr and (mc >= nc or nc == nr):
            mc = largest_divisor(m, mc - 1, mr)
        elif nc > nr:
            nc = largest_divisor(n, nc - 1, nr)
        else:
            break
    return DenseTiles(mr, nr, vec, mc, nc, kc)


def _vectorize_innermost(sch: Any, block: Any, width: int) -> None:
    """Vectorize `block`'s innermost loop in chunks of (at most) `width`."""
    loops = sch.get_loops(block)
    if not loops:
        return
    vec = largest_divisor(const_int(sch.get(loops[-1]).extent) or 1, width)
    if vec > 1:
        _, vi = sch.split(loops[-1], factors=[None, vec])
        sch.vectorize(vi)


@register_rule("cpu.dense", arches=CPU_ARCHES, order=25)
class Dense:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        # Step 1. Match the matmul block and inline the elementwise chain into one epilogue.
        sch = s_tir.Schedule(func)
        sch.work_on("main")
        try:
            inline_epilogue_inputs(sch)
        except s_tir.ScheduleError:
            return None
        mm = match_dense(sch)
        if mm is None:
            return None
        epilogue = inline_injective_chain(sch, mm)
        *batch, i, j, k = sch.get_loops(mm)
        rows = [const_int(sch.get(lp).extent) or 1 for lp in (*batch, i)]
        if batch and _b_has_no_batch(sch, mm) and sum(r > 1 for r in rows) <= 1:
            # A [..., M, K] times a 2-D B [K, N]: the leading axes are rows of one GEMM, not a
            # batch of GEMMs, each of which would stream all of B again (ddddocr's LSTM input
            # projection, [20, 1, 512] x [512, 2048]: 2.87 ms as 20 one-row matmuls). Only where
            # one of those axes is longer than 1, so that the fused row maps to each axis
            # affinely: fusing [2, 5] rows, a block of rows crossing from one batch index to the
            # next covered rows of both as a region of the 3-D output (the epilogue computed at
            # the block read rows not yet computed), and the ragged and vectorized loop nests
            # failed on the fused row's divisions.
            i = sch.fuse(*batch, i)
            batch = []
        m, n, kk = (const_int(sch.get(lp).extent) for lp in (i, j, k))
        assert m is not None and n is not None and kk is not None
        nbatch = 1
        for lp in batch:
            nbatch *= const_int(sch.get(lp).extent) or 1
        tile_matmul(sch, mm, batch, (i, j, k), (m, n, kk), nbatch, epilogue, target, tunable,
                    pack=lambda block, nr: pack_b(sch, func, block, nr))
        return sch


def _b_has_no_batch(sch: Any, mm: Any) -> bool:
    """Whether the matmul's B is read as B[k, j] alone (the batch axes index only A and C)."""
    b = _b_loads(sch.get(mm))
    return len(b) == 1 and len(b[0].indices) == 2


def pack_b(sch: Any, func: Any, mm: Any, nr: int) -> None:
    """A constant 2-D B [K, N] stored as [N/NR, K, NR] at compile time: the micro-kernel's
    KC x NR panel becomes contiguous. In place, each k step jumps a whole row of B: SmolLM2's
    tied lm_head (576 x 49152) moved 196 KiB per step, a TLB miss each, and ran at 48 GFLOP/s.
    A batch of constant Bs [batch, K, N] (Winograd's 16 transformed weight matrices) is packed
    matrix by matrix: ResNet-50's 14x14 layers' matmuls 0.93-0.97 -> 0.74-0.77 ms in the model."""
    import tvm

    b = _b_loads(sch.get(mm))
    if len(b) != 1 or len(b[0].indices) not in (2, 3):
        return
    n = const_int(b[0].source.ty.shape[-1])
    if n is None or n % nr or n == nr:
        return
    if len(b[0].indices) == 2:
        imap = tvm.tirx.IndexMap.from_func(lambda kk, jj: (jj // nr, kk, jj % nr))
    else:
        # A batch of constant matrices (Winograd's transformed weights): each packed the same.
        imap = tvm.tirx.IndexMap.from_func(lambda bb, kk, jj: (bb, jj // nr, kk, jj % nr))
    pack_constant(sch, func, mm, b[0].source, imap)


def faster_ragged_tile(m: int, n: int, lanes: int, registers: int,
                       dividing: tuple[int, int, int] | None = None,
                       by_lane: bool = False) -> tuple[int, int, int] | None:
    """The register tile (MR, NR, w) for M rows rounded up to whole MR-row tiles, when MR does not
    divide M and that tile is faster (tile_rate) than `dividing` (default register_tile's, whose
    MR divides M); else None. Always None `by_lane` (see choose_tiles)."""
    if by_lane:
        return None
    mr, nr, vec = register_tile(m, n, lanes, registers, ragged=True)
    dmr, dnr, dvec = dividing or register_tile(m, n, lanes, registers)
    if m % mr == 0 or m < mr or tile_rate(mr, nr // vec) <= tile_rate(dmr, dnr // dvec):
        return None
    return mr, nr, vec


def ragged_tiles(m: int, n: int, k: int, lanes: int, registers: int, cores: int, t: DenseTiles,
                 k_unit: int = 1) -> DenseTiles | None:
    """Tiles for ragged rows (the last MR-row tile partial) when a tile whose MR does not divide M
    is faster (tile_rate) than `t`, whose MR does; else None. MC counts whole tiles of the rows
    rounded up to MR, so that only the very last tile is partial. On AVX2 (16 registers) 6 x 2
    vectors is the fastest tile, and 6 divides neither 1024 nor ResNet-50's 49 or 196 pixels;
    AVX-512's dividing tiles are as fast as its ragged ones wherever M has a divisor of 7 or more."""
    tile = faster_ragged_tile(m, n, lanes, registers, (t.mr, t.nr, t.vec))
    if tile is None:
        return None
    return pick_tiles(-(-m // tile[0]) * tile[0], n, k, 1, lanes, registers, cores, tile, k_unit)


def choose_tiles(m: int, n: int, k: int, batch: int, lanes: int, registers: int, cores: int,
                 epilogue: bool, k_unit: int = 1, by_lane: bool = False) -> DenseTiles:
    """The tiles tile_matmul uses: pick_tiles', or ragged rows' (MR not dividing M) where those
    are faster and allowed: one batch, and an epilogue (run as a pass of its own) over at most
    RAGGED_EPILOGUE_BYTES. `by_lane` (A read by vector lanes, _a_by_lane): never ragged, whose
    partitioned loop nest cannot hold A's local tile."""
    t = pick_tiles(m, n, k, batch, lanes, registers, cores, k_unit=k_unit, by_lane=by_lane)
    if by_lane:
        return t
    if batch == 1 and not (epilogue and m * n * 4 > RAGGED_EPILOGUE_BYTES):
        return ragged_tiles(m, n, k, lanes, registers, cores, t, k_unit) or t
    return t


def tile_matmul(sch: Any, mm: Any, batch: list[Any], loops: tuple[Any, Any, Any],
                extents: tuple[int, int, int], nbatch: int, epilogue: Any | None, target: Any,
                tunable: bool = False, pack: Callable[[Any, int], Any] | None = None,
                k_unit: int = 1) -> DenseTiles:
    """Steps 2-4 of the dense schedule on a matmul block whose (batch..., i, j, k) loops are given:
    also used by the NHWC convolution rule for 1x1 convolutions (pixels x channels GEMMs).
    `epilogue`: the block that consumes the matmul's result, None when the matmul writes the
    kernel's output itself. `pack(block, NR)` packs the weights NR wide (before the block may be
    partitioned into copies). `k_unit`: see pick_tiles.

    `tunable`: MR, MC, NC and KC become sampled tiles starting at these choices (base.split); NR
    stays, since the compile packs the weight panels NR wide."""
    i, j, k = loops
    m, n, kk = extents
    lanes, cores = vector_lanes(target), num_cores(target)
    registers, by_lane = vector_registers(target), isa_of(target).fma_by_lane
    t = choose_tiles(m, n, kk, nbatch, lanes, registers, cores, epilogue is not None, k_unit, by_lane)
    if pack is not None:
        pack(mm, t.nr)
    if m % t.mr:
        _tile_ragged(sch, mm, batch, (i, j, k), (m, n, kk), t, target, tunable)
        if epilogue is not None:
            parallel_vectorize(sch, epilogue, t.vec, cores)
        return t
    if epilogue is None:
        # Accumulate in a tile buffer; the epilogue copies each finished block out.
        epilogue = sch.cache_write(mm, 0, "global")
    _tile_block(sch, mm, batch, (i, j, k), (m, n, kk), nbatch, t, epilogue, target, tunable,
                k_unit if by_lane else None)
    return t


def _tile_ragged(sch: Any, mm: Any, batch: list[Any], loops: tuple[Any, Any, Any],
                 extents: tuple[int, int, int], t: DenseTiles, target: Any, tunable: bool) -> None:
    """The loop nest of _tile_block with the rows split past M (a predicate on each row), then
    partitioned (sch.loop_partition): the whole MC blocks, the last block's whole tiles, and its
    last tile, the partial one. In the whole ones the predicate is provably true and disappears;
    in the partial tile it is constant per unrolled row and folds away. The partial tile stays
    inside the last block's K and N loops, so it shares the B micro-panel in L1 with the whole
    tiles (a separate loop nest for it read the weights twice: a 7x7 layer's 4 MiB).
    TVM 0.27 cannot partition a loop that holds two blocks (it segfaults), so the epilogue cannot
    be placed inside the tiles' loops: the caller runs it as a pass of its own.
    `tunable`: the cache tiles are sampled; MR stays (a sampled tile divides its loop).
    A replayed trace partitions where the rule's decisions put the last tile (its partition
    factors are constants): with other row blocks the search's candidate is still correct, only
    slower, or fails to build."""
    i, j, k = loops
    m, n, kk = extents
    cores = num_cores(target)
    if batch:
        i = sch.fuse(*batch, i)  # unit loops (one batch)
    i_t, i_i = sch.split(i, factors=[None, t.mr])  # ceil(M / MR) tiles, the last one partial
    i_b, i_r = split(sch, i_t, [None, t.mc // t.mr], tunable)
    blocks, per_block = (const_int(sch.get(lp).extent) or 1 for lp in (i_b, i_r))
    k_i = _tile_loops(sch, [], (i_b, i_r, i_i), j, k, t, n, tunable)[-1]
    single_slice = t.kc == kk
    unrolled_k = K_UNROLL > 1 and t.kc % K_UNROLL == 0
    if unrolled_k:
        sch.split(k_i, factors=[None, K_UNROLL])
    inner = 4 + unrolled_k  # loops below i_r: k_i, (k_u), i_i, j_v, j_w

    whole, last = _partition(sch, mm, i_b, blocks - 1) if blocks > 1 else (None, mm)
    parts = [b for b in (whole, last) if b is not None]
    for block in parts:
        # One parallel loop per part, made before the init blocks exist (parallel wants the
        # blocks below it complete or reductions). The last block's loop starts past 0, which
        # fuse refuses; it has one iteration.
        b_loop, j_loop = sch.get_loops(block)[:2]
        par = sch.fuse(b_loop, j_loop) if const_int(sch.get(b_loop).min) == 0 else j_loop
        if cores > 1 and m * n * kk >= MIN_PARALLEL_FMAS:
            sch.parallel(par)
        # The micro-kernel, before the inits exist too (they copy its loops' kinds).
        lps = sch.get_loops(block)
        if unrolled_k:
            sch.unroll(lps[-4])
        for lp in lps[-3:-1]:
            sch.unroll(lp)
        sch.vectorize(lps[-1])
    if not single_slice:
        # Zero each block before its first K slice, above the loop that the tiles' partition
        # will cut (TVM cannot partition a loop that holds the init block too).
        for block in parts:
            sch.decompose_reduction(block, sch.get_loops(block)[-inner - 3])
    last_tiles = [last] if per_block == 1 else list(
        _partition(sch, last, sch.get_loops(last)[-inner - 1], per_block - 1))
    if single_slice:  # zero each tile before its k loop
        for block in ([whole] if whole is not None else []) + last_tiles:
            sch.decompose_reduction(block, sch.get_loops(block)[-inner])


def _partition(sch: Any, block: Any, loop: Any, first: int) -> tuple[Any, Any]:
    """sch.loop_partition(loop, [first, rest]): the two copies of `block` (named by TVM after the
    block and the loop variable: B_v0, B_v1)."""
    name, var = sch.get(block).name_hint, sch.get(loop).loop_var.name
    sch.loop_partition(loop, [first, None])
    return sch.get_sblock(f"{name}_{var}0"), sch.get_sblock(f"{name}_{var}1")


def _tile_loops(sch: Any, outer: list[Any], rows: tuple[Any, Any, Any], j: Any, k: Any, t: DenseTiles,
                n: int, tunable: bool) -> tuple[Any, Any, Any, Any | None, Any]:
    """Step 2's columns and K slices, and the loop order, around the row loops (MC blocks, MR
    tiles, MR rows): outer / MC x NC blocks / K slices / NR columns / MR rows / k / MR x NR.
    Returns the NC-block loop, the vector loops, the K-slice loop (None: one slice) and k."""
    i_b, i_r, i_i = rows
    j_o, j_v, j_w = sch.split(j, factors=[None, t.nr // t.vec, t.vec])
    j_b, j_r = split(sch, j_o, [None, t.nc // t.nr], tunable, n // t.nr)
    k_o, k_i = (None, k) if t.kc == const_int(sch.get(k).extent) else split(
        sch, k, [None, t.kc], tunable, max(t.kc, KC_MAX))
    sch.reorder(*outer, i_b, j_b, *([] if k_o is None else [k_o]), j_r, i_r, k_i, i_i, j_v, j_w)
    return j_b, j_v, j_w, k_o, k_i


def _pack_a(sch: Any, mm: Any, index: Any, mr: int, cores: int) -> int:
    """Copy the matmul's A (read `index` of `mm`, [.., M, K]) into [.., M/MR, K/K_UNROLL, MR,
    K_UNROLL] before the GEMM, and return the read index of the copy: a register tile's MR rows of
    K_UNROLL k are then MR x K_UNROLL contiguous floats, which LLVM loads with ldp pairs (one
    instruction per two rows) where rows K floats apart take one ldr each. MiniLM's 8 x 8 NEON
    tile: 8 instead of 16 loads of A per 128 fmla. The copy is one pass over A, parallel, in
    vectors of K_UNROLL (FFN2's A: 196 K floats against 25 M fmla). Returns `index` unchanged when
    A's shape does not divide into the tiles."""
    import tvm

    shape = [const_int(d) for d in sch.get(mm).reads[index].source.shape]
    if len(shape) < 2 or shape[-2] is None or shape[-1] is None or shape[-2] % mr or shape[-1] % K_UNROLL:
        return index
    packed = sch.cache_read(mm, index, "global")
    sch.transform_layout(packed, ("write", 0), tvm.tirx.IndexMap.from_func(
        lambda *x: (*x[:-2], x[-2] // mr, x[-1] // K_UNROLL, x[-2] % mr, x[-1] % K_UNROLL), ndim=len(shape)))
    parallel_vectorize(sch, packed, K_UNROLL, cores, max_vector=1)
    written = sch.get(packed).writes[0].source
    return next(n for n, r in enumerate(sch.get(mm).reads) if r.source.same_as(written))


def _a_by_lane(sch: Any, mm: Any, k_loop: Any, lanes: int, cores: int, mr: int) -> None:
    """Load the tile's A rows as vectors of K_UNROLL k, once per unrolled k step (`k_loop`), into a
    local tile that the unrolled FMAs read lane by lane. On an ISA whose FMA takes one lane of a
    vector register as its multiplier (NEON's `fmla v.4s, v.4s, v.s[i]`) LLVM then issues one
    vector load per row and K_UNROLL k instead of a scalar load per row and k: MLAS's and
    XNNPACK's NEON GEMM kernels do the same. A matmul's A is packed for that first (_pack_a)."""
    import tvm

    block = sch.get(mm)
    out = block.writes[0].source
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == tvm.tirx.IterVar.DataPar]
    reduce = [iv.var for iv in block.iter_vars if iv.iter_type == tvm.tirx.IterVar.CommReduce]
    j, k = spatial[-1], reduce[-1]  # the columns (vector axis) and the innermost reduction axis

    def uses(expr: Any, var: Any) -> bool:
        return any(v.same_as(var) for v in tvm.tirx.analysis.undefined_vars(expr))

    # A: the operand read along k and not along the columns (B, the weights, is read along both).
    a = [ld for ld in buffer_loads(block.body) if not ld.source.same_as(out) and uses(ld.indices[-1], k)
         and not any(uses(idx, j) for idx in ld.indices)]
    if len(a) != 1:
        return
    index = [r.source.same_as(a[0].source) for r in block.reads].index(True)
    if not (uses(a[0].indices[-2], spatial[-2]) and len(tvm.tirx.analysis.undefined_vars(a[0].indices[-2])) == 1):
        # A convolution's input read at each pixel's window: the tile's rows are no range of one
        # index, and a local tile of them would cover whole image rows. Copy A once into GEMM form
        # [.., pixels, (ry, rx, rc)] (for a 1x1 convolution a plain copy; else im2col) first,
        # unless that copy would take more than REINDEX_MAX_BYTES (the tile then broadcasts A).
        copy_bytes = tvm.DataType(str(a[0].source.dtype)).bits // 8
        for iv in block.iter_vars:
            if any(uses(idx, iv.var) for idx in a[0].indices):
                copy_bytes *= const_int(iv.dom.extent) or 1
        if copy_bytes > REINDEX_MAX_BYTES:
            return
        reindexed = sch.reindex(mm, ("read", index))
        parallel_vectorize(sch, reindexed, lanes, cores)
        block = sch.get(mm)
        index = next(n for n, r in enumerate(block.reads) if r.source.same_as(sch.get(reindexed).writes[0].source))
    else:
        index = _pack_a(sch, mm, index, mr, cores)
    tile = sch.cache_read(mm, index, "local")
    sch.compute_at(tile, k_loop, preserve_unit_loops=True)
    # Below k_loop: the tile's row loops (with im2col's unit (ry, rx) ones) and its K_UNROLL lanes.
    outer = [sch.get(lp) for lp in sch.get_loops(mm)]
    *rows, lanes = [lp for lp in sch.get_loops(tile) if not any(sch.get(lp).same_as(o) for o in outer)]
    for lp in rows:
        sch.unroll(lp)
    sch.vectorize(lanes)


def _tile_block(sch: Any, mm: Any, batch: list[Any], loops: tuple[Any, Any, Any],
                extents: tuple[int, int, int], nbatch: int, t: DenseTiles, epilogue: Any,
                target: Any, tunable: bool, by_lane_k_unit: int | None = None) -> None:
    """Tile one matmul block with `t` (Steps 2-4). `by_lane_k_unit`: the k_unit of tile_matmul
    when the tile reads A by vector lanes (_a_by_lane); None when it broadcasts A's elements."""
    i, j, k = loops
    m, n, kk = extents
    registers, cores = vector_registers(target), num_cores(target)
    # Step 2. Tile: parallel MC x NC blocks / K slices / NR columns / MR rows / k / MR x NR.
    nv = t.nr // t.vec
    mr_cap = max(t.mr, min(MR_MAX, (registers - nv) // (nv + 1) if by_lane_k_unit is not None
                           else (registers - nv - 1) // nv))
    i_b, i_r, i_i = split(sch, i, [None, t.mc // t.mr, t.mr], tunable, mr_cap)
    j_b, j_v, j_w, k_o, k_i = _tile_loops(sch, batch, (i_b, i_r, i_i), j, k, t, n, tunable)
    single_slice = k_o is None
    par = sch.fuse(*batch, i_b, j_b)
    if cores > 1 and nbatch * m * n * kk >= MIN_PARALLEL_FMAS:
        sch.parallel(par)

    # Step 3. The micro-kernel: MR broadcasts x NR/vec vectors, fully unrolled.
    lane_rows = None
    if K_UNROLL > 1 and t.kc % K_UNROLL == 0:
        k_i, k_u = sch.split(k_i, factors=[None, K_UNROLL])
        sch.unroll(k_u)
        # A's K_UNROLL k of a row must be contiguous: within one run of k_unit (a convolution's
        # input channels at one kernel position).
        if by_lane_k_unit is not None and (by_lane_k_unit == 1 or by_lane_k_unit % K_UNROLL == 0):
            lane_rows = k_i
            group = LANE_GROUPS * K_UNROLL
            if t.kc % group == 0 and (by_lane_k_unit == 1 or by_lane_k_unit % group == 0):
                # LANE_GROUPS loads of A's tile per loop iteration, the group loop unrolled.
                k_i, lane_rows = sch.split(k_i, factors=[None, LANE_GROUPS])
                sch.unroll(lane_rows)
    sch.unroll(i_i)
    sch.unroll(j_v)
    sch.vectorize(j_w)
    if lane_rows is not None:
        _a_by_lane(sch, mm, lane_rows, t.vec, cores, t.mr)

    # Step 4. Zero the block before its first K slice; epilogue on the block after the last.
    # With one K slice the epilogue runs on each register tile instead, right after its k loop,
    # while the accumulators are still in registers: for short reductions (EfficientNet's
    # 1x1 convolutions have K = 16..240) storing the block and reading it back for the
    # epilogue cost as much as the FMAs.
    # Unit loops are kept so that the loop count never depends on the tile sizes: a tuning trace
    # (get_loops, then split the innermost) must replay with any sizes the search tries.
    if single_slice:
        sch.decompose_reduction(mm, k_i)
    else:
        sch.decompose_reduction(mm, k_o)  # the init loops keep the tile's unroll / vectorize
    sch.reverse_compute_at(epilogue, i_r if single_slice else par, preserve_unit_loops=True)
    _vectorize_innermost(sch, epilogue, t.vec)
