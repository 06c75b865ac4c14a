"""onnx's node conformance cases for the ops our converters handle, against their expected outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

from conftest import ATOL, RTOL
from helpers import assert_close, run_artifact

# Cases that onnxruntime fails too are compared with onnx's expected outputs all the same.
PREFIXES = ("test_convtranspose", "test_lstm", "test_gru", "test_rnn", "test_simple_rnn", "test_layer_normalization", "test_bitshift", "test_lpnormalization",
            "test_affine_grid", "test_col2im", "test_qlinearmatmul", "test_celu_float16", "test_eyelike", "test_pow_types_int",
            "test_tensorscatter", "test_reversesequence", "test_det_", "test_batchnorm_epsilon_training", "test_batchnorm_example_training", "test_tfidfvectorizer")


# uint16/32/64 graph inputs: the artifact ABI cannot carry them; import refuses them (InvalidModelError).
UNSUPPORTED_DTYPES = ("_uint16", "_uint32", "_uint64")


def _cases() -> dict[str, Any]:
    # "_expanded" cases are the op's function body in other ops: not our converters' business.
    return {c.name: c for c in collect_testcases()
            if c.name.startswith(PREFIXES) and not c.name.endswith(UNSUPPORTED_DTYPES) and "_expanded" not in c.name}


CASES = _cases()


# Graph inputs that decide what is computed, frozen to the case's values as a compiler must
# (run-time sequence_lens are refused; these cases give full lengths), with those that decide
# shapes (AffineGrid's size, Col2Im's image and block shapes), as the Backend freezes them.
FROZEN = {"sequence_lens"}


def _frozen(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> onnx.ModelProto:
    from ronn_aot.stages.freeze import shape_deciding_inputs

    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    names = {n for node in model.graph.node for n in node.input} & (FROZEN | set(shape_deciding_inputs(model))) & set(feeds)
    kept = [i for i in frozen.graph.input if i.name not in names]
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    frozen.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in sorted(names))
    return frozen


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case(name: str, compile_model: Any) -> None:
    case = CASES[name]
    for inputs, expected in case.data_sets:
        feeds = {i.name: np.asarray(v) for i, v in zip(case.model.graph.input, inputs)}
        model = _frozen(case.model, feeds)
        art = compile_model(model, opt_level=3)
        feeds = {i.name: feeds[i.name] for i in model.graph.input}
        assert_close(run_artifact(art.path, feeds), [np.asarray(e) for e in expected], rtol=RTOL, atol=ATOL)
