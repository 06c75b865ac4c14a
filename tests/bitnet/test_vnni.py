"""The AVX-512 VNNI BitNet kernels: weights bit-packed in VPDPBUSD's byte order, expanded in
registers; bit-exact against the numpy reference of the quantized arithmetic (the same exact
integer dot products as the popcount kernels), chosen automatically where the target has VNNI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ronn_aot
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import LayerSpec, pack_kernel, vnni_kernel
from ronn_aot.bitnet.schedule import design_space, scheduled, vnni_tile
from ronn_aot.errors import RonnError
from ronn_aot.artifact.inspect import inspect_artifact
from ronn_aot.targets import get_target
from helpers import cpu_has_vnni
from test_kernels import layer_case

TARGET = "x86_64-avx512"


needs_vnni = pytest.mark.skipif(not cpu_has_vnni(), reason="this CPU has no AVX-512 VNNI to run the kernels")
CONV = R.ConvGeometry(2, 5, 7, 6, 20, (3, 3), (2, 1), (1, 1, 1, 0))


def _build(func: Any) -> Any:
    import tvm

    return tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}),
                       target=get_target(TARGET).tvm_target(2))


def _run(func: Any, args: list[np.ndarray], outs: list[tuple[tuple[int, ...], str]]) -> list[np.ndarray]:
    import tvm

    lib = _build(func)
    out = [tvm.runtime.tensor(np.zeros(s, d)) for s, d in outs]
    lib["main"](*[tvm.runtime.tensor(a) for a in args], *out)
    return [o.numpy() for o in out]


def _layer(spec: LayerSpec, x: np.ndarray, packed: Q.PackedWeights, mul: Any = None) -> tuple[list[np.ndarray], np.ndarray]:
    acts = _run(scheduled(pack_kernel(spec)), [x], spec.act_outputs)
    mul = mul if mul is not None else scheduled(vnni_kernel(spec))
    return acts, _run(mul, acts + [packed.planes, packed.scale, packed.wsum], [(spec.out_shape, "float32")])[0]


def _case(layer: str, weights: str, seed: int, bits: int = 8) -> tuple[LayerSpec, np.ndarray, np.ndarray, Q.PackedWeights]:
    return layer_case(layer, weights, bits, seed, dot="vnni", conv=CONV)


@pytest.mark.parametrize("weights", ["ternary", "binary"])
@pytest.mark.parametrize("n,k", [(20, 100), (16, 64), (33, 7)])
def test_vnni_packing_round_trips(weights: str, n: int, k: int) -> None:
    w = np.random.default_rng(n + k).standard_normal((n, k)).astype(np.float32)
    p = Q.pack_weights_vnni(w, weights)
    planes = 2 if weights == "ternary" else 1
    assert p.planes.shape == (-(-n // 16), -(-k // 4), planes) and p.planes.dtype == np.uint64
    np.testing.assert_array_equal(Q.unpack_planes(p.planes, n, k), p.values)
    np.testing.assert_array_equal(p.values, Q.pack_weights(w, weights).values)  # same quantization
    # wsum: the expanded weights over the padded reduction (a binary zero bit is -1)
    padded = -(-k // 4) * 4
    expected = p.values.sum(axis=1) - (padded - k if weights == "binary" else 0)
    np.testing.assert_array_equal(p.wsum[:n], expected)


@needs_vnni
@pytest.mark.parametrize("weights,bits", [("ternary", 8), ("ternary", 3), ("binary", 8)])
@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_vnni_kernels_bit_exact(weights: str, bits: int, layer: str) -> None:
    spec, x, v, packed = _case(layer, weights, bits, bits)
    acts, y = _layer(spec, x, packed)
    stats = R.activation_stats(v, bits)
    codes = R.quantize_activations(v, bits, stats)
    quads = np.zeros((spec.m, spec.k_pad), np.uint8)
    quads[:, :spec.k] = codes + 128
    quads[:, spec.k:] = 128
    np.testing.assert_array_equal(acts[0], quads.view("<u4"))
    np.testing.assert_array_equal(acts[1], stats.vector(bits))
    expected = R.dense(v, packed, bits) if spec.conv is None else R.conv2d(x, packed, spec.conv, bits)
    np.testing.assert_array_equal(y, expected)


def _reduction_loop(asm: str) -> list[str]:
    """The instructions of the innermost assembly loop (a backward branch) that holds VPDPBUSD."""
    lines = [ln.strip() for ln in asm.splitlines()]
    labels = {ln[:-1]: i for i, ln in enumerate(lines) if re.fullmatch(r"\.?[\w.]+:", ln)}
    best: list[str] = []
    for i, ln in enumerate(lines):
        m = re.match(r"j\w+\s+(\.?[\w.]+)$", ln)
        if m and m.group(1) in labels and labels[m.group(1)] < i:
            body = lines[labels[m.group(1)]:i + 1]
            if any(b.startswith("vpdpbusd") for b in body) and (not best or len(body) < len(best)):
                best = body
    return best


def test_vnni_schedule_keeps_the_tile_in_registers() -> None:
    """VPDPBUSD on a parallel register tile: in LLVM's output the reduction loop expands each
    weight word once (mask loads, two masked byte moves for the two ternary planes) and stores
    nothing (the accumulators stay in registers, which needs the tile under the 1 KiB TVM keeps
    on the stack)."""
    spec = LayerSpec(64, 512, 256, "ternary", 8, 64, dot="vnni")
    func = scheduled(vnni_kernel(spec))
    assert "llvm.x86.avx512.vpdpbusd.512" in func.script() and "T.parallel" in func.script()
    mr, nr = vnni_tile(spec.m, spec.n_pad // 16, 2)
    loop = _reduction_loop(_build(func).mod.inspect_source("asm"))
    ops = [ln.split()[0] for ln in loop if ln and not ln.endswith(":")]
    assert ops.count("vpdpbusd") == mr * nr
    # each plane of each weight word expanded once per step
    assert sum(ln.startswith("vmovdqu8") and "{%k" in ln for ln in loop) == 2 * nr, loop
    assert ops.count("vpmovm2b") == 0
    stores = [ln for ln in loop if re.match(r"vmov\w+\s+%zmm\d+,\s*-?\w*\(", ln)]
    assert not stores, stores


@pytest.mark.parametrize("m,groups,cores", [(1, 256, 2), (64, 16, 2), (60, 2, 2), (784, 4, 2), (7, 1, 2), (1, 1, 2)])
def test_vnni_tile_rule(m: int, groups: int, cores: int) -> None:
    mr, nr = vnni_tile(m, groups, cores)
    assert m % mr == 0 and groups % nr == 0
    assert mr * nr <= 15  # accumulators stay under 1 KiB (registers)
    if m * groups >= cores:
        assert (m // mr) * (groups // nr) >= cores  # enough tiles for the cores


@pytest.mark.parametrize("weights", ["ternary", "binary"])
def test_vnni_kernel_has_a_flop_estimate(weights: str) -> None:
    """MetaSchedule estimates every tuned workload's FLOPs first and aborts the tuning run on an
    expression it cannot count (it has no case for Broadcast)."""
    import tvm
    from tvm import s_tir

    func = vnni_kernel(LayerSpec(64, 256, 64, weights, 8, 64, dot="vnni"))
    assert s_tir.analysis.estimate_tir_flops(tvm.IRModule({"main": func})) > 0


@needs_vnni
def test_vnni_design_space_points_are_bit_exact() -> None:
    """Tuning samples the register tile and unrolling; every point computes the same bits."""
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    import ronn_aot.stages.records as records

    spec, x, v, packed = _case("dense", "ternary", 5)
    mod = records.workload_of(vnni_kernel(spec))
    target = get_target(TARGET).tvm_target(2)
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=ms.space_generator.ScheduleFn(design_space),
                         task_name="vnni").clone()
    space = ctx.space_generator.generate_design_space(mod)[0]
    expected = R.dense(v, packed, 8)
    for seed in range(3):
        sch = s_tir.Schedule(mod, seed=seed + 1)
        space.trace.apply_to_schedule(sch, remove_postproc=True, decision_provider=lambda *_: None)
        sch.enter_postproc()
        assert all(p.apply(sch) for p in ctx.space_generator.postprocs)
        _, y = _layer(spec, x, packed, sch.mod["main"])
        np.testing.assert_array_equal(y, expected)


def _small_cnn() -> Any:
    from test_compile import small_cnn

    return small_cnn()


@needs_vnni
@pytest.mark.parametrize("kind,bits", [("ternary", 8), ("binary", 4)])
def test_compile_picks_vnni_on_avx512_and_matches_popcount(kind: str, bits: int, tmp_path: Path) -> None:
    from test_compile import reference

    model, w = _small_cnn()
    x = np.random.default_rng(3).standard_normal((1, 3, 10, 10)).astype(np.float32)
    outs = {}
    for kernel in ("auto", "popcount"):
        opts = ronn_aot.CompileOptions().with_target(TARGET).with_output(tmp_path / f"{kernel}.so")
        art = ronn_aot.compile(model, opts.with_bitnet(kind, bits, "all", kernel=kernel))
        meta = inspect_artifact(art.path).to_dict()["bitnet"]
        assert meta["kernel"] == ("vnni" if kernel == "auto" else "popcount")
        rules = art.schedule_report.rule_of
        assert all(rule == "bitnet" for k, rule in rules.items() if k.startswith("bitnet_")), rules
        assert not art.schedule_report.failures
        outs[kernel] = art.session(num_threads=2).run(None, {"x": x})[0]
    np.testing.assert_array_equal(outs["auto"], reference(x, w, kind, bits, [0, 1, 2, 3]))
    np.testing.assert_array_equal(outs["auto"], outs["popcount"])


def test_inspect_names_the_kernel_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    from ronn_aot.cli import main as cli_main

    model, _ = _small_cnn()
    onnx.save(model, tmp_path / "cnn.onnx")
    for kernel in ("vnni", "popcount"):
        out = tmp_path / f"{kernel}.so"
        assert cli_main(["compile", str(tmp_path / "cnn.onnx"), "--target", TARGET, "--bitnet", "ternary",
                         "--bitnet-kernel", kernel, "-o", str(out)]) == 0
        assert cli_main(["inspect", str(out)]) == 0
        assert f"x smaller); {kernel} kernels" in capsys.readouterr().out


def test_cli_from_another_directory_schedules_with_the_bitnet_rule(tmp_path: Path) -> None:
    """As a user runs it: the installed `ronn-aot` in a directory outside the checkout (where the
    repo's top-level `schedules/` is not importable; the rules are `ronn_aot.schedules`). A rule
    that fails falls through to the generic ones, which cannot schedule these kernels."""
    import subprocess
    import sys

    import onnx

    model, _ = _small_cnn()
    onnx.save(model, tmp_path / "cnn.onnx")
    cli = Path(sys.executable).parent / "ronn-aot"
    out = subprocess.run([str(cli), "compile", "cnn.onnx", "--target", TARGET, "--bitnet", "ternary",
                          "--bitnet-layers", "all", "--report", "-o", "cnn.so"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "bitnet 8" in out, out  # all 4 layers' pack + vnni kernels by the bitnet rule
    assert "failed" not in out.lower() and "error" not in out.lower(), out


def test_vnni_needs_a_vnni_target_and_int_activations(tmp_path: Path) -> None:
    model, _ = _small_cnn()
    opts = ronn_aot.CompileOptions().with_target("x86_64-avx2").with_output(tmp_path / "a.so")
    with pytest.raises(RonnError, match="needs a target with AVX-512 VNNI"):
        ronn_aot.compile(model, opts.with_bitnet("ternary", 8, kernel="vnni"))
    with pytest.raises(RonnError, match="sign \\(1-bit\\) activations"):
        opts.with_bitnet("binary", 1, kernel="vnni")
    with pytest.raises(RonnError, match="bitnet kernel must be one of"):
        opts.with_bitnet("binary", 8, kernel="avx")
    # auto: popcount on a target without VNNI and for sign activations anywhere
    art = ronn_aot.compile(model, opts.with_bitnet("ternary", 8))
    assert inspect_artifact(art.path).to_dict()["bitnet"]["kernel"] == "popcount"
    sign = ronn_aot.compile(model, ronn_aot.CompileOptions().with_target(TARGET).with_output(tmp_path / "s.so")
                            .with_bitnet("binary", 1))
    assert inspect_artifact(sign.path).to_dict()["bitnet"]["kernel"] == "popcount"
