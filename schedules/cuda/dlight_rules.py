"""TVM's GPU schedule rules (`tvm.s_tir.dlight.gpu`), registered one line each.

dlight rules already have our rule shape (`apply(func, target, tunable)` returning a schedule, a
list of schedules, or None); the adapter keeps the first schedule, as dlight's
ApplyDefaultSchedule does.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule


class _Dlight:
    """Adapter around one dlight GPU rule, named by its class in `tvm.s_tir.dlight.gpu`."""

    rule_class = ""

    def __init__(self) -> None:
        self._rule: Any = None

    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        if self._rule is None:
            from tvm.s_tir.dlight import gpu

            self._rule = getattr(gpu, self.rule_class)()
        space = self._rule.apply(func, target, tunable)
        if isinstance(space, list):
            return space[0] if space else None
        return space


def _dlight(name: str, rule_class: str, order: int) -> None:
    register_rule(name, arches=("cuda",), order=order)(type(rule_class, (_Dlight,), {"rule_class": rule_class}))


# dlight's recommended order: specialised rules first, the fallback last.
_dlight("cuda.matmul", "Matmul", 10)
_dlight("cuda.gemv", "GEMV", 20)
_dlight("cuda.reduction", "Reduction", 30)
_dlight("cuda.general_reduction", "GeneralReduction", 40)
_dlight("cuda.transpose", "Transpose", 50)
_dlight("cuda.fallback", "Fallback", 1000)
