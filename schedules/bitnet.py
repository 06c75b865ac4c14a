"""Bit-serial (BitNet) kernels: the popcount schedules of `ronn_aot.bitnet.schedule`.

The kernels carry their layer description in the `ronn.bitnet` attribute, so this rule takes
exactly them and nothing else; it runs before every other rule on every CPU architecture.
"""

from __future__ import annotations

from typing import Any

from . import register_rule


@register_rule("bitnet", arches=("x86_64", "aarch64"), order=0)
class BitnetRule:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        from ronn_aot.bitnet.schedule import schedule_kernel

        return schedule_kernel(func, target)
