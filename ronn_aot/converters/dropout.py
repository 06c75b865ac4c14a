"""Dropout as inference runs it: the identity, with an all-true mask where one is asked for.

Training mode (a `training_mode` input that is true, or opset < 7's `is_test=0`) draws a random
mask, which an ahead-of-time artifact cannot reproduce; it is refused unless the ratio is 0
(nothing is dropped). TVM's converter gave the mask output wrong values.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Dropout", opsets=(1, None))
def dropout(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    ratio = float(attrs.get("ratio", 0.5))
    if len(inputs) > 1 and inputs[1] is not None:
        r = ctx.constant(inputs[1])
        if r is None:
            raise ctx.refuse("the ratio is computed at run time; freeze it with --freeze-input NAME=FILE.npy")
        ratio = float(r.reshape(-1)[0])
    training = ctx.opset < 7 and int(attrs.get("is_test", 0)) == 0
    if len(inputs) > 2 and inputs[2] is not None:
        t = ctx.constant(inputs[2])
        if t is None:
            raise ctx.refuse("training_mode is computed at run time; freeze it with --freeze-input NAME=FILE.npy")
        training = bool(t.reshape(-1)[0])
    if training and ratio != 0.0:
        raise ctx.refuse(f"training_mode with ratio {ratio} drops random elements, which an ahead-of-time "
                         "artifact cannot reproduce; export the model for inference (training_mode=False)")
    mask = relax.op.ones(ctx.shape(x), "bool")
    return relax.Tuple([x, mask])
