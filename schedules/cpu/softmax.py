"""Row reductions whose elementwise part calls float32 exp (softmax, log-softmax, and what is
fused into them: MiniLM's `softmax + isnan + where`): cpu.reduction's schedule, with each exp
computed inline as a range reduction and a polynomial that vectorizes with the rest.

Why: legalized, `exp` is `llvm.exp`, which LLVM lowers to a call of libm's scalar `expf` per
lane wherever the target's libm offers no vector variant (glibc has none for AArch64 before 2.38;
Debian bookworm ships 2.36). In MiniLM's attention softmax (12 heads x 128 x 128 per layer) the
calls, their PLT stubs and the lane shuffles around them were 34.5 M of its 512 M instructions per
inference on aarch64 (21.2 M with the polynomial); onnxruntime's softmax uses MLAS's own vector exp.

The polynomial is Cephes' expf (TOPI's fast_exp, with ln 2 in two parts): x clamped to +-88.376,
n = round(x log2 e), r = x - n ln 2, e^r by a degree-6 polynomial, 2^n through the exponent
bits. Relative error under 5e-7 where expf's result is normal; NaN stays NaN (fully masked
attention rows rely on it), x above the clamp gives +inf as expf does, and below it 0 (expf's
denormals there).

Registered for aarch64 only: x86's artifacts stay as measured (README's suites) until the same
rewrite is measured there.
"""

from __future__ import annotations

from typing import Any

from .. import register_rule
from .reduction import Reduction

_HI, _LO = 88.3762626647950, -88.3762626647949
_LOG2E = 1.44269504088896341
# ln 2 in two parts (Cody-Waite): n * _LN2_HI is exact in float32 for |n| <= 128, so the reduced
# argument keeps its bits (one constant cost 4e-6 relative error at |x| ~ 87).
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
# Cephes' expf coefficients, highest degree first (e^r = 1 + r + r^2 * p(r)).
_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)


def inline_exp(x: Any) -> Any:
    """e^x for a float32 TIR expression `x`, as arithmetic (see the module docstring)."""
    import tvm
    from tvm import tirx

    def f(v: float) -> Any:
        return tirx.const(v, "float32")

    xc = tirx.max(tirx.min(x, f(_HI)), f(_LO))
    n = tirx.floor(xc * f(_LOG2E) + f(0.5))
    r = xc - n * f(_LN2_HI) - n * f(_LN2_LO)
    p = f(_POLY[0])
    for c in _POLY[1:]:
        p = p * r + f(c)
    y = p * r * r + r + f(1.0)
    bits = tirx.shift_left(tirx.Cast("int32", n) + tirx.const(127, "int32"), tirx.const(23, "int32"))
    scaled = y * tirx.reinterpret("float32", bits)
    inf = tirx.const(float("inf"), "float32")
    return tirx.Select(tirx.isnan(x), x, tirx.Select(x > f(_HI), inf, scaled))


def _is_exp(expr: Any) -> bool:
    import tvm

    return (isinstance(expr, tvm.ir.expr.Call) and isinstance(expr.op, tvm.ir.Op)
            and expr.op.name == "tirx.exp" and str(getattr(expr.ty, "dtype", "")) == "float32")


def calls_exp(func: Any) -> bool:
    """Whether `func` calls float32 exp anywhere."""
    import tvm
    import tvm_ffi

    found: list[Any] = []
    tvm_ffi.structural_walk(func.body, (tvm.ir.expr.Call, lambda c: found.append(c) if _is_exp(c) else None))
    return bool(found)


def with_inline_exp(func: Any) -> Any:
    """`func` with every float32 exp replaced by inline_exp."""
    import tvm
    import tvm_ffi

    def rewrite(call: Any) -> Any:
        return inline_exp(call.args[0]) if _is_exp(call) else call

    return func.with_body(tvm_ffi.structural_map(func.body, (tvm.ir.expr.Call, rewrite)))


@register_rule("cpu.softmax", arches=("aarch64",), order=39)
class Softmax:
    def apply(self, func: Any, target: Any, tunable: bool) -> Any:
        # Step 1. Only row reductions calling exp: everything else is cpu.reduction's as it was.
        if not calls_exp(func):
            return None
        # Step 2. exp as arithmetic, then the reduction schedule (rows in parallel, the
        # elementwise blocks vectorized: the polynomial with them). Inlining the blocks after the
        # normalisation into one (MiniLM's isnan + where) measured worse: TVM leaves that select
        # scalar, with a branch per element (21.2 -> 25.3 M instructions per inference).
        return Reduction().apply(with_inline_exp(func), target, tunable)
