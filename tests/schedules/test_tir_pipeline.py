"""ronn_aot/backends/tir_pipeline.py: register tiles over TVM's 1 KiB stack limit stay on the stack in our
build (no TVMBackendAllocWorkspace call), larger temporaries do not, and results are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
from tvm.script import tirx as T  # noqa: E402

from ronn_aot.backends import tir_pipeline  # noqa: E402
from kernels import tvm_target  # noqa: E402


def _kernel(tile: int, big: int):  # type: ignore[no-untyped-def]
    """B = A * 2 + 1 through a `tile`-float temporary and a `big`-float one, per parallel task."""

    @T.prim_func
    def f(A: T.Buffer((1024,), "float32"), B: T.Buffer((1024,), "float32")):
        for o in T.parallel(2):
            acc = T.alloc_buffer((tile,), "float32")
            scratch = T.alloc_buffer((big,), "float32")
            for i in range(512):
                acc[i % tile] = A[o * 512 + i] * T.float32(2)
                scratch[i * (big // 512)] = acc[i % tile]
            for i in range(512):
                B[o * 512 + i] = scratch[i * (big // 512)] + T.float32(1)

    return f



@pytest.mark.parametrize("target", ["x86_64-avx2"])
def test_tiles_up_to_the_limit_stay_on_the_stack(target: str) -> None:
    tt = tvm_target(target)
    mod = tvm.IRModule({"main": _kernel(512, 4096)})  # 2 KiB tile (over TVM's limit), 16 KiB scratch
    ours = tir_pipeline.build(mod, tt)
    stock = tvm.tirx.build(mod, target=tt)
    ll_ours, ll_stock = ours.inspect_source("ll"), stock.inspect_source("ll")
    # TVM's build allocates both from the workspace; ours only the 16 KiB scratch buffer.
    assert _calls(ll_stock, "TVMBackendAllocWorkspace") == 2
    assert _calls(ll_ours, "TVMBackendAllocWorkspace") == 1
    a = np.random.default_rng(0).standard_normal(1024).astype("float32")
    for lib in (ours, stock):
        out = tvm.runtime.tensor(np.zeros(1024, "float32"))
        lib["main"](tvm.runtime.tensor(a), out)
        np.testing.assert_allclose(out.numpy(), a * 2 + 1, rtol=1e-6)


def _calls(ll: str, symbol: str) -> int:
    """Call sites of `symbol` in LLVM IR (TVM calls backend functions through pointers it loads
    from `__<symbol>`, so count those loads)."""
    return sum(1 for line in ll.splitlines() if "load" in line and f"@__{symbol}" in line)


def test_only_small_allocations_are_annotated() -> None:
    mod = tvm.IRModule({"main": _kernel(512, 4096)})
    assert tir_pipeline.keep_tiles_on_stack(mod, limit=0) is mod  # nothing at or under 0 bytes
