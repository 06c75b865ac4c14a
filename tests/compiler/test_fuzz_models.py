"""Mutated ONNX models into the compiler: only RonnError may come out. A fast subset of
`python -m bench.fuzz models` (the long run is `--count 10000 --jobs 2`), and one regression test
per bug the fuzzer found, each with the error class and the message a user gets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for bench/
from bench.fuzz.cli import main as fuzz_main  # noqa: E402
from bench.fuzz.models import seeds  # noqa: E402

COUNT = int(os.environ.get("RONN_FUZZ_MODELS", "200"))


def test_mutated_models_give_only_ronn_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = fuzz_main(["models", "--count", str(COUNT), "--seed", "7", "--jobs", "2",
                      "--out", str(tmp_path / "findings")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "findings (crashes, hangs, other exceptions): 0" in out
    assert " OK" in out and "RonnError:InvalidModelError" in out


def compile_error(model: onnx.ModelProto | Path, tmp_path: Path) -> ronn_aot.RonnError:
    with pytest.raises(ronn_aot.RonnError) as err:
        ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
    return err.value


def test_pooling_window_larger_than_its_input(tmp_path: Path) -> None:
    """MaxPool's window of 255 on an 8-wide input: TVM infers a negative dimension, which used to
    reach the plan encoder (struct.error)."""
    model = seeds()[1]
    pool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    next(a for a in pool.attribute if a.name == "kernel_shape").ints[:] = [2, 255]
    err = compile_error(model, tmp_path)
    assert isinstance(err, ronn_aot.ShapeError)
    assert "negative shape" in str(err) and "attributes" in str(err)


def test_initializer_data_longer_than_its_dims(tmp_path: Path) -> None:
    """onnx's checker only refuses data shorter than the dims; longer data used to fail as a numpy
    ValueError inside a graph pass."""
    model = seeds()[1]
    weight = model.graph.initializer[0]
    assert len(numpy_helper.to_array(weight).tobytes()) == 4 * 3 * 3 * 3 * 4
    weight.dims[:] = [4, 1, 3, 3]
    err = compile_error(model, tmp_path)
    assert isinstance(err, ronn_aot.InvalidModelError)
    assert repr(weight.name) in str(err) and "export the model again" in str(err)


def test_input_of_an_unknown_element_type(tmp_path: Path) -> None:
    """onnx names no element type 40: used to raise ValueError while building the message."""
    model = seeds()[0]
    model.graph.input[0].type.tensor_type.elem_type = 40
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    err = compile_error(path, tmp_path)
    assert isinstance(err, ronn_aot.InvalidModelError)


def test_names_that_are_not_utf8(tmp_path: Path) -> None:
    """The checker decodes names as it reads them: a corrupted byte used to escape as
    UnicodeDecodeError."""
    model = seeds()[0]
    data = model.SerializeToString().replace(b"Relu", b"R\xcdlu", 1)
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    err = compile_error(path, tmp_path)
    assert isinstance(err, ronn_aot.InvalidModelError)


def test_input_dimension_bomb(tmp_path: Path) -> None:
    """A declared dimension of 2^40 is refused before anything is allocated."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2**40, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2**40, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    err = compile_error(model, tmp_path)
    assert isinstance(err, ronn_aot.ShapeError)
    assert "elements" in str(err)


def test_seeds_compile_and_run(tmp_path: Path) -> None:
    """The fuzzer's seed graphs are valid models that compile (else every mutation of them only
    exercises the checker)."""
    for i, model in enumerate(seeds()):
        art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / f"s{i}.so"))
        feeds = {s.name: np.zeros(s.shape, s.dtype) for s in art.inputs}
        with art.session(1) as sess:
            assert all(np.isfinite(o).all() for o in sess.run(None, feeds))


def test_required_input_left_empty(tmp_path: Path) -> None:
    """`Concat(t, "")` passes onnx's checker; TVM's importer then segfaulted the process."""
    model = seeds()[2]
    concat = next(n for n in model.graph.node if n.op_type == "Concat")
    concat.input[1] = ""
    err = compile_error(model, tmp_path)
    assert isinstance(err, ronn_aot.InvalidModelError)
    assert "Concat" in str(err) and "only optional inputs may be omitted" in str(err)


def test_gather_out_of_range_indices_stay_in_bounds(tmp_path: Path) -> None:
    """Gather's kernel clamps indices (converters/gather.py): ids past the table, which TVM's
    "fast" take read from outside the tensor, run without a fault; ids in range, negative ones
    included, still match onnxruntime."""
    import subprocess

    onnxruntime = pytest.importorskip("onnxruntime")
    model = seeds()[4]
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "embed.so"))
    ids = np.array([[0, 3, 9, -1, -10]], np.int64)
    with art.session(1) as sess:
        (got,) = sess.run(None, {"ids": ids})
    (want,) = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"ids": ids})
    np.testing.assert_array_equal(got, want)
    script = ("import sys, numpy as np, ronn_runtime\n"
              "s = ronn_runtime.InferenceSession(sys.argv[1], 1)\n"
              "y, = s.run(None, {'ids': np.array([[10**12, -10**12, 10, 2**62, -11]], np.int64)})\n"
              "assert np.isfinite(y).all()\n")
    proc = subprocess.run([sys.executable, "-c", script, str(art.path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_random_inputs_give_outputs_or_runtime_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fast subset of `python -m bench.fuzz inputs`: the seed graphs compiled, fed NaN,
    infinities, out-of-range indices, wrong shapes, dtypes and names, misaligned and Fortran-order
    arrays through the binding, in a child process."""
    code = fuzz_main(["inputs", "--count", "300", "--seed", "7", "--out", str(tmp_path / "findings")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "RonnRuntimeError:INVALID_ARGUMENT" in out and " OK" in out


INDEX_OPS = {  # op: (attributes, index shape, update shape or None, output shape)
    "GatherElements": ({"axis": 1}, [4, 3], None, [4, 3]),
    "GatherND": ({}, [3, 2], None, [3]),
    "ScatterElements": ({"axis": 1}, [4, 3], [4, 3], [4, 5]),
    "ScatterND": ({}, [3, 2], [3], [4, 5]),
}


@pytest.mark.parametrize("op", sorted(INDEX_OPS))
def test_indexing_ops_clamp_out_of_range_indices(op: str, tmp_path: Path) -> None:
    """converters/index_bounds.py: indices of 1e12 (which crashed all four TVM kernels) run
    without a fault in a child process; onnx's cases for these operators pass as before
    (python -m bench.conformance --only '^test_(gather_elements|gathernd|scatter)')."""
    import subprocess

    attrs, index_shape, update_shape, out_shape = INDEX_OPS[op]
    f = TensorProto.FLOAT
    names = ["x", "i"] + (["u"] if update_shape else [])
    inputs = [helper.make_tensor_value_info("x", f, [4, 5]),
              helper.make_tensor_value_info("i", TensorProto.INT64, index_shape)]
    if update_shape:
        inputs.append(helper.make_tensor_value_info("u", f, update_shape))
    graph = helper.make_graph([helper.make_node(op, names, ["y"], **attrs)], "g", inputs,
                              [helper.make_tensor_value_info("y", f, out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
    script = ("import sys, numpy as np, ronn_runtime\n"
              "s = ronn_runtime.InferenceSession(sys.argv[1], 1)\n"
              f"feeds = {{'x': np.ones((4, 5), np.float32), 'i': np.full({index_shape}, 10**12, np.int64)}}\n"
              + (f"feeds['u'] = np.ones({update_shape}, np.float32)\n" if update_shape else "")
              + "s.run(None, feeds)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(art.path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
