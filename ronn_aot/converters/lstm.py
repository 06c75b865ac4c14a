"""LSTM, unrolled over its static sequence length (see _recurrent.py).

Gates i, o, f, c (ONNX order); optional peepholes P (i, o, f), input_forget (f = 1 - i),
cell clip on the gates' inputs.
"""

from __future__ import annotations

from typing import Any

from ._recurrent import direction_part, gate_slices, parse
from ._registry import ConvertContext, register_converter


@register_converter("LSTM", opsets=(7, None))
def lstm(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    rec = parse(ctx, inputs, attrs, 4, ["Sigmoid", "Tanh", "Tanh"], state_inputs=[5, 6])
    peepholes = inputs[7] if len(inputs) > 7 else None
    input_forget = bool(attrs.get("input_forget", 0))
    hs, finals = [], []
    for index, d in enumerate(rec.directions):
        bias = ctx.emit(relax.op.add(d.wb, d.rb)) if d.wb is not None else None
        p_i = p_o = p_f = None
        if peepholes is not None:
            p_i, p_o, p_f = gate_slices(ctx, direction_part(ctx, peepholes, index), 3)
        r_t = rec.transposed(d.r)
        h, c = d.initial  # None: zeros, whose terms are left out
        states = []
        for xw in rec.projections(d, bias):
            g = ctx.emit(relax.op.add(xw, rec.recur(h, r_t))) if h is not None else xw
            i, o, f, cand = gate_slices(ctx, g, 4)
            if p_i is not None and c is not None:
                i = ctx.emit(relax.op.add(i, relax.op.multiply(p_i, c)))
                f = ctx.emit(relax.op.add(f, relax.op.multiply(p_f, c)))
            i = rec.act(d, 0, i)
            f = ctx.emit(relax.op.subtract(relax.const(1.0, str(i.ty.dtype)), i)) if input_forget else rec.act(d, 0, f)
            new_c = relax.op.multiply(i, rec.act(d, 1, cand))
            c = ctx.emit(relax.op.add(relax.op.multiply(f, c), new_c) if c is not None else new_c)
            if p_o is not None:
                o = ctx.emit(relax.op.add(o, relax.op.multiply(p_o, c)))
            h = ctx.emit(relax.op.multiply(rec.act(d, 0, o), rec.act(d, 2, c, clip=False)))
            states.append(h)
        hs.append(states)
        finals.append([h, c])
    return rec.outputs(hs, finals)
