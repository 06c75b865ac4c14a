"""LSTM, GRU and RNN through our converters (unrolled) against onnxruntime.

onnxruntime refuses layout=1 (batch-major), so a layout-1 model is compared with onnxruntime on
the same model at layout 0, its inputs and outputs transposed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import numpy_helper

import ronn_aot
from conftest import ATOL, RTOL, check_against_onnxruntime, single_node_model
from helpers import assert_close, onnxruntime_outputs, run_artifact

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
SEQ, BATCH, INPUT, HIDDEN = 3, 2, 5, 4


def _model(op: str, direction: str = "forward", bias: bool = True, initial: bool = False, peepholes: bool = False,
           layout: int = 0, const_weights: bool = True, seed: int = 0, **attrs: Any
           ) -> tuple[Any, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    dirs, g = 2 if direction == "bidirectional" else 1, GATES[op]

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    x = rand(SEQ, BATCH, INPUT) if layout == 0 else rand(BATCH, SEQ, INPUT)
    state = (lambda: rand(dirs, BATCH, HIDDEN)) if layout == 0 else (lambda: rand(BATCH, dirs, HIDDEN))
    values = {"X": x, "W": rand(dirs, g * HIDDEN, INPUT), "R": rand(dirs, g * HIDDEN, HIDDEN)}
    order = ["X", "W", "R", "B" if bias else "", "", "initial_h" if initial else ""]
    if bias:
        values["B"] = rand(dirs, 2 * g * HIDDEN)
    if initial:
        values["initial_h"] = state()
    if op == "LSTM":
        order += ["initial_c" if initial else "", "P" if peepholes else ""]
        if initial:
            values["initial_c"] = state()
        if peepholes:
            values["P"] = rand(dirs, 3 * HIDDEN)
    while order[-1] == "":
        order.pop()
    graph_inputs = {"X": x} | ({} if const_weights else {k: values[k] for k in ("W", "R")})
    consts = {k: v for k, v in values.items() if k not in graph_inputs}
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    model = single_node_model(op, graph_inputs, consts, outputs, 14, input_order=order, hidden_size=HIDDEN,
                              direction=direction, layout=layout, **attrs)
    return model, graph_inputs


# (op, case) -> model options
CASES: dict[str, dict[str, Any]] = {
    "LSTM-defaults": {"op": "LSTM"},
    "LSTM-reverse-initial": {"op": "LSTM", "direction": "reverse", "initial": True},
    "LSTM-bidirectional-peepholes": {"op": "LSTM", "direction": "bidirectional", "initial": True, "peepholes": True},
    "LSTM-nobias-runtime-weights": {"op": "LSTM", "bias": False, "const_weights": False, "initial": True},
    "LSTM-clip-input-forget": {"op": "LSTM", "initial": True, "clip": 0.3, "input_forget": 1},
    "LSTM-activations": {"op": "LSTM", "direction": "bidirectional",
                         "activations": ["Sigmoid", "Relu", "Tanh", "Sigmoid", "Tanh", "Softsign"]},
    "GRU-defaults": {"op": "GRU"},
    "GRU-bidirectional-initial": {"op": "GRU", "direction": "bidirectional", "initial": True},
    "GRU-linear-before-reset": {"op": "GRU", "linear_before_reset": 1, "initial": True},
    "GRU-linear-before-reset-reverse-zero-state": {"op": "GRU", "direction": "reverse", "linear_before_reset": 1},
    "GRU-clip": {"op": "GRU", "initial": True, "clip": 0.2},
    "RNN-defaults": {"op": "RNN"},
    "RNN-bidirectional-initial-relu": {"op": "RNN", "direction": "bidirectional", "initial": True,
                                       "activations": ["Relu", "Tanh"]},
    "RNN-reverse-nobias": {"op": "RNN", "direction": "reverse", "bias": False, "initial": True},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case: str, compile_model: Any) -> None:
    model, feeds = _model(**CASES[case])
    check_against_onnxruntime(compile_model, model, feeds)


@pytest.mark.parametrize("op", sorted(GATES))
def test_batch_major_layout(op: str, compile_model: Any) -> None:
    options = {"op": op, "direction": "bidirectional", "initial": True}
    batch_major, feeds = _model(layout=1, **options)
    time_major, _ = _model(layout=0, **options)
    # The same weights; the initial states transposed to time-major.
    for init in time_major.graph.initializer:
        value = numpy_helper.to_array(next(i for i in batch_major.graph.initializer if i.name == init.name))
        if init.name in ("initial_h", "initial_c"):
            value = value.transpose(1, 0, 2)
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), init.name))
    expected = onnxruntime_outputs(time_major, {"X": feeds["X"].transpose(1, 0, 2).copy()})
    expected = [expected[0].transpose(2, 0, 1, 3)] + [e.transpose(1, 0, 2) for e in expected[1:]]
    art = compile_model(batch_major, opt_level=3)
    assert_close(run_artifact(art.path, feeds), expected, rtol=RTOL, atol=ATOL)


def test_full_sequence_lens_accepted_others_refused(compile_model: Any) -> None:
    model, feeds = _model("LSTM")
    node = model.graph.node[0]
    while len(node.input) < 5:
        node.input.append("")
    node.input[4] = "seq_lens"
    model.graph.initializer.append(numpy_helper.from_array(np.full(BATCH, SEQ, dtype=np.int32), "seq_lens"))
    check_against_onnxruntime(compile_model, model, feeds)
    model.graph.initializer[-1].CopyFrom(numpy_helper.from_array(np.array([SEQ, 1], dtype=np.int32), "seq_lens"))
    with pytest.raises(ronn_aot.UnsupportedOperatorError, match=r"LSTM \(node 'lstm_0'.*sequence_lens \[3, 1\]"):
        compile_model(model, opt_level=3)


def test_activation_parameters_refused(compile_model: Any) -> None:
    model, _ = _model("RNN", activations=["HardSigmoid"], activation_alpha=[0.3])
    with pytest.raises(ronn_aot.UnsupportedOperatorError, match=r"RNN \(node 'rnn_0', opset 14\).*activation_alpha"):
        compile_model(model, opt_level=3)
