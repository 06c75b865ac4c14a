"""Weight quantization and bit-packing (numpy only; no TVM).

Ternary weights are {-1, 0, +1} times an absmean scale per output channel (BitNet b1.58);
binary weights are {-1, +1} (sign, 0 -> +1) times the channel's mean |w| (XNOR-Net). Packed,
a ternary layer is two bit-planes (+1 plane, -1 plane), a binary layer one (+1 plane).

Two packed layouts, one per kernel family (`DOTS`), both 1 bit per weight and plane:

- "popcount" (bit-serial kernels): `planes[p, n // lanes, w, n % lanes]`: bit j of word w of
  output channel n is the weight at reduction index k = w * word_bits + j (little-endian bits).
  Output channels are grouped by the kernel's vector lanes so that one vector load reads one word
  of `lanes` channels. The reduction is padded with zero bits to whole words and the channels with
  zero rows to whole lane groups.
- "vnni" (AVX-512 VNNI kernels): `planes[n // 16, q, p]`, one uint64 per 16 channels x 4
  reduction indices: bit 4 * (n % 16) + (k % 4) is the weight at (n, k = 4 * q + k % 4). That is
  the byte order of VPDPBUSD's weight operand (16 int32 lanes of 4 bytes), so one mask register
  load and VPMOVM2B expand it to 64 int8 weights. Planes sit side by side (one 16-byte load).
- "sdot" and "neon" (Arm byte dot-product kernels, `arm.py`): 2-bit (ternary) or 1-bit (binary) digits in the
  byte order of SDOT's operand, `planes[n // lanes, q, 16]` uint8 (`arm.pack_weights_sdot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

WEIGHT_KINDS = ("ternary", "binary")
# kernel families: bit-serial popcount, int8 dot products (x86 VPDPBUSD; Arm SDOT, and "neon": SDOT's
# layout multiplied with MUL + pairwise adds on Arm cores without the dot-product extension)
DOTS = ("popcount", "vnni", "sdot", "neon")
VNNI_LANES, VNNI_GROUP = 16, 4  # int32 accumulators per 512-bit register, reduction indices per lane
# Output channels of one packed 16-byte vector of the Arm byte dot-product layout (arm.py): 4
# SDOT vectors of 2-bit ternary digits, or 8 of 1-bit binary ones, 4 channels each
BYTE_DOT_LANES = {"ternary": 16, "binary": 32}
# Weight packers of kernel families defined outside this module (dot -> (w, kind) -> PackedWeights),
# filled by the modules that define them (arm.py: "sdot", "neon"; imported by the package)
FAMILY_PACKERS: dict[str, Callable[[np.ndarray, str], "PackedWeights"]] = {}
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
    planes: np.ndarray  # popcount: [P, n_pad // lanes, words, lanes], word dtype; vnni: [n_pad // 16, words, P] uint64
    scale: np.ndarray  # float32 [n_pad] (0 for padding channels)
    wsum: np.ndarray  # int32 [n_pad]: sum of each channel's weights as the kernel sees them (see pack_weights*)
    values: np.ndarray  # int8 [N, K]: the quantized values (for references and reports)
    layout: str = "popcount"  # one of DOTS

    @property
    def lanes(self) -> int:
        if self.layout == "sdot":
            return BYTE_DOT_LANES[self.kind]
        return VNNI_LANES if self.layout == "vnni" else lanes_for(self.word_bits)

    @property
    def n_pad(self) -> int:
        return self.scale.shape[0]

    @property
    def words(self) -> int:
        """Packed words along the reduction (vnni: groups of 4 reduction indices)."""
        return self.planes.shape[1] if self.layout in ("vnni", "sdot") else self.planes.shape[2]

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


def pack_weights_vnni(w: np.ndarray, kind: str, columns: np.ndarray | None = None) -> PackedWeights:
    """Quantize and pack an [N, K] float weight matrix in the "vnni" layout (see the module doc).

    The kernel multiplies unsigned activation bytes (code + 128) with the expanded int8 weights,
    so `wsum` is what it subtracts back (128 * wsum): the sum over the padded reduction of the
    weights it expands, including the -1 that a binary weight's zero padding bit becomes.
    `columns`: pack the quantized columns in this order (an input whose elements come in another
    order); the scales stay those of `w` as given (a float mean depends on the order it sums in)."""
    q, scale = quantize_weights(w, kind)
    return _pack_values_vnni(q if columns is None else np.ascontiguousarray(q[:, columns]), scale, kind)


def pack_conv_nhwc_vnni(w: np.ndarray, kind: str) -> PackedWeights:
    """Quantize OIHW conv weights [N, C, KH, KW] as the [N, C * KH * KW] matrix (the same values
    and scales as `pack_weights_vnni` of that matrix), then pack them in the reduction order of
    an NHWC input: k = (kh * KW + kw) * C4 + c, channels padded with zero weights to C4, a
    multiple of 4, so that one activation quad is 4 neighbouring channels of one pixel.
    `values` holds the weights in that order, [N, KH * KW * C4]."""
    n, c, kh, kw = w.shape
    q, scale = quantize_weights(w.reshape(n, c * kh * kw), kind)
    c4 = ceil_to(c, VNNI_GROUP)
    hwc = np.zeros((n, kh, kw, c4), np.int8)
    hwc[..., :c] = q.reshape(n, c, kh, kw).transpose(0, 2, 3, 1)
    return _pack_values_vnni(hwc.reshape(n, kh * kw * c4), scale, kind)


def _pack_values_vnni(q: np.ndarray, scale: np.ndarray, kind: str) -> PackedWeights:
    """Pack quantized int8 weights [N, K] (0 where a binary layer pads) with their scales."""
    n, k = q.shape
    n_pad, k_pad = ceil_to(n, VNNI_LANES), ceil_to(k, VNNI_GROUP)
    padded = np.zeros((n_pad, k_pad), np.int8)
    padded[:n, :k] = q
    plane_bits = [padded == 1, padded == -1] if kind == "ternary" else [padded == 1]
    expanded = padded if kind == "ternary" else np.where(padded == 1, 1, -1).astype(np.int8)
    groups, quads = n_pad // VNNI_LANES, k_pad // VNNI_GROUP
    planes = []
    for bits in plane_bits:
        tiles = bits.reshape(groups, VNNI_LANES, quads, VNNI_GROUP).transpose(0, 2, 1, 3)
        planes.append(pack_bits(tiles.reshape(groups * quads, 64), 64).reshape(groups, quads))
    scale_pad = np.zeros(n_pad, np.float32)
    scale_pad[:n] = scale
    wsum = expanded.sum(axis=1, dtype=np.int64).astype(np.int32)
    return PackedWeights(kind, n, k, 64, np.ascontiguousarray(np.stack(planes, axis=-1)), scale_pad, wsum, q,
                         layout="vnni")


def pack_for(w: np.ndarray, kind: str, dot: str) -> PackedWeights:
    """`w` packed for the kernel family `dot` (one of DOTS)."""
    if dot in FAMILY_PACKERS:
        return FAMILY_PACKERS[dot](w, kind)
    return pack_weights_vnni(w, kind) if dot == "vnni" else pack_weights(w, kind)


def unpack_planes(planes: np.ndarray, n: int, k: int) -> np.ndarray:
    """The {-1, 0, +1} int8 [N, K] matrix that packed planes encode (inverse of pack_weights and,
    for 3-D planes, of pack_weights_vnni)."""
    if planes.ndim == 3:
        groups, quads, p = planes.shape
        bits = np.unpackbits(np.ascontiguousarray(planes, "<u8").view(np.uint8).reshape(groups, quads, p, 8),
                             axis=3, bitorder="little")  # [G, Q, P, 64]
        bits = bits.reshape(groups, quads, p, VNNI_LANES, VNNI_GROUP).transpose(2, 0, 3, 1, 4)
        bits = bits.reshape(p, groups * VNNI_LANES, quads * VNNI_GROUP)[:, :n, :k].astype(np.int8)
        return bits[0] - bits[1] if p == 2 else 2 * bits[0] - 1
    p, groups, words, lanes = planes.shape
    word_bits = planes.dtype.itemsize * 8
    rows = planes.transpose(0, 1, 3, 2).reshape(p, groups * lanes, words)
    bits = np.unpackbits(np.ascontiguousarray(rows, f"<u{word_bits // 8}").view(np.uint8), axis=2,
                         bitorder="little")
    bits = bits[:, :n, :k].astype(np.int8)
    return bits[0] - bits[1] if p == 2 else 2 * bits[0] - 1
