"""The pass registry: levels, phases, targets, errors, and a user's own pass (the example of
ronn_aot/passes/__init__.py's docstring) showing up in the compile report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphs import residual_block
from helpers import assert_close, onnxruntime_outputs, run_artifact
from ronn_aot import passes
from ronn_aot.errors import RonnError


def names(level: int, target: str = "x86_64-avx2", phase: str = "graph") -> list[str]:
    return [p.name for p in passes.passes_for(level, [target, target.split("-")[0]], phase)]


def test_levels_are_cumulative() -> None:
    assert names(0) == [] and names(0, phase="fuse") == []
    for lo, hi in ((1, 2), (2, 3)):
        assert set(names(lo)) < set(names(hi))
    assert {"fold_constant", "remove_noops", "eliminate_common_subexpr", "dead_code_elimination"} <= set(names(1))
    assert "fold_batch_norm" in set(names(2)) - set(names(1))
    assert {"fuse_ops", "fuse_tir"} <= set(names(2, phase="fuse")) - set(names(1, phase="fuse"))
    assert "convert_layout" in set(names(3)) - set(names(2))


def test_passes_come_in_order_and_are_described() -> None:
    graph = passes.passes_for(3, "x86_64-avx2", "graph")
    assert [p.order for p in graph] == sorted(p.order for p in graph)
    assert all(p.description for p in passes.registered_passes()), "every pass needs a docstring"


def test_target_filter_matches_name_or_architecture() -> None:
    @passes.register_pass("only_on_arm", 1, targets=("aarch64",))
    def only_on_arm() -> Any:
        """Test pass."""
        raise AssertionError("never built here")

    try:
        assert "only_on_arm" in names(1, "aarch64")
        assert "only_on_arm" not in names(1, "x86_64-avx2")
    finally:
        passes.unregister_pass("only_on_arm")


def test_registration_errors_name_the_problem() -> None:
    with pytest.raises(RonnError, match="already registered"):
        passes.register_pass("fold_constant", 1)(lambda: None)
    with pytest.raises(RonnError, match="phases: graph, fuse"):
        passes.register_pass("x", 1, phase="tir")
    with pytest.raises(RonnError, match="level must be"):
        passes.register_pass("x", 4)


def test_custom_pass_runs_and_is_reported(compile_model: Any) -> None:
    """The documented example: a user's pass registered from Python runs at its level, every
    round, and is listed in `--report`; outputs still match onnxruntime."""
    from tvm import relax

    from ronn_aot.tools.report import format_compile_report

    calls = []

    @passes.register_pass("my_fast_math", level=3, order=60)
    def my_fast_math() -> Any:
        """Approximate exp/tanh/erf with fast polynomials."""
        calls.append(1)
        return relax.transform.FastMathTransform()

    try:
        model, feeds = residual_block()
        at_o2 = compile_model(model, opt_level=2)
        assert not at_o2.lower_report.ran("my_fast_math")
        art = compile_model(model, opt_level=3)
    finally:
        passes.unregister_pass("my_fast_math")
    runs = art.lower_report.ran("my_fast_math")
    assert calls and len(runs) == art.lower_report.graph_rounds >= 1
    assert "my_fast_math" in format_compile_report(art)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)


def test_cli_report_and_inspect_show_passes_and_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    from ronn_aot.cli import main

    model, _ = residual_block()
    onnx.save(model, str(tmp_path / "m.onnx"))
    out = tmp_path / "m.so"
    dump = tmp_path / "ir"
    assert main(["compile", str(tmp_path / "m.onnx"), "-O1", "-o", str(out), "--report", "--dump-ir", str(dump)]) == 0
    report = capsys.readouterr().out
    for needle in ("fold_constant", "round", "legalize_ops", "arena", "graph passes ran"):
        assert needle in report
    assert any(p.name.endswith("_r1.py") for p in dump.iterdir())
    assert main(["inspect", str(out)]) == 0
    assert "-O1" in capsys.readouterr().out


def test_ill_formed_ir_is_caught_after_the_pass_that_made_it(compile_model: Any) -> None:
    from tvm import relax

    @passes.register_pass("breaks_ir", 1, order=1)
    def breaks_ir() -> Any:
        """Returns `main` with its result replaced by a variable nothing defines."""
        def transform(func: Any, _mod: Any, _ctx: Any) -> Any:
            undefined = relax.Var("undefined", func.ret_ty)
            return relax.Function(func.params, relax.SeqExpr([], undefined), func.ret_ty, func.is_pure,
                                  func.attrs)

        return relax.transform.function_pass(transform, opt_level=0, name="breaks_ir")

    try:
        with pytest.raises(RonnError, match="pass 'breaks_ir' .*ill-formed IR"):
            compile_model(residual_block()[0], opt_level=1)
    finally:
        passes.unregister_pass("breaks_ir")
