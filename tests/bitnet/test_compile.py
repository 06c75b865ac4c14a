"""End to end: models compiled with --bitnet run through runtime_min (host) and under qemu
(aarch64) and match the numpy reference of the quantized network."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.cli import main as cli_main
from ronn_aot.artifact.inspect import inspect_artifact

CONV = R.ConvGeometry(1, 3, 10, 10, 16, (3, 3), (1, 1), (1, 1, 1, 1))
CONV2 = R.ConvGeometry(1, 16, 10, 10, 32, (3, 3), (2, 2), (1, 1, 1, 1))


def small_cnn(seed: int = 0) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Conv -> Relu -> Conv(stride 2) -> Relu -> Flatten -> Gemm -> Relu -> MatMul: 4 quantizable layers."""
    rng = np.random.default_rng(seed)
    w = {"w1": rng.standard_normal((16, 3, 3, 3)), "b1": rng.standard_normal(16) * 0.1,
         "w2": rng.standard_normal((32, 16, 3, 3)) / 12, "b2": rng.standard_normal(32) * 0.1,
         "w3": rng.standard_normal((64, 32 * 25)) / 28, "b3": rng.standard_normal(64) * 0.1,
         "w4": rng.standard_normal((64, 10)) / 8}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Flatten", ["r2"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
             helper.make_node("Relu", ["g"], ["r3"]),
             helper.make_node("MatMul", ["r3", "w4"], ["y"])]
    graph = helper.make_graph(nodes, "small_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w


def reference(x: np.ndarray, w: dict[str, np.ndarray], kind: str, bits: int, quantized: list[int],
              stats: Sequence[R.ActStats] | None = None) -> np.ndarray:
    """The quantized network in numpy (float layers as plain im2col / matmul); `stats`: fixed
    activation statistics per layer (calibration), else measured on each layer's input."""
    def conv(i: int, v: np.ndarray, g: R.ConvGeometry, wt: np.ndarray) -> np.ndarray:
        m = wt.reshape(g.out_channels, -1)
        if i in quantized:
            return R.conv2d(v, Q.pack_weights(m, kind), g, bits, stats[i] if stats else None)
        oh, ow = g.out_hw
        return (R.im2col(v, g) @ m.T).reshape(g.batch, oh, ow, -1).transpose(0, 3, 1, 2)

    def dense(i: int, v: np.ndarray, m: np.ndarray) -> np.ndarray:
        if i in quantized:
            return R.dense(v, Q.pack_weights(m, kind), bits, stats[i] if stats else None)
        return v @ m.T

    h = np.maximum(conv(0, x, CONV, w["w1"]) + w["b1"].reshape(1, -1, 1, 1), 0)
    h = np.maximum(conv(1, h, CONV2, w["w2"]) + w["b2"].reshape(1, -1, 1, 1), 0)
    h = np.maximum(dense(2, h.reshape(1, -1), w["w3"]) + w["b3"], 0)
    return dense(3, h, w["w4"].T)


MODES = [("ternary", 8), ("binary", 8), ("binary", 1)]


def _compile(model: onnx.ModelProto, tmp: Path, kind: str, bits: int, layers: Any = None,
             target: str = "host") -> Any:
    opts = ronn_aot.CompileOptions().with_target(target).with_output(tmp / f"{kind}{bits}-{target}.so")
    return ronn_aot.compile(model, opts.with_bitnet(kind, bits, layers))


@pytest.mark.parametrize("kind,bits", MODES)
def test_all_layers_quantized_match_reference_exactly(kind: str, bits: int, tmp_path: Path) -> None:
    model, w = small_cnn()
    x = np.random.default_rng(1).standard_normal((1, 3, 10, 10)).astype(np.float32)
    art = _compile(model, tmp_path, kind, bits, "all")
    y = art.session(num_threads=2).run(None, {"x": x})[0]
    # every matrix product is quantized; bias, relu and reshapes are exact in float: bit-exact
    np.testing.assert_array_equal(y, reference(x, w, kind, bits, [0, 1, 2, 3]))


def test_default_keeps_first_and_last_layer_float(tmp_path: Path) -> None:
    model, w = small_cnn()
    x = np.random.default_rng(2).standard_normal((1, 3, 10, 10)).astype(np.float32)
    art = _compile(model, tmp_path, "ternary", 8)
    y = art.session().run(None, {"x": x})[0]
    np.testing.assert_allclose(y, reference(x, w, "ternary", 8, [1, 2]), rtol=1e-4, atol=1e-4)
    meta = inspect_artifact(art.path).to_dict()["bitnet"]
    assert meta["quantized_layers"] == [1, 2] and meta["quantizable_layers"] == 4
    assert meta["float_bytes"] == (32 * 144 + 64 * 800) * 4
    assert meta["float_bytes"] / meta["packed_bytes"] >= 12


def test_cli_compile_and_inspect_show_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = small_cnn()
    onnx.save(model, tmp_path / "cnn.onnx")
    out = tmp_path / "cnn.so"
    assert cli_main(["compile", str(tmp_path / "cnn.onnx"), "--bitnet", "binary", "--bitnet-act-bits", "1",
                     "-o", str(out)]) == 0
    assert cli_main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bitnet:       binary weights, sign activations; 2 of 4 layers" in text
    assert "x smaller" in text


@pytest.mark.cross
@pytest.mark.parametrize("kind,bits", [("ternary", 8), ("binary", 1)])
def test_aarch64_under_qemu_matches_reference(kind: str, bits: int, tmp_path: Path) -> None:
    from helpers import qemu_ronn_run

    prefix, ronn_run = qemu_ronn_run("aarch64")
    model, w = small_cnn()
    x = np.random.default_rng(3).standard_normal((1, 3, 10, 10)).astype(np.float32)
    art = _compile(model, tmp_path, kind, bits, "all", target="aarch64")
    assert Path(art.path).read_bytes()[18] == 0xB7  # e_machine = EM_AARCH64
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([*prefix, str(ronn_run), str(art.path), "--input", f"x={tmp_path / 'x.npy'}",
                           "--output-dir", str(tmp_path / "out"), "--threads", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    y = np.load(tmp_path / "out" / "y.npy")
    np.testing.assert_array_equal(y, reference(x, w, kind, bits, [0, 1, 2, 3]))
