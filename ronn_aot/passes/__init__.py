"""Graph passes: a registry of named Relax passes, each tagged with the lowest optimization
level that runs it, the targets it applies to and the phase it belongs to.

Levels (`-O`, default 2):

- O0: import and legalization only; every operator is its own kernel (for debugging).
- O1: constant folding, dead-code and common-subexpression elimination, no-op removal.
- O2: O1 + BatchNormalization folded into Conv/Gemm weights, kernel fusion (epilogues:
  bias, activation, residual add, clip; elementwise and reduction chains), erf/tanh/small
  powers as arithmetic that vectorizes (fast_math.py).
- O3: O2 + data layout chosen per target (NHWC convolutions, weights transformed at compile
  time) and target-specific rewrites.

Phases, in pipeline order: "graph" passes run on high-level Relax before legalization, all of
them in `order`, round after round until a round changes nothing (at most `MAX_GRAPH_ROUNDS`);
"fuse" passes run once after legalization, where kernels are formed.

A pass is a factory returning a `tvm.ir.transform.Pass`, registered with a decorator. A user
registers their own the same way, before compiling::

    import ronn_aot
    from ronn_aot.passes import register_pass
    from tvm import relax

    @register_pass("my_fast_math", level=3, order=60)
    def my_fast_math():
        "Approximate exp/tanh/erf with fast polynomials."
        return relax.transform.FastMathTransform()

    art = ronn_aot.compile("model.onnx", ronn_aot.CompileOptions().with_optimization_level(3))
    # art.lower_report.passes now has records named "my_fast_math"; `--report` prints them.

`targets=("aarch64",)` restricts a pass to targets of that name or architecture;
`unregister_pass(name)` removes it again. tests/passes/test_registry.py runs this example.
"""

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


from . import batch_norm, builtin, constant, fast_math, layout, simplify, winograd  # noqa: E402,F401  (register the built-in passes)
