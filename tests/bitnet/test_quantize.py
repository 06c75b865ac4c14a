"""Weight quantization, packing and layer selection (numpy only, no compile)."""

from __future__ import annotations

import numpy as np
import pytest

from ronn_aot.bitnet import BitnetConfig, parse_layers
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.errors import RonnError


@pytest.mark.parametrize("kind", ["ternary", "binary"])
@pytest.mark.parametrize("n,k", [(5, 7), (16, 64), (33, 100), (8, 288)])
def test_pack_roundtrip(kind: str, n: int, k: int) -> None:
    w = np.random.default_rng(n * k).standard_normal((n, k)).astype(np.float32)
    p = Q.pack_weights(w, kind)
    assert p.planes.shape == (Q.PLANES[kind], p.n_pad // p.lanes, -(-k // p.word_bits), p.lanes)
    np.testing.assert_array_equal(Q.unpack_planes(p.planes, n, k), p.values)
    assert set(np.unique(p.values)) <= ({-1, 0, 1} if kind == "ternary" else {-1, 1})


def test_ternary_is_absmean_rounding() -> None:
    w = np.array([[0.1, -0.9, 0.5, 0.0], [2.0, 2.0, -2.0, 0.4]], np.float32)
    q, s = Q.quantize_weights(w, "ternary")
    np.testing.assert_allclose(s, [0.375, 1.6])
    np.testing.assert_array_equal(q, [[0, -1, 1, 0], [1, 1, -1, 0]])
    q, s = Q.quantize_weights(w, "binary")
    np.testing.assert_array_equal(q, [[1, -1, 1, 1], [1, 1, -1, 1]])


@pytest.mark.parametrize("kind,ratio", [("ternary", 12), ("binary", 24)])
def test_packed_bytes_ratio(kind: str, ratio: int) -> None:
    p = Q.pack_weights(np.ones((4096, 4096), np.float32), kind)
    assert p.float_bytes / p.packed_bytes(with_wsum=True) >= ratio


def test_word_size_minimizes_padding() -> None:
    assert Q.word_bits_for(288) == 32 and Q.word_bits_for(576) == 64 and Q.word_bits_for(100) == 64


def test_activation_planes_encode_codes() -> None:
    v = np.random.default_rng(0).standard_normal((3, 70)).astype(np.float32)
    for bits in (8, 4):
        q = R.quantize_activations(v, bits, R.activation_stats(v, bits))
        planes = R.pack_activations(q, bits, 64)
        unpacked = [np.unpackbits(planes[:, b].view(np.uint8), axis=1, bitorder="little")[:, :70]
                    for b in range(bits)]
        coef = R.plane_coefficients(bits)
        np.testing.assert_array_equal(sum(c * u.astype(np.int32) for c, u in zip(coef, unpacked)), q)


def test_layer_selection() -> None:
    assert BitnetConfig("ternary").selected(5) == [1, 2, 3]
    assert BitnetConfig("ternary", layers=parse_layers("all")).selected(3) == [0, 1, 2]
    assert BitnetConfig("binary", layers=parse_layers("0,-1")).selected(4) == [0, 3]
    with pytest.raises(RonnError, match="out of range"):
        BitnetConfig("binary", layers=(7,)).selected(4)
    with pytest.raises(RonnError, match="binary weights"):
        BitnetConfig("ternary", activation_bits=1)
    with pytest.raises(RonnError, match="ternary, binary"):
        BitnetConfig("quaternary")
