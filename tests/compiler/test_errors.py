"""Every user mistake gives a RonnError subclass with a message naming what is wrong and what to
do; the CLI prints it without a traceback and exits with the documented code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import ronn_aot
from ronn_aot import targets as targets_mod
from ronn_aot.cli import main as cli_main
from graphs import make_model, w


def relu_model(shape: list[int | str]) -> onnx.ModelProto:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ronn_aot.InvalidModelError, match="does not exist"):
        ronn_aot.compile(tmp_path / "nope.onnx")


def test_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01 definitely not protobuf \xff" * 10)
    with pytest.raises(ronn_aot.InvalidModelError, match="not a readable ONNX model|fails onnx's checker"):
        ronn_aot.compile(bad)


def test_checker_failure() -> None:
    model = relu_model([2, 3])
    model.graph.node[0].input[0] = "undefined_tensor"
    with pytest.raises(ronn_aot.InvalidModelError, match="checker"):
        ronn_aot.compile(model)


def test_unsupported_operator_names_op_node_and_opset() -> None:
    # Multinomial draws random samples: an ahead-of-time compiled, deterministic artifact has no
    # place for it (Det served here until it got a converter).
    model = make_model([helper.make_node("Multinomial", ["x"], ["y"], name="my_draw", sample_size=2)],
                       {"x": w(2, 3)}, ["y"])
    with pytest.raises(ronn_aot.UnsupportedOperatorError) as err:
        ronn_aot.compile(model)
    msg = str(err.value)
    assert "Multinomial" in msg and "my_draw" in msg and "opset 17" in msg
    assert (err.value.op_type, err.value.node_name, err.value.opset) == ("Multinomial", "my_draw", 17)


def test_symbolic_dimension_needs_input_shape() -> None:
    with pytest.raises(ronn_aot.ShapeError) as err:
        ronn_aot.compile(relu_model(["batch", 3]))
    msg = str(err.value)
    assert "'x'" in msg and "batch" in msg and "index 0" in msg and "--input-shape x=N,3" in msg


def test_symbolic_dimension_fixed_by_option(compile_model) -> None:
    art = compile_model(relu_model(["batch", 3]), input_shapes={"x": (4, 3)})
    assert art.inputs[0].shape == (4, 3)


@pytest.mark.parametrize("shapes,match", [
    ({"y": (1, 3)}, "does not have; its inputs are: 'x'"),
    ({"x": (1, 3, 1)}, "rank 2"),
    ({"x": (5, 4)}, "dimension 1 is fixed to 3"),
])
def test_bad_input_shape_option(shapes: dict, match: str) -> None:
    opts = ronn_aot.CompileOptions()
    for k, v in shapes.items():
        opts = opts.with_input_shape(k, v)
    with pytest.raises(ronn_aot.ShapeError, match=match):
        ronn_aot.compile(relu_model(["batch", 3]), opts)


def test_unknown_target_lists_known_ones() -> None:
    with pytest.raises(ronn_aot.UnknownTargetError) as err:
        ronn_aot.compile(relu_model([2, 3]), ronn_aot.CompileOptions().with_target("riscv-nonexistent"))
    assert "riscv-nonexistent" in str(err.value) and "aarch64" in str(err.value) and "x86_64-avx2" in str(err.value)


def test_missing_toolchain_names_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "weird.toml").write_text(
        'name = "weird"\narch = "x86_64"\n[llvm]\nmtriple = "x86_64-linux-gnu"\n'
        '[toolchain]\ncc = "no-such-cc-ronn"\nstrip = "strip"\npackage = "gcc-weird-linux-gnu"\n')
    monkeypatch.setenv(targets_mod.TARGETS_ENV, str(tmp_path))
    targets_mod.all_targets.cache_clear()
    try:
        with pytest.raises(ronn_aot.ToolchainError, match="no-such-cc-ronn.*apt-get install gcc-weird-linux-gnu"):
            ronn_aot.compile(relu_model([2, 3]), ronn_aot.CompileOptions().with_target("weird")
                             .with_output(tmp_path / "a.so"))
    finally:
        targets_mod.all_targets.cache_clear()


def test_bad_optimization_level() -> None:
    with pytest.raises(ronn_aot.RonnError, match="0, 1, 2 or 3"):
        ronn_aot.CompileOptions().with_optimization_level(7)


def test_cli_prints_message_without_traceback(tmp_path: Path) -> None:
    model = tmp_path / "dyn.onnx"
    onnx.save(relu_model(["batch", 3]), str(model))
    proc = subprocess.run([sys.executable, "-m", "ronn_aot.cli", "compile", str(model), "-o",
                           str(tmp_path / "o.so")], capture_output=True, text=True)
    assert proc.returncode == ronn_aot.ShapeError.exit_code
    assert "Traceback" not in proc.stderr and "--input-shape x=N,3" in proc.stderr


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["compile", str(tmp_path / "missing.onnx")]) == ronn_aot.InvalidModelError.exit_code
    assert cli_main(["inspect", str(tmp_path / "missing.so")]) == ronn_aot.ArtifactError.exit_code
    assert "does not exist" in capsys.readouterr().err


def test_cli_compile_and_run_roundtrip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.onnx"
    onnx.save(relu_model([2, 3]), str(model))
    out = tmp_path / "m.so"
    assert cli_main(["compile", str(model), "-o", str(out), "--report"]) == 0
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    np.save(tmp_path / "x.npy", x)
    assert cli_main(["run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "o")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "y.npy"), np.maximum(x, 0))
    np.save(tmp_path / "bad.npy", x[:1])
    assert cli_main(["run", str(out), "--input", f"x={tmp_path / 'bad.npy'}"]) == 10
    assert "shape" in capsys.readouterr().err
