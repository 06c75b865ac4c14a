"""conv2d in NHWC data / HWIO weights (groups = 1, or depthwise), with its fused elementwise
epilogue: the layout O3 chooses on x86-64 (ronn_aot/passes/layout.py).

Recognized structurally: one reduction block with iterators SSSSRRR = (n, y, x, f | ry, rx, rc)
whose weight read is W[ry, rx, rc, f]; the data read takes channel rc (groups = 1) or f + rc with
one input channel per group (depthwise); optionally padding blocks before it and elementwise
blocks after it.

Why NHWC on x86: channels are the innermost axis of data, weights and output, so the vector axis
is always the output channels. The NCHW rule vectorizes over output pixels instead, which leaves
7- or 14-pixel rows (ResNet-50's and EfficientNet's last stages) in partial vectors and makes
strided convolutions gather; here a 7x7 stage is as regular as a 112x112 one and a stride only
changes which data scalar is broadcast.

Schedule (register-blocked direct convolution, the GEMM micro-kernel over pixels x channels):
  - register tile = YR x XR output pixels x NV vectors of output channels: for each (ry, rx, rc)
    step NV weight vectors are loaded and each pixel's data scalar broadcast, YR*XR*NV FMAs into
    accumulators that stay in registers for the whole reduction; a 1x1 stride-1 convolution is a
    GEMM, so its rows are fused into one pixel axis before tiling;
  - depthwise: the same tile, but each pixel loads a data vector of channels (one FMA each);
  - parallel over (n, channel tile, pixel tiles), channel tile outermost: consecutive tasks of a
    thread reuse one weight panel (KH*KW*C x NV vectors) from L2 while they walk the pixels;
  - weights of MiBs over few pixels (a late stage's 3x3): one task per channel tile, the
    reduction cut into KC-channel slices, every pixel tile per slice (stream_slice): the weights
    arrive from memory in a steady stream, each slice used by all pixels as it comes in;
  - the epilogue (bias, activation, residual add) runs on the tile before it is stored; padding
    is computed once, in parallel, before the convolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import register_rule
from . import CPU_ARCHES
from ..base import (const_int, inline_injective_chain, largest_divisor,
                    max_accumulators, num_cores, pack_constant, split, vector_lanes, vector_registers)
from ronn_aot.targets import Isa

from ..isa import isa_of
from ._conv_match import conv_block, is_copy
from .conv2d_nchw import vectorize_tile
from .dense import K_UNROLL, choose_tiles, tile_matmul, tile_rate

MAX_PIXELS = 16  # pixels per register tile: more only lengthens the unrolled body
SMALL_WEIGHTS = 256 << 10  # below this a convolution's weights stay in L2 whatever the loop order
L2_WEIGHTS = 1 << 20  # ... and up to this with enough pixel tiles; beyond, streamed from L3/memory
GEMM_PIXELS = 2048  # from here on a 1x1 convolution is a GEMM on AVX-512 (gemm_pixels)
STREAM_PIXELS = 100  # below this a stride-1 layer with streamed weights stays direct (implicit_gemm)
# Depthwise register tiles hold at most 15 AVX-512 accumulators (960 bytes). With up to 29 (what
# the register file allows), measured on AVX-512, 2 threads: EfficientNet's 3x3 144-channel 56x56
# kernel 0.094 -> 0.276 ms, its 5x5 240-channel 28x28 one 0.047 -> 0.427 ms, while full
# convolutions gained (ResNet-50's 3x3 64-channel 56x56: 0.68 -> 0.59 ms).
DEPTHWISE_TILE_BYTES = 960


@dataclass
class NHWCMatch:
    block: Any  # the reduction block (BlockRV)
    out_h: int
    out_w: int
    out_c: int
    in_c: int  # channels reduced per output (1 for depthwise)
    kernel: tuple[int, int]
    depthwise: bool
    linear: bool  # 1x1, stride 1, unpadded: output pixel (y, x) reads data pixel (y, x)
    stride: int = 1  # data columns between neighbouring output pixels of a row
    producers: list[Any] = field(default_factory=list)  # blocks before the convolution (padding)
    weight: Any = None  # the weight buffer [ry, rx, rc, f]

    @property
    def weight_bytes(self) -> int:
        return self.kernel[0] * self.kernel[1] * self.in_c * self.out_c * 4


def match_conv_nhwc(sch: Any) -> NHWCMatch | None:
    """The NHWC/HWIO convolution of this kernel, or None when it is not one."""
    cb = conv_block(sch)
    if cb is None or len(cb.out.shape) != 4:
        return None
    blocks, ci, block, ext, out, loads = cb.blocks, cb.index, cb.block, cb.ext, cb.out, cb.loads
    n, y, x, f, ry, rx, rc = (iv.var for iv in block.iter_vars)
    weight = [ld for ld in loads if all(i.same_as(v) for i, v in zip(ld.indices, (ry, rx, rc, f)))]
    if len(weight) != 1:
        return None
    data = loads[1] if weight[0] is loads[0] else loads[0]
    if not data.indices[0].same_as(n):
        return None
    import tvm

    az = tvm.sym.Analyzer()
    if data.indices[3].same_as(rc):
        depthwise = False
    elif ext[6] == 1 and az.can_prove_equal(data.indices[3] - rc, f):
        depthwise = True
    else:
        return None
    if not str(out.ty.dtype).startswith("float"):
        return None
    data_shape = [const_int(d) for d in data.source.ty.shape]
    linear = False
    if not depthwise and ext[4] == 1 and ext[5] == 1 and data_shape[1:3] == [ext[1], ext[2]]:
        one = tvm.sym.Analyzer()  # the window has one tap: ry = rx = 0
        one.bind(ry, tvm.tirx.const(0, str(ry.ty.dtype)))
        one.bind(rx, tvm.tirx.const(0, str(rx.ty.dtype)))
        linear = bool(one.can_prove_equal(data.indices[1], y) and one.can_prove_equal(data.indices[2], x))
    return NHWCMatch(blocks[ci], int(ext[1]), int(ext[2]), int(ext[3]), int(ext[6]), (int(ext[4]), int(ext[5])),
                     depthwise, linear, _column_stride(data.indices[2], x, rx), blocks[:ci], weight[0].source)


def _column_stride(index: Any, x: Any, rx: Any) -> int:
    """How many data columns apart output columns x and x + 1 read (at rx = 0); 1 when unknown."""
    import tvm

    cols = []
    for at in (0, 1):
        az = tvm.sym.Analyzer()
        az.bind(x, tvm.tirx.const(at, str(x.ty.dtype)))
        az.bind(rx, tvm.tirx.const(0, str(rx.ty.dtype)))
        cols.append(const_int(az.simplify(index)))
    return cols[1] - cols[0] if cols[0] is not None and cols[1] is not None and cols[1] > cols[0] else 1


@dataclass(frozen=True)
class NHWCTile:
    yr: int  # output rows per tile
    xr: int  # output pixels per row per tile
    nv: int  # vectors of output channels per tile
    width: int  # lanes per vector (the widest power of two <= the target's dividing the channels)


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def pick_tile(rows: int, cols: int, channels: int, lanes: int, registers: int,
              depthwise: bool = False) -> NHWCTile:
    """The register tile with the most accumulators such that accumulators, the NV weight vectors
    and one broadcast/data register fit the register file, every factor dividing its extent, and
    the accumulators stay on the stack (base.max_accumulators; in workspace memory, 28 AVX-512
    accumulators made EfficientNet-Lite0 3.8-4.1 ms instead of 3.1-3.2). Depthwise tiles stay
    smaller (DEPTHWISE_TILE_BYTES). Ties: closest to two vectors of channels (one broadcast feeds
    two FMAs), then fewer rows."""
    width = lanes
    while width > 1 and channels % width:
        width //= 2
    best: tuple[tuple[int, int, int], NHWCTile] | None = None
    for nv in range(1, 5):
        if channels % (nv * width):
            continue
        limit = DEPTHWISE_TILE_BYTES if depthwise else None
        cap = min(registers - nv - 1, max_accumulators(width, limit=limit))
        for xr in _divisors(cols, MAX_PIXELS):
            for yr in _divisors(rows, max(1, MAX_PIXELS // xr)):
                acc = yr * xr * nv
                if acc > cap:
                    continue
                score = (acc, -abs(nv - 2), -yr)
                if best is None or score > best[0]:
                    best = (score, NHWCTile(yr, xr, nv, width))
    assert best is not None  # (1, 1, 1) always fits
    return best[1]


@register_rule("cpu.conv2d_nhwc", arches=CPU_ARCHES, order=19)
class Conv2dNHWC:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_conv_nhwc(sch)
        if m is None:
            return None
        schedule_conv_nhwc(sch, func, m, target, tunable)
        return sch


def vectorize_channels(sch: Any, loop: Any, lanes: int, ragged_whole: bool) -> None:
    """Vectorize a padded copy's channel loop in chunks of up to 4 vectors; a channel count no
    vector width divides is vectorized whole (`ragged_whole`) or left scalar."""
    channels = const_int(sch.get(loop).extent) or 1
    if channels % lanes == 0:
        vec = largest_divisor(channels, 4 * lanes, lanes)
    else:
        vec = channels if ragged_whole else 1
    if vec > 1:
        _, inner = sch.split(loop, factors=[None, vec])
        sch.vectorize(inner)


def schedule_padding(sch: Any, pad: Any, lanes: int, cores: int) -> None:
    """Pixels in parallel, channels vectorized. Fusing all four axes before splitting off the
    vector (parallel_vectorize) cut vectors across pixels whenever the channels are not a multiple
    of its width (144 channels, 64-wide vectors): every lane then gathered (EfficientNet's 56x56
    depthwise kernel: 0.8 ms, of which most was its padding)."""
    *pixels, c = sch.get_loops(pad)
    vectorize_channels(sch, c, lanes, ragged_whole=True)
    par = sch.fuse(*pixels) if len(pixels) > 1 else pixels[0]
    if cores > 1:
        sch.parallel(par)


def schedule_pads(sch: Any, pads: list[Any], task: Any, lanes: int, cores: int) -> None:
    """The padded copies: each task pads the input window it reads (`task`: the parallel loop
    over pixel tiles) or, with no task given, all of it once, in parallel, before the convolution.

    Per task for strided convolutions with pixels outer: their padded input is four times their
    output, and copied whole first it was written to and read back from L2/L3 (light ResNet-50's
    stride-2 3x3 128-channel 56x56 layer: 0.92-0.97 -> 0.70-0.75 ms; the model 0.3-0.8% faster on
    AVX-512, 1.3-4% on AVX2, alternating in one process). Stride-1 layers per task as well: 0.02-
    0.05 ms faster each on AVX-512, but no faster model on either target; they keep the copy."""
    for pad in pads:
        if task is None:
            schedule_padding(sch, pad, lanes, cores)
            continue
        sch.compute_at(pad, task, preserve_unit_loops=True)
        vectorize_channels(sch, sch.get_loops(pad)[-1], lanes, ragged_whole=False)


def pixels_outer(m: NHWCMatch, t: NHWCTile, cores: int) -> bool:
    """Whether a task takes one pixel tile through every channel tile (reading its input pixels
    once, the whole weights from L2) rather than one channel tile through many pixel tiles (a
    weight panel shared by consecutive tasks, every input pixel read once per channel tile, and
    by whichever core gets the tile: the producer's other core wrote half of them).

    Pixels outer whenever the weights stay in L2 (SMALL_WEIGHTS), and up to L2_WEIGHTS when there
    are enough pixel tiles to share out evenly. Raising the bound from 256 KiB to 1 MiB (light
    ResNet-50, no records, 2 threads, alternating in one process): AVX-512 24.36 -> 23.54 ms (the
    28x28 stage's 3x3 and its strided one 0.95 -> 0.80 ms), AVX2 48.06 -> 45.27 ms. Seven pixel
    tiles (EfficientNet-Lite0's 7x7 layers, 884 KB of weights) made it 3.02 -> 3.13 ms."""
    if m.depthwise or m.weight_bytes <= SMALL_WEIGHTS:
        return True
    tiles = (m.out_h // t.yr) * (m.out_w // t.xr)
    return m.weight_bytes <= L2_WEIGHTS and tiles >= 4 * cores


def gemm_pixels(m: NHWCMatch, lanes: int) -> bool:
    """Whether a linear 1x1 convolution with small weights still goes to the dense schedule
    because of its many pixels: on AVX-512 its K-sliced MC x NC blocks beat the direct tiles on
    ResNet-50's 56x56 1x1 convolutions (256->64: 0.38-0.39 -> 0.31-0.32 ms, 64->256 with the
    residual add: 0.38-0.39 -> 0.36-0.37; 28x28 ones were slower: 128->512 0.33 -> 0.35). On
    AVX2 the model was slower with them (48.6 -> 49.9 ms): its 16 registers hold a smaller
    micro-kernel, so there the direct tiles stay."""
    return lanes >= 16 and m.out_h * m.out_w >= GEMM_PIXELS


def implicit_gemm(m: NHWCMatch, t: NHWCTile, lanes: int, registers: int, cores: int,
                  isa: Isa | None = None) -> bool:
    """Whether a convolution that is not a 1x1 stride-1 GEMM (3x3, strided 1x1) runs as one
    anyway: over its output pixels fused into one axis and its reduction (ry, rx, rc), reading the
    padded input at each pixel's window ("implicit GEMM"), when the dense schedule's register tile
    is faster (dense.tile_rate) than the direct tile `t`. That is AVX2: its 16 registers leave
    direct tiles of 7 pixels x 1 vector at 7x7 or 14 x 1 at 14x14 to 56x56 (pixel tiles divide
    the rows), where the GEMM's ragged rows give 6 x 2 vectors. ResNet-50 on AVX2, 2 threads: the
    model 46.9 -> 45.2 ms with its stride-1 3x3 layers at 14x14 to 56x56 as GEMMs, the strided
    layers into 7x7 2.14 -> 1.94 ms (3x3) and 1.75 -> 1.45 (1x1).
    Except where few pixels share streamed weights (stream_slice) at stride 1: such a layer is
    bound by its weights' memory traffic, which the direct streamed schedule is made for (the
    7x7 3x3 layers: 1.58 ms direct, 1.84 as GEMMs; the model 45.2 -> 44.3 ms keeping them).
    `isa`: where the FMA takes A by vector lane (dense._a_by_lane), the GEMM's tile does."""
    if m.depthwise or m.linear:
        return False
    if m.stride == 1 and m.out_h * m.out_w < STREAM_PIXELS and stream_slice(m, t.nv * t.width, cores, isa):
        return False
    return gemm_faster(m, t, lanes, registers, cores, isa)


def gemm_faster(m: NHWCMatch, t: NHWCTile, lanes: int, registers: int, cores: int, isa: Isa | None) -> bool:
    """Whether the dense schedule's register tile for the convolution as a GEMM is faster
    (dense.tile_rate, on `isa`'s issue width where it has one) than the direct tile `t`."""
    kh, kw = m.kernel
    by_lane = isa is not None and isa.fma_by_lane
    issue = isa.issue_width if isa is not None else 0
    g = choose_tiles(m.out_h * m.out_w, m.out_c, kh * kw * m.in_c, 1, lanes, registers, cores, True, m.in_c,
                     by_lane)
    gemm = tile_rate(g.mr, g.nr // g.vec, by_lane and m.in_c % K_UNROLL == 0, issue)
    return gemm > tile_rate(t.yr * t.xr, t.nv, issue_width=issue)


def stream_slice(m: NHWCMatch, nr: int, cores: int, isa: Isa | None = None) -> int:
    """KC, the input channels per reduction slice when the weights should be streamed, else 0.

    A network's late convolutions have MiBs of weights and few pixels: ResNet-50's 7x7 stage
    reads 9.4 MB per 3x3 convolution, 60 MB in all, which another run's 100 MB evicted from the
    caches. With all of the reduction in registers (the order below stream_slice), a task pulls
    its whole weight panel from memory first and then re-reads it from L2 for its other pixel
    tiles: the memory is busy in bursts, at ~9 GB/s of the ~30 this machine reaches. Slicing the
    reduction (KC channels at a time, every pixel tile per slice) keeps a steady stream instead,
    the slice arriving while the previous one is used: ten chained 3x3 512-channel 7x7
    convolutions 9.9-10.3 -> 7.6-7.8 ms (onnxruntime 8.4), sixteen 3x3 256-channel 14x14 ones
    10.6 -> 9.8-10.3 ms (2 threads, AVX-512).

    KC: the slice's weights at most half the task's accumulator block (pixels x NR). Measured
    best: KC = 2 at 7x7 (KC 1-2: 7.5-7.7 ms, 4: 8.4, 8: 8.8) and KC = 8 at 14x14 (2: 10.9-11.4,
    4: 10.2-11.0, 8: 9.8-10.3, 16: 10.5-10.7, 1: 17-19): each slice reloads the accumulators
    and re-touches the data pixels' cache lines, which a larger block repays over more FMAs.
    In light ResNet-50: its 3x3 7x7 convolutions 1.09-1.16 -> 0.92 ms, the strided one 1.29 ->
    1.12, the 14x14 ones 0.71-0.80 -> 0.70-0.77."""
    # Not 1x1 convolutions: a linear one is a GEMM for the dense schedule (its own K slices);
    # ResNet-50's strided ones measured no faster streamed (0.78 -> 0.83, 1.03 -> 1.05 ms).
    # Nor on cores that issue few instructions per cycle (`isa.issue_width`): each slice reloads and
    # stores the accumulators, which the x86 cores' wide issue hid; KC = 2 at 7x7 on NEON (NR = 8)
    # made a 3x3 512-channel layer 44.2M instructions against 28.9M FMAs.
    if m.depthwise or m.kernel == (1, 1) or (isa is not None and isa.issue_width):
        return 0
    if m.weight_bytes <= L2_WEIGHTS or m.out_c // nr < 2 * cores:
        return 0
    slice_bytes = m.out_h * m.out_w * nr * 4 // 2
    return largest_divisor(m.in_c, max(1, slice_bytes // (m.kernel[0] * m.kernel[1] * nr * 4)))


def pack_weight(sch: Any, func: Any, m: NHWCMatch, nr: int, block: Any = None) -> None:
    """HWIO -> [F/NR, KH, KW, C, NR] at compile time when the weight is a constant: one output-
    channel tile's panel becomes contiguous. Read in place, its NR floats sit F*4 bytes apart, so
    every reduction step touched new cache lines and, with 2048 channels, a new page (ResNet-50's
    7x7 stage ran at a third of the speed of its 28x28 one)."""
    import tvm

    if m.out_c % nr or m.out_c == nr:
        return
    imap = tvm.tirx.IndexMap.from_func(lambda ry, rx, rc, f: (f // nr, ry, rx, rc, f % nr))
    pack_constant(sch, func, m.block if block is None else block, m.weight, imap)


def schedule_conv_nhwc(sch: Any, func: Any, m: NHWCMatch, target: Any, tunable: bool = False) -> None:
    """`tunable`: the pixel tile (YR x XR), or the GEMM's tiles for a 1x1 convolution, become sampled
    tiles starting at the rule's choices (base.split); the channel tile stays, since the compile
    packs the weights NR channels wide."""
    lanes, cores = vector_lanes(target), num_cores(target)
    conv = m.block
    epilogue = inline_injective_chain(sch, conv)
    if epilogue is None:
        # The convolution writes the kernel's output: accumulate in a tile buffer instead.
        epilogue = sch.cache_write(conv, 0, "global")
    pads = []  # padded copies, scheduled once the loop order is known (schedule_pads)
    for pad in m.producers:
        # Depthwise: the padding is read through a condition instead of being copied first. It
        # has only KH*KW FMAs per output to hide a copy behind (EfficientNet's 56x56 144-channel
        # layer: 0.375 ms with the padded copy, 0.30 ms inline).
        if is_copy(sch, pad) or m.depthwise:
            sch.compute_inline(pad)
        else:
            pads.append(pad)

    n, y, x, f, ry, rx, rc = sch.get_loops(conv)
    rows, cols = m.out_h, m.out_w
    registers = vector_registers(target)
    t = pick_tile(rows, cols, m.out_c, lanes, registers, m.depthwise)
    outer_pixels = pixels_outer(m, t, cores)
    # A 1x1 convolution with MiBs of weights is a GEMM for the dense schedule (K slices, cache
    # blocks); one whose weights stay in L2 does as well or better on the direct tiles below,
    # pixels outer (ResNet-50 at AVX2, one thread: 98 -> 95 ms), except for many pixels on
    # AVX-512 (gemm_pixels). Others where the GEMM's tile is faster (implicit_gemm).
    # Where the FMA takes A by vector lane (NEON), the GEMM's tile loads a vector of A per row and
    # K_UNROLL k against the direct tile's broadcast per pixel and k: 1x1 layers are GEMMs wherever
    # its tile is the faster one.
    isa = isa_of(target)
    if (m.linear and (not outer_pixels or gemm_pixels(m, lanes) or (isa.fma_by_lane and gemm_faster(
            m, t, lanes, registers, cores, isa)))) or implicit_gemm(m, t, lanes, registers, cores, isa):
        schedule_pads(sch, pads, None, lanes, cores)  # the whole padded input first (if any)
        # A GEMM: pixels (rows fused into one contiguous axis) x output channels x the reduction
        # (ry, rx, input channels), given to the dense schedule, whose K slices and cache blocks
        # keep the weight panel and the data rows in L1/L2 (ResNet-50's 2048-channel rows are 8 KiB apart: streamed whole,
        # they evicted each other).
        # The convolution, its accumulator buffer and the epilogue all iterate over one fused
        # pixel axis p = y * W + x: a tile of pixels that is not a whole number of rows is then
        # one contiguous range for the epilogue too. (Fusing only the loops left the epilogue's
        # region in (y, x), widened to whole rows: it stored pixels the tile had not computed
        # yet, wrong results whenever the pixel tile did not divide the row.)
        width = m.out_w
        fuse_pixels = lambda n_, y_, x_, f_: (n_, y_ * width + x_, f_)  # noqa: E731
        sch.transform_layout(conv, ("write", 0), fuse_pixels)
        sch.transform_block_layout(conv, lambda n_, y_, x_, f_, a, b, c: (n_, y_ * width + x_, f_, a, b, c))
        sch.transform_block_layout(epilogue, fuse_pixels)
        if isa.fma_by_lane and m.kernel != (1, 1):  # (a 1x1's copy is [n, pixels, rc] already)
            # The reduction as one iterator k = (ry, rx, rc) of the block as well: the GEMM-form
            # copy of the input (dense._a_by_lane) is then [n, pixels, k], and a tile's K_UNROLL k
            # one range of one index. (Over (ry, rx, rc) TVM's region analysis gave the tile's
            # local copy rows of 12 and a division per k step.)
            kw, c = m.kernel[1], m.in_c
            sch.transform_block_layout(conv, lambda n_, p_, f_, a, b, c_: (n_, p_, f_, (a * kw + b) * c + c_))
            n, pixels, f, k = sch.get_loops(conv)
        else:
            n, pixels, f, ry, rx, rc = sch.get_loops(conv)
            k = sch.fuse(ry, rx, rc)
        reduction = m.kernel[0] * m.kernel[1] * m.in_c
        tile_matmul(sch, conv, [n], (pixels, f, k), (m.out_h * m.out_w, m.out_c, reduction), 1,
                    epilogue, target, tunable, pack=lambda block, nr: pack_weight(sch, func, m, nr, block),
                    k_unit=m.in_c)
        return
    nr = t.nv * t.width
    f_o, f_v, f_w = sch.split(f, factors=[None, t.nv, t.width])
    x_o, x_i = split(sch, x, [None, t.xr], tunable, MAX_PIXELS)
    y_o, y_i = split(sch, y, [None, t.yr], tunable, MAX_PIXELS)
    kc = stream_slice(m, nr, cores, isa)
    if kc:
        schedule_pads(sch, pads, None, lanes, cores)
        # Weights streamed (see stream_slice): one task per channel tile, all its pixels; for
        # each KC-channel slice of the reduction every pixel tile takes its turn, so the slice's
        # weights are used by all pixels right after they arrive. The accumulators live in the
        # tile buffer between slices (reloaded once per slice and tile).
        rc_o, rc_i = split(sch, rc, [None, kc], tunable, max(kc, 64))
        sch.reorder(n, f_o, rc_o, y_o, x_o, ry, rx, rc_i, y_i, x_i, f_v, f_w)
        par = sch.fuse(n, f_o)
        if cores > 1:
            sch.parallel(par)
        sch.reverse_compute_at(epilogue, par, preserve_unit_loops=True)
        for lp in (y_i, x_i, f_v):
            sch.unroll(lp)
        sch.vectorize(f_w)
        init = sch.decompose_reduction(conv, rc_o)  # zero the task's block before its first slice
        vectorize_tile(sch, init, nr, 1)
        vectorize_tile(sch, epilogue, nr, 1)
        pack_weight(sch, func, m, nr)
        return
    if outer_pixels:
        # Pixels outer, every channel tile of a pixel tile in one task: the task writes whole
        # output cache lines and reads its input pixels once. (Channel tiles outer, EfficientNet's
        # 16->96 1x1 at 112x112 wrote each 64-byte line in halves, 900 tasks apart, and read its
        # input 12 times.)
        sch.reorder(n, y_o, x_o, f_o, ry, rx, rc, y_i, x_i, f_v, f_w)
        par = sch.fuse(n, y_o, x_o)
        home = f_o
    else:
        # Channel tiles outer: consecutive tasks of a thread share one weight panel in L2.
        sch.reorder(n, f_o, y_o, x_o, ry, rx, rc, y_i, x_i, f_v, f_w)
        par = home = sch.fuse(n, f_o, y_o, x_o)
    tile = [y_i, x_i]
    if cores > 1:
        sch.parallel(par)
    schedule_pads(sch, pads, par if outer_pixels and m.stride > 1 else None, lanes, cores)
    sch.reverse_compute_at(epilogue, home, preserve_unit_loops=True)  # see dense.tile_matmul
    for lp in (*tile, f_v):
        sch.unroll(lp)
    sch.vectorize(f_w)
    init = sch.decompose_reduction(conv, ry)
    outer = 1 if home is par else 2  # loops above the tile: the task (and its channel tile)
    vectorize_tile(sch, init, nr, outer)
    vectorize_tile(sch, epilogue, nr, outer)
    if not m.depthwise:  # depthwise weights are a few KiB, read along the channels already
        pack_weight(sch, func, m, nr)
