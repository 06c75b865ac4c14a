"""What LSTM, GRU and RNN share: inputs and attributes, directions, layouts, the input
projection of all time steps at once, activations, and the outputs.

The time loop is unrolled (sequence lengths are static once input shapes are fixed): the input
projection X·Wᵀ of every step is one matmul, then each step adds its recurrence H·Rᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._registry import ConvertContext

# Activation functions without alpha/beta, by ONNX name (compared case-insensitively).
_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {}


def _activation_table() -> dict[str, Callable[[Any], Any]]:
    from tvm import relax

    if not _ACTIVATIONS:
        _ACTIVATIONS.update({
            "sigmoid": relax.op.sigmoid, "tanh": relax.op.tanh, "relu": relax.op.nn.relu,
            "softsign": lambda x: relax.op.divide(x, relax.op.add(relax.op.abs(x), relax.const(1.0, x.ty.dtype))),
            "softplus": lambda x: relax.op.log(relax.op.add(relax.op.exp(x), relax.const(1.0, x.ty.dtype))),
        })
    return _ACTIVATIONS


@dataclass
class Direction:
    """One direction's weights: W [G*H, I], R [G*H, H], bias halves Wb, Rb [G*H] (None if no B),
    initial states [B, H] (None: zeros), and its activation functions."""

    reverse: bool
    w: Any
    r: Any
    wb: Any
    rb: Any
    initial: list[Any]
    activations: list[Callable[[Any], Any]]


@dataclass
class Recurrence:
    ctx: ConvertContext
    x: Any  # [T, B, I], time-major whatever the layout
    steps: int
    batch: int
    hidden: int
    layout: int
    directions: list[Direction]
    clip: float | None

    def act(self, d: Direction, i: int, value: Any, clip: bool = True) -> Any:
        """Activation `i` of direction `d` on `value`, after the cell clip if there is one."""
        from tvm import relax

        if self.clip is not None and clip:
            dtype = value.ty.dtype
            value = self.ctx.emit(relax.op.minimum(relax.op.maximum(value, relax.const(-self.clip, dtype)),
                                                  relax.const(self.clip, dtype)))
        return self.ctx.emit(d.activations[i](value))

    def projections(self, d: Direction, bias: Any | None) -> list[Any]:
        """X·Wᵀ (+ `bias`) of every time step, in the order the direction visits them: [B, G*H] each."""
        from tvm import relax

        ctx = self.ctx
        xw = relax.op.matmul(self.x, self.transposed(d.w))
        if bias is not None:
            xw = relax.op.add(xw, bias)
        xw = ctx.emit(xw)
        parts = ctx.emit(relax.op.split(xw, self.steps, axis=0)) if self.steps > 1 else None
        steps = [ctx.emit(relax.op.squeeze(relax.TupleGetItem(parts, t) if parts is not None else xw, [0]))
                 for t in range(self.steps)]
        return steps[::-1] if d.reverse else steps

    def recur(self, h: Any, r_t: Any) -> Any:
        """H·Rᵀ for a [B, H] state and a transposed [H, n] slice of R (see `transposed`)."""
        from tvm import relax

        return self.ctx.emit(relax.op.matmul(h, r_t))

    def transposed(self, e: Any) -> Any:
        """eᵀ of a 2-D tensor, once per direction (numpy-transposed when it is a constant)."""
        import numpy as np
        from tvm import relax

        value = self.ctx.constant(e)
        if value is not None:
            return relax.const(np.ascontiguousarray(value.T))
        return self.ctx.emit(relax.op.permute_dims(e, [1, 0]))

    def zeros(self) -> Any:
        import numpy as np
        from tvm import relax

        return relax.const(np.zeros((self.batch, self.hidden), dtype=str(self.x.ty.dtype)))

    def outputs(self, hs: list[list[Any]], finals: list[list[Any]]) -> Any:
        """Y, Y_h (and Y_c ...) from each direction's states in visiting order and final states."""
        from tvm import relax

        ctx = self.ctx
        per_dir = [_stack(ctx, h[::-1] if d.reverse else h, 0) for d, h in zip(self.directions, hs)]
        y = _stack(ctx, per_dir, 1)  # [T, D, B, H]
        states = [_stack(ctx, [f[i] for f in finals], 0) for i in range(len(finals[0]))]
        if self.layout == 1:  # [B, T, D, H] and [B, D, H]
            y = ctx.emit(relax.op.permute_dims(y, [2, 0, 1, 3]))
            states = [ctx.emit(relax.op.permute_dims(s, [1, 0, 2])) for s in states]
        return relax.Tuple([y, *states])


def _stack(ctx: ConvertContext, items: list[Any], axis: int) -> Any:
    """relax.op.stack as expand_dims + concat: TVM's ConvertLayout (O3) fails on stack."""
    from tvm import relax

    expanded = [ctx.emit(relax.op.expand_dims(i, axis)) for i in items]
    return expanded[0] if len(expanded) == 1 else ctx.emit(relax.op.concat(expanded, axis=axis))


def direction_part(ctx: ConvertContext, e: Any, d: int) -> Any:
    """e[d] of a per-direction tensor (numpy-sliced when it is a constant)."""
    from tvm import relax

    value = ctx.constant(e)
    if value is not None:
        return relax.const(value[d])
    return ctx.emit(relax.op.squeeze(relax.op.strided_slice(e, axes=[0], begin=[d], end=[d + 1]), [0]))


def _split_bias(ctx: ConvertContext, b: Any, gh: int) -> tuple[Any, Any]:
    from tvm import relax

    value = ctx.constant(b)
    if value is not None:
        return relax.const(value[:gh]), relax.const(value[gh:])
    return (ctx.emit(relax.op.strided_slice(b, axes=[0], begin=[0], end=[gh])),
            ctx.emit(relax.op.strided_slice(b, axes=[0], begin=[gh], end=[2 * gh])))


def parse(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any], gates: int,
          default_activations: list[str], state_inputs: list[int]) -> Recurrence:
    """Check and read the attributes and inputs shared by the recurrent ops.

    `gates`: gate blocks in W and R (LSTM 4, GRU 3, RNN 1); `default_activations`: per
    direction; `state_inputs`: input positions of the initial states (initial_h, initial_c).
    """
    from tvm import relax

    inputs = inputs + [None] * (8 - len(inputs))
    x, w, r, b, seq_lens = inputs[:5]
    layout = int(attrs.get("layout", 0))
    if layout not in (0, 1):
        raise ctx.refuse(f"layout={layout}; ONNX defines 0 and 1")
    direction = attrs.get("direction", "forward")
    reverse_flags = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
    if reverse_flags is None:
        raise ctx.refuse(f"direction={direction!r}; expected forward, reverse or bidirectional")
    if "activation_alpha" in attrs or "activation_beta" in attrs:
        raise ctx.refuse("activation_alpha/activation_beta (activations with parameters) are not supported; "
                         "export with the default activations")
    names = [a.lower() for a in attrs.get("activations", default_activations * len(reverse_flags))]
    per_dir = len(default_activations)
    table = _activation_table()
    if len(names) != per_dir * len(reverse_flags) or any(n not in table for n in names):
        raise ctx.refuse(f"activations={list(attrs.get('activations', []))}; supported: {len(default_activations)} "
                         f"per direction among {', '.join(sorted(table))}")
    x_shape = ctx.shape(x)
    if layout == 1:
        x = ctx.emit(relax.op.permute_dims(x, [1, 0, 2]))
    steps, batch, _ = ctx.shape(x)
    hidden = int(attrs.get("hidden_size", ctx.shape(r)[-1]))
    if seq_lens is not None:
        lens = ctx.constant(seq_lens)
        if lens is None:
            raise ctx.refuse("sequence_lens is computed at run time; only full-length sequences are supported: "
                             "drop the input, or freeze it to the sequence length")
        if (lens != steps).any():
            raise ctx.refuse(f"sequence_lens {lens.tolist()} differ from the sequence length {steps} of input "
                             f"shape {list(x_shape)}; only full-length sequences are supported")
    gh = gates * hidden
    dirs = []
    for d, reverse in enumerate(reverse_flags):
        wb = rb = None
        if b is not None:
            wb, rb = _split_bias(ctx, direction_part(ctx, b, d), gh)
        initial = []
        for pos in state_inputs:
            s = inputs[pos]
            if s is not None and layout == 1:
                s = ctx.emit(relax.op.permute_dims(s, [1, 0, 2]))
            initial.append(direction_part(ctx, s, d) if s is not None else None)
        dirs.append(Direction(reverse, direction_part(ctx, w, d), direction_part(ctx, r, d), wb, rb, initial,
                              [table[n] for n in names[d * per_dir:(d + 1) * per_dir]]))
    clip = attrs.get("clip")
    return Recurrence(ctx, x, steps, batch, hidden, layout, dirs, float(clip) if clip is not None else None)


def gate_slices(ctx: ConvertContext, value: Any, count: int) -> list[Any]:
    """Split the last axis of `value` into `count` equal gate blocks."""
    from tvm import relax

    # Slices rather than one split: a slice fuses into the elementwise gate math that reads it,
    # a split's tuple does not. A positive axis: TVM's ConvertLayout (O3) fails on axis=-1.
    axis = len(ctx.shape(value)) - 1
    width = ctx.shape(value)[axis] // count
    return [ctx.emit(relax.op.strided_slice(value, axes=[axis], begin=[i * width], end=[(i + 1) * width]))
            for i in range(count)]


def rows(ctx: ConvertContext, e: Any, lo: int, hi: int) -> Any:
    """e[lo:hi] along the first axis (numpy-sliced when `e` is a constant)."""
    from tvm import relax

    value = ctx.constant(e)
    if value is not None:
        return relax.const(value[lo:hi])
    return ctx.emit(relax.op.strided_slice(e, axes=[0], begin=[lo], end=[hi]))
