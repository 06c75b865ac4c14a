"""Col2Im (opset 18): column blocks summed back into an image. Separable: along each spatial
axis, block position l and kernel offset k land on pixel l * stride - pad_begin + k * dilation,
a 0/1 matrix computed at compile time; the blocks are summed by one matmul per axis (image_shape
and block_shape must be constant; the Backend freezes them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


def placement(image: int, kernel: int, blocks: int, stride: int, dilation: int, pad: int) -> np.ndarray:
    """[kernel * blocks, image]: 1 where kernel offset k of block l lands (row k * blocks + l)."""
    m = np.zeros((kernel * blocks, image))
    for k in range(kernel):
        for l in range(blocks):
            p = l * stride - pad + k * dilation
            if 0 <= p < image:
                m[k * blocks + l, p] = 1.0
    return m


@register_converter("Col2Im", opsets=(18, None))
def col2im(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, image_shape, block_shape = inputs
    image, block = ctx.constant(image_shape), ctx.constant(block_shape)
    if image is None or block is None:
        raise ctx.refuse("image_shape and block_shape must be constants; freeze them (--freeze-input)")
    image, block = [int(v) for v in image.reshape(-1)], [int(v) for v in block.reshape(-1)]
    d = len(image)
    strides = [int(v) for v in attrs.get("strides", [1] * d)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * d)]
    pads = [int(v) for v in attrs.get("pads", [0] * (2 * d))]
    blocks = [(image[i] + pads[i] + pads[i + d] - (dilations[i] * (block[i] - 1) + 1)) // strides[i] + 1
              for i in range(d)]
    n, ck, total = ctx.shape(x)
    kernel = int(np.prod(block))
    if ck % kernel or int(np.prod(blocks)) != total:
        raise ctx.refuse(f"input {list(ctx.shape(x))} does not hold {kernel}-element kernels over "
                         f"{blocks} blocks")
    c = ck // kernel
    # [N, C, k1..kd, l1..ld] -> [N, C, k1, l1, ..., kd, ld] -> [N, C, k1*l1, ..., kd*ld]
    y = ctx.emit(relax.op.reshape(x, [n, c, *block, *blocks]))
    y = ctx.emit(relax.op.permute_dims(y, [0, 1] + [a for i in range(d) for a in (2 + i, 2 + d + i)]))
    y = ctx.emit(relax.op.reshape(y, [n, c, *(block[i] * blocks[i] for i in range(d))]))
    dtype = ctx.dtype(x)
    rank = 2 + d
    for i in range(d):
        axis = 2 + i
        to_last = [a for a in range(rank) if a != axis] + [axis]
        m = placement(image[i], block[i], blocks[i], strides[i], dilations[i], pads[i])
        y = ctx.emit(relax.op.matmul(relax.op.permute_dims(y, to_last), relax.const(m.astype(dtype), dtype)))
        back = list(np.argsort(to_last))
        y = ctx.emit(relax.op.permute_dims(y, [int(a) for a in back]))
    return y
