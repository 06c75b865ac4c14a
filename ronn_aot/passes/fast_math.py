"""O2: transcendental functions as arithmetic LLVM can vectorize.

LLVM has no vector erf, tanh or pow: legalized, each is a scalar libm call per element (`erff`;
`tanh` becomes `expf` calls; `powf`). In the GELU of MiniLM's feed-forward matmul (erf, fused as
its epilogue, 128 x 1536 elements) that was 85% of the kernel's time; in GPT-2's tanh GELU
(`0.5 x (1 + tanh(0.798 (x + 0.0447 x^3)))`) nearly all of it. So, for float32:

- erf and tanh become TOPI's `fast_erf` / `fast_tanh` (Eigen's rational approximations, within a
  few ULP of libm over the whole range: inputs are clamped where the result saturates);
- sigmoid becomes 1 / (1 + fast_exp(-x)) (TOPI's `fast_exp`: a range reduction and a polynomial,
  clamped at +-88.38 where expf over/underflows). Legalized, sigmoid is a scalar `expf` call per
  element: in SmolLM2's SiLU, fused into the gate projection's epilogue (128 x 1536 elements),
  0.35 ms of a 1.0 ms kernel, against 0.05 ms for onnxruntime's whole activation;
- `x ** 2` and `x ** 3` with a constant exponent become multiplications.

The results are plain arithmetic, so the kernels they fuse into vectorize them with the rest.
"""

from __future__ import annotations

from typing import Any

from ._registry import register_pass
from ._rewrite import const_array, mutator_pass

_SMALL_POWERS = (2.0, 3.0)


def _scalar_constant(expr: Any) -> float | None:
    """The value of a scalar (rank-0) Relax constant, else None."""
    value = const_array(expr)
    return float(value) if value is not None and value.ndim == 0 else None


def _fast_sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) with TOPI's vectorizable exp: relative error ~1e-7 over the whole range
    (exp(-x) saturates to 0 or to exp(88.38), where the quotient is 1 or ~0 anyway)."""
    import tvm
    from tvm import te, topi

    e = topi.fast_exp(topi.negative(x))
    one = tvm.tirx.const(1.0, x.dtype)
    return te.compute(x.shape, lambda *i: one / (one + e(*i)), name="fast_sigmoid")


@register_pass("fast_math", 2, order=70)
def fast_math() -> Any:
    """float32 erf / tanh / sigmoid as vectorizable approximations, x**2 and x**3 as products."""
    import tvm
    from tvm import relax, topi
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class _FastMath(PyExprMutator):  # type: ignore[misc]
        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op) or str(getattr(call.ty, "dtype", "")) != "float32":
                return call
            if call.op.name == "relax.erf":
                return self.builder_.call_te(topi.fast_erf, call.args[0], primfunc_name_hint="fast_erf")
            if call.op.name == "relax.tanh":
                return self.builder_.call_te(topi.fast_tanh, call.args[0], primfunc_name_hint="fast_tanh")
            if call.op.name == "relax.sigmoid":
                return self.builder_.call_te(_fast_sigmoid, call.args[0], primfunc_name_hint="fast_sigmoid")
            if call.op.name == "relax.power" and _scalar_constant(call.args[1]) in _SMALL_POWERS:
                x = call.args[0]
                square = relax.op.multiply(x, x)
                return square if _scalar_constant(call.args[1]) == 2.0 else relax.op.multiply(square, x)
            return call

    return mutator_pass("FastMath", _FastMath)
