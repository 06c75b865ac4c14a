"""The bit-serial kernels, scheduled and built for this machine, are bit-exact against the numpy
reference of the same quantized arithmetic (every mode, dense and conv, odd sizes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import LayerSpec, bitserial_kernel, pack_kernel
from ronn_aot.bitnet.schedule import scheduled
from ronn_aot.targets import get_target

MODES = [("ternary", 8), ("ternary", 4), ("binary", 8), ("binary", 1)]
CONV = R.ConvGeometry(2, 5, 7, 6, 12, (3, 3), (2, 1), (1, 1, 1, 0))


def _run(func: Any, args: list[np.ndarray], outs: list[tuple[tuple[int, ...], str]]) -> list[np.ndarray]:
    import tvm

    target = get_target("host").tvm_target()
    lib = tvm.compile(tvm.IRModule({"main": scheduled(func).with_attr("global_symbol", "main")}), target=target)
    dev = tvm.cpu()
    out = [tvm.runtime.tensor(np.zeros(s, d), dev) for s, d in outs]
    lib["main"](*[tvm.runtime.tensor(a, dev) for a in args], *out)
    return [o.numpy() for o in out]


def _layer(spec: LayerSpec, x: np.ndarray, packed: Q.PackedWeights,
           stats: R.ActStats | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    outs = [((spec.m, spec.act_bits, spec.words), Q.word_dtype(spec.word_bits)), ((3,), "float32")]
    if spec.needs_rowsum:
        outs.append(((spec.m,), "int32"))
    acts = _run(pack_kernel(spec), [x], outs)
    weights = [packed.planes, packed.scale] + ([packed.wsum] if spec.xnor else [])
    return acts, _run(bitserial_kernel(spec), acts + weights, [(spec.out_shape, "float32")])[0]


def layer_case(layer: str, weights: str, bits: int, seed: int, dot: str = "popcount",
               conv: R.ConvGeometry = CONV) -> tuple[LayerSpec, np.ndarray, np.ndarray, Q.PackedWeights]:
    """(spec, input, its matrix view, packed weights) of a small odd-sized "dense" (3 x 100 @ 100 x 20:
    K not a multiple of 64, N not of 16) or "conv" layer, packed for the kernel family `dot`."""
    rng = np.random.default_rng(seed)
    if layer == "dense":
        geometry, m, k, n = None, 3, 100, 20
        x = rng.standard_normal((m, k)).astype(np.float32)
        v = x
    else:
        geometry, m, k, n = conv, conv.m, conv.k, conv.out_channels
        x = rng.standard_normal((conv.batch, conv.channels, conv.height, conv.width)).astype(np.float32)
        v = R.im2col(x, conv)
    packed = Q.pack_for(rng.standard_normal((n, k)).astype(np.float32), weights, dot)
    return LayerSpec(m, k, n, weights, bits, packed.word_bits, geometry, dot=dot), x, v, packed


@pytest.mark.parametrize("weights,bits", MODES)
@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_kernels_bit_exact(weights: str, bits: int, layer: str) -> None:
    spec, x, v, packed = layer_case(layer, weights, bits, seed=bits)
    conv = spec.conv
    acts, y = _layer(spec, x, packed)

    stats = R.activation_stats(v, bits)
    codes = R.quantize_activations(v, bits, stats)
    np.testing.assert_array_equal(acts[1], stats.vector(bits))
    np.testing.assert_array_equal(acts[0], R.pack_activations(codes, bits, spec.word_bits))
    if spec.needs_rowsum:
        np.testing.assert_array_equal(acts[2], codes.sum(axis=1))
    expected = R.dense(v, packed, bits) if conv is None else R.conv2d(x, packed, conv, bits)
    np.testing.assert_array_equal(y, expected)


def test_static_calibration_stats_are_used() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    packed = Q.pack_weights(rng.standard_normal((8, 64)).astype(np.float32), "ternary")
    stats = R.ActStats(0.01)  # clips most activations: visibly different from the dynamic scale
    spec = LayerSpec(2, 64, 8, "ternary", 8, packed.word_bits, None, (stats.scale, stats.threshold))
    _, y = _layer(spec, x, packed)
    np.testing.assert_array_equal(y, R.dense(x, packed, 8, stats))
    assert not np.array_equal(y, R.dense(x, packed, 8))


@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_large_input_scale_is_a_parallel_exact_max(layer: str) -> None:
    """Above 16K elements the int activations' scale is computed as cores x 16 partial maxima
    (rfactor): still exactly the reference's max, so every output bit stays the same."""
    rng = np.random.default_rng(11)
    if layer == "dense":
        conv, m, k, n = None, 64, 512, 24
        x = rng.standard_normal((m, k)).astype(np.float32)
    else:
        conv = R.ConvGeometry(1, 16, 30, 30, 24, (3, 3), (1, 1), (1, 1, 1, 1))
        m, k, n = conv.m, conv.k, conv.out_channels
        x = rng.standard_normal((1, 16, 30, 30)).astype(np.float32)
    x.flat[rng.integers(x.size)] = 9.0  # one clear maximum, anywhere
    v = x if conv is None else R.im2col(x, conv)
    packed = Q.pack_weights(rng.standard_normal((n, k)).astype(np.float32), "ternary")
    spec = LayerSpec(m, k, n, "ternary", 8, packed.word_bits, conv)
    assert "amax_rf" in scheduled(pack_kernel(spec)).script()
    acts, y = _layer(spec, x, packed)
    stats = R.activation_stats(v, 8)
    np.testing.assert_array_equal(acts[1], stats.vector(8))
    expected = R.dense(v, packed, 8) if conv is None else R.conv2d(x, packed, conv, 8)
    np.testing.assert_array_equal(y, expected)
