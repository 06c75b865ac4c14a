"""Graph passes: a registry of named Relax passes, each tagged with the lowest optimization
level that runs it, the targets it applies to and the phase it belongs to.

Levels (`-O`, default 3):

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

from ._registry import (MAX_GRAPH_ROUNDS, PHASES, PassInfo, passes_for, register_pass,  # noqa: F401  (the API)
                        registered_passes, unregister_pass)
from . import batch_norm, builtin, constant, conv1d, fast_math, int8_dot, layout, pad_columns, simplify, winograd  # noqa: F401  (register the built-in passes)
