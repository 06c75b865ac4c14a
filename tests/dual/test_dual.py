"""System 1 / System 2 in one artifact (`--dual`): both plans answer exactly as the separate
artifacts do, route=auto decides per input as calibration did, and bad options or a malformed
router are refused with messages saying what to change."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ronn_aot
import ronn_runtime
from ronn_aot.artifact.elf import read_sections
from ronn_aot.artifact.format import FOOTER_SIZE, append_footer, read_footer
from ronn_aot.artifact.inspect import format_info, inspect_artifact
from ronn_aot.cli import main as cli_main
from ronn_aot.dual.format import DUAL_SECTION, RouterKind, read_dual
from ronn_aot.dual.routers import route_of
from ronn_aot.errors import RonnError, ShapeError

SHAPE = (1, 3, 10, 10)
LATENCY = (1.0, 10.0)  # an assumed System 1 ten times cheaper: routing decided by agreement alone


def classifier(outputs: int = 10, layers: int = 4, seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> Conv(stride 2) -> Relu -> Flatten -> Gemm -> Relu -> MatMul (4 quantizable
    layers; `layers`=2 keeps the first Conv and the Gemm only)."""
    rng = np.random.default_rng(seed)
    w = {"w1": rng.standard_normal((16, 3, 3, 3)), "b1": rng.standard_normal(16) * 0.1,
         "w2": rng.standard_normal((32, 16, 3, 3)) / 12, "b2": rng.standard_normal(32) * 0.1,
         "w3": rng.standard_normal((64, 32 * 25)) / 28, "b3": rng.standard_normal(64) * 0.1,
         "w4": rng.standard_normal((64, outputs)) / 8}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"])]
    if layers == 4:
        nodes += [helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
                  helper.make_node("Relu", ["c2"], ["r2"]), helper.make_node("Flatten", ["r2"], ["f"]),
                  helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
                  helper.make_node("Relu", ["g"], ["r3"]), helper.make_node("MatMul", ["r3", "w4"], ["y"])]
    else:
        w = {"w1": w["w1"], "b1": w["b1"], "w3": rng.standard_normal((outputs, 16 * 100)) / 40}
        nodes += [helper.make_node("Flatten", ["r1"], ["f"]), helper.make_node("Gemm", ["f", "w3"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "classifier", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, outputs])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inputs(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    # Varied scales, so that input statistics say something about the inputs
    return [{"x": (rng.standard_normal(SHAPE) * rng.uniform(0.3, 2.0)).astype(np.float32)} for _ in range(n)]


CALIBRATION = inputs(80, seed=1)
FRESH = inputs(40, seed=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dual")
    model = classifier()
    base = ronn_aot.CompileOptions().with_optimization_level(2)
    paths = {"fp32": ronn_aot.compile(model, base.with_output(out / "fp32.so")).path,
             "bitnet": ronn_aot.compile(model, base.with_output(out / "bitnet.so").with_bitnet("ternary")).path}
    for route in ("confidence", "complexity", "both"):
        opts = base.with_output(out / f"dual_{route}.so").with_dual("ternary", route, CALIBRATION, 0.9,
                                                                     latency_ms=LATENCY)
        paths[route] = ronn_aot.compile(model, opts).path
    return paths


def run(path: Path, feed: dict[str, np.ndarray], route: str | None = None) -> np.ndarray:
    return ronn_runtime.InferenceSession(str(path), num_threads=1).run(None, feed, route=route)[0]


@pytest.mark.parametrize("router", ["confidence", "complexity", "both"])
def test_routes_are_bit_identical_to_the_separate_artifacts(built: dict[str, Path], router: str) -> None:
    fp32 = ronn_runtime.InferenceSession(str(built["fp32"]), num_threads=2)
    bitnet = ronn_runtime.InferenceSession(str(built["bitnet"]), num_threads=2)
    dual = ronn_runtime.InferenceSession(str(built[router]), num_threads=2)
    assert dual.is_dual and not fp32.is_dual
    for feed in FRESH[:10]:
        full, fast = dual.run(None, feed, route="full")[0], dual.run(None, feed, route="fast")[0]
        np.testing.assert_array_equal(full, fp32.run(None, feed)[0])  # bit-identical, tolerance 0
        np.testing.assert_array_equal(fast, bitnet.run(None, feed)[0])
    assert dual.route_counts == {"fast": 10, "full": 10, "escalated": 0}


@pytest.mark.parametrize("router", ["confidence", "complexity", "both"])
def test_auto_routes_each_input_as_calibrated(built: dict[str, Path], router: str) -> None:
    params, _ = read_dual(built[router])
    stats = inspect_artifact(built[router]).metadata["dual"]["calibration"]
    assert params.name == router and stats["agreement"] >= 0.9
    sess = ronn_runtime.InferenceSession(str(built[router]), num_threads=1)
    routes, agree = [], []
    for feed in CALIBRATION + FRESH:
        fast, full = sess.run(None, feed, route="fast")[0], sess.run(None, feed, route="full")[0]
        answer = sess.run(None, feed)[0]  # route="auto" is the default of a dual artifact
        expected = route_of(params, feed["x"], fast)  # the router's rule, evaluated in numpy
        assert sess.last_route == expected
        np.testing.assert_array_equal(answer, fast if expected == "fast" else full)
        routes.append(expected)
        agree.append(int(answer.argmax()) == int(full.argmax()))
    k = len(CALIBRATION)
    # On the calibration inputs the runtime reproduces what calibration measured.
    assert sum(r == "fast" for r in routes[:k]) / k == pytest.approx(stats["fast_fraction"], abs=1e-12)
    assert np.mean(agree[:k]) == pytest.approx(stats["agreement"], abs=1e-12)
    counts = sess.route_counts
    assert counts["fast"] == len(CALIBRATION + FRESH) * 1 + sum(r == "fast" for r in routes)
    if router == "confidence":
        assert 0 < stats["fast_fraction"] < 1  # with System 1 10x cheaper, some inputs go each way
        assert counts["escalated"] == sum(r == "full" for r in routes)


def test_router_never_pays_when_system1_is_not_cheaper(tmp_path: Path) -> None:
    opts = (ronn_aot.CompileOptions().with_optimization_level(2).with_output(tmp_path / "d.so")
            .with_dual("ternary", "confidence", CALIBRATION[:20], 0.9, latency_ms=(5.0, 1.0)))
    path = ronn_aot.compile(classifier(), opts).path
    params, _ = read_dual(path)
    assert params.confidence_threshold == math.inf  # System 2 only: skipping System 1 is cheapest
    sess = ronn_runtime.InferenceSession(str(path), num_threads=1)
    sess.run(None, FRESH[0])
    assert sess.last_route == "full" and sess.route_counts["escalated"] == 0


def test_inspect_prints_router_calibration_and_both_plans(built: dict[str, Path]) -> None:
    info = inspect_artifact(built["both"])
    text = format_info(info)
    for line in ("router:       both: complexity(input 0)", "calibrated:   on 80 inputs", "System 1:     ",
                 "System 2:     ", "vs separate:  "):
        assert line in text
    d = info.to_dict()["dual"]
    assert d["system1"]["shared_weight_bytes"] > 0  # the float first layer is stored once
    separate = sum(d["plain_artifact_bytes"].values())
    assert info.file_size < separate


def test_cli_compile_run_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.onnx"
    onnx.save(classifier(), model)
    np.savez(tmp_path / "cal.npz", x=np.stack([f["x"] for f in CALIBRATION[:30]]))
    np.save(tmp_path / "x.npy", FRESH[0]["x"])
    out = tmp_path / "d.so"
    assert cli_main(["compile", str(model), "-O", "2", "--dual", "ternary", "--route", "confidence",
                     "--route-calibration", str(tmp_path / "cal.npz"), "--route-min-agreement", "0.95",
                     "-o", str(out)]) == 0
    assert "note: System 1 has absmean weights and run-time activation scales; --bitnet-calibration" in \
        capsys.readouterr().out
    assert cli_main(["inspect", str(out)]) == 0
    assert "router:       confidence" in capsys.readouterr().out
    assert cli_main(["run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "--route", "fast"]) == 0
    assert "answered by: System 1 (fast)" in capsys.readouterr().out
    assert cli_main(["compile", str(model), "--route", "both", "-o", str(tmp_path / "e.so")]) == 1
    assert "--route configure a dual artifact: add --dual" in capsys.readouterr().err


# ---- bad options: each a RonnError saying what to change -----------------------------------


def dual_options(tmp_path: Path, **kw: Any) -> ronn_aot.CompileOptions:
    args = {"weights": "ternary", "route": "confidence", "calibration": CALIBRATION[:8], "min_agreement": 0.9, **kw}
    return ronn_aot.CompileOptions().with_optimization_level(2).with_output(tmp_path / "x.so").with_dual(**args)


def test_calibration_must_match_the_model_inputs(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"'x' has shape \[3, 10, 10\], the model takes \[1, 3, 10, 10\]"):
        ronn_aot.compile(classifier(), dual_options(tmp_path, calibration=[{"x": np.zeros((3, 10, 10), np.float32)}]))
    with pytest.raises(RonnError, match=r"'x' is float64, the model takes float32: convert it"):
        ronn_aot.compile(classifier(), dual_options(tmp_path, calibration=[{"x": np.zeros(SHAPE)}]))
    with pytest.raises(RonnError, match=r"names \['image'\] are not model inputs and \['x'\] are missing"):
        ronn_aot.compile(classifier(), dual_options(tmp_path, calibration=[{"image": np.zeros(SHAPE, np.float32)}]))
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 1, 3, 9, 10), np.float32))
    with pytest.raises(ShapeError, match="bad.npz, input 0: 'x' has shape"):
        ronn_aot.compile(classifier(), dual_options(tmp_path, calibration=str(tmp_path / "bad.npz")))


def test_bad_dual_options(tmp_path: Path) -> None:
    with pytest.raises(RonnError, match="needs calibration inputs.*--route-calibration"):
        dual_options(tmp_path, calibration=None)
    with pytest.raises(RonnError, match="unknown router 'fastest'; routers: both, complexity, confidence"):
        dual_options(tmp_path, route="fastest")
    with pytest.raises(RonnError, match="min agreement must be in"):
        dual_options(tmp_path, min_agreement=1.5)
    with pytest.raises(RonnError, match="unknown confidence signal 'top1'"):
        dual_options(tmp_path, signal="top1")
    with pytest.raises(RonnError, match="--dual builds CPU artifacts; target cuda-sm90"):
        ronn_aot.compile(classifier(), dual_options(tmp_path).with_target("cuda-sm90"))
    with pytest.raises(RonnError, match="quantizes no layer of this model.*--bitnet-layers"):
        ronn_aot.compile(classifier(layers=2), dual_options(tmp_path))
    with pytest.raises(RonnError, match="no output of the model holds class scores"):
        ronn_aot.compile(classifier(outputs=1), dual_options(tmp_path))


def test_route_on_a_plain_artifact_is_refused(built: dict[str, Path]) -> None:
    sess = ronn_runtime.InferenceSession(str(built["fp32"]), num_threads=1)
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="needs a dual artifact.*--dual"):
        sess.run(None, FRESH[0], route="full")
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="route must be one of auto, fast, full"):
        sess.run(None, FRESH[0], route="cheap")
    assert sess.last_route is None


# ---- the runtime refuses a malformed router with a status ----------------------------------


def patched(src: Path, dst: Path, offset: int, fmt: str, value: Any) -> Path:
    """A copy of `src` with one dual-header field overwritten, its footer rewritten to match (so
    the integrity check passes and the router's own checks are what refuse it)."""
    footer = read_footer(src)
    data = bytearray(src.read_bytes()[:-FOOTER_SIZE])
    struct.pack_into(fmt, data, read_sections(src)[DUAL_SECTION].offset + offset, value)
    dst.write_bytes(bytes(data))
    append_footer(dst, (footer.plan_file_offset, footer.plan_size),
                  (footer.weights_file_offset, footer.weights_size), footer.code_size)
    return dst


@pytest.mark.parametrize("offset,fmt,value,what", [
    (12, "<I", 8, "unknown router kind"),
    (32, "<I", 3, "confidence reads an output the model does not have"),
    (36, "<I", 9, "unknown confidence signal"),
    (48, "<d", math.nan, "NaN threshold"),
    (64, "<I", 7, "unknown complexity feature"),
    (16, "<Q", 1 << 40, "System 1's plan lies outside the dual blob"),
    (0, "<I", 0, "bad magic number"),
])
def test_runtime_refuses_a_malformed_router(built: dict[str, Path], tmp_path: Path, offset: int, fmt: str,
                                            value: Any, what: str) -> None:
    path = patched(built["both"], tmp_path / "bad.so", offset, fmt, value)
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="router is malformed") as e:
        ronn_runtime.InferenceSession(str(path))
    assert e.value.code == "CORRUPT_ARTIFACT" and what in str(e.value)
    assert read_dual(built["both"])[0].kind == RouterKind.COMPLEXITY | RouterKind.CONFIDENCE


@pytest.mark.cross
def test_aarch64_dual_under_qemu(tmp_path: Path) -> None:
    """An aarch64 dual artifact (calibrated on host builds of the same two systems) runs under
    qemu: route=fast/full answer exactly as the plain aarch64 BitNet/fp32 artifacts."""
    import subprocess

    from helpers import qemu_ronn_run

    prefix, ronn_run = qemu_ronn_run("aarch64")
    model = classifier()
    base = ronn_aot.CompileOptions().with_target("aarch64").with_optimization_level(2)
    fp32 = ronn_aot.compile(model, base.with_output(tmp_path / "fp32.so")).path
    bitnet = ronn_aot.compile(model, base.with_output(tmp_path / "bitnet.so").with_bitnet("ternary")).path
    dual = ronn_aot.compile(model, base.with_output(tmp_path / "dual.so").with_dual(
        "ternary", "confidence", CALIBRATION[:30], 0.9, latency_ms=LATENCY)).path
    assert dual.read_bytes()[18] == 0xB7  # e_machine = EM_AARCH64
    assert inspect_artifact(dual).metadata["dual"]["calibrated_on"] != "aarch64"
    np.save(tmp_path / "x.npy", FRESH[0]["x"])

    def qemu_run(path: Path, *route: str) -> tuple[np.ndarray, str]:
        out = tmp_path / f"out_{path.stem}_{'_'.join(route)}"
        proc = subprocess.run([*prefix, str(ronn_run), str(path), "--input", f"x={tmp_path / 'x.npy'}",
                               "--output-dir", str(out), "--threads", "2", *route],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return np.load(out / "y.npy"), proc.stdout

    fast, text = qemu_run(dual, "--route", "fast")
    assert "answered by: System 1 (fast)" in text
    np.testing.assert_array_equal(fast, qemu_run(bitnet)[0])
    full, text = qemu_run(dual, "--route", "full")
    assert "answered by: System 2 (full)" in text
    np.testing.assert_array_equal(full, qemu_run(fp32)[0])
    params, _ = read_dual(dual)
    auto, text = qemu_run(dual)
    expected = route_of(params, FRESH[0]["x"], fast)
    assert f"answered by: System {1 if expected == 'fast' else 2}" in text
    np.testing.assert_array_equal(auto, fast if expected == "fast" else full)


@pytest.mark.cross
def test_aarch64_router_costs_are_counted_on_the_target(tmp_path: Path) -> None:
    """Without given costs, an aarch64 dual artifact's router weighs the two systems by their
    instructions on the target's own code under qemu (the host builds' times are another ISA's):
    the same counts as the plain aarch64 artifacts of the two systems give."""
    from helpers import qemu_ronn_run

    from ronn_aot.dual.costs import qemu_costs
    from ronn_aot.targets import get_target

    qemu_ronn_run("aarch64")  # skips without qemu / the cross compiler
    model = classifier()
    base = ronn_aot.CompileOptions().with_target("aarch64").with_optimization_level(2)
    fp32 = ronn_aot.compile(model, base.with_output(tmp_path / "fp32.so")).path
    bitnet = ronn_aot.compile(model, base.with_output(tmp_path / "bitnet.so").with_bitnet("ternary")).path
    dual = ronn_aot.compile(model, base.with_output(tmp_path / "dual.so").with_dual(
        "ternary", "confidence", CALIBRATION[:30], 0.9)).path
    d = inspect_artifact(dual).metadata["dual"]
    assert d["costs"].startswith("instructions under qemu -cpu cortex-a72, one thread"), d["costs"]
    (t1, t2), _ = qemu_costs(get_target("aarch64"), bitnet, fp32, CALIBRATION[0])
    # (within 0.5%: the plain artifacts built inside the dual compile are laid out a little differently)
    assert (d["calibration"]["system1_ms"], d["calibration"]["system2_ms"]) == pytest.approx((t1, t2), rel=5e-3)


def test_route_sweep(built: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ronn_aot.dual.sweep import route_sweep

    xs = np.stack([f["x"] for f in FRESH])
    np.savez(tmp_path / "data.npz", x=xs)
    dual = ronn_runtime.InferenceSession(str(built["confidence"]), num_threads=1)
    full = [dual.run(None, f, route="full")[0] for f in FRESH]
    fast = [dual.run(None, f, route="fast")[0] for f in FRESH]
    labels = np.array([int(o.argmax()) for o in full])
    labels[:5] = (labels[:5] + 1) % 10  # System 2 is wrong on five "labelled" inputs
    np.save(tmp_path / "labels.npy", labels)
    sweep = route_sweep(built["confidence"], tmp_path / "data.npz", tmp_path / "labels.npy", threads=1, points=5)
    assert sweep.metric == "accuracy" and sweep.runs == len(FRESH)
    assert sweep.system2.quality == pytest.approx(1 - 5 / len(FRESH))
    assert sweep.system1.quality == pytest.approx(np.mean([int(o.argmax()) == y for o, y in zip(fast, labels)]))
    params, _ = read_dual(built["confidence"])
    routed = [route_of(params, f["x"], o) for f, o in zip(FRESH, fast)]
    assert sweep.router.fast_fraction == pytest.approx(np.mean([r == "fast" for r in routed]))
    assert sweep.curve[0].fast_fraction == 0 and sweep.curve[-1].fast_fraction == 1
    assert sweep.curve[0].quality == sweep.system2.quality and sweep.curve[-1].quality == sweep.system1.quality
    assert "router (confidence, auto)" in sweep.format()
    assert cli_main(["bench", str(built["fp32"]), "--route-sweep", str(tmp_path / "data.npz")]) == 1
    assert "is a plain artifact: --route-sweep needs one compiled with --dual" in capsys.readouterr().err


def test_c_timing_driver_answers_as_the_binding(built: dict[str, Path], tmp_path: Path) -> None:
    """bench.dual's latency metric comes from bench/dual_timer.c: the same answers and routes as
    the Python binding, for a plain artifact and each route of a dual one."""
    from bench.dual import _c_timing

    xs = np.concatenate([f["x"] for f in FRESH])
    artifacts = {"fp32": str(built["fp32"]), "auto": f"{built['confidence']}@auto",
                 "fast": f"{built['confidence']}@fast", "full": f"{built['confidence']}@full"}
    c = _c_timing(tmp_path, artifacts, xs, threads=2, passes=2)
    sess = {k: ronn_runtime.InferenceSession(str(built["fp32" if k == "fp32" else "confidence"]), num_threads=2)
            for k in artifacts}
    for name, s in sess.items():
        route = None if name == "fp32" else name
        expected = [int(s.run(None, f, route=route)[0].argmax()) for f in FRESH]
        assert c[name]["argmax"].tolist() == expected, name
        assert len(c[name]["round_ms"]) == 2 and all(t > 0 for t in c[name]["round_ms"])
        assert c[name]["per_input_ms"].shape == (2 * len(FRESH),)
    params, _ = read_dual(built["confidence"])
    fast = sum(route_of(params, f["x"], sess["fast"].run(None, f, route="fast")[0]) == "fast" for f in FRESH)
    assert c["auto"]["counts"] == {"fast": 2 * fast, "full": 2 * (len(FRESH) - fast),
                                   "escalated": 2 * (len(FRESH) - fast)}
    assert c["fast"]["counts"]["fast"] == 2 * len(FRESH) and c["full"]["counts"]["full"] == 2 * len(FRESH)
    assert c["fp32"]["counts"] == {"fast": 0, "full": 0, "escalated": 0}


def test_fashion_mnist_task_data() -> None:
    """bench.dual's second task reads Debian's dataset-fashion-mnist: the router's calibration
    images are training images the model is not trained on."""
    from bench import dual

    if not (dual.FASHION_DIR / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip("apt-get install dataset-fashion-mnist")
    xtr, ytr, xte, yte, xcal = dual.load_fashion_mnist(train=500, test=300, calibration=200)
    assert xtr.shape == (500, 1, 28, 28) and xte.shape == (300, 1, 28, 28) and xcal.shape == (200, 1, 28, 28)
    assert xtr.dtype == np.float32 and 0.0 <= xtr.min() and xtr.max() <= 1.0
    assert set(np.unique(ytr)) <= set(range(10)) and len(np.unique(yte)) == 10
    seen = {x.tobytes() for x in xtr}
    assert not any(x.tobytes() in seen for x in xcal)
