"""sdot / neon convolutions on NHWC quads (ronn_aot/bitnet/arm_nhwc.py): weights reordered, the
quantize kernel's quads and row sums bit for bit against the NCHW pack kernel's (both run on this
host: they are plain integer TIR), the multiply kernel reading the quads in place. The multiply
kernels themselves run under qemu in test_aarch64_dot.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from tvm import s_tir

from ronn_aot.bitnet import arm, arm_nhwc
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import LayerSpec, quads_shape
from ronn_aot.bitnet.schedule import scheduled
from ronn_aot.targets import get_target

from test_nhwc import DILATED, ODD, packed_reordered  # the VNNI NHWC tests' geometries


def _run(func: Any, args: list[np.ndarray], outs: list[tuple[tuple[int, ...], str]]) -> list[np.ndarray]:
    import tvm

    lib = tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}),
                      target=get_target("x86_64-avx2").tvm_target(1))
    out = [tvm.runtime.tensor(np.zeros(s, d)) for s, d in outs]
    lib["main"](*[tvm.runtime.tensor(a) for a in args], *out)
    return [o.numpy() for o in out]


@pytest.mark.parametrize("weights", ["ternary", "binary"])
def test_nhwc_sdot_packing_is_the_nchw_quantization_reordered(weights: str) -> None:
    g = ODD
    nhwc, hwc = packed_reordered(arm.pack_weights_sdot, arm.pack_conv_nhwc_sdot, weights)
    decoded = arm.unpack_sdot(nhwc.planes, weights, g.out_channels, nhwc.k)
    # a binary layer's padded channels hold digit 0 (weight -1): their codes are 0
    np.testing.assert_array_equal(decoded, hwc.reshape(g.out_channels, -1) if weights == "ternary"
                                  else np.where(hwc == 0, -1, hwc).reshape(g.out_channels, -1))


def _spec(g: R.ConvGeometry, static: Any = (0.05, 0.0), dot: str = "sdot", bias: bool = False,
          relu: bool = False) -> LayerSpec:
    return arm_nhwc.nhwc_sdot_spec(g, g.out_channels, "ternary", 8, static, dot, bias, relu)


def test_nhwc_sdot_spec_and_kernels_structure() -> None:
    """The quantize kernel takes the NHWC input (or its max pool's input) and writes padded NHWC
    quads and row sums; the multiply kernel reads those quads (no im2col buffer), adds the bias
    (a parameter only then) and writes NHWC."""
    spec = _spec(ODD)
    assert quads_shape(spec) == (2, 9, 7, 2) and spec.k == 72 and spec.words == 18
    assert spec.out_shape == (2, 4, 5, 20)
    assert spec.act_outputs == [((2, 9, 7, 2), "uint32"), ((3,), "float32"), ((ODD.m,), "int32")]
    pack = scheduled(arm.pack_kernel(spec))
    assert [tuple(int(d) for d in p.shape) for p in pack.params] == [(2, 7, 6, 5), (2, 9, 7, 2), (3,), (40,)]
    pooled = scheduled(arm.pack_kernel(replace(spec, pool=(14, 12, 2, 2, 2, 2))))
    assert tuple(int(d) for d in pooled.params[0].shape) == (2, 14, 12, 5)
    # each padded pixel's codes computed once, under the pixel's loop, then its quads and its sum
    sch = s_tir.Schedule(arm.pack_kernel(spec))
    sch.work_on("main")
    arm_nhwc.schedule_quantize(sch, spec)
    pixel = [sch.get(loop) for loop in sch.get_loops(sch.get_sblock("quads"))[:3]]
    for block in ("code", "pixsum"):
        assert [sch.get(loop) for loop in sch.get_loops(sch.get_sblock(block))[:3]] == pixel
    for dot in ("sdot", "neon"):
        mul = scheduled(arm.sdot_kernel(_spec(ODD, dot=dot)))
        shapes = [tuple(int(d) for d in p.shape) for p in mul.params]
        weights = (2, 18, 16) if dot == "sdot" else (2, 18, 4, 16)  # neon: a byte a weight
        assert shapes == [(2, 9, 7, 2), (3,), (40,), weights, (32,), (2, 4, 5, 20)]
    # 16 channels: SDOT takes 4 quads a load and a lane of it (neon keeps LD1R's broadcast)
    wide = R.ConvGeometry(1, 16, 5, 5, 16, (3, 3), (1, 1), (1, 1, 1, 1))
    assert "T.Shuffle" in arm.sdot_kernel(_spec(wide)).script()
    assert "T.Shuffle" not in arm.sdot_kernel(_spec(wide, dot="neon")).script()
    assert "T.Shuffle" not in arm.sdot_kernel(_spec(ODD)).script()  # 2 quads a pixel
    fused = arm.sdot_kernel(_spec(ODD, bias=True, relu=True))  # bias after scale, before out
    assert [tuple(int(d) for d in p.shape) for p in fused.params][-2:] == [(20,), (2, 4, 5, 20)]
    assert "llvm.arithmetic.fence" in fused.script() and "T.max" in fused.script()
    with pytest.raises(ValueError, match="NHWC layers"):
        LayerSpec(ODD.m, 72, 20, "ternary", 8, 64, ODD, None, "popcount", "NHWC")


def _pool(x: np.ndarray, pool: tuple[int, ...]) -> np.ndarray:
    """NCHW max pool (no padding) of x."""
    _, _, kh, kw, sh, sw = pool
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    return np.max([x[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw]
                   for i in range(kh) for j in range(kw)], axis=0)


@pytest.mark.parametrize("static", [None, (0.04, 0.0)])
@pytest.mark.parametrize("g,pool", [(ODD, None), (DILATED, None), (ODD, (14, 13, 2, 2, 2, 2))],
                         ids=["odd", "dilated", "odd_pooled"])
def test_quantize_kernel_matches_nchw_pack(static: Any, g: R.ConvGeometry, pool: Any) -> None:
    """The NHWC quads, read as the im2col matrix, hold the NCHW pack kernel's codes (reordered);
    stats and row sums equal. With a pool, the NCHW pack kernel quantizes the pooled tensor."""
    rng = np.random.default_rng(g.channels)
    shape = (g.batch, g.channels) + ((g.height, g.width) if pool is None else pool[:2])
    x_in = rng.standard_normal(shape).astype(np.float32)
    x = x_in if pool is None else _pool(x_in, pool)
    spec = replace(_spec(g, static), pool=pool)
    quads, stats, rowsum = _run(scheduled(arm.pack_kernel(spec)), [np.ascontiguousarray(x_in.transpose(0, 2, 3, 1))],
                                spec.act_outputs)
    old = LayerSpec(g.m, g.k, g.out_channels, "ternary", 8, 8, g, static, "sdot")
    a_old, stats_old, rowsum_old = _run(scheduled(arm.pack_kernel(old)), [x], old.act_outputs)
    np.testing.assert_array_equal(stats, stats_old)
    np.testing.assert_array_equal(rowsum, rowsum_old)
    codes_old = a_old.view(np.int8).reshape(g.m, -1)[:, :g.k]  # [M, (c, kh, kw)]
    codes = quads.view(np.int8)  # [B, H', W', C4]
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
    oh, ow = g.out_hw
    im2col = np.stack([codes[:, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw, :g.channels]
                       for i in range(kh) for j in range(kw)], axis=-1)  # [B, OH, OW, C, KH * KW]
    np.testing.assert_array_equal(im2col.reshape(g.m, -1), codes_old)
    assert not codes[..., g.channels:].any()  # padded channels: code 0
    # and against the numpy reference
    ref_stats = R.ActStats(*static) if static is not None else R.activation_stats(R.im2col(x, g), 8)
    np.testing.assert_array_equal(codes_old, R.quantize_activations(R.im2col(x, g), 8, ref_stats))
