"""The pass registry itself (ronn_aot.passes re-exports it): kept apart from the package so that
the built-in passes register themselves without importing the package that imports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import RonnError

PassFactory = Callable[[], Any]  # returns a tvm.ir.transform.Pass

PHASES = ("graph", "fuse")
MAX_GRAPH_ROUNDS = 4


@dataclass(frozen=True)
class PassInfo:
    name: str
    level: int
    factory: PassFactory
    targets: tuple[str, ...] | None  # target names or architectures; None: every target
    phase: str
    order: int
    description: str = ""

    def applies_to(self, level: int, target_keys: Iterable[str]) -> bool:
        return self.level <= level and (self.targets is None or bool(set(self.targets) & set(target_keys)))


_REGISTRY: dict[str, PassInfo] = {}


def register_pass(name: str, level: int, *, phase: str = "graph", order: int = 100,
                  targets: tuple[str, ...] | None = None) -> Callable[[PassFactory], PassFactory]:
    """Register a pass factory under `name`, run at optimization levels >= `level`.

    `phase` picks where it runs ("graph": on high-level Relax before legalization, iterated to a
    fixpoint; "fuse": once, after legalization, where kernels are formed); `order` sorts passes
    inside a phase (built-in graph passes use 10-90); `targets` limits it to those target names or
    architectures. The factory's docstring is the pass's description.
    """
    if phase not in PHASES:
        raise RonnError(f"unknown pass phase {phase!r}; phases: {', '.join(PHASES)}")
    if level not in (0, 1, 2, 3):
        raise RonnError(f"pass {name!r}: level must be 0, 1, 2 or 3, got {level!r}")

    def deco(factory: PassFactory) -> PassFactory:
        if name in _REGISTRY:
            raise RonnError(f"a pass named {name!r} is already registered; "
                            f"unregister_pass({name!r}) first to replace it")
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = PassInfo(name, level, factory, targets, phase, order, doc[0] if doc else "")
        return factory

    return deco


def unregister_pass(name: str) -> None:
    """Remove a registered pass (no error when there is none of that name)."""
    _REGISTRY.pop(name, None)


def registered_passes() -> list[PassInfo]:
    """Every registered pass, in pipeline order."""
    return sorted(_REGISTRY.values(), key=lambda p: (PHASES.index(p.phase), p.order, p.name))


def passes_for(level: int, target: str | Iterable[str], phase: str) -> list[PassInfo]:
    """The passes a pipeline runs at `level` for `target` (a name, or names/architectures) in
    `phase`, in order."""
    if phase not in PHASES:
        raise RonnError(f"unknown pass phase {phase!r}; phases: {', '.join(PHASES)}")
    keys = [target] if isinstance(target, str) else list(target)
    return [p for p in registered_passes() if p.phase == phase and p.applies_to(level, keys)]
