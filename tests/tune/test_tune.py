"""`ronn-aot tune` records MetaSchedule schedules that `compile` then applies (and says so)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import helper

import ronn_aot
import ronn_aot.stages.records as records_mod
import ronn_aot.tools.tune as tune_mod
import tvm_ffi

from ronn_aot.stages.records import beats, record_seconds
from ronn_aot.tools.baselines import record_is_rule, rule_workload
from graphs import make_model, w
from helpers import onnxruntime_outputs, run_artifact


def test_tune_then_compile_applies_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records_mod, "SCHEDULES_DIR", tmp_path / "schedules")
    x = w(64, 64, seed=1, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(64, 64)})
    prune = tune_mod.prune_database
    monkeypatch.setattr(tune_mod, "prune_database", lambda target: None)  # pruned below, after a look
    summary = tune_mod.tune(model, ronn_aot.CompileOptions(), trials=8)
    assert summary.kernels == 1 and summary.tuned_now == 1
    assert (tmp_path / "schedules" / "x86_64-avx2" / "database_tuning_record.json").stat().st_size > 0
    # Resuming does not tune again what already has its trials, but re-times the rule and the best
    # record: the baselines below are the resumed run's, so its summary is the one to compare.
    tuned = summary.tuned
    summary = tune_mod.tune(model, ronn_aot.CompileOptions(), trials=8)
    assert summary.skipped == 1

    # The tune measured the rule schedule of the kernel beside the records, and after the search
    # the rule and the best record back to back: the stored rule time is on the scale of the
    # record's database time, so that comparing the two is the paired comparison ...
    db_dir = tmp_path / "schedules" / "x86_64-avx2"
    baselines = json.loads((db_dir / "rule_baselines.json").read_text())
    (entry,) = baselines.values()
    database = records_mod.open_database(tune_mod.get_target("x86_64-avx2"))
    tvm_target = tune_mod.get_target("x86_64-avx2").tvm_target(2)
    records = database.get_all_tuning_records()
    func = records[0].workload.mod["main"]
    # Looking a record up replays it on a copy: the kernel itself is not rescheduled in place
    # (TVM edits a function it owns alone in place, and the compile applies the rule to the same
    # kernel when a record loses to it).
    before = tvm_ffi.structural_hash(func)
    assert records_mod.apply_records(func, tvm_target, database) is not None
    assert tvm_ffi.structural_hash(func) == before
    # The search started from the rule's own schedule: one record is exactly the rule's (weights
    # packed as the rule packs them), committed with the rule's measured time.
    rule = rule_workload(func, [], "x86_64", tvm_target)["main"]
    replayed = [_replay(rec, func) for rec in records]
    assert any(tvm_ffi.structural_equal(r, rule) for r in replayed)
    assert sum(len(r.params[1].shape) == 3 for r in replayed) == len(records)  # W packed [N/NR, K, NR]
    if record_is_rule(func, [], "x86_64", tvm_target, database):
        # Nothing beat the rule: its seed time stays the baseline, so compile keeps the rule.
        assert "paired" not in entry and summary.beat_rule == []
        assert entry["seconds"] == pytest.approx(record_seconds(func, tvm_target, database))
    else:
        pair = entry["paired"]
        assert 0 < entry["seconds"] < 1 and 0 < pair["rule"] < 1 and 0 < pair["record"] < 1
        in_database = record_seconds(func, tvm_target, database)
        assert entry["seconds"] == pytest.approx(pair["rule"] * in_database / pair["record"])
        if "rejected" in entry:
            # It won its pair but not in the model, or a later run (the resume above) could not
            # time the pair again (a runner timeout on a loaded machine): both timing-dependent.
            # Compile then treats the rule as unbeatable (records.load_baselines).
            if entry["rejected"].startswith("model with the"):
                assert beats(pair["record"], pair["rule"])
            else:
                assert entry["rejected"] == "its rule and best record could not be timed back to back after the search"
        else:
            assert summary.beat_rule == (tuned if beats(pair["record"], pair["rule"]) else [])

    # Pruning keeps the best record of each kernel, and the trial count: a rerun still resumes
    fastest = min(sum(float(t) for t in r.run_secs) / len(r.run_secs) for r in records if r.run_secs)
    prune(tune_mod.get_target("x86_64-avx2"))
    database = records_mod.open_database(tune_mod.get_target("x86_64-avx2"))
    (kept,) = database.get_all_tuning_records()
    assert sum(float(t) for t in kept.run_secs) / len(kept.run_secs) == pytest.approx(fastest)
    # (or the trials planned, where the search ran out of candidates before: its space is spent)
    (key, count), = json.loads((db_dir / "trials.json").read_text()).items()
    assert key == next(iter(baselines)) and count >= len(records)
    assert tune_mod.tune(model, ronn_aot.CompileOptions(), trials=8).skipped == 1

    # ... and compile applies the record only where it measured faster than the rule.
    def compile_with_baseline(seconds: float) -> Any:
        key = next(iter(baselines))
        (db_dir / "rule_baselines.json").write_text(json.dumps({key: {"kernel": "k", "seconds": seconds}}))
        return ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))

    assert list(compile_with_baseline(1e-12).schedule_report.rule_of.values()) == ["cpu.dense"]
    art = compile_with_baseline(1e3)
    assert list(art.schedule_report.rule_of.values()) == ["tuned"]
    np.testing.assert_allclose(run_artifact(art.path, {"x": x})[0], onnxruntime_outputs(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)


def _replay(record: Any, func: Any) -> Any:
    """The kernel as a tuning record schedules it (without the constant-weight annotation)."""
    from tvm import s_tir

    from ronn_aot.stages.schedule import scheduled_func

    sch = s_tir.Schedule(records_mod.workload_of(func))
    record.trace.apply_to_schedule(sch, remove_postproc=True)
    return scheduled_func(func, sch)[0].with_attr("global_symbol", "main")


def test_without_records_rules_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records_mod, "SCHEDULES_DIR", tmp_path / "empty")
    x = w(8, 16, seed=2, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(16, 4)})
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "m.so"))
    assert "tuned" not in art.schedule_report.rule_of.values()


def test_top_kernels_first_within_the_time_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`top` tunes the kernels with the most rule time per inference; `minutes` ends the search after
    the batch being measured when the budget runs out, its records saved."""
    monkeypatch.setattr(records_mod, "SCHEDULES_DIR", tmp_path / "schedules")
    # 48 rows: AVX2's 6-row register tile divides them, so the row tiles are sampled too (ragged
    # rows keep MR fixed, a space too small for a first batch of 8 distinct candidates).
    x = w(48, 256, seed=3, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["y"])]
    model = make_model(nodes, {"x": x}, ["y"], {"W1": w(256, 256), "W2": w(256, 4, seed=1)})
    real_draw = tune_mod._Progress.draw

    def budget_runs_out_after_first_batch(self: Any) -> None:
        real_draw(self)
        if self.done:
            self.deadline = 0.0

    monkeypatch.setattr(tune_mod._Progress, "draw", budget_runs_out_after_first_batch)
    summary = tune_mod.tune(model, ronn_aot.CompileOptions(), trials=16, top=1, minutes=60, trials_per_iter=8)

    baselines = json.loads((tmp_path / "schedules" / "x86_64-avx2" / "rule_baselines.json").read_text())
    seconds = {v["kernel"]: v["seconds"] for v in baselines.values()}
    assert summary.kernels == 2 and len(seconds) == 2
    heavier, lighter = sorted(seconds, key=seconds.__getitem__, reverse=True)
    assert summary.tuned == [heavier] and summary.left_on_rules == [lighter]
    assert summary.trials == 16 and summary.measured == 8
    database = records_mod.open_database(tune_mod.get_target("x86_64-avx2"))
    # The rule's schedule, then one batch: pruned to the best record, the count kept.
    assert len(database.get_all_tuning_records()) == 1
    assert sum(json.loads((tmp_path / "schedules" / "x86_64-avx2" / "trials.json").read_text()).values()) == 1 + 8


@pytest.mark.parametrize("flag, value", [("--top", "0"), ("--minutes", "-1"), ("--top", "x")])
def test_cli_refuses_budgets_not_above_zero(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ronn_aot.cli import build_parser

    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["tune", "m.onnx", flag, value])
    assert e.value.code == 2 and flag in capsys.readouterr().err
    args = build_parser().parse_args(["tune", "m.onnx", "--top", "3", "--minutes", "0.5"])
    assert (args.top, args.minutes) == (3, 0.5)


def test_a_record_must_beat_its_rule_by_the_margin() -> None:
    """Timed alone, kernels gain a few percent the model does not see: a record replaces its rule
    only when it measured at least MIN_GAIN faster."""
    from ronn_aot.stages.records import MIN_GAIN

    assert beats(1.0 - 2 * MIN_GAIN, 1.0)
    assert not beats(1.0 - MIN_GAIN / 2, 1.0) and not beats(1.0, 1.0) and not beats(1.1, 1.0)


@pytest.mark.parametrize("records_ms, kept", [(0.9, True), (0.995, False), (1.2, False)])
def test_records_must_make_the_model_faster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            records_ms: float, kept: bool) -> None:
    """After the pairs, the model is compiled with the winning records and with the rules only
    and timed: records that do not make it MODEL_MIN_GAIN faster are rejected, and compile then
    keeps the rules for those kernels (a rejected kernel's rule time loads as 0)."""
    import ronn_aot.tools.baselines as baselines_mod
    import ronn_aot.tools.timing as timing_mod

    monkeypatch.setattr(records_mod, "SCHEDULES_DIR", tmp_path / "schedules")
    target = tune_mod.get_target("x86_64-avx2")
    db_dir = records_mod.database_dir(target)
    baselines_mod.save_baselines(db_dir, {"k1": ("fused_matmul", 1e-3)})
    monkeypatch.setattr(records_mod, "workload_key", lambda func: "k1")
    compiled: list[bool] = []
    real_compile = ronn_aot.compile

    def spy(model: Any, options: Any) -> Any:
        compiled.append(options.use_records)
        return real_compile(model, options)

    monkeypatch.setattr(ronn_aot, "compile", spy)
    # Times as measured: the rules 1.0 ms, the records records_ms.
    def timed(engines: Any, feeds: Any, threads: int, plan: Any, outputs: bool = False) -> Any:
        assert {e.kind for e in engines} == {"ronn"}  # two of our artifacts, each in its own process
        ms = {"records": records_ms, "rules": 1.0}
        return {e.name: timing_mod.Timing(e.name, [[ms[e.name]] * 3] * plan.rounds) for e in engines}, {}

    monkeypatch.setattr(timing_mod, "time_engines", timed)
    x = w(8, 16, seed=2, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(16, 4)})
    message, stays = tune_mod._confirm_in_model(model, ronn_aot.CompileOptions().with_target("x86_64-avx2"), target,
                                                [tune_mod.Kernel("fused_matmul", None, 1)])
    assert sorted(compiled) == [False, True]  # one artifact with records, one with the rules only
    assert stays is kept and ("records kept" in message) is kept
    entry = json.loads((db_dir / "rule_baselines.json").read_text())["k1"]
    assert ("rejected" in entry) is not kept
    assert records_mod.load_baselines(db_dir)["k1"] == (1e-3 if kept else 0.0)
    assert not beats(1e-9, 0.0)  # no record beats a rejected kernel's rule


@pytest.mark.parametrize("measured_before", [True, False])
def test_a_record_that_cannot_be_paired_is_not_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       measured_before: bool) -> None:
    """A searched kernel whose rule and record cannot be timed back to back after the search is
    left out of the model check, so its record must not be applied on the strength of the rule
    time measured before the search: it is rejected, and compile keeps the rule."""
    import ronn_aot.tools.baselines as baselines_mod

    monkeypatch.setattr(records_mod, "SCHEDULES_DIR", tmp_path / "schedules")
    target = tune_mod.get_target("x86_64-avx2")
    db_dir = records_mod.database_dir(target)
    if measured_before:
        baselines_mod.save_baselines(db_dir, {"k1": ("fused_conv", 2e-3)})
    monkeypatch.setattr(records_mod, "workload_key", lambda func: "k1")
    monkeypatch.setattr(baselines_mod, "record_is_rule", lambda *a: False)
    monkeypatch.setattr(records_mod, "record_seconds", lambda *a: 1e-3)  # looks 2x faster than the rule
    monkeypatch.setattr(baselines_mod, "measure_pairs", lambda funcs, *a: [None] * len(funcs))
    won = tune_mod._pair_records([tune_mod.Kernel("fused_conv", None, 1)], {}, target, None, None)
    assert won == []
    entry = json.loads((db_dir / "rule_baselines.json").read_text())["k1"]
    assert entry["rejected"].startswith("its rule and best record could not be timed")
    assert entry["seconds"] == (2e-3 if measured_before else 0.0)  # the ranking keeps its rule time
    assert records_mod.load_baselines(db_dir)["k1"] == 0.0  # no record beats it


def test_compile_without_records_never_opens_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the database was opened")

    monkeypatch.setattr(tune_mod, "open_database", refuse)
    x = w(8, 16, seed=2, scale=1.0)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(16, 4)})
    art = ronn_aot.compile(model, ronn_aot.CompileOptions().with_records(False).with_output(tmp_path / "m.so"))
    assert "tuned" not in art.schedule_report.rule_of.values()
