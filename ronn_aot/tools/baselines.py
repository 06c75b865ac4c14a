"""Rule baselines: a tuning record is applied only where it beat the rule-based schedule.

MetaSchedule's best record for a kernel is the best of *its* search; the hand-written rules in
`schedules/` (register tiles, weights pre-packed at compile time) are often faster still, and a
shipped database must never make a compile slower than no database. So `ronn-aot tune` also
measures each tuned kernel's rule schedule, with the same builder and runner as the trials (the
weights packed the way the compile packs them), and stores the time beside the records in
`schedules/<target>/rule_baselines.json`. `compile` applies a record only when its measured time
is below the rule's; `--report` then says `tuned`, otherwise the rule's name.

On a shared machine a time measured at the start of a run and one measured half an hour later can
differ 3x from the other jobs alone (seen here: a rule timed under load lost to records that were
slower end to end). So after the search, tune times each tuned kernel's rule and best record again,
back to back in one runner session (`measure_pairs`), and stores the rule's time on the scale of
the record's database time: rule x (record's database time / record's paired time). Compile's
comparison of the record's database time with it is then the paired comparison; the raw pair is
kept beside it (`paired`).

Paired kernel times still miss what a kernel costs inside the model (caches the neighbours filled,
weights from L3): two EfficientNet records 8-12% faster in their pairs made the model 3% slower.
So tune finally compiles the model with and without the records that won and times both; when the
records do not make the model faster (MODEL_MIN_GAIN), they are marked `rejected` here and compile
keeps the rules for those kernels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..stages.records import apply_records, baselines_path, workload_of
from ..targets import Target

def reject(database_dir: Path, reasons: dict[str, str]) -> None:
    """Mark the records of these kernels (workload key -> why) as not to be applied."""
    path = baselines_path(database_dir)
    data = json.loads(path.read_text()) if path.is_file() else {}
    for key, why in reasons.items():
        if key in data:
            data[key]["rejected"] = why
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def save_baselines(database_dir: Path, measured: dict[str, tuple[str, float]],
                   paired: dict[str, tuple[float, float]] | None = None) -> None:
    """Merge `measured` (workload key -> (kernel name, seconds)) into the file, with the (rule,
    record) times measured back to back that `seconds` was scaled from, where given."""
    path = baselines_path(database_dir)
    data = json.loads(path.read_text()) if path.is_file() else {}
    for key, (name, seconds) in measured.items():
        data[key] = {"kernel": name, "seconds": seconds}
        if paired is not None and key in paired:
            data[key]["paired"] = {"rule": paired[key][0], "record": paired[key][1]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# ... and the records that won their pairs are kept only when they make the model at least this
# much faster, end to end (tune._confirm_in_model).
MODEL_MIN_GAIN = 0.01


def rule_workload(func: Any, constant: list[int], arch: str, tvm_target: Any) -> Any | None:
    """The kernel scheduled by its first matching rule (weights packed as the compile packs them),
    as a workload module; None where no rule schedules it."""
    from ..stages.prepack import with_constant_params
    from ..stages.schedule import _first_rule

    found = _first_rule(with_constant_params(func, constant), arch, tvm_target, None, "baseline")
    return None if found is None else workload_of(found[0])


def measure_rules(funcs: list[tuple[Any, list[int]]], arch: str, tvm_target: Any,
                  target: Target | None = None) -> list[float | None]:
    """Seconds per call of each (func, constant parameters) scheduled by its first matching rule;
    None where a kernel cannot be scheduled, built or run. `target`: measured as its trials are
    (under qemu for a qemu target: tools/qemu_runner.py)."""
    return measure([rule_workload(f, c, arch, tvm_target) for f, c in funcs], tvm_target, target=target)


def record_is_rule(func: Any, constant: list[int], arch: str, tvm_target: Any, database: Any) -> bool:
    """Whether the best record of `func` schedules it exactly as its rule does (the rule's own
    schedule, which tune seeds the search with, is still the best one found)."""
    import tvm_ffi

    from ..stages.prepack import with_constant_params
    from ..stages.schedule import scheduled_func

    annotated = with_constant_params(func, constant)
    tuned = apply_records(annotated, tvm_target, database)
    rule = rule_workload(func, constant, arch, tvm_target)
    if tuned is None or rule is None:
        return False
    scheduled = scheduled_func(annotated, tuned)[0].with_attr("global_symbol", "main")
    return bool(tvm_ffi.structural_equal(scheduled, rule["main"]))


def measure_pairs(funcs: list[tuple[Any, list[int]]], arch: str, tvm_target: Any,
                  database: Any, target: Target | None = None) -> list[tuple[float, float] | None]:
    """(rule, best record) seconds per call of each (func, constant parameters), the two measured
    one right after the other; None where either cannot be built or run."""
    from ..stages.prepack import with_constant_params

    mods: list[Any | None] = []
    for func, constant in funcs:
        tuned = apply_records(with_constant_params(func, constant), tvm_target, database)
        mods += [rule_workload(func, constant, arch, tvm_target), None if tuned is None else tuned.mod]
    secs = measure(mods, tvm_target, target=target)  # the runner measures in submission order: rule, record, ...
    return [None if r is None or t is None else (r, t) for r, t in zip(secs[0::2], secs[1::2])]


def measure(mods: list[Any | None], tvm_target: Any, number: int = 10, repeat: int = 3,
            target: Target | None = None) -> list[float | None]:
    """Seconds per call of each scheduled workload module, measured like MetaSchedule trials, all in
    one builder and one runner session (each worker pool imports TVM once); None where a module is
    None or cannot be built or run. For a qemu target (`target`), the trials' cross builder and
    instruction-counting runner (tools/qemu_runner.py: instructions as nominal seconds)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.builder import BuilderInput, LocalBuilder
    from tvm.s_tir.meta_schedule.runner import EvaluatorConfig, LocalRunner, RunnerInput

    from .qemu_runner import cross_builder, qemu_runner, uses_qemu

    todo = [i for i, m in enumerate(mods) if m is not None]
    out: list[float | None] = [None] * len(mods)
    if not todo:
        return out
    if target is not None and uses_qemu(target):
        builder, runner = cross_builder(target, 2), qemu_runner(target)
    else:
        use_threads_in_runner(int(tvm_target.attrs.get("num-cores") or 2))
        builder = LocalBuilder(max_workers=2, timeout_sec=300)
        runner = LocalRunner(timeout_sec=120, evaluator_config=EvaluatorConfig(number=number, repeat=repeat,
                                                                               min_repeat_ms=50))
    builds = builder.build([BuilderInput(mods[i], tvm_target) for i in todo])
    ok = [(i, b) for i, b in zip(todo, builds) if not b.error_msg]
    futures = runner.run([RunnerInput(b.artifact_path, "cpu", ArgInfo.from_prim_func(mods[i]["main"]))
                          for i, b in ok])
    for (i, _), fut in zip(ok, futures):
        result = fut.result()
        if not result.error_msg and result.run_secs:
            secs = [float(x) for x in result.run_secs]
            out[i] = sum(secs) / len(secs)
    if target is not None and uses_qemu(target):  # LocalRunner removes its artifacts, QemuRunner does not
        import shutil
        from pathlib import Path

        for _, b in ok:
            shutil.rmtree(Path(b.artifact_path).parent, ignore_errors=True)
    return out


def use_threads_in_runner(num_cores: int) -> None:
    """Make MetaSchedule's runner workers (started after this) run kernels on `num_cores` threads.
    Without TVM_NUM_THREADS, TVM's thread pool takes half the logical CPUs (it assumes
    hyper-threading): one thread on this 2-CPU machine, so every trial was timed single-threaded,
    and records whose parallel loop had too few tasks to share (one thread's speed at two threads:
    EfficientNet-Lite0's 14x14 convolutions, 0.13 ms against the rule's 0.07) won their pairs and
    then lost in the model."""
    import os

    os.environ["TVM_NUM_THREADS"] = str(num_cores)
