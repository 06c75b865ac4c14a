"""SpaceToDepth with opset 28's `mode` (DCR, the default, and CRD); TVM's converter ignores the
mode and always produces DCR."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("SpaceToDepth", opsets=(1, None))
def space_to_depth(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x = inputs[0]
    b = int(attrs["blocksize"])
    mode = attrs.get("mode", "DCR")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    n, c, h, w = ctx.shape(x)
    if h % b or w % b:
        raise ctx.refuse(f"height {h} and width {w} must be multiples of blocksize {b}")
    blocks = ctx.emit(relax.op.reshape(x, (n, c, h // b, b, w // b, b)))
    if mode == "DCR":  # the block offset is the outer part of the new channel index
        perm = [0, 3, 5, 1, 2, 4]
    elif mode == "CRD":  # the input channel is the outer part
        perm = [0, 1, 3, 5, 2, 4]
    else:
        raise ctx.refuse(f"mode={mode!r}; expected DCR or CRD")
    moved = ctx.emit(relax.op.permute_dims(blocks, perm))
    return relax.op.reshape(moved, (n, c * b * b, h // b, w // b))
