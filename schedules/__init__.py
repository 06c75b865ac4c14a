"""Default schedule rules: one rule per file, registered here, tried first-match per kernel.

A rule is a small class with `apply(func, target, tunable) -> Schedule | None` (None: the rule
does not fit this kernel). It registers itself with `@register_rule(name, arches=..., order=...)`;
`rules_for(arch)` lists the rules a target runs, in order, the fallback last. Nothing here
branches on rule or target names: adding a rule is adding a file (and its import below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ronn_aot.errors import RonnError


class ScheduleRule(Protocol):
    """What a rule provides (the shape of `tvm.s_tir.dlight.ScheduleRule`)."""

    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        """A `tvm.s_tir.Schedule` of `func` for `target`, or None when the rule does not fit."""
        ...


@dataclass(frozen=True)
class RuleInfo:
    name: str
    arches: tuple[str, ...]  # target `arch` values (targets/*.toml) the rule is written for
    order: int  # lower runs first; the fallback has the highest
    rule: ScheduleRule


_REGISTRY: dict[str, RuleInfo] = {}


def register_rule(name: str, *, arches: tuple[str, ...], order: int) -> Callable[[type], type]:
    """Class decorator: register an instance of the class as schedule rule `name`."""

    def deco(cls: type) -> type:
        if name in _REGISTRY:
            raise RonnError(f"a schedule rule named {name!r} is already registered")
        _REGISTRY[name] = RuleInfo(name, tuple(arches), order, cls())
        return cls

    return deco


def registered_rules() -> list[RuleInfo]:
    return sorted(_REGISTRY.values(), key=lambda r: (r.order, r.name))


def rules_for(arch: str) -> list[RuleInfo]:
    """The rules a target of architecture `arch` runs, in first-match order."""
    return [r for r in registered_rules() if arch in r.arches]


def get_rule(name: str) -> RuleInfo:
    """The rule registered as `name`; an unknown name fails with the list of known ones."""
    if name not in _REGISTRY:
        raise RonnError(f"unknown schedule rule {name!r}; known rules: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


from . import bitnet, cpu, cuda  # noqa: E402,F401  (registers the bit-serial, CPU and CUDA rules)
