"""Calibration: fixed activation statistics measured on calibration inputs are those of the layers'
inputs (computed here in numpy), a model compiled with them matches the numpy reference run with
the same fixed statistics bit for bit, and the CLI reads them from an .npz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import ronn_runtime
from onnx import TensorProto, helper, numpy_helper
from test_compile import CONV, CONV2, reference, small_cnn

import ronn_aot
from ronn_aot.bitnet import ActStats, BitnetConfig
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.calibrate import calibrate, load_npz
from ronn_aot.cli import main as cli_main
from ronn_aot.errors import RonnError, ShapeError
from ronn_aot.artifact.inspect import inspect_artifact


def _feeds(n: int, seed: int = 10) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 3, 10, 10)).astype(np.float32)} for _ in range(n)]


def _layer_inputs(x: np.ndarray, w: dict[str, np.ndarray], kind: str, bits: int, quantized: list[int],
                  stats: list[R.ActStats] | None) -> list[np.ndarray]:
    """The input matrix V of each of small_cnn's 4 layers, in numpy: float layers in float64,
    `quantized` ones by the reference of the kernels' arithmetic with fixed `stats` (None: dynamic)."""
    v = []

    def conv(i: int, h: np.ndarray, g: R.ConvGeometry, wt: np.ndarray, b: np.ndarray) -> np.ndarray:
        v.append(R.im2col(h, g))
        m = wt.reshape(g.out_channels, -1)
        if i in quantized:
            y = R.conv2d(h, Q.pack_weights(m, kind), g, bits, stats[i] if stats else None).astype(np.float64)
        else:
            y = (v[-1].astype(np.float64) @ m.T).reshape(g.batch, *g.out_hw, -1).transpose(0, 3, 1, 2)
        return np.maximum(y + b.reshape(1, -1, 1, 1), 0)

    h = conv(0, x, CONV, w["w1"], w["b1"])
    h = conv(1, h, CONV2, w["w2"], w["b2"]).reshape(1, -1)
    v.append(h)
    if 2 in quantized:
        y = R.dense(h, Q.pack_weights(w["w3"], kind), bits, stats[2] if stats else None)
    else:
        y = h @ w["w3"].T
    v.append(np.maximum(y + w["b3"], 0))
    return v


def _aggregate(vs: list[np.ndarray], bits: int) -> R.ActStats:
    v = np.concatenate([a.ravel() for a in vs]).astype(np.float64)
    if bits == 1:
        t = v.mean()
        return R.ActStats(np.abs(v - t).mean(), t)
    return R.ActStats(np.abs(v).max() / R.qmax(bits))


def _expected(feeds: list[dict[str, np.ndarray]], w: dict[str, np.ndarray], kind: str, bits: int,
              quantized: list[int]) -> list[R.ActStats]:
    """Layer by layer: each layer's statistics over all inputs, its upstream layers quantized with
    the statistics found before it."""
    stats = [R.ActStats(1.0)] * 4
    for i in range(4):
        stats[i] = _aggregate([_layer_inputs(f["x"], w, kind, bits, quantized, stats)[i] for f in feeds], bits)
    return stats


def _close(got: tuple[R.ActStats, ...], expected: list[R.ActStats]) -> None:
    np.testing.assert_allclose([(s.scale, s.threshold) for s in got], [(s.scale, s.threshold) for s in expected],
                               rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kind,bits,layers,quantized", [
    ("ternary", 8, "all", [0, 1, 2, 3]), ("ternary", 4, None, [1, 2]), ("binary", 1, "all", [0, 1, 2, 3]),
    ("binary", 8, (1,), [1])])
def test_statistics_are_those_of_the_layer_inputs(kind: str, bits: int, layers: Any, quantized: list[int]) -> None:
    model, w = small_cnn()
    feeds = _feeds(3)
    stats = calibrate(model, feeds, BitnetConfig(kind, bits, layers))
    assert len(stats) == 4 and all(isinstance(s, ActStats) for s in stats)
    _close(stats, _expected(feeds, w, kind, bits, quantized))
    if bits != 1:  # layer 0 reads the model input itself: no arithmetic before it
        amax = max(np.abs(f["x"]).max() for f in feeds)
        assert stats[0].scale == float(np.float32(amax) / np.float32(R.qmax(bits)))


@pytest.mark.parametrize("bits", [8, 1])
def test_float_network_statistics(bits: int) -> None:
    model, w = small_cnn()
    feeds = _feeds(3)
    stats = calibrate(model, feeds, BitnetConfig("binary", bits, "all"), network="float")
    _close(stats, _expected(feeds, w, "binary", bits, []))


@pytest.mark.parametrize("kind,bits", [("ternary", 8), ("binary", 1)])
def test_one_input_gives_the_run_time_statistics(kind: str, bits: int) -> None:
    """Calibrated on the one input it then runs, each layer gets the statistics its kernel measures
    itself at run time (the quantized network's, layer after layer)."""
    model, w = small_cnn()
    feeds = _feeds(1)
    stats = calibrate(model, feeds, BitnetConfig(kind, bits, "all"))
    dynamic = [R.activation_stats(v, bits) for v in _layer_inputs(feeds[0]["x"], w, kind, bits, [0, 1, 2, 3], None)]
    _close(stats, dynamic)


@pytest.mark.parametrize("kind,bits", [("ternary", 8), ("binary", 1)])
def test_compiled_with_calibration_matches_reference_exactly(kind: str, bits: int, tmp_path: Path) -> None:
    model, w = small_cnn()
    feeds = _feeds(4)
    # absmean weights: this test is about the activation statistics (test_fit.py: the weight fit)
    opts = ronn_aot.CompileOptions().with_output(tmp_path / "cal.so").with_bitnet(kind, bits, "all", feeds,
                                                                                   weight_fit="absmean")
    art = ronn_aot.compile(model, opts)
    stats = calibrate(model, feeds, opts.bitnet)
    x = np.random.default_rng(5).standard_normal((1, 3, 10, 10)).astype(np.float32)  # not a calibration input
    y = art.session(num_threads=2).run(None, {"x": x})[0]
    np.testing.assert_array_equal(y, reference(x, w, kind, bits, [0, 1, 2, 3], stats))
    assert not np.array_equal(y, reference(x, w, kind, bits, [0, 1, 2, 3]))  # the fixed scales were used
    assert inspect_artifact(art.path).to_dict()["bitnet"]["activation_stats"] == "calibrated on 4 inputs"


def test_cli_round_trip_with_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, w = small_cnn()
    onnx.save(model, tmp_path / "cnn.onnx")
    feeds = _feeds(3)
    np.savez(tmp_path / "cal.npz", x=np.stack([f["x"] for f in feeds]))  # samples on a leading axis
    np.savez(tmp_path / "cal_k.npz", **{f"x_{k}": f["x"] for k, f in enumerate(feeds)})  # one per array
    for file in ("cal.npz", "cal_k.npz"):
        loaded = load_npz(tmp_path / file, ["x"])
        assert len(loaded) == 3 and all(np.array_equal(a["x"], b["x"]) for a, b in zip(loaded, feeds))

    out = tmp_path / "cnn.so"
    assert cli_main(["compile", str(tmp_path / "cnn.onnx"), "--bitnet", "binary", "--bitnet-act-bits", "1",
                     "--bitnet-layers", "all", "--bitnet-calibration", str(tmp_path / "cal.npz"), "--bitnet-weight-fit", "absmean",
                     "-o", str(out)]) == 0
    x = np.random.default_rng(6).standard_normal((1, 3, 10, 10)).astype(np.float32)
    y = ronn_runtime.InferenceSession(str(out), num_threads=2).run(None, {"x": x})[0]
    stats = calibrate(model, feeds, BitnetConfig("binary", 1, "all"))
    np.testing.assert_array_equal(y, reference(x, w, "binary", 1, [0, 1, 2, 3], stats))
    capsys.readouterr()
    assert cli_main(["inspect", "--json", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["bitnet"]["activation_stats"] == "calibrated on 3 inputs"


def test_npz_and_feed_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.zeros((1, 3, 10, 10), np.float32)
    cases = {
        "wrong_name.npz": ({"y": x[None]}, "array 'y' names no model input"),
        "gap.npz": ({"x_0": x, "x_2": x}, "x_1 is missing"),
        "mixed.npz": ({"x": x[None], "x_0": x}, "both stacked and per sample"),
    }
    for file, (arrays, message) in cases.items():
        np.savez(tmp_path / file, **arrays)
        with pytest.raises(RonnError, match=message):
            load_npz(tmp_path / file, ["x"])
    with pytest.raises(RonnError, match="does not exist"):
        load_npz(tmp_path / "none.npz", ["x"])

    model, _ = small_cnn()
    cfg = BitnetConfig("ternary")
    with pytest.raises(RonnError, match=r"names 'image', which the model does not have; its inputs are: 'x'"):
        calibrate(model, [{"image": x}], cfg)
    with pytest.raises(ShapeError, match=r"'x' has shape \[3, 10, 10\], the model's input has shape \[1, 3, 10, 10\]"):
        calibrate(model, [{"x": x[0]}], cfg)
    with pytest.raises(RonnError, match="has no array for model input 'x'"):
        calibrate(model, [{}], cfg)
    with pytest.raises(RonnError, match="all ActStats or all input feeds"):
        ronn_aot.CompileOptions().with_bitnet("ternary", calibration=[ActStats(1.0), {"x": x}])
    with pytest.raises(RonnError, match="empty"):
        ronn_aot.CompileOptions().with_bitnet("ternary", calibration=[])

    onnx.save(model, tmp_path / "cnn.onnx")
    np.savez(tmp_path / "flat.npz", x=x)  # one sample, but not on a leading sample axis
    args = ["compile", str(tmp_path / "cnn.onnx"), "-o", str(tmp_path / "m.so"), "--bitnet-calibration"]
    assert cli_main([*args, str(tmp_path / "flat.npz"), "--bitnet", "ternary"]) == ShapeError.exit_code
    assert "has shape [3, 10, 10], the model's input has shape [1, 3, 10, 10]" in capsys.readouterr().err
    assert cli_main([*args, str(tmp_path / "flat.npz")]) == 1
    assert "--bitnet-calibration needs --bitnet" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Renaming name")
def test_input_names_the_importer_renames(tmp_path: Path) -> None:
    """Compiling matches feeds to the imported module's parameters, which TVM renames ('input.1')."""
    rng = np.random.default_rng(7)
    wt = rng.standard_normal((24, 40)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["input.1", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [2, 24])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 40])],
                              [numpy_helper.from_array(wt, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    feeds = [{"input.1": rng.standard_normal((2, 24))} for _ in range(2)]  # float64: cast to the input's float32
    opts = ronn_aot.CompileOptions().with_output(tmp_path / "mm.so").with_bitnet("ternary", 8, "all", feeds,
                                                                                  weight_fit="absmean")
    art = ronn_aot.compile(model, opts)
    (stats,) = calibrate(model, feeds, opts.bitnet)
    amax = max(np.abs(f["input.1"].astype(np.float32)).max() for f in feeds)
    assert stats.scale == float(amax / np.float32(127))
    x = rng.standard_normal((2, 24)).astype(np.float32)
    y = art.session().run(None, {"input.1": x})[0]
    np.testing.assert_array_equal(y, R.dense(x, Q.pack_weights(wt.T, "ternary"), 8, stats))
    with pytest.raises(RonnError, match="names 'input'"):
        ronn_aot.compile(model, opts.with_bitnet("ternary", 8, "all", [{"input": x}]))
