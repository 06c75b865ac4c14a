"""BitNet kernels on the aarch64 targets: SDOT on aarch64-dotprod (ronn_aot/bitnet/arm.py), CNT
popcount on aarch64; the instructions in the artifact's .text and the outputs under qemu-user
against the numpy reference (ronn_aot/bitnet/reference.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
from ronn_aot.bitnet import arm
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.config import BitnetConfig
from ronn_aot.bitnet.quantize import pack_for
from ronn_aot.errors import RonnError
from ronn_aot.targets import get_target

# 5 input channels (K = 45, not a multiple of 4), 20 output channels (not a multiple of 16 or 32)
CONV = R.ConvGeometry(2, 5, 6, 6, 20, (3, 3), (1, 1), (1, 1, 1, 1))
DENSE_K, DENSE_N = 20 * 36, 33


def small_model(seed: int = 0) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Conv(3x3, pad 1) -> Relu -> Reshape [2, 720] -> MatMul [720, 33]: 2 quantizable layers."""
    rng = np.random.default_rng(seed)
    w = {"w1": rng.standard_normal((20, 5, 3, 3)).astype(np.float32),
         "w2": (rng.standard_normal((DENSE_K, DENSE_N)) / 27).astype(np.float32),
         "shape": np.array([2, DENSE_K], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, DENSE_N])],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w


def reference(x: np.ndarray, w: dict[str, np.ndarray], kind: str, bits: int) -> np.ndarray:
    h = np.maximum(R.conv2d(x, pack_for(w["w1"].reshape(20, -1), kind, "popcount"), CONV, bits), 0)
    return R.dense(h.reshape(2, -1), pack_for(w["w2"].T.copy(), kind, "popcount"), bits)


def _compile(tmp: Path, target: str, kind: str, bits: int, kernel: str = "auto") -> Any:
    model, _ = small_model()
    opts = ronn_aot.CompileOptions().with_target(target).with_output(tmp / f"{kind}{bits}-{kernel}-{target}.so")
    return ronn_aot.compile(model, opts.with_bitnet(kind, bits, "all", kernel=kernel))


def _mnemonics(so: Path) -> list[str]:
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump is None:
        pytest.skip("aarch64-linux-gnu-objdump not found; install it with: apt-get install binutils-aarch64-linux-gnu")
    text = subprocess.run([objdump, "-d", "-j", ".text", str(so)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s+(\S+)", text, re.M)


def _check_bitnet_rule(art: Any) -> None:
    """Every BitNet kernel scheduled by the bitnet rule, none of its schedules failed."""
    for rule, kernels in art.schedule_report.kernels_by_rule().items():
        assert rule == "bitnet" or not [k for k in kernels if k.startswith("bitnet_")], (rule, kernels)
    assert not [f for f in art.schedule_report.failures if "bitnet" in f], art.schedule_report.failures


# --- packing and family choice (numpy only) ---

@pytest.mark.parametrize("dot,byte_max", [("sdot", None), ("neon", None), ("neon", 0)], ids=["sdot", "neon", "neon_digits"])
@pytest.mark.parametrize("kind", ["ternary", "binary"])
def test_sdot_weights_round_trip(kind: str, dot: str, byte_max: Any, monkeypatch: Any) -> None:
    if byte_max is not None:  # a layer too large for byte weights
        monkeypatch.setattr(arm, "NEON_BYTE_WEIGHTS_MAX", byte_max)
    w = np.random.default_rng(1).standard_normal((37, 45)).astype(np.float32)
    packed = pack_for(w, kind, dot)
    lanes, vectors = arm.group_lanes(kind), arm.vectors_per_group(kind)
    assert packed.planes.dtype == np.uint8
    if dot == "sdot" or byte_max is not None:  # 2 (1) bits a weight
        assert packed.planes.shape == (-(-37 // lanes), 12, 16)
        assert packed.planes.nbytes * 8 == packed.n_pad * 48 * arm.weight_bits(kind)
    else:  # neon: a byte a weight, w itself
        assert packed.planes.shape == (-(-37 // lanes), 12, vectors, 16)
        assert packed.planes.nbytes == packed.n_pad * 48
        assert packed.planes.view(np.int8)[0, 0, 0, 0] == packed.values[0, 0]
    np.testing.assert_array_equal(arm.unpack_sdot(packed.planes, kind, 37, 45, dot), packed.values)
    if kind == "ternary" and packed.planes.ndim == 3:  # sdot stores w + 1, neon w (2-bit two's complement)
        first = packed.planes[0, 0, 0] & 3
        assert first == (packed.values[0, 0] + 1 if dot == "sdot" else packed.values[0, 0] & 3)
    np.testing.assert_array_equal(packed.values, pack_for(w, kind, "popcount").values)


def test_auto_family_per_aarch64_target() -> None:
    assert BitnetConfig("ternary", 8).dot_for(get_target("aarch64-dotprod")) == "sdot"
    assert BitnetConfig("binary", 4).dot_for(get_target("aarch64-dotprod")) == "sdot"
    assert BitnetConfig("binary", 1).dot_for(get_target("aarch64-dotprod")) == "popcount"  # XNOR
    assert BitnetConfig("ternary", 8).dot_for(get_target("aarch64")) == "neon"
    assert BitnetConfig("ternary", 4).dot_for(get_target("aarch64")) == "neon"
    assert BitnetConfig("ternary", 3).dot_for(get_target("aarch64")) == "popcount"
    assert BitnetConfig("binary", 8).dot_for(get_target("aarch64")) == "neon"
    assert BitnetConfig("binary", 6).dot_for(get_target("aarch64")) == "popcount"
    assert BitnetConfig("binary", 1).dot_for(get_target("aarch64")) == "popcount"
    assert BitnetConfig("ternary", 8, kernel="neon").dot_for(get_target("aarch64-dotprod")) == "neon"
    assert BitnetConfig("ternary", 8).dot_for(get_target("x86_64-avx512")) == "vnni"
    with pytest.raises(RonnError, match="aarch64-dotprod"):
        BitnetConfig("ternary", 8, kernel="sdot").dot_for(get_target("aarch64"))
    with pytest.raises(RonnError, match="AArch64"):
        BitnetConfig("ternary", 8, kernel="neon").dot_for(get_target("x86_64-avx2"))
    with pytest.raises(RonnError, match="int activations"):
        BitnetConfig("binary", 1, kernel="sdot")


# --- the instructions in .text ---

@pytest.mark.parametrize("kind", ["ternary", "binary"])
def test_dotprod_text_has_sdot(kind: str, tmp_path: Path) -> None:
    art = _compile(tmp_path, "aarch64-dotprod", kind, 8)
    ops = _mnemonics(Path(art.path))
    assert ops.count("sdot") >= 4, "the sdot kernels must issue SDOT"


def test_aarch64_popcount_text_has_cnt_and_sadalp(tmp_path: Path) -> None:
    ops = _mnemonics(Path(_compile(tmp_path, "aarch64", "ternary", 3).path))
    assert "cnt" in ops and "sdot" not in ops and "udot" not in ops
    # byte counts accumulate pairwise into int16 lanes (arm.bitserial_neon_kernel), not widened
    # by a UADDLP chain per word
    assert "sadalp" in ops


# --- outputs under qemu-user ---

@pytest.fixture(scope="module")
def qemu_ronn_run() -> tuple[list[str], Path]:
    from helpers import qemu_ronn_run as cross_built

    return cross_built("aarch64-dotprod")


def _run(qemu: tuple[list[str], Path], cpu: str, so: Path, x: np.ndarray, tmp: Path) -> np.ndarray:
    prefix, ronn_run = qemu
    np.save(tmp / "x.npy", x)
    proc = subprocess.run([prefix[0], "-cpu", cpu, *prefix[1:], str(ronn_run), str(so), "--input",
                           f"x={tmp / 'x.npy'}", "--output-dir", str(tmp / "out"), "--threads", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return np.load(tmp / "out" / "y.npy")


# The float epilogue is the same in every family and may round the activation scale an ulp away
# from numpy's (a division by a constant): outputs are compared with the popcount family's on the
# same target bit for bit (the integer dot products must be equal), and with the reference closely.

@pytest.mark.cross
@pytest.mark.parametrize("kind,bits", [("ternary", 8), ("binary", 8), ("ternary", 3)])
def test_sdot_under_qemu_matches_popcount_and_reference(kind: str, bits: int, qemu_ronn_run: Any,
                                                         tmp_path: Path) -> None:
    model, w = small_model()
    x = np.random.default_rng(3).standard_normal((2, 5, 6, 6)).astype(np.float32)
    art = _compile(tmp_path, "aarch64-dotprod", kind, bits)
    _check_bitnet_rule(art)
    y = _run(qemu_ronn_run, "cortex-a76", Path(art.path), x, tmp_path)
    y_pop = _run(qemu_ronn_run, "cortex-a76",
                 Path(_compile(tmp_path, "aarch64-dotprod", kind, bits, "popcount").path), x, tmp_path)
    np.testing.assert_array_equal(y, y_pop)
    np.testing.assert_allclose(y, reference(x, w, kind, bits), rtol=1e-5, atol=1e-5)


@pytest.mark.cross
@pytest.mark.parametrize("kind,bits", [("binary", 4), ("ternary", 3), ("binary", 1)])
def test_neon_popcount_under_qemu_matches_reference(kind: str, bits: int, qemu_ronn_run: Any, tmp_path: Path) -> None:
    model, w = small_model()
    x = np.random.default_rng(4).standard_normal((2, 5, 6, 6)).astype(np.float32)
    art = _compile(tmp_path, "aarch64", kind, bits)
    _check_bitnet_rule(art)
    y = _run(qemu_ronn_run, "cortex-a72", Path(art.path), x, tmp_path)
    np.testing.assert_allclose(y, reference(x, w, kind, bits), rtol=1e-5, atol=1e-5)


def test_aarch64_neon_text_has_mul_and_sadalp(tmp_path: Path) -> None:
    ops = _mnemonics(Path(_compile(tmp_path, "aarch64", "ternary", 8).path))  # auto: neon
    assert "sadalp" in ops and "mul" in ops and "sdot" not in ops and "udot" not in ops
    # 7 bits: two quads' products summed in the bytes (arm.neon_depth: MUL, MLA) before one SADALP
    seven = _mnemonics(Path(_compile(tmp_path, "aarch64", "ternary", 7).path))
    assert seven.count("mla") > ops.count("mla") and seven.count("sadalp") < ops.count("sadalp")


@pytest.mark.cross
@pytest.mark.parametrize("kind,bits,byte_max", [("ternary", 8, None), ("binary", 8, None), ("ternary", 7, None),
                                                ("binary", 6, None), ("ternary", 8, 0), ("binary", 7, 0)])
def test_neon_under_qemu_matches_popcount_and_reference(kind: str, bits: int, byte_max: Any, qemu_ronn_run: Any,
                                                        tmp_path: Path, monkeypatch: Any) -> None:
    """Byte weights (or, for a layer too large for them, 2-bit / 1-bit digits decoded in registers)
    multiplied with MUL + SADDLP + SADALP on a core without dotprod (7 bits and fewer: MUL + MLA
    of two or four quads, then SADALP)."""
    if byte_max is not None:
        monkeypatch.setattr(arm, "NEON_BYTE_WEIGHTS_MAX", byte_max)
    model, w = small_model()
    x = np.random.default_rng(5).standard_normal((2, 5, 6, 6)).astype(np.float32)
    art = _compile(tmp_path, "aarch64", kind, bits, "neon")
    _check_bitnet_rule(art)
    y = _run(qemu_ronn_run, "cortex-a72", Path(art.path), x, tmp_path)
    y_pop = _run(qemu_ronn_run, "cortex-a72", Path(_compile(tmp_path, "aarch64", kind, bits, "popcount").path),
                 x, tmp_path)
    np.testing.assert_array_equal(y, y_pop)
    np.testing.assert_allclose(y, reference(x, w, kind, bits), rtol=1e-5, atol=1e-5)


@pytest.mark.cross
@pytest.mark.parametrize("target,cpu", [("aarch64-dotprod", "cortex-a76"), ("aarch64", "cortex-a72")])
def test_parallel_tiles_match_popcount(target: str, cpu: str, qemu_ronn_run: Any, tmp_path: Path) -> None:
    """A 8x1024x1024 dense layer: enough work for parallel register tiles; auto (sdot / neon) at
    2 threads equals the bit-serial kernels at 1 thread."""
    w = (np.random.default_rng(6).standard_normal((1024, 1024)) / 32).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "dense",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 1024])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 1024])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(7).standard_normal((8, 1024)).astype(np.float32)
    outs = []
    for kernel, threads in (("auto", "2"), ("popcount", "1")):
        opts = ronn_aot.CompileOptions().with_target(target).with_output(tmp_path / f"{kernel}.so")
        art = ronn_aot.compile(model, opts.with_bitnet("ternary", 8, "all", kernel=kernel))
        _check_bitnet_rule(art)
        prefix, ronn_run = qemu_ronn_run
        np.save(tmp_path / "x.npy", x)
        proc = subprocess.run([prefix[0], "-cpu", cpu, *prefix[1:], str(ronn_run), str(art.path), "--input",
                               f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / kernel), "--threads", threads],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append(np.load(tmp_path / kernel / "y.npy"))
    np.testing.assert_array_equal(outs[0], outs[1])


# --- int8 models on aarch64-dotprod: ronn_aot/passes/int8_dot.py + schedules/cpu/int8_dot.py ---

def _qlinear_matmul(adt: Any, bdt: Any, seed: int = 1) -> tuple[onnx.ModelProto, np.ndarray]:
    """QLinearMatMul of a [3, 4, 96] input and constant 8-bit weights [96, 40], with zero points."""
    rng = np.random.default_rng(seed)
    ta = TensorProto.INT8 if adt == np.int8 else TensorProto.UINT8
    b = rng.integers(np.iinfo(bdt).min, np.iinfo(bdt).max + 1, (96, 40)).astype(bdt)
    zb = np.array(128 if bdt == np.uint8 else 0, bdt)
    inits = [numpy_helper.from_array(np.array(0.02, np.float32), "sa"), numpy_helper.from_array(np.array(5, adt), "za"),
             numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.array(0.01, np.float32), "sb"),
             numpy_helper.from_array(zb, "zb"), numpy_helper.from_array(np.array(0.5, np.float32), "sy"),
             numpy_helper.from_array(np.array(2, adt), "zy")]
    graph = helper.make_graph(
        [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])], "q",
        [helper.make_tensor_value_info("a", ta, [3, 4, 96])], [helper.make_tensor_value_info("y", ta, [3, 4, 40])],
        inits)
    a = rng.integers(np.iinfo(adt).min, np.iinfo(adt).max + 1, (3, 4, 96)).astype(adt)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), a


def test_int8_matmul_text_has_sdot_only_on_dotprod(tmp_path: Path) -> None:
    model, _ = _qlinear_matmul(np.uint8, np.int8)
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target("aarch64-dotprod").with_output(tmp_path / "d.so"))
    assert sorted(art.schedule_report.kernels_by_rule()["cpu.int8_dot"]) == ["int8_dot", "int8_dot_pack"]
    assert _mnemonics(Path(art.path)).count("sdot") >= 4
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target("aarch64").with_output(tmp_path / "a.so"))
    assert "cpu.int8_dot" not in art.schedule_report.kernels_by_rule()
    assert "sdot" not in _mnemonics(Path(art.path))


@pytest.mark.cross
@pytest.mark.parametrize("adt,bdt", [(np.int8, np.int8), (np.uint8, np.int8), (np.uint8, np.uint8)])
def test_int8_matmul_under_qemu_matches_onnxruntime(adt: Any, bdt: Any, qemu_ronn_run: Any, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model, a = _qlinear_matmul(adt, bdt)
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target("aarch64-dotprod").with_output(tmp_path / "q.so"))
    assert "cpu.int8_dot" in art.schedule_report.kernels_by_rule()
    prefix, ronn_run = qemu_ronn_run
    np.save(tmp_path / "a.npy", a)
    proc = subprocess.run([prefix[0], "-cpu", "cortex-a76", *prefix[1:], str(ronn_run), str(art.path), "--input",
                           f"a={tmp_path / 'a.npy'}", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"a": a})[0]
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "y.npy"), expected)


@pytest.mark.cross
def test_matmul_integer_under_qemu_matches_numpy(qemu_ronn_run: Any, tmp_path: Path) -> None:
    """MatMulInteger, uint8 x int8 with an activation zero point, K and N not multiples of 4 / 16."""
    rng = np.random.default_rng(2)
    b = rng.integers(-128, 128, (250, 70)).astype(np.int8)
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b", "za"], ["y"])], "mmi",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [6, 250])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [6, 70])],
                              [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.array(3, np.uint8), "za")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target("aarch64-dotprod").with_output(tmp_path / "m.so"))
    assert "cpu.int8_dot" in art.schedule_report.kernels_by_rule()
    a = rng.integers(0, 256, (6, 250)).astype(np.uint8)
    prefix, ronn_run = qemu_ronn_run
    np.save(tmp_path / "a.npy", a)
    proc = subprocess.run([prefix[0], "-cpu", "cortex-a76", *prefix[1:], str(ronn_run), str(art.path), "--input",
                           f"a={tmp_path / 'a.npy'}", "--output-dir", str(tmp_path / "out"), "--threads", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "y.npy"), (a.astype(np.int64) - 3) @ b.astype(np.int64))


def _run_int8(model: onnx.ModelProto, x: np.ndarray, qemu: Any, tmp: Path) -> np.ndarray:
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target("aarch64-dotprod").with_output(tmp / "c.so"))
    assert sorted(art.schedule_report.kernels_by_rule()["cpu.int8_dot"]) == ["int8_dot", "int8_dot_pack"]
    prefix, ronn_run = qemu
    np.save(tmp / "x.npy", x)
    proc = subprocess.run([prefix[0], "-cpu", "cortex-a76", *prefix[1:], str(ronn_run), str(art.path), "--input",
                           f"x={tmp / 'x.npy'}", "--output-dir", str(tmp / "out"), "--threads", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return np.load(tmp / "out" / f"{model.graph.output[0].name}.npy")


@pytest.mark.cross
@pytest.mark.parametrize("adt,strides,pads,dilations", [(np.uint8, [1, 1], [1, 1, 1, 1], [1, 1]),
                                                        (np.int8, [2, 2], [0, 1, 2, 1], [1, 1]),
                                                        (np.uint8, [1, 2], [2, 2, 2, 2], [2, 1])])
def test_conv_integer_under_qemu_matches_onnxruntime(adt: Any, strides: list[int], pads: list[int],
                                                     dilations: list[int], qemu_ronn_run: Any, tmp_path: Path) -> None:
    """ConvInteger with an input zero point: padding reads the zero point (shifted), as onnx's does."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(8)
    ta = TensorProto.INT8 if adt == np.int8 else TensorProto.UINT8
    w = rng.integers(-128, 128, (20, 7, 3, 3)).astype(np.int8)
    node = helper.make_node("ConvInteger", ["x", "w", "zx"], ["y"], pads=pads, strides=strides, dilations=dilations)
    graph = helper.make_graph([node], "ci", [helper.make_tensor_value_info("x", ta, [2, 7, 11, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(7, adt), "zx")])
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    x = rng.integers(np.iinfo(adt).min, np.iinfo(adt).max + 1, (2, 7, 11, 9)).astype(adt)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(_run_int8(model, x, qemu_ronn_run, tmp_path), expected)


@pytest.mark.cross
def test_qlinear_conv_under_qemu_matches_onnxruntime(qemu_ronn_run: Any, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(9)
    nh = numpy_helper.from_array
    inits = [nh(np.array(0.05, np.float32), "sx"), nh(np.array(9, np.uint8), "zx"),
             nh(rng.integers(-127, 128, (12, 5, 3, 3)).astype(np.int8), "w"), nh(np.array(0.01, np.float32), "sw"),
             nh(np.array(0, np.int8), "zw"), nh(np.array(0.7, np.float32), "sy"), nh(np.array(3, np.uint8), "zy"),
             nh(rng.integers(-500, 500, 12).astype(np.int32), "bias")]
    node = helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"], ["y"],
                            pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "qc", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 5, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 12, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.integers(0, 256, (1, 5, 8, 8)).astype(np.uint8)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(_run_int8(model, x, qemu_ronn_run, tmp_path), expected)


def conv_model(seed: int = 8) -> onnx.ModelProto:
    """Conv(5 -> 16, 3x3, pad 1, bias) -> Relu -> MaxPool 2x2 -> Conv(16 -> 24, 3x3, pad 1, bias) on
    1x5x14x14: the second conv has M = 49 rows, which the sdot / neon kernels pad to 52
    (arm.padded_rows), and 4 channel quads a pixel (SDOT reads them in one load)."""
    rng = np.random.default_rng(seed)
    w = {"w1": rng.standard_normal((16, 5, 3, 3)).astype(np.float32), "b1": rng.standard_normal(16).astype(np.float32),
         "w2": (rng.standard_normal((24, 16, 3, 3)) / 4).astype(np.float32),
         "b2": rng.standard_normal(24).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p", "w2", "b2"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 14, 14])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 24, 7, 7])],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_padded_rows() -> None:
    assert arm.padded_rows(49) == 52 and arm.padded_rows(196) == 196
    assert arm.padded_rows(1) == 1 and arm.padded_rows(13) == 13 and arm.padded_rows(25) == 28  # under 1/8 more rows


@pytest.mark.cross
@pytest.mark.parametrize("target,cpu,kernel,bits", [("aarch64-dotprod", "cortex-a76", "sdot", 8),
                                                     ("aarch64", "cortex-a72", "neon", 8), ("aarch64", "cortex-a72", "neon", 7)])
def test_static_scales_nhwc_quads_match_popcount(target: str, cpu: str, kernel: str, bits: int, qemu_ronn_run: Any,
                                                  tmp_path: Path) -> None:
    """Static scales: NHWC convs (arm_nhwc.py) whose quantize kernels write NHWC quads (the second
    one through the max pool) that the sdot / neon kernels read in place, in tiles of 4 rows of 52
    (M = 49 padded), adding the bias and applying the relu in their epilogue (no add, relu or
    pool kernels); the outputs equal the bit-serial kernels' (NCHW im2col, Relax ops) bit for bit."""
    model = conv_model()
    stats = [R.ActStats(0.03, 0.0), R.ActStats(0.05, 0.0)]
    x = np.random.default_rng(7).standard_normal((1, 5, 14, 14)).astype(np.float32)
    ys = []
    for k in (kernel, "popcount"):
        opts = ronn_aot.CompileOptions().with_target(target).with_output(tmp_path / f"{k}.so")
        art = ronn_aot.compile(model, opts.with_bitnet("ternary", bits, "all", calibration=stats, kernel=k))
        _check_bitnet_rule(art)
        kernels = [k for ks in art.schedule_report.kernels_by_rule().values() for k in ks]
        assert any("add" in name or "relu" in name or "pool" in name for name in kernels) == (k == "popcount"), kernels
        ys.append(_run(qemu_ronn_run, cpu, Path(art.path), x, tmp_path))
    np.testing.assert_array_equal(ys[0], ys[1])


def test_cli_points_aarch64_bitnet_at_fewer_activation_bits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On aarch64 (neon) an 8-bit BitNet compile says which activation bits let products sum in bytes;
    where SDOT runs (aarch64-dotprod) it says nothing."""
    from ronn_aot.cli import main as cli_main

    model = tmp_path / "m.onnx"
    onnx.save(small_model()[0], model)
    for target, noted in (("aarch64", True), ("aarch64-dotprod", False)):
        assert cli_main(["compile", str(model), "--target", target, "--bitnet", "ternary", "--bitnet-layers", "all",
                         "-o", str(tmp_path / f"{target}.so")]) == 0
        assert ("--bitnet-act-bits 7 or 6" in capsys.readouterr().out) == noted
