"""TfIdfVectorizer over integer tokens: n-gram counts against the pool, vectorised per n-gram
length and skip distance (each n-gram's k-th token compared with the k-th tokens of all pool
n-grams of that length at once), then TF / IDF / TFIDF weighting.

As ONNX (and onnx's reference) count them: an n-gram of length n >= 2 is counted at every skip
distance 1 .. max_skip_count + 1, a unigram once; pool n-grams shorter than min_gram_length or
longer than max_gram_length are not counted. String pools are refused (the artifact has no
string tensors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@register_converter("TfIdfVectorizer", opsets=(9, None))
def tfidf_vectorizer(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    if "pool_strings" in attrs or "pool_int64s" not in attrs:
        raise ctx.refuse("a pool of strings: ronn-aot takes integer tokens (pool_int64s) only")
    shape = ctx.shape(x)
    if len(shape) not in (1, 2):
        raise ctx.refuse(f"input of rank {len(shape)}; TfIdfVectorizer takes [C] or [N, C]")
    pool = np.asarray(attrs["pool_int64s"], dtype=np.int64)
    starts = [int(c) for c in attrs["ngram_counts"]] + [pool.size]
    columns = [int(i) for i in attrs["ngram_indexes"]]
    lo, hi = int(attrs["min_gram_length"]), int(attrs["max_gram_length"])
    max_skip = int(attrs["max_skip_count"])
    mode = str(attrs.get("mode", "TF"))
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ctx.refuse(f"mode={mode!r}; ONNX defines TF, IDF and TFIDF")
    out_size = max(columns) + 1 if columns else 0
    rows, c = (1, shape[0]) if len(shape) == 1 else shape
    tokens = ctx.emit(relax.op.astype(relax.op.reshape(x, [rows, c]), "int64"))

    counts = None  # [rows, out_size] float32
    ngram_id = 0
    for n in range(1, len(starts)):
        grams = pool[starts[n - 1]:starts[n]].reshape(-1, n)
        ids = list(range(ngram_id, ngram_id + grams.shape[0]))
        ngram_id += grams.shape[0]
        if not lo <= n <= hi or not grams.size:
            continue
        to_columns = np.zeros((grams.shape[0], out_size), np.float32)
        for row, i in enumerate(ids):
            to_columns[row, columns[i]] = 1.0
        for d in ([1] if n == 1 else range(1, max_skip + 2)):
            span = c - (n - 1) * d
            if span <= 0:
                continue
            match = None
            for k in range(n):
                window = relax.op.strided_slice(tokens, [1], [k * d], [k * d + span])
                window = ctx.emit(relax.op.expand_dims(window, [2]))  # [rows, span, 1]
                eq = ctx.emit(relax.op.equal(window, relax.const(grams[:, k].reshape(1, 1, -1), "int64")))
                match = eq if match is None else ctx.emit(relax.op.logical_and(match, eq))
            per_gram = ctx.emit(relax.op.sum(relax.op.astype(match, "float32"), axis=[1]))  # [rows, grams]
            part = ctx.emit(relax.op.matmul(per_gram, relax.const(to_columns, "float32")))
            counts = part if counts is None else ctx.emit(relax.op.add(counts, part))
    if counts is None:
        counts = relax.const(np.zeros((rows, out_size), np.float32), "float32")
    weights = np.asarray(attrs.get("weights", []), dtype=np.float32)
    if mode == "IDF":
        counts = ctx.emit(relax.op.astype(relax.op.greater(counts, relax.const(0.0, "float32")), "float32"))
    if mode in ("IDF", "TFIDF") and weights.size:
        counts = ctx.emit(relax.op.multiply(counts, relax.const(weights.reshape(1, -1), "float32")))
    return counts if len(shape) == 2 else relax.op.reshape(counts, [out_size])
