"""The NHWC convolution rule's tile choice (schedules/cpu/conv2d_nhwc.py): properties over the
shapes real models have; its structure and numerics are in test_rules.py (golden cases
conv2d_nhwc*) and test_conv_shapes.py (both layouts, packed weights)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ronn_aot.schedules.base import max_accumulators
from ronn_aot.schedules.cpu.conv2d_nhwc import (DEPTHWISE_TILE_BYTES, NHWCMatch, gemm_pixels, implicit_gemm, pick_tile,
                                                pixels_outer, stream_slice)
from ronn_aot.backends.tir_pipeline import MAX_STACK_BYTES


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 112), cols=st.integers(1, 112),
       channels=st.sampled_from([1, 3, 5, 8, 12, 16, 24, 32, 40, 48, 80, 96, 112, 144, 192, 240, 320,
                                 480, 512, 672, 1152, 2048]),
       wide=st.booleans(), depthwise=st.booleans())
def test_tile_divides_and_fits_the_register_file(rows: int, cols: int, channels: int, wide: bool,
                                                 depthwise: bool) -> None:
    lanes, registers = (16, 32) if wide else (8, 16)
    t = pick_tile(rows, cols, channels, lanes, registers, depthwise)
    assert rows % t.yr == 0 and cols % t.xr == 0 and channels % (t.nv * t.width) == 0
    assert t.width <= lanes and (t.width & (t.width - 1)) == 0
    # accumulators + NV weight vectors + one broadcast/data register
    assert t.yr * t.xr * t.nv + t.nv + 1 <= registers
    # ... and the accumulators stay on the stack (ronn_aot/backends/tir_pipeline.py), depthwise ones smaller
    tile_bytes = t.yr * t.xr * t.nv * t.width * 4
    assert tile_bytes <= (DEPTHWISE_TILE_BYTES if depthwise else MAX_STACK_BYTES)


def test_tile_uses_the_register_file_on_real_layers() -> None:
    # ResNet-50's 7x7 stage (512 channels) on AVX-512: 7 pixels x 2 vectors (7 x 4 = 28 and the
    # 4 weight vectors would not leave a broadcast register); 1152 channels: 7 x 3 vectors.
    assert pick_tile(7, 7, 512, 16, 32).nv * pick_tile(7, 7, 512, 16, 32).xr == 14
    t = pick_tile(7, 7, 1152, 16, 32)
    assert (t.xr, t.nv, t.width) == (7, 3, 16)
    # ResNet-50's 56x56 64-channel 3x3: 28 accumulators (14 pixels x 2 vectors; 0.68 -> 0.59 ms
    # over the 15 that fit under TVM's own stack limit)
    t = pick_tile(56, 56, 64, 16, 32)
    assert t.yr * t.xr * t.nv == 28
    # ... but the same layer depthwise keeps at most 15 (DEPTHWISE_TILE_BYTES)
    t = pick_tile(56, 56, 144, 16, 32, depthwise=True)
    assert t.yr * t.xr * t.nv == 14 and t.yr * t.xr * t.nv <= max_accumulators(16, limit=DEPTHWISE_TILE_BYTES)
    # 24 channels: 8-lane vectors even on AVX-512 (24 is not a multiple of 16)
    assert pick_tile(56, 56, 24, 16, 32).width == 8
    # 56-wide rows on AVX2: at least 12 of the 16 registers hold accumulators
    t = pick_tile(56, 56, 64, 8, 16)
    assert t.yr * t.xr * t.nv >= 12


def _layer(hw: int, channels: int, out: int, kernel: int = 3, depthwise: bool = False) -> NHWCMatch:
    linear = kernel == 1
    return NHWCMatch(None, hw, hw, out, 1 if depthwise else channels, (kernel, kernel), depthwise, linear)


def test_weights_stream_only_where_they_leave_the_caches() -> None:
    # ResNet-50 on AVX-512, 2 cores, 32-channel tiles: the 3x3 convolutions of the 14x14 and 7x7
    # stages (2.4 and 9.4 MB of weights) slice their reduction, KC = 8 and 2 (the measured best)
    assert stream_slice(_layer(14, 256, 256), 32, 2) == 8
    assert stream_slice(_layer(7, 512, 512), 32, 2) == 2
    # the slice's weights stay within half the task's accumulator block (pixels x NR)
    for hw, c in ((14, 256), (7, 512), (4, 1024)):
        kc = stream_slice(_layer(hw, c, c), 32, 2)
        assert c % kc == 0 and (kc == 1 or 9 * kc * 32 * 4 <= hw * hw * 32 * 4 // 2)
    # the 28x28 stage's 590 KB stay in L2: its tasks keep the whole reduction in registers
    assert stream_slice(_layer(28, 128, 128), 32, 2) == 0
    # 1x1 (the dense schedule's K slices, or measured no faster), depthwise: never
    assert stream_slice(_layer(7, 1024, 2048, kernel=1), 32, 2) == 0
    assert stream_slice(_layer(7, 1, 4096, depthwise=True), 32, 2) == 0
    # too few channel tiles to keep every core busy with one task per tile: the old order
    assert stream_slice(_layer(7, 4096, 64), 32, 2) == 0


def test_many_pixel_1x1_convolutions_are_gemms_on_avx512_only() -> None:
    assert gemm_pixels(_layer(56, 256, 64, kernel=1), 16)
    assert not gemm_pixels(_layer(56, 256, 64, kernel=1), 8)  # AVX2: the direct tiles
    assert not gemm_pixels(_layer(28, 128, 512, kernel=1), 16)


def test_implicit_gemm_where_the_gemm_tile_is_faster() -> None:
    """AVX2 (8 lanes, 16 registers): ResNet-50's 3x3 and strided convolutions become GEMMs over
    their pixels (6 x 2-vector tiles over ragged rows, against direct tiles of 7 x 1 or 14 x 1),
    but the stride-1 3x3 layers at 7x7, whose streamed weights bound them. Depthwise, 1x1
    stride 1 (already GEMMs where that pays), and AVX-512 (whose direct tiles are as fast): never."""
    def implicit(hw: int, channels: int, out: int, lanes: int, registers: int, kernel: int = 3,
                 stride: int = 1, depthwise: bool = False) -> bool:
        layer = _layer(hw, channels, out, kernel, depthwise)
        layer.linear = kernel == 1 and stride == 1
        layer.stride = stride
        return implicit_gemm(layer, pick_tile(hw, hw, out, lanes, registers, depthwise), lanes, registers, 2)

    for hw, c in ((56, 64), (28, 128), (14, 256)):
        assert implicit(hw, c, c, 8, 16) and implicit(hw, c, c, 8, 16, stride=2)
        assert not implicit(hw, c, c, 16, 32) and not implicit(hw, c, c, 16, 32, stride=2)
    assert not implicit(7, 512, 512, 8, 16)  # streamed weights, 49 pixels
    assert implicit(7, 512, 512, 8, 16, stride=2)
    assert implicit(7, 1024, 2048, 8, 16, kernel=1, stride=2)
    assert not implicit(7, 1024, 2048, 16, 32, kernel=1, stride=2)
    assert not implicit(7, 2048, 512, 8, 16, kernel=1)
    assert not implicit(14, 1, 256, 8, 16, depthwise=True)


def test_pixels_outer_while_the_weights_stay_in_l2_and_the_tiles_share_out() -> None:
    def outer(hw: int, channels: int, out: int, kernel: int = 3) -> bool:
        layer = _layer(hw, channels, out, kernel)
        return pixels_outer(layer, pick_tile(hw, hw, out, 16, 32), 2)

    assert outer(56, 64, 64)  # 147 KB: always
    assert outer(28, 128, 128)  # 590 KB, 56 pixel tiles
    assert outer(14, 1024, 256, kernel=1)  # 1 MiB, 14 tiles
    assert not outer(7, 192, 1152, kernel=1)  # 884 KB but 7 tiles for 2 cores
    assert not outer(14, 256, 256)  # 2.4 MB: channel tiles outer (and streamed)


def test_strided_convolutions_pad_each_task_window() -> None:
    """A stride-2 3x3 convolution with pixels outer pads, in each parallel task, the input window
    that task reads (schedule_pads); a stride-1 one pads all of its input once, first."""
    import tvm
    from onnx import helper

    from graphs import make_model, w
    from kernels import kernel_of, tvm_target
    from ronn_aot.schedules.cpu.conv2d_nhwc import Conv2dNHWC

    def loops_of_padding_and_conv(stride: int) -> tuple[Any, Any]:
        nodes = [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1], strides=[stride, stride])]
        model = make_model(nodes, {"x": w(1, 16, 16, 16, seed=1, scale=1.0)}, ["y"], {"W": w(32, 16, 3, 3)})
        target = tvm_target("x86_64-avx512")
        with target:
            sch = Conv2dNHWC().apply(kernel_of(model, f"s{stride}", 3), target, False)
        pad, conv = sch.get_sblock("pad_temp"), sch.get_sblock("conv2d_nhwc_update")
        return sch.get(sch.get_loops(pad)[0]), sch.get(sch.get_loops(conv)[0])

    pad_loop, conv_loop = loops_of_padding_and_conv(2)
    assert pad_loop.same_as(conv_loop) and pad_loop.kind == tvm.tirx.ForKind.PARALLEL
    pad_loop, conv_loop = loops_of_padding_and_conv(1)
    assert not pad_loop.same_as(conv_loop)
