"""Stages 2 and 3, optimize and lower: graph passes at the chosen level, legalization to TIR,
kernel formation (fusion), then dataflow lowering and static memory planning."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import passes as pass_registry
from .errors import CompilationError


@dataclass
class PassRecord:
    name: str
    seconds: float
    kernels_before: int
    kernels_after: int
    bindings_before: int
    bindings_after: int


@dataclass
class LowerReport:
    passes: list[PassRecord] = field(default_factory=list)


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


def _run(mod: Any, name: str, pass_: Any, report: LowerReport,
         dump: Callable[[str, Any], None]) -> Any:
    k0, b0 = count_kernels(mod), count_bindings(mod)
    t0 = time.perf_counter()
    try:
        mod = pass_(mod)
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CompilationError(f"pass {name!r} failed: {msg}") from e
    report.passes.append(PassRecord(name, time.perf_counter() - t0, k0, count_kernels(mod), b0,
                                    count_bindings(mod)))
    dump(name, mod)
    return mod


def lower(mod: Any, target: Any, target_name: str, opt_level: int,
          dump_dir: Path | None = None) -> tuple[Any, LowerReport]:
    """Optimize and lower an imported Relax module; returns (module, report).

    The result's `main` calls PrimFuncs directly on tensors placed by R.memory.alloc_storage /
    alloc_tensor: exactly what the plan builder reads.
    """
    import tvm
    from tvm import relax

    report = LowerReport()
    step = [0]

    def dump(name: str, m: Any) -> None:
        if dump_dir is not None:
            dump_dir.mkdir(parents=True, exist_ok=True)
            step[0] += 1
            (dump_dir / f"{step[0]:02d}_{name}.py").write_text(m.script(show_meta=False))

    dump("import", mod)
    graph = [(p.name, p.factory()) for p in pass_registry.passes_for(opt_level, target_name, "graph")]
    fuse = [(p.name, p.factory()) for p in pass_registry.passes_for(opt_level, target_name, "fuse")]
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
        for name, p in graph + legalize + fuse + finalize:
            mod = _run(mod, name, p, report, dump)
    return mod, report
