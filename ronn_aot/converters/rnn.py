"""RNN (the simple recurrence H = f(X·Wᵀ + H·Rᵀ + Wb + Rb)), unrolled (see _recurrent.py)."""

from __future__ import annotations

from typing import Any

from ._recurrent import parse
from ._registry import ConvertContext, register_converter


@register_converter("RNN", opsets=(7, None))
def rnn(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    rec = parse(ctx, inputs, attrs, 1, ["Tanh"], state_inputs=[5])
    hs, finals = [], []
    for d in rec.directions:
        bias = ctx.emit(relax.op.add(d.wb, d.rb)) if d.wb is not None else None
        r_t = rec.transposed(d.r)
        h = d.initial[0]  # None: zeros, whose term is left out
        states = []
        for xw in rec.projections(d, bias):
            h = rec.act(d, 0, ctx.emit(relax.op.add(xw, rec.recur(h, r_t))) if h is not None else xw)
            states.append(h)
        hs.append(states)
        finals.append([h])
    return rec.outputs(hs, finals)
