"""The layers a BitNet rewrite can quantize, found in the imported Relax `main`: Conv / Gemm / MatMul
with constant weights, numbered in binding order. The rewrite (rewrite.py) and the calibration
(calibrate.py) both enumerate layers here, so their indices agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .reference import ConvGeometry


@dataclass
class _Candidate:
    index: int
    op: str
    weight: np.ndarray  # [N, K] (matmul) or [O, C, KH, KW] (conv)
    conv: ConvGeometry | None


def _static_shape(expr: Any) -> tuple[int, ...] | None:
    from ..passes._rewrite import static_shape

    return static_shape(expr)


def _constant_matrix(expr: Any, bindings: dict[Any, Any]) -> np.ndarray | None:
    """The [N, K] weight matrix a matmul's right operand holds, when it is a constant."""
    import tvm
    from tvm import relax

    transposed = False
    while isinstance(expr, relax.Var) and expr in bindings:
        expr = bindings[expr]
        if isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op) and expr.op.name == "relax.permute_dims":
            axes = expr.attrs.axes
            if axes is not None and [int(a) for a in axes] != [1, 0]:
                return None
            transposed = not transposed
            expr = expr.args[0]
    if not isinstance(expr, tvm.ir.GenericConst):
        return None
    w = expr.value.numpy()
    if w.ndim != 2 or w.dtype != np.float32:
        return None
    return w if transposed else w.T  # matmul(x, W[K, N]): the matrix is W.T


def _conv_geometry(call: Any) -> ConvGeometry | None:
    a = call.attrs
    if (int(a.groups) != 1 or str(a.data_layout) != "NCHW" or str(a.kernel_layout) != "OIHW"
            or str(a.out_layout) != "NCHW"):
        return None
    xs, ws = _static_shape(call.args[0]), _static_shape(call.args[1])
    if xs is None or ws is None or len(xs) != 4:
        return None
    pads = [int(p) for p in a.padding]
    return ConvGeometry(xs[0], xs[1], xs[2], xs[3], ws[0], (ws[2], ws[3]),
                        (int(a.strides[0]), int(a.strides[1])), (pads[0], pads[1], pads[2], pads[3]),
                        (int(a.dilation[0]), int(a.dilation[1])))


def find_layers(func: Any) -> dict[Any, _Candidate]:
    """The quantizable layers of a Relax function, keyed by their call, in graph order."""
    import tvm
    from tvm import relax

    bindings: dict[Any, Any] = {}
    found: dict[Any, _Candidate] = {}
    for block in func.body.blocks:
        for b in block.bindings:
            bindings[b.var] = b.value
            e = b.value
            if not (isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.Op)):
                continue
            if str(getattr(e.ty, "dtype", "")) != "float32":
                continue
            if e.op.name == "relax.matmul":
                xs = _static_shape(e.args[0])
                w = _constant_matrix(e.args[1], bindings)
                if xs is not None and w is not None and len(xs) >= 1:
                    found[e] = _Candidate(len(found), "matmul", w, None)
            elif e.op.name == "relax.nn.conv2d" and isinstance(e.args[1], tvm.ir.GenericConst):
                g = _conv_geometry(e)
                w = e.args[1].value.numpy()
                if g is not None and w.dtype == np.float32:
                    found[e] = _Candidate(len(found), "conv2d", w, g)
    return found
