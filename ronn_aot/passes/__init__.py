"""Graph passes: a registry of named Relax passes, each tagged with the lowest optimization
level that runs it and the targets it applies to.

A pass registers itself with @register_pass; `passes_for(level, target)` returns the ordered
list a pipeline runs. Users add their own passes the same way (see docs in README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import RonnError

PassFactory = Callable[[], Any]  # returns a tvm.ir.transform.Pass


@dataclass(frozen=True)
class PassInfo:
    name: str
    level: int
    factory: PassFactory
    targets: tuple[str, ...] | None  # None: every target
    phase: str  # "graph" (high-level Relax) or "tir" (after legalization)
    order: int


_REGISTRY: dict[str, PassInfo] = {}
PHASES = ("graph", "fuse")


def register_pass(name: str, level: int, *, phase: str = "graph", order: int = 100,
                  targets: tuple[str, ...] | None = None) -> Callable[[PassFactory], PassFactory]:
    """Register a pass factory under `name`, run at optimization levels >= `level`.

    `phase` picks where it runs ("graph": on high-level Relax before legalization; "fuse": after
    legalization, where kernels are formed); `order` sorts passes inside a phase.
    """
    if phase not in PHASES:
        raise RonnError(f"unknown pass phase {phase!r}; phases: {', '.join(PHASES)}")

    def deco(factory: PassFactory) -> PassFactory:
        if name in _REGISTRY:
            raise RonnError(f"a pass named {name!r} is already registered")
        _REGISTRY[name] = PassInfo(name, level, factory, targets, phase, order)
        return factory

    return deco


def unregister_pass(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered_passes() -> list[PassInfo]:
    return sorted(_REGISTRY.values(), key=lambda p: (PHASES.index(p.phase), p.order, p.name))


def passes_for(level: int, target: str, phase: str) -> list[PassInfo]:
    """The passes a pipeline runs at `level` for `target` in `phase`, in order."""
    return [p for p in registered_passes()
            if p.phase == phase and p.level <= level and (p.targets is None or target in p.targets)]


from . import builtin  # noqa: E402,F401  (registers the built-in passes)
