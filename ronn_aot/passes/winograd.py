"""O3 on x86-64: 3x3 stride-1 convolutions of few pixels and many channels as Winograd F(2x2, 3x3).

Each 2x2 block of outputs is computed from its 4x4 input window as Y = A^T [(G g G^T) . (B^T d B)] A:
the element-wise product over the 16 transform points becomes 16 matrix products
(tiles x C) @ (C x K), 2.25 times fewer multiply-adds than the direct convolution. The weight
transform U = G g G^T is done here, at compile time (numpy); the input transform B^T d B and the
output transform A^T m A are kernels of additions only (call_te below, each in two separable
passes: rows, then columns), and the output transform keeps the convolution's epilogue (bias,
activation, residual add), which FuseOps fuses into it.

Where: the layers whose direct kernels run furthest below the machine's FMA peak on few pixels,
ResNet-50's 14x14 3x3 256-channel layers (87% of peak per core on AVX2). Four such layers chained,
2 threads, AVX2: 1.10 ms each as implicit GEMMs, 0.70 as Winograd (the 16 matmuls 0.61-0.645, the
input transform 0.025, the output transform 0.03); in light ResNet-50, whose transformed weights
come from memory, 0.74-0.77 + 0.06 ms against 1.12-1.29, and the model 45.48 -> 43.82 ms on AVX2,
25.53 -> 24.67 on AVX-512 (alternating in one process). Taking the 28x28 layers as well measured
0.7% more on AVX2 (a first prototype at 28x28 and 56x56 lost to the direct kernels: the transformed
input is 4x the input, and 64-128-channel reductions are short); 7x7 layers would pad to 8x8
tiles and read 1.8x the weights, which those memory-bound layers cannot afford. Hence the bounds.

Numerics: F(2x2, 3x3)'s transforms have coefficients 0, +-1, +-1/2; the results differ from the
direct convolution by a few float32 ulps of the sum (measured 3e-5 on outputs of magnitude 50).
The transformed weights take 16/9 of the space of the originals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import register_pass
from ._rewrite import const, const_array, static_shape

# Pixels (H x W) a convolution may have to be rewritten: 14x14 and 10x10 qualify, 28x28 not.
MAX_PIXELS = 196
MIN_PIXELS = 64  # 7x7 maps would pad to 8x8 tiles
MIN_CHANNELS = 128  # input and output channels: short reductions make the 16 GEMMs inefficient

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)


def transform_weight(hwio: np.ndarray) -> np.ndarray:
    """HWIO [3, 3, C, K] -> U [16, C, K], U[4a + b] = (G g G^T)[a, b]."""
    u = np.einsum("ai,ijck,bj->abck", _G, hwio.astype(np.float64), _G)
    return u.reshape(16, hwio.shape[2], hwio.shape[3]).astype(hwio.dtype)


def _bt(a: Any, v: list[Any]) -> Any:
    """Row `a` of B^T applied to the window column v[0..3] (a a loop variable: a select chain
    that a constant `a` folds; every branch is one addition)."""
    from tvm import tirx

    return tirx.Select(a == 0, v[0] - v[2], tirx.Select(a == 1, v[1] + v[2],
                                                        tirx.Select(a == 2, v[2] - v[1], v[1] - v[3])))


def _at(a: Any, v: list[Any]) -> Any:
    """Row `a` of A^T applied to v[0..3]."""
    from tvm import tirx

    return tirx.Select(a == 0, v[0] + v[1] + v[2], v[1] - v[2] - v[3])


def input_transform(x: Any, tiles_h: int, tiles_w: int) -> Any:
    """NHWC x [1, H, W, C] -> V [16, tiles, C]: V[4a + b, t] = (B^T d B)[a, b] of tile t's 4x4
    window d (x padded by 1, tiles 2 apart)."""
    from tvm import te, tirx

    _, h, w, c = (int(d) for d in x.shape)
    zero = tirx.const(0, x.dtype)

    def padded(y: Any, xx: Any, ch: Any) -> Any:
        inside = tirx.all(y >= 1, y <= h, xx >= 1, xx <= w)
        return tirx.if_then_else(inside, x[0, y - 1, xx - 1, ch], zero)

    rows = te.compute((4, tiles_h, w + 2, c), lambda a, th, xx, ch: _bt(
        a, [padded(2 * th + i, xx, ch) for i in range(4)]), name="winograd_rows")
    return te.compute((16, tiles_h * tiles_w, c), lambda ab, t, ch: _bt(
        ab % 4, [rows[ab // 4, t // tiles_w, 2 * (t % tiles_w) + j, ch] for j in range(4)]), name="winograd_input")


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


@register_pass("winograd", 3, order=60, targets=("x86_64",))
def winograd() -> Any:
    """3x3 stride-1 convolutions of few pixels and many channels as Winograd F(2x2, 3x3)."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    conv2d = tvm.ir.Op.get("relax.nn.conv2d")

    @mutator
    class _Winograd(PyExprMutator):  # type: ignore[misc]
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if not call.op.same_as(conv2d):
                return call
            w = eligible(call)
            if w is None:
                return call
            _, h, wd, _c = static_shape(call.args[0])
            th, tw = h // 2, wd // 2
            v = self.builder_.call_te(input_transform, call.args[0], th, tw,
                                      primfunc_name_hint="winograd_input")
            # Opaque to FuseOps: fused after the previous layer's output transform and
            # activation, the transforms recomputed each other's values per element.
            gv = v.args[0]
            func = self.builder_.get()[gv]
            self.builder_.update_func(gv, func.with_attr("op_pattern", 8))
            m = self.builder_.emit(relax.op.matmul(v, const(transform_weight(w))))
            return self.builder_.call_te(output_transform, m, h, wd, tw, primfunc_name_hint="winograd_output")

    @tvm.transform.module_pass(opt_level=0, name="Winograd")
    def transform(mod: Any, _ctx: Any) -> Any:
        rewriter = _Winograd(mod)
        for gv, func in mod.functions_items():
            if isinstance(func, relax.Function):
                rewriter.builder_.update_func(gv, rewriter.visit_expr(func))
        return rewriter.builder_.get()

    return transform
