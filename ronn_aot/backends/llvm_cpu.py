"""Stage 5, codegen: compile the kernels (PrimFuncs) with LLVM for the target into one object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import tir_pipeline
from ..errors import CompilationError


def kernel_symbol(index: int, name: str) -> str:
    """The C symbol a kernel is exported under (tvm-ffi prefixes `__tvm_ffi_`)."""
    return f"ronn_k{index}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"[:120]


def compile_kernels(mod: Any, kernel_names: list[str], target: Any, out_obj: Path,
                    skip: frozenset[str] = frozenset()) -> bool:
    """Compile the PrimFuncs named in `kernel_names`, except those in `skip` (built by a device
    backend), into the object file `out_obj`; False when there was nothing to compile."""
    import tvm

    funcs = {}
    for i, name in enumerate(kernel_names):
        if name in skip:
            continue
        gv = mod.get_global_var(name)
        funcs[tvm.ir.GlobalVar(kernel_symbol(i, name))] = mod[gv].with_attr("global_symbol",
                                                                            kernel_symbol(i, name))
    if not funcs:
        return False
    try:
        lib = tir_pipeline.build(tvm.IRModule(funcs), target)
        lib.write_to_file(str(out_obj))
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CompilationError(f"LLVM code generation failed: {msg}") from e
    return True
