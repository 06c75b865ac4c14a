"""`ronn-aot tune` records MetaSchedule schedules that `compile` then applies (and says so)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import ronn_aot
import ronn_aot.tune as tune_mod
from graphs import make_model, w
from helpers import onnxruntime_outputs, run_artifact


def test_tune_then_compile_applies_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tune_mod, "SCHEDULES_DIR", tmp_path / "schedules")
    x = w(64, 64, seed=1, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(64, 64)})
    summary = tune_mod.tune(model, ronn_aot.CompileOptions(), trials=8)
    assert summary.kernels == 1 and summary.tuned_now == 1
    assert (tmp_path / "schedules" / "x86_64-avx2" / "database_tuning_record.json").stat().st_size > 0
    # Resuming does not tune again what already has its trials.
    assert tune_mod.tune(model, ronn_aot.CompileOptions(), trials=8).skipped == 1

    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
    assert list(art.schedule_report.rule_of.values()) == ["tuned"]
    np.testing.assert_allclose(run_artifact(art.path, {"x": x})[0], onnxruntime_outputs(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)


def test_without_records_rules_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tune_mod, "SCHEDULES_DIR", tmp_path / "empty")
    x = w(8, 16, seed=2, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(16, 4)})
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
    assert "tuned" not in art.schedule_report.rule_of.values()
