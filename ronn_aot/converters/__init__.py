"""ONNX op converters of our own, consulted before TVM's Relax ONNX frontend.

One operator per file. A converter is a function registered for an op type and a range of model
opsets; it receives the node's inputs as Relax expressions and its attributes, and returns Relax
(a `relax.Tuple` for several outputs)::

    from ronn_aot.converters import ConvertContext, register_converter

    @register_converter("LpNormalization", opsets=(1, None))
    def lp_normalization(ctx: ConvertContext, inputs, attrs):
        ...
        return ctx.emit(relax.op.divide(x, norm))

Why emit Relax rather than rewrite ONNX into other ONNX ops before import: the frontend hands a
converter the values it needs already typed (static shapes, dtypes) and initializers as
`relax.Constant`, so a converter can transform constant weights with numpy at compile time
(ConvTranspose) and unroll loops over static lengths (LSTM/GRU/RNN) without building ONNX nodes,
re-running shape inference or naming intermediate tensors. The hook is small: while TVM's
`from_onnx` runs, `converters_installed(opset)` patches the frontend's `_get_convert_map` so our
converters take precedence for the ops (and opsets) they cover, and restores it afterwards;
`frontend.check_operators` accepts what the registry covers.

A converter refuses what it does not handle with `ctx.refuse(detail)`, an
`UnsupportedOperatorError` naming the node, the op, the opset and the attribute; one that fixes
only some cases can hand the others to TVM's converter (`ctx.tvm_converter`).

The converters, and what TVM's frontend lacks or gets wrong for each (see each file):
conv_transpose (unlowerable at O3, naive, ignores output_shape), lstm / gru / rnn (missing;
_recurrent.py holds what they share), lp_normalization (missing), layer_normalization (Mean and
InvStdDev outputs were placeholders), bit_shift (out-of-range shifts undefined), resize (other
ranks, axes, antialias, aspect-ratio policies, non-whole scales), affine_grid, col2im and
qlinear_matmul (missing), celu / eye_like / pow (float16 Celu, EyeLike's dtype, integer Pow).
"""

from __future__ import annotations

from ._registry import (ConvertContext, ConverterInfo, converter_for, converters_installed, register_converter,
                        registered_ops, unregister_converter)
from . import (affine_grid, batch_normalization, bit_cast, bit_shift, celu, col2im, conv_integer, conv_transpose,  # noqa: F401,E402
               cum_sum, data_dependent, det, dropout, eye_like, float16_accumulate, gather, gru, index_bounds, is_inf,
               layer_normalization, lp_normalization, lstm, mod, one_hot, pow, qlinear_matmul, reduce_extreme,
               resize, rnn, roi_align, space_to_depth, reverse_sequence, squeeze, tensor_scatter, tfidf_vectorizer,
               top_k)  # each registers its converter

__all__ = ["ConvertContext", "ConverterInfo", "converter_for", "converters_installed", "register_converter",
           "registered_ops", "unregister_converter"]
