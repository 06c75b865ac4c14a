"""cpu.softmax (aarch64): cpu.reduction's schedule with float32 exp computed inline. Structure
(the reduction schedule, exp replaced, nothing else), the polynomial against numpy's exp with its
special values, and the scheduled kernel against the naive one. Under qemu against onnxruntime:
tests/cross/test_aarch64_kernels.py (softmax)."""

from __future__ import annotations

import numpy as np

from kernels import kernel, run_kernel, tvm_target

AARCH64 = "aarch64"


def _calls(func: object, op: str) -> int:
    import tvm
    import tvm_ffi

    found: list[object] = []
    tvm_ffi.structural_walk(func.body, (tvm.ir.expr.Call, lambda c: found.append(c)  # type: ignore[attr-defined]
                                        if isinstance(c.op, tvm.ir.Op) and c.op.name == op else None))
    return len(found)


def test_registered_for_aarch64_before_the_reduction_rule() -> None:
    from ronn_aot.schedules import rules_for

    arm = [r.name for r in rules_for(AARCH64)]
    assert arm.index("cpu.softmax") < arm.index("cpu.reduction")
    assert "cpu.softmax" not in [r.name for r in rules_for("x86_64")]  # x86 artifacts unchanged


def test_structure_is_the_reduction_schedule_with_exp_inline() -> None:
    import tvm

    from ronn_aot.schedules.cpu.reduction import Reduction
    from ronn_aot.schedules.cpu.softmax import Softmax, with_inline_exp

    before = kernel("reduction", AARCH64)
    assert _calls(before, "tirx.exp") == 1
    target = tvm_target(AARCH64)
    with target:
        ours = Softmax().apply(before, target, False).mod["main"]
        reduction = Reduction().apply(before, target, False).mod["main"]
    tvm.ir.assert_structural_equal(ours, with_inline_exp(reduction))
    assert _calls(ours, "tirx.exp") == 0


def test_inline_exp_against_numpy() -> None:
    import tvm
    from tvm import te

    from ronn_aot.schedules.cpu.softmax import inline_exp

    x = np.concatenate([np.linspace(-87.0, 88.0, 20001, dtype=np.float32),
                        np.array([0.0, -0.0, 1e-30, -1e-30, 88.5, 100.0, -88.5, -1e4], np.float32),
                        np.array([np.inf, -np.inf, np.nan, -3.4e38], np.float32)])
    a = te.placeholder((x.size,), "float32", name="a")
    b = te.compute((x.size,), lambda i: inline_exp(a[i]), name="b")
    func = te.create_prim_func([a, b])
    got = run_kernel(func, tvm.target.Target({"kind": "llvm", "mtriple": "x86_64-linux-gnu"}),
                     [x, np.zeros_like(x)])
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64))
    normal = np.abs(x) < 87.0
    np.testing.assert_allclose(got[normal], want[normal], rtol=5e-7)
    assert np.all(got[x > 88.4] == np.inf) and np.isnan(got[np.isnan(x)]).all()
    assert np.all(got[x < -88.4] == 0.0)  # expf's denormals there; softmax's masked entries


def test_scheduled_softmax_matches_naive() -> None:
    """The aarch64 schedule is plain TIR: built here for x86-64, its rows sum to 1 and match the
    naive kernel's (libm's expf) to a few ulps."""
    from ronn_aot.schedules.cpu.softmax import Softmax

    func = kernel("reduction", AARCH64)
    with tvm_target(AARCH64):
        scheduled = Softmax().apply(func, tvm_target(AARCH64), False).mod["main"]
    host = tvm_target("x86_64-avx2")
    rng = np.random.default_rng(0)
    args = [np.asarray(5 * rng.standard_normal([int(d) for d in p.ty.shape]), dtype="float32") for p in func.params]
    expected = run_kernel(func, host, [a.copy() for a in args])
    actual = run_kernel(scheduled, host, [a.copy() for a in args])
    np.testing.assert_allclose(actual, expected, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(actual.sum(axis=-1), 1.0, rtol=1e-5)
