"""Schedule rules: first-match selection, golden structure, numerics of the built kernels, and the
target's vector width (no AVX-512 in x86_64-avx2 code)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernels import CASES, TARGET, kernel, load_golden, run_kernel, tvm_target

HAS_AVX512 = "avx512f" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False


def test_registry_order_and_unknown_name() -> None:
    from ronn_aot.errors import RonnError
    from ronn_aot.schedules import get_rule, rules_for

    names = [r.name for r in rules_for("x86_64")]
    assert names[-1] == "cpu.fallback"
    assert {"cpu.conv2d_nchw", "cpu.depthwise_conv2d", "cpu.dense", "cpu.elementwise", "cpu.pooling",
            "cpu.reduction", "cpu.transpose"} <= set(names)
    assert names.index("cpu.transpose") < names.index("cpu.elementwise")
    assert names.index("cpu.winograd_input") < names.index("cpu.elementwise")
    assert names.index("cpu.winograd_output") < names.index("cpu.elementwise")
    assert rules_for("riscv64") == []
    with pytest.raises(RonnError, match="known rules: .*cpu.dense"):
        get_rule("cpu.nope")


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_match_picks_the_rule(case: str) -> None:
    from ronn_aot.stages.schedule import schedule_kernel
    from ronn_aot.targets import get_target

    _, rule = schedule_kernel(kernel(case), get_target(TARGET), tvm_target())
    assert rule == CASES[case][1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_structure_matches_golden(case: str) -> None:
    import tvm

    from ronn_aot.schedules import get_rule

    before, expected = load_golden(case)
    tvm.ir.assert_structural_equal(before.without_attr("global_symbol"),
                                   kernel(case).without_attr("global_symbol"), map_free_vars=True)
    target = tvm_target()
    with target:
        sch = get_rule(CASES[case][1]).rule.apply(before, target, False)
    # As printed: the block copies loop_partition makes (ragged rows) share their iterator
    # variables, where the parsed golden has one per block, which structural equality tells apart.
    assert sch.mod["main"].script() == expected.script()



@pytest.mark.parametrize("target_name", ["x86_64-avx2"] + (["x86_64-avx512"] if HAS_AVX512 else []))
@pytest.mark.parametrize("case", sorted(CASES))
def test_scheduled_kernel_matches_naive(case: str, target_name: str) -> None:
    from ronn_aot.schedules import get_rule

    func = kernel(case)
    target = tvm_target(target_name)
    with target:
        sch = get_rule(CASES[case][1]).rule.apply(func, target, False)
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.standard_normal([int(d) for d in p.ty.shape]), dtype=str(p.ty.dtype))
            for p in func.params]
    expected = run_kernel(func, target, [a.copy() for a in args])
    actual = run_kernel(sch.mod["main"], target, [a.copy() for a in args])
    # Float sums in another order: the error grows with the size of the sums (the streamed
    # case's 1728-term reductions of N(0, 1) products reach 50, and differ by 1e-4 there).
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def _disassembly(path: Path) -> str:
    return subprocess.run(["objdump", "-d", str(path)], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
def test_avx2_artifact_has_no_avx512(compile_model) -> None:
    from kernels import _conv_bias_relu

    art = compile_model(_conv_bias_relu(), target="x86_64-avx2")
    code = _disassembly(art.path)
    assert "ymm" in code, "expected AVX2 vector code"
    assert "zmm" not in code
    assert "cpu.conv2d_nchw" in art.schedule_report.rule_of.values()


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
def test_avx512_artifact_uses_zmm(compile_model) -> None:
    from kernels import _conv_bias_relu

    art = compile_model(_conv_bias_relu(), target="x86_64-avx512")
    assert "zmm" in _disassembly(art.path)


def test_report_names_the_rules(compile_model) -> None:
    from helpers import assert_close, onnxruntime_outputs, run_artifact
    from kernels import _dense

    from ronn_aot.tools.report import format_compile_report

    model = _dense()
    art = compile_model(model)
    text = format_compile_report(art)
    assert "cpu.dense" in text and "schedules:" in text
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 32)).astype(np.float32)}
    assert_close(run_artifact(art.path, feeds, threads=2), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)
