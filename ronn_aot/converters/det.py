"""Det of small matrices (n <= 4): the Leibniz sum over permutations, computed elementwise over the
batch (n! products of n entries); larger matrices are refused (they need a pivoted LU)."""

from __future__ import annotations

import itertools
from typing import Any

from ._registry import ConvertContext, register_converter

MAX_ORDER = 4


def _sign(perm: tuple[int, ...]) -> int:
    inversions = sum(1 for i in range(len(perm)) for j in range(i + 1, len(perm)) if perm[i] > perm[j])
    return -1 if inversions % 2 else 1


@register_converter("Det", opsets=(11, None))
def det(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    shape = ctx.shape(x)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ctx.refuse(f"input {list(shape)}: Det takes square matrices in the last two axes")
    n = shape[-1]
    if n > MAX_ORDER:
        raise ctx.refuse(f"{n}x{n} matrices; ronn-aot computes determinants up to {MAX_ORDER}x{MAX_ORDER}")
    rank = len(shape)
    entries = {}
    for i in range(n):
        row = ctx.emit(relax.op.squeeze(relax.op.strided_slice(x, [rank - 2], [i], [i + 1]), [rank - 2]))
        for j in range(n):
            entries[i, j] = ctx.emit(relax.op.squeeze(relax.op.strided_slice(row, [rank - 2], [j], [j + 1]),
                                                      [rank - 2]))
    total = None
    for perm in itertools.permutations(range(n)):
        term = entries[0, perm[0]]
        for i in range(1, n):
            term = relax.op.multiply(term, entries[i, perm[i]])
        term = ctx.emit(term)
        if total is None:
            total = term if _sign(perm) > 0 else ctx.emit(relax.op.negative(term))
        else:
            total = ctx.emit(relax.op.add(total, term) if _sign(perm) > 0 else relax.op.subtract(total, term))
    return total
