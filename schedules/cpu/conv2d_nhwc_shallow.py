"""conv2d in NHWC over a single input channel (a first layer over a grayscale image or a
spectrogram), with its fused elementwise epilogue.

Recognized as cpu.conv2d_nhwc recognizes convolutions (match_conv_nhwc), when the data has one
channel and the convolution is neither depthwise nor a 1x1 GEMM.

Why a rule of its own: with one input channel each output pixel has only KH*KW FMAs per vector
of output channels, and cpu.conv2d_nhwc's whole padded copy of the input, made before the
convolution as a parallel region of its own, costs about as much as the convolution (one
element per pixel, a bounds test each, and a second launch of the thread pool): the MNIST CNN's
1->16 3x3 layer at 28x28 took 4.4-5.3 us at one thread, AVX-512, of which the padding was half.

Schedule: cpu.conv2d_nhwc's register tile (YR x XR pixels x NV vectors of output channels,
pick_tile), tasks of YR whole output rows (a band of rows), each padding only the input rows its
band reads (KH - 1 more than YR: 6 of every 4 rows for a 3x3) right before its convolution, in
the same parallel region; the epilogue runs on each tile before it is stored. The same layer:
2.3-2.6 us at one thread. Bands run in parallel only when the layer has MIN_PARALLEL_MACS
multiply-adds: below, the launch and the next kernel reading the other core's half of the output
cost more than the second core saves (the same layer, 2 threads, MNIST's System 1: 2.3 us
serial against 2.9 in parallel (7 bands), 3.4-4.2 with 14 or 28 bands; the max pool after it 0.6
against 0.9 us).
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from ..base import inline_injective_chain, num_cores, vector_lanes, vector_registers
from ._conv_match import is_copy
from .conv2d_nchw import vectorize_tile
from .conv2d_nhwc import NHWCMatch, match_conv_nhwc, pack_weight, pick_tile

MIN_PARALLEL_MACS = 1 << 18  # 2.3x the MNIST layer (113k): ~5 us at one thread on AVX-512


# Before cpu.conv2d_nhwc (order 19). x86-64 only: measured there; on AArch64 cpu.conv2d_nhwc may
# choose its implicit GEMM (fma_by_lane) for such a layer.
@register_rule("cpu.conv2d_nhwc_shallow", arches=("x86_64",), order=18)
class Conv2dNHWCShallow:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        sch = s_tir.Schedule(func)
        sch.work_on("main")
        m = match_conv_nhwc(sch)
        if m is None or m.depthwise or m.linear or m.in_c != 1:
            return None
        schedule_shallow(sch, func, m, target)
        return sch


def schedule_shallow(sch: Any, func: Any, m: NHWCMatch, target: Any) -> None:
    # Step 1. The epilogue (bias, activation) inlined into one block after the convolution.
    conv = m.block
    epilogue = inline_injective_chain(sch, conv)
    if epilogue is None:  # the convolution writes the kernel's output: accumulate in a tile buffer
        epilogue = sch.cache_write(conv, 0, "global")
    pads = []
    for pad in m.producers:
        if is_copy(sch, pad):
            sch.compute_inline(pad)
        else:
            pads.append(pad)
    # Step 2. The register tile: rows x pixels x channel vectors, the reduction outside it.
    n, y, x, f, ry, rx, rc = sch.get_loops(conv)
    t = pick_tile(m.out_h, m.out_w, m.out_c, vector_lanes(target), vector_registers(target))
    nr = t.nv * t.width
    f_o, f_v, f_w = sch.split(f, factors=[None, t.nv, t.width])
    x_o, x_i = sch.split(x, factors=[None, t.xr])
    y_o, y_i = sch.split(y, factors=[None, t.yr])
    sch.reorder(n, y_o, x_o, f_o, ry, rx, rc, y_i, x_i, f_v, f_w)
    # Step 3. One task per band of YR output rows, padding the input rows it reads.
    band = sch.fuse(n, y_o)
    macs = m.out_h * m.out_w * m.out_c * m.kernel[0] * m.kernel[1]
    if num_cores(target) > 1 and macs >= MIN_PARALLEL_MACS:
        sch.parallel(band)
    for pad in pads:
        sch.compute_at(pad, band, preserve_unit_loops=True)
    sch.reverse_compute_at(epilogue, f_o, preserve_unit_loops=True)
    # Step 4. Unrolled tile, vectorized channels; the accumulators' zeroing and the epilogue on
    # the tile (below the band, pixel and channel-tile loops).
    for lp in (y_i, x_i, f_v):
        sch.unroll(lp)
    sch.vectorize(f_w)
    init = sch.decompose_reduction(conv, ry)
    vectorize_tile(sch, init, nr, 3)
    vectorize_tile(sch, epilogue, nr, 3)
    pack_weight(sch, func, m, nr)
