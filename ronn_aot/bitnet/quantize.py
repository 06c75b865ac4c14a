"""Weight quantization and bit-packing (numpy only; no TVM).

Ternary weights are {-1, 0, +1} times an absmean scale per output channel (BitNet b1.58);
binary weights are {-1, +1} (sign, 0 -> +1) times the channel's mean |w| (XNOR-Net). Packed,
a ternary layer is two bit-planes (+1 plane, -1 plane), a binary layer one (+1 plane).

Packed layout, shared by the kernels and the numpy reference:
`planes[p, n // lanes, w, n % lanes]`: bit j of word w of output channel n is the weight at
reduction index k = w * word_bits + j (little-endian bits). Output channels are grouped by the
kernel's vector lanes so that one vector load reads one word of `lanes` channels. The reduction
is padded with zero bits to whole words and the channels with zero rows to whole lane groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEIGHT_KINDS = ("ternary", "binary")
PLANES = {"ternary": 2, "binary": 1}
VECTOR_BITS = 512  # one lane group of words spans 512 bits (one AVX-512 register, 2 AVX2, 4 NEON)
_EPS = np.float32(1e-8)


def word_bits_for(k: int) -> int:
    """Word size for a reduction of length k: 64 unless 32-bit words waste fewer padding bits."""
    return 32 if -(-k // 32) * 32 < -(-k // 64) * 64 else 64


def word_dtype(word_bits: int) -> str:
    return f"uint{word_bits}"


def lanes_for(word_bits: int) -> int:
    return VECTOR_BITS // word_bits


def ceil_to(n: int, m: int) -> int:
    return -(-n // m) * m


def quantize_weights(w: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Quantize an [N, K] float matrix row by row; returns (int8 values [N, K], float32 scales [N])."""
    if kind not in WEIGHT_KINDS:
        raise ValueError(f"unknown weight quantization {kind!r}; choose one of {', '.join(WEIGHT_KINDS)}")
    w = np.asarray(w, dtype=np.float32)
    scale = np.maximum(np.abs(w).mean(axis=1, dtype=np.float32), _EPS).astype(np.float32)
    if kind == "ternary":
        q = np.clip(np.round(w / scale[:, None]), -1, 1)
    else:
        q = np.where(w >= 0, 1, -1)
    return q.astype(np.int8), scale


def pack_bits(bits: np.ndarray, word_bits: int) -> np.ndarray:
    """Pack a boolean [R, K] matrix into [R, ceil(K / word_bits)] little-endian words."""
    rows, k = bits.shape
    words = -(-k // word_bits)
    packed = np.packbits(bits.astype(bool), axis=1, bitorder="little")
    out = np.zeros((rows, words * word_bits // 8), dtype=np.uint8)
    out[:, :packed.shape[1]] = packed
    return out.view(f"<u{word_bits // 8}").astype(word_dtype(word_bits))


@dataclass(frozen=True)
class PackedWeights:
    """A quantized [N, K] weight matrix in the kernels' packed layout, with what the epilogue needs."""

    kind: str
    n: int
    k: int
    word_bits: int
    planes: np.ndarray  # [P, n_pad // lanes, words, lanes], word dtype
    scale: np.ndarray  # float32 [n_pad] (0 for padding channels)
    wsum: np.ndarray  # int32 [n_pad]: sum of each channel's {-1, 0, +1} values
    values: np.ndarray  # int8 [N, K]: the quantized values (for references and reports)

    @property
    def lanes(self) -> int:
        return lanes_for(self.word_bits)

    @property
    def n_pad(self) -> int:
        return self.scale.shape[0]

    @property
    def words(self) -> int:
        return self.planes.shape[2]

    def packed_bytes(self, with_wsum: bool = False) -> int:
        """Bytes the layer's weights take in the artifact: bit-planes and scales (and the sums
        that sign activations need)."""
        return self.planes.nbytes + self.scale.nbytes + (self.wsum.nbytes if with_wsum else 0)

    @property
    def float_bytes(self) -> int:
        return self.n * self.k * 4


def pack_weights(w: np.ndarray, kind: str, word_bits: int | None = None) -> PackedWeights:
    """Quantize and pack an [N, K] float weight matrix (rows = output channels)."""
    n, k = w.shape
    word_bits = word_bits or word_bits_for(k)
    lanes = lanes_for(word_bits)
    q, scale = quantize_weights(w, kind)
    n_pad = ceil_to(n, lanes)
    plane_bits = [q == 1, q == -1] if kind == "ternary" else [q == 1]
    planes = []
    for bits in plane_bits:
        padded = np.zeros((n_pad, k), dtype=bool)
        padded[:n] = bits
        words = pack_bits(padded, word_bits)  # [n_pad, W]
        planes.append(words.reshape(n_pad // lanes, lanes, -1).transpose(0, 2, 1))
    scale_pad = np.zeros(n_pad, np.float32)
    scale_pad[:n] = scale
    wsum = np.zeros(n_pad, np.int32)
    wsum[:n] = q.sum(axis=1, dtype=np.int64)
    return PackedWeights(kind, n, k, word_bits, np.ascontiguousarray(np.stack(planes)), scale_pad, wsum, q)


def unpack_planes(planes: np.ndarray, n: int, k: int) -> np.ndarray:
    """The {-1, 0, +1} int8 [N, K] matrix that packed planes encode (inverse of pack_weights)."""
    p, groups, words, lanes = planes.shape
    word_bits = planes.dtype.itemsize * 8
    rows = planes.transpose(0, 1, 3, 2).reshape(p, groups * lanes, words)
    bits = np.unpackbits(np.ascontiguousarray(rows, f"<u{word_bits // 8}").view(np.uint8), axis=2,
                         bitorder="little")
    bits = bits[:, :n, :k].astype(np.int8)
    return bits[0] - bits[1] if p == 2 else 2 * bits[0] - 1
