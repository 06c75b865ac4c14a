"""TopK with a constant k, by ranks: an element's rank is how many elements of its row come
before it in the output order (larger, or equal with a lower index: ONNX's tie rule); output p is
the element of rank p. TVM's converter emits `relax.topk`, whose CPU lowering calls a packed sort
function that no artifact carries. The ranks cost O(n^2) per row, so rows longer than MAX_ROW are
refused rather than compiled into something slow.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter

MAX_ROW = 8192


@register_converter("TopK", opsets=(10, None))
def top_k(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    import numpy as np
    from tvm import relax, te, tirx

    x, k_in = inputs[0], inputs[1]
    k_v = ctx.constant(k_in)
    if k_v is None:
        raise ctx.refuse("k must be a constant: freeze it with --freeze-input NAME=FILE.npy")
    k = int(k_v.reshape(-1)[0])
    shape = ctx.shape(x)
    rank = len(shape)
    axis = int(attrs.get("axis", -1)) % rank
    largest = bool(attrs.get("largest", 1))
    n = shape[axis]
    if not 0 <= k <= n:
        raise ctx.refuse(f"k={k} is outside [0, {n}] for axis {axis} of shape {list(shape)}")
    if n > MAX_ROW:
        raise ctx.refuse(f"rows of {n} elements (more than {MAX_ROW}) are not supported")
    perm = [d for d in range(rank) if d != axis] + [axis]
    moved = ctx.emit(relax.op.permute_dims(x, perm)) if axis != rank - 1 else x
    rows = int(np.prod([shape[d] for d in perm[:-1]], dtype=np.int64))
    flat = ctx.emit(relax.op.reshape(moved, (rows, n)))

    def topk_te(data: Any) -> Any:
        j = te.reduce_axis((0, n), "j")

        def before(r: Any, a: Any, b: Any) -> Any:  # element b comes before element a
            xa, xb = data[r, a], data[r, b]
            wins = xb > xa if largest else xb < xa
            return tirx.Or(wins, tirx.And(xb == xa, b < a))

        ranks = te.compute((rows, n), lambda r, i: te.sum(tirx.Select(before(r, i, j), 1, 0), axis=j),
                           name="topk_rank")
        i = te.reduce_axis((0, n), "i")
        zero = tirx.const(0, data.dtype)
        values = te.compute((rows, k), lambda r, p: te.sum(tirx.Select(ranks[r, i] == p, data[r, i], zero), axis=i),
                            name="topk_values")
        i2 = te.reduce_axis((0, n), "i2")
        indices = te.compute((rows, k), lambda r, p: te.sum(
            tirx.Select(ranks[r, i2] == p, i2.var.astype("int64"), tirx.const(0, "int64")), axis=i2),
            name="topk_indices")
        return [values, indices]

    out = ctx.bb.emit_te(topk_te, flat)
    results = []
    inverse = [perm.index(d) for d in range(rank)]
    for idx in range(2):
        r = ctx.emit(relax.TupleGetItem(out, idx))
        r = ctx.emit(relax.op.reshape(r, tuple(shape[d] for d in perm[:-1]) + (k,)))
        if axis != rank - 1:
            r = ctx.emit(relax.op.permute_dims(r, inverse))
        results.append(r)
    return relax.Tuple(results)
