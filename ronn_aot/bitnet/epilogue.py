"""What a quantized layer takes in from the ops after it (VNNI kernels): a chain

    layer -> [add of a constant per-channel bias] -> [relu] -> [max pool, conv only]

where each op is the only user of the one before. The bias add and the relu run in the layer
kernel's epilogue (`kernels.vnni_kernel`), the pool (max: exact in any layout) in NHWC after an
NHWC conv; the rewrite (rewrite.py) emits the chain's value for its last var and drops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .layers import _Candidate, _static_shape


@dataclass
class Chain:
    """A quantized layer and the ops it absorbs."""

    layer: _Candidate
    call: Any  # the layer's relax.Call (conv2d / matmul)
    tail: Any  # the var whose value the fused layer computes (the head's own var when it absorbs nothing)
    absorbed: list[Any]  # vars of the absorbed ops' bindings (not the head's)
    nhwc: bool  # a conv run in NHWC
    bias: np.ndarray | None = None  # float32 [N]
    relu: bool = False
    pool: Any = None  # the NCHW max_pool2d call, re-emitted in NHWC
    # NHWC convs: the NCHW max_pool2d call producing the layer's input, which the quantize kernel
    # takes on the way (kernels.quantize_nhwc_kernel), and the expr its input is then read from
    in_pool: Any = None
    in_pool_input: Any = None
    # ... and the float conv (with its bias add and relu) that produces the pool's input, which the
    # quantize kernel computes too (head.py); in_pool_input is then the float conv's input
    head: _Candidate | None = None
    head_bias: np.ndarray | None = None
    head_relu: bool = False


def _vars_of(expr: Any) -> list[Any]:
    from tvm import relax

    found: list[Any] = []
    relax.analysis.post_order_visit(expr, lambda e: found.append(e) if isinstance(e, relax.Var) else None)
    return found


def _bias(expr: Any, bindings: dict[Any, Any], n: int, shapes: tuple[tuple[int, ...], ...]) -> np.ndarray | None:
    """The float32 [n] per-channel bias that `expr` holds (a constant, or a reshaped one) in one of `shapes`."""
    import tvm
    from tvm import relax

    if isinstance(expr, relax.Var) and expr in bindings:
        value = bindings[expr]
        if not (isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op) and value.op.name == "relax.reshape"
                and isinstance(value.args[0], tvm.ir.GenericConst)):
            return None
        shape = _static_shape(value)
        b = value.args[0].value.numpy()
        if shape is None or b.size != int(np.prod(shape)):
            return None
        b = b.reshape(shape)
    elif isinstance(expr, tvm.ir.GenericConst):
        b = expr.value.numpy()
    else:
        return None
    if b.dtype != np.float32 or tuple(b.shape) not in shapes:
        return None
    return np.ascontiguousarray(b.reshape(n))


def find_chains(func: Any, candidates: dict[Any, _Candidate], chosen: set[int],
                nhwc: Callable[[_Candidate], bool],
                head: Callable[[_Candidate], bool] = lambda c: False) -> dict[Any, Chain]:
    """The chains of the chosen layers of `func`, keyed by the layer's binding var. A conv is
    one when `nhwc(layer)` (it runs in NHWC); a dense layer when its input is 2-D. A float conv
    (not chosen) for which `head(layer)` holds is computed by the quantize kernel of the NHWC conv
    it feeds through a max pool."""
    import tvm
    from tvm import relax

    bindings: dict[Any, Any] = {}
    users: dict[Any, list[Any]] = {}
    order: list[Any] = []
    for block in func.body.blocks:
        for b in block.bindings:
            bindings[b.var] = b.value
            order.append(b)
            for v in _vars_of(b.value):
                users.setdefault(v, []).append(b)
    for v in _vars_of(func.body.body):
        users.setdefault(v, []).append(None)

    def only_user(var: Any, op: str) -> Any:
        """The binding of `var`'s only user when that is a call of `op`, else None."""
        use = users.get(var, [])
        if len(use) != 1 or use[0] is None:
            return None
        value = use[0].value
        if isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op) and value.op.name == op:
            return use[0]
        return None

    chains: dict[Any, Chain] = {}
    for b in order:
        cand = candidates.get(b.value)
        if cand is None or cand.index not in chosen:
            continue
        n = cand.weight.shape[0]
        if cand.conv is not None:
            if not nhwc(cand):
                continue
            bias_shapes: tuple[tuple[int, ...], ...] = ((1, n, 1, 1), (n, 1, 1))
        else:
            xs = _static_shape(b.value.args[0])
            if xs is None or len(xs) != 2:
                continue
            bias_shapes = ((n,), (1, n))
        chain = Chain(cand, b.value, b.var, [], cand.conv is not None)
        head_shape = _static_shape(b.var)
        add = only_user(chain.tail, "relax.add")
        if add is not None and _static_shape(add.var) == head_shape:
            lhs, rhs = add.value.args
            other = rhs if lhs.same_as(chain.tail) else lhs
            bias = _bias(other, bindings, n, bias_shapes)
            if bias is not None and not other.same_as(chain.tail):
                chain.bias, chain.tail = bias, add.var
                chain.absorbed.append(add.var)
        relu = only_user(chain.tail, "relax.nn.relu")
        if relu is not None:
            chain.relu, chain.tail = True, relu.var
            chain.absorbed.append(relu.var)
        pool = only_user(chain.tail, "relax.nn.max_pool2d") if chain.nhwc else None
        if pool is not None and str(pool.value.attrs.layout) == "NCHW" and str(pool.value.attrs.out_layout) == "NCHW":
            chain.pool, chain.tail = pool.value, pool.var
            chain.absorbed.append(pool.var)
        chains[b.var] = chain
    for key, chain in chains.items():
        if _take_input_pool(key, chain, chains, bindings, users):
            _take_head(chain, candidates, chosen, head, bindings, users)
    return chains


def _poolable(call: Any) -> bool:
    """Whether `call` is an NCHW max_pool2d a quantize kernel can take: no padding, no dilation,
    floor mode, a window of at most 9 values."""
    a = call.attrs
    return (str(a.layout) == "NCHW" and str(a.out_layout) == "NCHW" and not bool(a.ceil_mode)
            and all(int(v) == 0 for v in a.padding) and all(int(v) == 1 for v in a.dilation)
            and int(a.pool_size[0]) * int(a.pool_size[1]) <= 9)


def _take_input_pool(key: Any, chain: Chain, chains: dict[Any, Chain], bindings: dict[Any, Any],
                     users: dict[Any, list[Any]]) -> bool:
    """Give an NHWC conv's quantize kernel the max pool that produces its input, when the conv is
    the pool's only user: the pool a preceding chain carries (that chain then outputs its tensor
    unpooled), or a pool in the graph (say, after a float first layer). True when it took a pool
    from the graph."""
    import tvm
    from tvm import relax

    if not chain.nhwc:
        return False
    v = chain.call.args[0]
    use = users.get(v, [])
    if not isinstance(v, relax.Var) or len(use) != 1 or use[0] is None or not use[0].var.same_as(key):
        return False
    before = [c for c in chains.values() if c.tail.same_as(v)]
    if before:
        if before[0].pool is not None and _poolable(before[0].pool):
            chain.in_pool, chain.in_pool_input = before[0].pool, v
            before[0].pool = None
        return False
    value = bindings.get(v)
    if (isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op) and value.op.name == "relax.nn.max_pool2d"
            and _poolable(value) and _static_shape(value.args[0]) is not None):
        chain.in_pool, chain.in_pool_input = value, value.args[0]
        chain.absorbed.append(v)
        return True
    return False


def _take_head(chain: Chain, candidates: dict[Any, _Candidate], chosen: set[int], head: Callable[[_Candidate], bool],
               bindings: dict[Any, Any], users: dict[Any, list[Any]]) -> None:
    """Give `chain`'s quantize kernel (which takes a pool from the graph) the float conv before the
    pool: conv -> [add of a constant bias] -> [relu] -> pool, each the only user of the one before."""
    import tvm
    from tvm import relax

    def call_of(var: Any, op: str, user: Any) -> Any:
        """`var`'s value when it is a call of `op` and `user`'s binding its only user, else None."""
        value, use = bindings.get(var), users.get(var, [])
        if not (isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op) and value.op.name == op):
            return None
        return value if len(use) == 1 and use[0] is not None and use[0].var.same_as(user) else None

    taken: list[Any] = []
    user, v = chain.absorbed[-1], chain.in_pool_input  # the pool's var (_take_input_pool), its input
    relu = call_of(v, "relax.nn.relu", user)
    if relu is not None:
        taken.append(v)
        user, v = v, relu.args[0]
    add, bias = call_of(v, "relax.add", user), None
    if add is not None:
        lhs, rhs = add.args
        conv_var, other = (lhs, rhs) if lhs in bindings else (rhs, lhs)
        n = _static_shape(conv_var)
        if n is None or len(n) != 4:
            return
        bias = _bias(other, bindings, n[1], ((1, n[1], 1, 1), (n[1], 1, 1)))
        if bias is None:
            return
        taken.append(v)
        user, v = v, conv_var
    conv = call_of(v, "relax.nn.conv2d", user)
    cand = candidates.get(conv) if conv is not None else None
    if cand is None or cand.index in chosen or cand.conv is None or not head(cand):
        return
    taken.append(v)
    chain.head, chain.head_bias, chain.head_relu = cand, bias, relu is not None
    chain.in_pool_input = conv.args[0]
    chain.absorbed.extend(taken)
