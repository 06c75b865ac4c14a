"""ConvTranspose (1-D and 2-D) as one regular convolution plus a depth-to-space shuffle.

Why not TVM's `relax.nn.conv2d_transpose`: its legalization handles only NCHW, so at O3 the
layout pass, which propagates NHWC from neighbouring convolutions into it, left it unlowerable
("operator relax.nn.conv2d_transpose survived lowering"); its naive TIR also has no schedule rule,
and TVM's converter ignores `output_shape`.

The rewrite (sub-pixel decomposition): along an axis with stride s, output position
t = oy + pad_begin splits into phase r = t mod s and q = t div s; the taps that reach phase r
read x[q + m] with m = (r - k*dilation) / s wherever that is whole. So all s phases are one
convolution of x with s times the output channels, each phase's kernel gathering its taps (zero
where a phase has fewer), then an interleave of the phases and a crop. It does exactly the
multiplications of the transposed convolution (no zero-inserted input), and the convolution
runs through the target's conv2d layout and schedule rules. Constant weights are rearranged
with numpy at compile time; weights computed at run time are rearranged with Relax gathers.
1-D runs as 2-D with a unit height. 3-D goes to TVM's converter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


@dataclass(frozen=True)
class _Axis:
    """The plan of one spatial axis: kernel gather map, convolution padding/crop, output crop."""

    taps: np.ndarray  # [stride, L] kernel index of each phase's tap j; K (a zero slot) where none
    step: int  # the convolution's dilation
    crop: tuple[int, int]  # slice of the input that the convolution reads [begin, end)
    pad: tuple[int, int]  # zeros before and after that slice
    out_offset: int  # first output position in the interleaved phases
    out_len: int

    @property
    def stride(self) -> int:
        return int(self.taps.shape[0])


def _plan_axis(in_len: int, k: int, s: int, d: int, pad_begin: int, out_len: int) -> _Axis:
    # Stride 1 has one phase whose taps are dilation apart: let the convolution dilate.
    step = d if s == 1 else 1
    pairs = [(r, ky, (r - ky * d) // s) for r in range(s) for ky in range(k) if (r - ky * d) % s == 0]
    m_min = min(m for _, _, m in pairs)
    length = (max(m for _, _, m in pairs) - m_min) // step + 1
    taps = np.full((s, length), k, dtype=np.int64)
    for r, ky, m in pairs:
        taps[r, (m - m_min) // step] = ky
    qa, qb = pad_begin // s, (out_len - 1 + pad_begin) // s
    begin = qa + m_min  # input position the first tap of the first phase row reads
    end = begin + (qb - qa) + (length - 1) * step + 1
    crop = (max(begin, 0), min(end, in_len))
    pad = (crop[0] - begin, end - crop[1])
    return _Axis(taps, step, crop, pad, pad_begin - qa * s, out_len)


def _pads_and_out_lens(ctx: ConvertContext, attrs: dict[str, Any], in_sp: list[int], k_sp: list[int],
                       strides: list[int], dilations: list[int]) -> tuple[list[int], list[int]]:
    """Begin pads and output lengths per axis, per the ONNX spec (auto_pad, pads, output_shape)."""
    n = len(in_sp)
    out_pad = list(attrs.get("output_padding", [0] * n))
    auto_pad = attrs.get("auto_pad", "NOTSET")
    natural = [strides[i] * (in_sp[i] - 1) + out_pad[i] + (k_sp[i] - 1) * dilations[i] + 1 for i in range(n)]
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise ctx.refuse(f"auto_pad={auto_pad!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    output_shape = list(attrs.get("output_shape", []))
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = output_shape[-n:] if output_shape else [in_sp[i] * strides[i] for i in range(n)]
        if len(out) != n:
            raise ctx.refuse(f"output_shape {output_shape} does not give the {n} spatial dimensions")
        # An output larger than the natural one grows at the end (onnxruntime clamps the total
        # padding at 0). SAME_UPPER puts an odd pad at the end; SAME_LOWER and NOTSET (explicit
        # output_shape) at the beginning (the spec, as onnxruntime does it).
        total = [max(natural[i] - out[i], 0) for i in range(n)]
        begins = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        return begins, out
    if auto_pad == "VALID":
        return [0] * n, natural
    pads = list(attrs.get("pads", [0] * (2 * n)))
    return pads[:n], [natural[i] - pads[i] - pads[n + i] for i in range(n)]


def _gather_weights(ctx: ConvertContext, w: Any, groups: int, ay: _Axis, ax: _Axis) -> Any:
    """Kernel of the phase convolution, OIHW: [(group, ry, rx, og), i, jy, jx] = w[g*Ig+i, og, ky, kx]."""
    from tvm import relax

    cin, og, kh, kw = ctx.shape(w)
    ig, (sy, ly), (sx, lx) = cin // groups, ay.taps.shape, ax.taps.shape
    grouped = (groups, ig, og, sy, ly, sx, lx)
    order = (0, 3, 5, 2, 1, 4, 6)  # -> (G, sy, sx, Og, Ig, Ly, Lx)
    final = (groups * sy * sx * og, ig, ly, lx)
    value = ctx.constant(w)
    if value is not None:
        wz = np.pad(value, ((0, 0), (0, 0), (0, 1), (0, 1)))  # index K reads the zero slot
        g = np.take(np.take(wz, ay.taps.reshape(-1), axis=2), ax.taps.reshape(-1), axis=3)
        return relax.const(np.ascontiguousarray(g.reshape(grouped).transpose(order).reshape(final)))
    wz = ctx.emit(relax.op.nn.pad(w, [0, 0, 0, 0, 0, 1, 0, 1]))
    g = ctx.emit(relax.op.take(wz, relax.const(ay.taps.reshape(-1)), axis=2, mode="clip"))
    g = ctx.emit(relax.op.take(g, relax.const(ax.taps.reshape(-1)), axis=3, mode="clip"))
    g = ctx.emit(relax.op.permute_dims(relax.op.reshape(g, grouped), order))
    return ctx.emit(relax.op.reshape(g, final))


def _phase_bias(ctx: ConvertContext, b: Any, groups: int, phases: int) -> Any:
    """Bias per phase-convolution channel (group, ry, rx, og): b[group*Og + og]."""
    from tvm import relax

    (c,) = ctx.shape(b)
    value = ctx.constant(b)
    if value is not None:
        tiled = np.broadcast_to(value.reshape(groups, 1, c // groups), (groups, phases, c // groups))
        return relax.const(np.ascontiguousarray(tiled).reshape(1, -1, 1, 1))
    tiled = relax.op.broadcast_to(relax.op.reshape(b, (groups, 1, c // groups)), (groups, phases, c // groups))
    return ctx.emit(relax.op.reshape(tiled, (1, groups * phases * c // groups, 1, 1)))


@register_converter("ConvTranspose", opsets=(1, None))
def conv_transpose(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    rank = len(x_shape)
    if rank == 5 and ctx.tvm_converter is not None:
        return ctx.tvm_converter(inputs)
    if rank not in (3, 4):
        raise ctx.refuse(f"{rank - 2}-D ConvTranspose; 1-D, 2-D and 3-D are supported")
    n = rank - 2
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    groups = int(attrs.get("group", 1))
    k_sp = list(w_shape[2:])
    if x_shape[1] != w_shape[0] or w_shape[0] % groups:
        raise ctx.refuse(f"weight shape {w_shape} does not match input channels {x_shape[1]} "
                         f"and group={groups}")
    begins, out_lens = _pads_and_out_lens(ctx, attrs, list(x_shape[2:]), k_sp, strides, dilations)
    if min(out_lens) < 1:
        raise ctx.refuse(f"the attributes give an empty output ({out_lens})")
    if n == 1:  # 1-D as 2-D with a unit height
        x = ctx.emit(relax.op.expand_dims(x, 2))
        w_value = ctx.constant(w)
        w = relax.const(w_value[:, :, None]) if w_value is not None else ctx.emit(relax.op.expand_dims(w, 2))
        strides, dilations, begins, out_lens = [1] + strides, [1] + dilations, [0] + begins, [1] + out_lens
    in_sp, k_sp = ctx.shape(x)[2:], ctx.shape(w)[2:]
    ay, ax = (_plan_axis(in_sp[i], k_sp[i], strides[i], dilations[i], begins[i], out_lens[i]) for i in range(2))
    if ay.crop[0] >= ay.crop[1] or ax.crop[0] >= ax.crop[1]:
        raise ctx.refuse(f"pads {attrs.get('pads')} / output_shape {attrs.get('output_shape')} crop the whole input")

    if (ay.crop, ax.crop) != ((0, in_sp[0]), (0, in_sp[1])):
        x = ctx.emit(relax.op.strided_slice(x, axes=[2, 3], begin=[ay.crop[0], ax.crop[0]],
                                            end=[ay.crop[1], ax.crop[1]]))
    weight = _gather_weights(ctx, w, groups, ay, ax)
    z = ctx.emit(relax.op.nn.conv2d(x, weight, strides=1, padding=[ay.pad[0], ax.pad[0], ay.pad[1], ax.pad[1]],
                                    dilation=[ay.step, ax.step], groups=groups))
    if b is not None:
        z = ctx.emit(relax.op.add(z, _phase_bias(ctx, b, groups, ay.stride * ax.stride)))

    batch, _, qy, qx = ctx.shape(z)
    og = w_shape[1]
    if ay.stride * ax.stride > 1:  # interleave the phases: (N, G, sy, sx, Og, Qy, Qx) -> (N, C, Qy*sy, Qx*sx)
        z = ctx.emit(relax.op.reshape(z, (batch, groups, ay.stride, ax.stride, og, qy, qx)))
        z = ctx.emit(relax.op.permute_dims(z, (0, 1, 4, 5, 2, 6, 3)))
        z = ctx.emit(relax.op.reshape(z, (batch, groups * og, qy * ay.stride, qx * ax.stride)))
    full = ctx.shape(z)[2:]
    if (ay.out_offset, ax.out_offset, ay.out_len, ax.out_len) != (0, 0, full[0], full[1]):
        z = ctx.emit(relax.op.strided_slice(z, axes=[2, 3], begin=[ay.out_offset, ax.out_offset],
                                            end=[ay.out_offset + ay.out_len, ax.out_offset + ax.out_len]))
    if n == 1:
        z = relax.op.squeeze(z, [2])
    return z
