"""Gather whose indices are clamped into range instead of trusted.

TVM's converter (negative indices normalised, then `relax.op.take`) takes in mode "fast": a kernel
that reads data[index] for whatever index arrives. An out-of-range index (a token id past the
vocabulary from the caller, or data corrupted on the way) then reads outside the tensor and can
kill the process (found by fuzzing artifacts: an embedding's ids pointed at float data). ONNX calls
out-of-range indices an error, which a kernel cannot report; "clip" keeps every read inside the
tensor for one min/max per index, as XLA's gather does.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Gather", opsets=(1, None))
def gather(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    if ctx.tvm_converter is None:
        raise ctx.refuse("Gather needs TVM's converter, which is missing")
    out = ctx.tvm_converter(inputs)
    if (isinstance(out, relax.Call) and getattr(out.op, "name", "") == "relax.take"
            and str(out.attrs.mode) == "fast"):
        axis = out.attrs.axis
        return relax.op.take(out.args[0], out.args[1], axis=None if axis is None else int(axis), mode="clip")
    return out
