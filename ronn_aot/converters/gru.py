"""GRU, unrolled over its static sequence length (see _recurrent.py).

Gates z, r, h (ONNX order). linear_before_reset=0 multiplies the reset gate into the state before
the recurrence (its own matmul per step); 1 multiplies it into the recurrence's result, so one
matmul per step serves all three gates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._recurrent import gate_slices, parse, rows
from ._registry import ConvertContext, register_converter


@register_converter("GRU", opsets=(7, None))
def gru(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    rec = parse(ctx, inputs, attrs, 3, ["Sigmoid", "Tanh"], state_inputs=[5])
    before_reset = bool(attrs.get("linear_before_reset", 0))
    hidden, dtype = rec.hidden, str(rec.x.ty.dtype)
    one = relax.const(1.0, dtype)
    hs, finals = [], []
    for d in rec.directions:
        bias, rb_h = None, None
        if d.wb is not None:
            if before_reset:  # R's h-gate bias stays inside the reset product
                rb_h = rows(ctx, d.rb, 2 * hidden, 3 * hidden)
                rb_zr = relax.op.concat([rows(ctx, d.rb, 0, 2 * hidden),
                                         relax.const(np.zeros(hidden, dtype=dtype))], axis=0)
                bias = ctx.emit(relax.op.add(d.wb, rb_zr))
            else:
                bias = ctx.emit(relax.op.add(d.wb, d.rb))
        if before_reset:
            r_t = rec.transposed(d.r)
        else:
            r_zr_t = rec.transposed(rows(ctx, d.r, 0, 2 * hidden))
            r_h_t = rec.transposed(rows(ctx, d.r, 2 * hidden, 3 * hidden))
        h = d.initial[0]  # None: zeros, whose terms are left out
        states = []
        for xw in rec.projections(d, bias):
            x_z, x_r, x_h = gate_slices(ctx, xw, 3)
            if h is None:
                z, reset = rec.act(d, 0, x_z), rec.act(d, 0, x_r)
                pre_h = (ctx.emit(relax.op.add(x_h, relax.op.multiply(reset, rb_h)))
                         if before_reset and rb_h is not None else x_h)
            elif before_reset:
                h_z, h_r, h_h = gate_slices(ctx, rec.recur(h, r_t), 3)
                z = rec.act(d, 0, ctx.emit(relax.op.add(x_z, h_z)))
                reset = rec.act(d, 0, ctx.emit(relax.op.add(x_r, h_r)))
                if rb_h is not None:
                    h_h = ctx.emit(relax.op.add(h_h, rb_h))
                pre_h = ctx.emit(relax.op.add(x_h, relax.op.multiply(reset, h_h)))
            else:
                h_z, h_r = gate_slices(ctx, rec.recur(h, r_zr_t), 2)
                z = rec.act(d, 0, ctx.emit(relax.op.add(x_z, h_z)))
                reset = rec.act(d, 0, ctx.emit(relax.op.add(x_r, h_r)))
                pre_h = ctx.emit(relax.op.add(x_h, rec.recur(ctx.emit(relax.op.multiply(reset, h)), r_h_t)))
            candidate = rec.act(d, 1, pre_h)
            new = relax.op.multiply(relax.op.subtract(one, z), candidate)
            h = ctx.emit(relax.op.add(new, relax.op.multiply(z, h)) if h is not None else new)
            states.append(h)
        hs.append(states)
        finals.append([h])
    return rec.outputs(hs, finals)
