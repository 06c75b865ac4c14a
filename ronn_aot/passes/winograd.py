"""O3 on x86-64: 3x3 stride-1 convolutions of few pixels and many channels as Winograd F(2x2, 3x3).

Each 2x2 block of outputs is computed from its 4x4 input window as Y = A^T [(G g G^T) . (B^T d B)] A:
the element-wise product over the 16 transform points becomes 16 matrix products
(tiles x C) @ (C x K), 2.25 times fewer multiply-adds than the direct convolution. The weight
transform U = G g G^T is done here, at compile time (numpy); the input transform B^T d B and the
output transform A^T m A are kernels of additions only (call_te below, each with a schedule rule
of its own: schedules/cpu/winograd_input.py, winograd_output.py), and the output transform keeps
the convolution's epilogue (bias, activation, residual add), which FuseOps fuses into it.

Where: ResNet-50's 3x3 layers, whose implicit-GEMM kernels run at 87-88% of the FMA peak per
core on AVX2. Four 14x14 256-channel layers chained, 2 threads, AVX2: 1.10 ms each as implicit
GEMMs, 0.58 as Winograd (the 16 matmuls 0.525, input transform 0.02, output transform 0.03).
Light ResNet-50, alternating in one process against the same compile without this pass: with the
14x14 layers only, AVX2 45.48 -> 43.82 ms and AVX-512 25.53 -> 24.67; the 28x28 ones as well, a
further 2.2% (AVX2) and 1.8% (AVX-512); the 56x56 64-channel ones too, a further 4.7% and 1.6%
(AVX2 48.1 -> ~42.3 ms in all, AVX-512 29.3 -> 27.1, in a slow hour of the machine), and the
input transform in one stage instead of two a further 1.9% and 1.4%. 7x7 maps
(odd) are left alone: they would pad to 8x8 tiles and read 1.8x the weights, and those layers are
bound by streaming their weights already.

Numerics: F(2x2, 3x3)'s transforms have coefficients 0, +-1, +-1/2; the results differ from the
direct convolution by a few float32 ulps of the sum (measured 3e-5 on outputs of magnitude 50).
The transformed weights take 16/9 of the space of the originals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import register_pass
from ._rewrite import const, const_array, mutator_pass, static_shape

# Pixels (H x W) a convolution may have to be rewritten: measured up to ResNet-50's 56x56 maps.
MAX_PIXELS = 3136
MIN_PIXELS = 64  # 7x7 maps would pad to 8x8 tiles
MIN_CHANNELS = 64  # input and output channels: shorter reductions make the 16 GEMMs inefficient

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)


def transform_weight(hwio: np.ndarray) -> np.ndarray:
    """HWIO [3, 3, C, K] -> U [16, C, K], U[4a + b] = (G g G^T)[a, b]."""
    u = np.einsum("ai,ijck,bj->abck", _G, hwio.astype(np.float64), _G)
    return u.reshape(16, hwio.shape[2], hwio.shape[3]).astype(hwio.dtype)


def _bt(a: Any, v: list[Any]) -> Any:
    """Row `a` of B^T applied to v[0..3] (`a` a loop variable: a select chain
    that a constant `a` folds; every branch is one addition)."""
    from tvm import tirx

    return tirx.Select(a == 0, v[0] - v[2], tirx.Select(a == 1, v[1] + v[2],
                                                        tirx.Select(a == 2, v[2] - v[1], v[1] - v[3])))


def _at(a: Any, v: list[Any]) -> Any:
    """Row `a` of A^T applied to v[0..3]."""
    from tvm import tirx

    return tirx.Select(a == 0, v[0] + v[1] + v[2], v[1] - v[2] - v[3])


def input_transform(x: Any, tiles_h: int, tiles_w: int, rows: int) -> Any:
    """NHWC x [1, H, W, C] -> V [16, rows, C]: V[4a + b, t] = (B^T d B)[a, b] of tile t's 4x4
    window d (x padded by 1, tiles 2 apart); rows past the tiles are zeros (matmul_rows)."""
    from tvm import te, tirx

    _, h, w, c = (int(d) for d in x.shape)
    zero = tirx.const(0, x.dtype)

    def padded(y: Any, xx: Any, ch: Any) -> Any:
        inside = tirx.all(y >= 1, y <= h, xx >= 1, xx <= w)
        return tirx.if_then_else(inside, x[0, y - 1, xx - 1, ch], zero)

    tiles = tiles_h * tiles_w

    def point(ab: Any, t: Any, ch: Any) -> Any:
        th, tw = t // tiles_w, t % tiles_w
        columns = [_bt(ab // 4, [padded(2 * th + i, 2 * tw + j, ch) for i in range(4)]) for j in range(4)]
        return _bt(ab % 4, columns)

    if rows == tiles:
        return te.compute((16, rows, c), point, name="winograd_input")
    return te.compute((16, rows, c), lambda ab, t, ch: tirx.if_then_else(t < tiles, point(ab, t, ch), zero),
                      name="winograd_input")


def matmul_rows(tiles: int, channels_out: int) -> int:
    """The rows of the 16 matmuls: the tiles, or the tiles rounded up to a register tile's rows
    where the dense rule's fastest tile (dense.register_tile) does not divide them and one that
    does is slower. ResNet-50's 14x14 layers have 49 tiles: on AVX2 7 x 1 vectors (rate 1.4 FMAs
    per cycle) against 6 x 2 (2.0) on 54 rows, 5 of them zeros."""
    import tvm

    from ronn_aot.schedules.base import vector_lanes, vector_registers
    from ronn_aot.schedules.isa import isa_of
    from ronn_aot.schedules.cpu.dense import faster_ragged_tile

    target = tvm.target.Target.current(allow_none=True)
    if target is None:
        return tiles
    tile = faster_ragged_tile(tiles, channels_out, vector_lanes(target), vector_registers(target),
                              by_lane=isa_of(target).fma_by_lane)
    return tiles if tile is None else -(-tiles // tile[0]) * tile[0]


def output_transform(m: Any, h: int, w: int, tiles_w: int) -> Any:
    """M [16, tiles, K] -> Y [1, H, W, K]: each tile's 2x2 outputs A^T m A."""
    from tvm import te

    _, tiles, k = (int(d) for d in m.shape)
    cols = te.compute((2, 4, tiles, k), lambda a, nu, t, ch: _at(
        a, [m[4 * xi + nu, t, ch] for xi in range(4)]), name="winograd_cols")
    return te.compute((1, h, w, k), lambda n, y, xx, ch: _at(
        xx % 2, [cols[y % 2, nu, (y // 2) * tiles_w + xx // 2, ch] for nu in range(4)]), name="winograd_output")


def eligible(call: Any) -> np.ndarray | None:
    """The HWIO weights of a conv2d this pass rewrites, else None."""
    a = call.attrs
    if (str(a.data_layout) != "NHWC" or str(a.kernel_layout) != "HWIO" or int(a.groups) != 1
            or [int(v) for v in a.strides] != [1, 1] or [int(v) for v in a.dilation] != [1, 1]
            or [int(v) for v in a.padding] != [1, 1, 1, 1]
            or str(a.out_layout) not in ("NHWC", "")):
        return None
    w = const_array(call.args[1])
    shape = static_shape(call.args[0])
    if w is None or shape is None or w.shape[:2] != (3, 3) or str(w.dtype) != "float32":
        return None
    n, h, wd, c = shape
    if n != 1 or h % 2 or wd % 2 or not MIN_PIXELS <= h * wd <= MAX_PIXELS:
        return None
    if c < MIN_CHANNELS or w.shape[3] < MIN_CHANNELS:
        return None
    return w


@register_pass("winograd", 3, order=60, targets=("x86_64", "aarch64"))
def winograd() -> Any:
    """3x3 stride-1 convolutions of few pixels and many channels as Winograd F(2x2, 3x3)."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    conv2d = tvm.ir.Op.get("relax.nn.conv2d")

    @mutator
    class _Winograd(PyExprMutator):  # type: ignore[misc]
        def _set_pattern(self, call: Any, pattern: int) -> None:
            """FuseOps' op pattern of the PrimFunc `call` (a call_tir) calls (TVM's OpPatternKind:
            4 fuses elementwise ops after it, 8 nothing)."""
            gv = call.args[0]
            self.builder_.update_func(gv, self.builder_.get()[gv].with_attr("op_pattern", pattern))

        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if not call.op.same_as(conv2d):
                return call
            w = eligible(call)
            if w is None:
                return call
            _, h, wd, _c = static_shape(call.args[0])
            th, tw = h // 2, wd // 2
            rows = matmul_rows(th * tw, int(w.shape[3]))
            v = self.builder_.call_te(input_transform, call.args[0], th, tw, rows,
                                      primfunc_name_hint="winograd_input")
            # Opaque to FuseOps: fused after the previous layer's output transform and
            # activation, the transforms recomputed each other's values per element.
            self._set_pattern(v, 8)
            m = self.builder_.emit(relax.op.matmul(v, const(transform_weight(w))))
            y = self.builder_.call_te(output_transform, m, h, wd, tw, primfunc_name_hint="winograd_output")
            # Fusable with the elementwise epilogue after it, not with injective ops: fused into
            # a layout transform at a graph's output, no rule scheduled the pair well (2.3 ms for
            # a 56x56 64-channel layer whose transform alone takes 0.11).
            self._set_pattern(y, 4)
            return y

    return mutator_pass("Winograd", _Winograd)
