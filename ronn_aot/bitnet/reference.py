"""numpy reference of the quantized arithmetic the kernels perform, operation for operation.

The kernels are checked bit-exactly against these functions: every float operation here is the
one the kernel does, in the same order (sums of floats are sequential, like the kernel's loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quantize import PackedWeights, pack_bits

_EPS = np.float32(1e-8)


# Sign activations approximate x by threshold + scale * (+-1). The threshold's share of the output
# is added in integers, as a fixed-point code with this many fraction bits, so that the epilogue
# is multiplications only (a float multiply-add would round differently where LLVM fuses it).
THRESHOLD_FRACTION_BITS = 8


@dataclass(frozen=True)
class ActStats:
    """Activation quantization parameters of one layer: int scale, or (scale, threshold) for sign."""

    scale: float
    threshold: float = 0.0

    def vector(self, bits: int) -> np.ndarray:
        """The kernels' float32[3] form: (dequantization scale, threshold, threshold code)."""
        s, t = np.float32(self.scale), np.float32(self.threshold)
        if bits != 1:
            return np.array([s, 0, 0], np.float32)
        one = np.float32(1 << THRESHOLD_FRACTION_BITS)
        return np.array([s / one, t, np.round(t / s * one)], np.float32)


def qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def plane_coefficients(bits: int) -> list[int]:
    """Weight of each activation bit-plane: two's complement (the top plane is negative)."""
    return [1 << b for b in range(bits - 1)] + [-(1 << (bits - 1))]


def activation_stats(v: np.ndarray, bits: int) -> ActStats:
    """Dynamic per-tensor statistics of a layer's input matrix, as the kernel computes them."""
    v = np.asarray(v, np.float32).ravel()
    if bits == 1:
        n = np.float32(v.size)
        t = np.cumsum(v, dtype=np.float32)[-1] / n
        s = np.cumsum(np.abs(v - t), dtype=np.float32)[-1] / n
        return ActStats(float(np.maximum(s, _EPS)), float(t))
    amax = np.abs(v).max() if v.size else np.float32(0)
    return ActStats(float(np.maximum(np.float32(amax), _EPS) / np.float32(qmax(bits))))


def quantize_activations(v: np.ndarray, bits: int, stats: ActStats) -> np.ndarray:
    """int32 [M, K] activation codes: int in [-qmax, qmax], or {-1, +1} for bits == 1."""
    v = np.asarray(v, np.float32)
    if bits == 1:
        return np.where(v >= np.float32(stats.threshold), 1, -1).astype(np.int32)
    q = np.round(v / np.float32(stats.scale))
    return np.clip(q, -qmax(bits), qmax(bits)).astype(np.int32)


def pack_activations(q: np.ndarray, bits: int, word_bits: int) -> np.ndarray:
    """Bit-planes [M, bits, words] of activation codes (bits == 1: the +1 plane)."""
    if bits == 1:
        return pack_bits(q == 1, word_bits)[:, None, :]
    return np.stack([pack_bits(((q >> b) & 1).astype(bool), word_bits) for b in range(bits)], axis=1)


def dense(v: np.ndarray, w: PackedWeights, bits: int, stats: ActStats | None = None) -> np.ndarray:
    """float32 [M, N]: the quantized product of an input matrix [M, K] and packed weights."""
    stats = stats or activation_stats(v, bits)
    q = quantize_activations(v, bits, stats).astype(np.int64)
    acc = q @ w.values.T.astype(np.int64)
    s_a, _, t_code = stats.vector(bits)
    if bits == 1:
        acc = acc * (1 << THRESHOLD_FRACTION_BITS) + np.int64(t_code) * w.wsum[: w.n].astype(np.int64)
    y = (acc.astype(np.int32).astype(np.float32) * s_a) * w.scale[: w.n]
    return y.astype(np.float32)


@dataclass(frozen=True)
class ConvGeometry:
    """A 2-D NCHW convolution with OIHW weights (groups = 1)."""

    batch: int
    channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    dilation: tuple[int, int] = (1, 1)

    @property
    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilation
        t, l, b, r = self.pads
        return ((self.height + t + b - dh * (kh - 1) - 1) // sh + 1,
                (self.width + l + r - dw * (kw - 1) - 1) // sw + 1)

    @property
    def m(self) -> int:
        oh, ow = self.out_hw
        return self.batch * oh * ow

    @property
    def k(self) -> int:
        return self.channels * self.kernel[0] * self.kernel[1]


def im2col(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """[batch * OH * OW, C * KH * KW]: each output position's receptive field (zeros in padding)."""
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.strides, g.dilation
    t, l, b, r = g.pads
    xp = np.pad(np.asarray(x, np.float32), ((0, 0), (0, 0), (t, b), (l, r)))
    oh, ow = g.out_hw
    cols = np.empty((g.batch, oh, ow, g.channels, kh, kw), np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                                        j * dw: j * dw + sw * (ow - 1) + 1: sw].transpose(0, 2, 3, 1)
    return cols.reshape(g.m, g.k)


def conv2d(x: np.ndarray, w: PackedWeights, g: ConvGeometry, bits: int,
           stats: ActStats | None = None) -> np.ndarray:
    """float32 NCHW output of the quantized convolution."""
    oh, ow = g.out_hw
    y = dense(im2col(x, g), w, bits, stats)
    return y.reshape(g.batch, oh, ow, w.n).transpose(0, 3, 1, 2).copy()
