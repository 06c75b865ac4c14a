"""Structural matcher shared by the convolution rules (not a rule itself).

A 2-D convolution after LegalizeOps (and FuseTIR) is: optional padding blocks, one reduction
block with iterators SSSSRRR = (n, f, y, x | c, ky, kx), then elementwise blocks. The weight is
read as W[f, c, ky, kx]; the data channel is c (groups = 1) or f + c with one input channel
per group (depthwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..base import block_iter_kinds, const_int, top_blocks


@dataclass
class ConvMatch:
    block: Any  # the reduction block (BlockRV)
    dtype: str
    out_channels: int
    out_h: int
    out_w: int
    kernel: tuple[int, int]
    depthwise: bool
    linear_pixels: bool  # 1x1, stride 1, unpadded: pixel (y, x) reads data pixel (y, x)
    strided: bool  # neighbouring output pixels read data pixels that are not neighbours
    producers: list[Any] = field(default_factory=list)  # blocks before the convolution (padding)
    weight: Any = None  # the weight buffer [f, c, ky, kx]


def buffer_loads(stmt: Any) -> list[Any]:
    """Every buffer load (TensorLoad) in `stmt`, in visiting order."""
    import tvm
    import tvm_ffi

    loads: list[Any] = []
    tvm_ffi.structural_walk(stmt, (tvm.ir.expr.TensorLoad, loads.append), order="post")
    return loads


def _is_var(expr: Any, var: Any) -> bool:
    return expr.same_as(var)


def _equals(analyzer: Any, expr: Any, value: Any) -> bool:
    return bool(analyzer.can_prove_equal(expr, value))


@dataclass
class ConvBlock:
    """What both layouts' matchers need first: the kernel's one SSSSRRR reduction block, between
    padding blocks and elementwise blocks, with constant extents and two 4-D loads."""

    blocks: list[Any]  # the top-level blocks (BlockRVs)
    index: int  # position of the reduction block among them
    block: Any  # the reduction block itself (tvm SBlock)
    ext: list[int]  # its iterator extents
    out: Any  # the buffer it writes
    loads: list[Any]  # its two loads of other buffers (data and weight, in body order)


def conv_block(sch: Any) -> ConvBlock | None:
    blocks = top_blocks(sch)
    kinds = [block_iter_kinds(sch, b) for b in blocks]
    reductions = [i for i, k in enumerate(kinds) if "R" in k]
    if len(reductions) != 1 or kinds[reductions[0]] != "SSSSRRR":
        return None
    ci = reductions[0]
    if any(set(k) != {"S"} for i, k in enumerate(kinds) if i != ci):
        return None
    block = sch.get(blocks[ci])
    ext = [const_int(iv.dom.extent) for iv in block.iter_vars]
    if any(e is None for e in ext) or len(block.writes) != 1:
        return None
    out = block.writes[0].source
    loads = [ld for ld in buffer_loads(block.body) if not ld.source.same_as(out)]
    if len(loads) != 2 or any(len(ld.indices) != 4 for ld in loads):
        return None
    return ConvBlock(blocks, ci, block, [int(e) for e in ext], out, loads)  # type: ignore[arg-type]


def match_conv(sch: Any, func: Any) -> ConvMatch | None:
    import tvm

    cb = conv_block(sch)
    if cb is None:
        return None
    blocks, ci, block, ext, out, loads = cb.blocks, cb.index, cb.block, cb.ext, cb.out, cb.loads
    n, f, y, x, c, ky, kx = (iv.var for iv in block.iter_vars)
    weight = [ld for ld in loads if all(_is_var(i, v) for i, v in zip(ld.indices, (f, c, ky, kx)))]
    if len(weight) != 1:
        return None
    data = loads[1] if weight[0] is loads[0] else loads[0]
    az = tvm.sym.Analyzer()
    if not _is_var(data.indices[0], n):
        return None
    if _is_var(data.indices[1], c):
        depthwise = False
    elif ext[4] == 1 and _equals(az, data.indices[1] - c, f):
        depthwise = True
    else:
        return None
    data_shape = [const_int(d) for d in data.source.ty.shape]
    linear = False
    if ext[5] == 1 and ext[6] == 1 and data_shape[2:] == [ext[2], ext[3]]:
        one = tvm.sym.Analyzer()
        one.bind(ky, tvm.tirx.const(0, str(ky.ty.dtype)))
        one.bind(kx, tvm.tirx.const(0, str(kx.ty.dtype)))
        linear = _equals(one, data.indices[2], y) and _equals(one, data.indices[3], x)
    data_w = data_shape[3] or 0
    strided = int(ext[3]) > 1 and data_w - int(ext[6]) + 1 > int(ext[3]) + 1
    return ConvMatch(blocks[ci], str(out.ty.dtype), int(ext[1]), int(ext[2]), int(ext[3]),
                     (int(ext[5]), int(ext[6])), depthwise, linear, strided, blocks[:ci], weight[0].source)


def is_copy(sch: Any, block: Any) -> bool:
    """Whether `block` only copies one element of another buffer (a padding with pad 0)."""
    import tvm

    body = sch.get(block).body
    return isinstance(body, tvm.tirx.BufferStore) and isinstance(body.value, tvm.ir.expr.TensorLoad)


def read_index(sch: Any, block: Any, buffer: Any) -> int:
    """The position of `buffer` among `block`'s reads (what cache_read and reindex take)."""
    for i, region in enumerate(sch.get(block).reads):
        if region.source.same_as(buffer):
            return i
    raise ValueError(f"block {sch.get(block).name_hint} does not read buffer {buffer.name}")
