"""The int8 SDOT kernels of ronn_aot/passes/int8_dot.py (aarch64-dotprod): the dot kernel in the
sdot BitNet kernel's register tiles (`bitnet.arm.schedule_sdot`), the pack kernel rows in
parallel with their quads vectorized. The kernels carry their description in the
`ronn.int8_dot` attribute, so this rule takes exactly them."""

from __future__ import annotations

from typing import Any

from .. import register_rule


@register_rule("cpu.int8_dot", arches=("aarch64",), order=1)
class Int8DotRule:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from tvm import s_tir

        from ronn_aot.bitnet.arm import schedule_sdot
        from ronn_aot.passes.int8_dot import INT8_ATTR, Int8DotSpec
        from ronn_aot.schedules.base import num_cores

        attrs = func.attrs
        if attrs is None or INT8_ATTR not in attrs.keys():
            return None
        kind, _, text = str(attrs[INT8_ATTR]).partition(":")
        spec = Int8DotSpec.from_json(text)
        sch = s_tir.Schedule(func)
        sch.work_on("main")
        if kind == "dot":
            return schedule_sdot(sch, spec, cores=num_cores(target))
        m, q = sch.get_loops(sch.get_sblock("quads"))
        if spec.conv is None and spec.words >= 4:  # (a convolution's quads are gathered)
            _, inner = sch.split(q, factors=[None, 4])
            sch.vectorize(inner)
        if spec.m * spec.k >= 1 << 16:
            sch.parallel(m)
        return sch
