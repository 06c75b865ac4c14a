"""Stages 2 and 3, optimize and lower: graph passes at the chosen level (iterated to a fixpoint),
legalization to TIR, kernel formation (fusion), then dataflow lowering and static memory planning.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import passes as pass_registry
from ..errors import CompilationError

# Set to 1 to check Relax well-formedness after every pass (the test suite does).
VERIFY_IR_ENV = "RONN_AOT_VERIFY_IR"


@dataclass
class PassRecord:
    name: str
    seconds: float
    kernels_before: int
    kernels_after: int
    bindings_before: int
    bindings_after: int
    round: int = 0  # graph-phase round (1, 2, ...); 0 for passes that run once


@dataclass
class LowerReport:
    passes: list[PassRecord] = field(default_factory=list)
    graph_rounds: int = 0  # rounds the graph phase ran; the last one changed nothing
    converged: bool = True  # False: stopped at MAX_GRAPH_ROUNDS while still changing

    def ran(self, name: str) -> list[PassRecord]:
        """The records of every run of the pass `name`."""
        return [r for r in self.passes if r.name == name]


def count_kernels(mod: Any) -> int:
    import tvm

    return sum(1 for f in mod.functions.values() if isinstance(f, tvm.tirx.PrimFunc))


def count_bindings(mod: Any) -> int:
    from tvm import relax

    n = 0
    for f in mod.functions.values():
        if isinstance(f, relax.Function):
            for block in f.body.blocks:
                n += len(block.bindings)
    return n


def _fingerprint(mod: Any) -> int:
    import tvm_ffi

    return int(tvm_ffi.structural_hash(mod, map_free_vars=True))


class _Runner:
    """Runs passes one at a time: timing, counts, optional well-formedness check, IR dumps."""

    def __init__(self, report: LowerReport, dump_dir: Path | None, verify: bool) -> None:
        self.report, self.dump_dir, self.verify = report, dump_dir, verify
        self.step = 0

    def dump(self, name: str, mod: Any) -> None:
        if self.dump_dir is not None:
            self.dump_dir.mkdir(parents=True, exist_ok=True)
            self.step += 1
            (self.dump_dir / f"{self.step:02d}_{name}.py").write_text(mod.script(show_meta=False))

    def run(self, mod: Any, name: str, pass_: Any, round_: int = 0) -> Any:
        from tvm import relax

        k0, b0 = count_kernels(mod), count_bindings(mod)
        t0 = time.perf_counter()
        try:
            new = pass_(mod)
        except Exception as e:
            msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise CompilationError(f"pass {name!r} failed: {msg}") from e
        seconds = time.perf_counter() - t0
        if self.verify and not relax.analysis.check_well_formed(new):
            raise CompilationError(f"pass {name!r}{f' (round {round_})' if round_ else ''} produced "
                                   f"ill-formed IR: {_first_violation(new)}; rerun with --dump-ir DIR "
                                   "to see the module after each pass")
        self.report.passes.append(PassRecord(name, seconds, k0, count_kernels(new), b0, count_bindings(new),
                                             round_))
        self.dump(f"{name}" + (f"_r{round_}" if round_ else ""), new)
        return new


def _first_violation(mod: Any) -> str:
    from tvm import relax

    try:
        relax.analysis.well_formed(mod)
    except Exception as e:  # the checker raises TVM's error type, seeded with the offending node
        lines = str(e).strip().splitlines()
        return lines[-1] if lines else type(e).__name__
    return "no detail from the checker"


def _target_keys(target: Any, target_name: str) -> list[str]:
    """What registered passes' `targets` may name: the target's name and its architecture."""
    triple = str(target.attrs.get("mtriple", "")) if hasattr(target, "attrs") else ""
    return [target_name] + ([triple.split("-")[0]] if triple else [])


def lower(mod: Any, target: Any, target_name: str, opt_level: int,
          dump_dir: Path | None = None, verify_ir: bool | None = None) -> tuple[Any, LowerReport]:
    """Optimize and lower an imported Relax module; returns (module, report).

    The graph passes of `opt_level` run in order, round after round, until a round leaves the
    module unchanged or `passes.MAX_GRAPH_ROUNDS` rounds ran. `verify_ir` (default: the
    RONN_AOT_VERIFY_IR environment variable) checks well-formedness after every pass.
    The result's `main` calls PrimFuncs directly on tensors placed by R.memory.alloc_storage /
    alloc_tensor: exactly what the plan builder reads.
    """
    import tvm
    from tvm import relax

    if verify_ir is None:
        verify_ir = os.environ.get(VERIFY_IR_ENV, "") not in ("", "0")
    report = LowerReport()
    runner = _Runner(report, dump_dir, verify_ir)
    runner.dump("import", mod)
    keys = _target_keys(target, target_name)
    legalize = [("legalize_ops", relax.transform.LegalizeOps()),
                ("annotate_tir_op_pattern", relax.transform.AnnotateTIROpPattern())]
    finalize = [
        ("rewrite_dataflow_reshape", relax.transform.RewriteDataflowReshape()),
        ("to_non_dataflow", relax.transform.ToNonDataflow()),
        ("remove_purity_checking", relax.transform.RemovePurityChecking()),
        ("call_tir_rewrite", relax.transform.CallTIRRewrite()),
        ("static_plan_block_memory", relax.transform.StaticPlanBlockMemory()),
    ]
    with target, tvm.transform.PassContext(opt_level=3):
        graph = [(p.name, p.factory()) for p in pass_registry.passes_for(opt_level, keys, "graph")]
        fuse = [(p.name, p.factory()) for p in pass_registry.passes_for(opt_level, keys, "fuse")]
        mod = _graph_fixpoint(mod, graph, runner, report)
        for name, p in legalize + fuse + finalize:
            mod = runner.run(mod, name, p)
    return mod, report


def _graph_fixpoint(mod: Any, graph: list[tuple[str, Any]], runner: _Runner, report: LowerReport) -> Any:
    """Run the graph passes round after round until a round changes nothing (bounded)."""
    if not graph:
        return mod
    before = _fingerprint(mod)
    for round_ in range(1, pass_registry.MAX_GRAPH_ROUNDS + 1):
        for name, p in graph:
            mod = runner.run(mod, name, p, round_)
        report.graph_rounds = round_
        after = _fingerprint(mod)
        if after == before:
            return mod
        before = after
    report.converged = False
    return mod

