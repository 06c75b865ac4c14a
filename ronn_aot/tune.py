"""`ronn-aot tune`: MetaSchedule (XGBoost cost model) over a model's kernels, recorded in a JSON
database under schedules/<target>/ that ships with the package and that `compile` applies.

Tuning is resumable: measured records are appended to the database as they come, and a rerun
skips kernels that already have their share of trials.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .options import CompileOptions
from .targets import Target, get_target

SCHEDULES_DIR = Path(__file__).resolve().parent.parent / "schedules"


def database_dir(target: Target) -> Path:
    return SCHEDULES_DIR / target.name


def open_database(target: Target, create: bool = False) -> Any | None:
    """The target's record database, or None when it has none (and `create` is False)."""
    from tvm.s_tir import meta_schedule as ms

    d = database_dir(target)
    workload, records = d / "database_workload.json", d / "database_tuning_record.json"
    if not create and not records.is_file():
        return None
    d.mkdir(parents=True, exist_ok=True)
    return ms.database.JSONDatabase(str(workload), str(records), allow_missing=True,
                                    module_equality="structural")


def workload_of(func: Any) -> Any:
    """The IRModule a kernel is tuned and looked up as (one PrimFunc named main)."""
    import tvm

    return tvm.IRModule({"main": func.with_attr("global_symbol", "main")})


def apply_records(func: Any, tvm_target: Any, database: Any) -> Any | None:
    """The kernel scheduled by its best tuning record, or None when the database has none."""
    sch = database.query_schedule(workload_of(func), tvm_target, workload_name="main")
    return None if sch is None else sch.mod["main"]


def _progress_callback(total: int, start: float) -> Any:
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback
    from tvm.ir.utils import derived_object

    @derived_object
    class Progress(PyMeasureCallback):
        def __init__(self) -> None:
            self.done = 0

        def apply(self, task_scheduler: Any, task_id: int, measure_candidates: Any,
                  builder_results: Any, runner_results: Any) -> None:
            self.done += len(runner_results)
            elapsed = time.perf_counter() - start
            eta = elapsed / max(self.done, 1) * max(total - self.done, 0)
            width = 30
            filled = int(width * min(self.done, total) / max(total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{total} trials, "
                             f"{elapsed:6.0f} s elapsed, ETA {eta:5.0f} s ")
            sys.stderr.flush()

    return Progress()


def _trials_per_workload(database: Any) -> dict[int, int]:
    """Measured trials (failed ones included) per workload, by structural hash: what a resumed
    run has already spent on each kernel."""
    import tvm_ffi

    counts: dict[int, int] = {}
    for rec in database.get_all_tuning_records():
        h = tvm_ffi.structural_hash(rec.workload.mod)
        counts[h] = counts.get(h, 0) + 1
    return counts


def _space_generator(func: Any) -> Any:
    """MetaSchedule's generic design space, or the kernel's own where it has one: the BitNet pack
    and bit-serial kernels are tuned around their rules' schedules (see `bitnet.schedule`)."""
    from tvm.s_tir import meta_schedule as ms

    from .bitnet.schedule import design_space, has_design_space

    return ms.space_generator.ScheduleFn(design_space) if has_design_space(func) else "post-order-apply"


@dataclass
class TuneSummary:
    kernels: int
    tuned_now: int
    skipped: int
    trials: int
    seconds: float
    database: Path
    untunable: list[str] = field(default_factory=list)  # "kernel: reason" MetaSchedule could not tune


def tune(model: Any, options: CompileOptions, trials: int, work_dir: Path | None = None) -> TuneSummary:
    """Tune the kernels of `model` for `options.target` with about `trials` measurements in total."""
    import tempfile

    import tvm_ffi
    from tvm.s_tir import meta_schedule as ms

    from .frontend import import_model
    from .lower import lower
    from .plan_builder import build_plan

    target = get_target(options.target)
    num_cores = options.num_threads or 2
    tvm_target = target.tvm_target(num_cores)
    imported = import_model(model, options.input_shapes)
    if options.bitnet is not None:  # tune the bit-serial kernels the compile will use
        from .bitnet.rewrite import quantize_module

        imported.mod, _ = quantize_module(imported.mod, options.bitnet)
    lowered, _ = lower(imported.mod, tvm_target, target.name, options.opt_level)
    built = build_plan(lowered, imported.inputs, imported.outputs, {})
    calls: dict[int, int] = {}
    for step in built.plan.steps:
        if step.kind == 0:
            calls[step.kernel] = calls.get(step.kernel, 0) + 1

    from .prepack import constant_params

    constant = constant_params(built.plan, built.kernels)
    database = open_database(target, create=True)
    per_task = max(trials // max(len(built.kernels), 1), 8)
    done = _trials_per_workload(database)
    tasks, weights, names = [], [], []
    untunable: list[str] = []
    skipped = 0
    for k, name in enumerate(built.kernels):
        mod = workload_of(lowered[lowered.get_global_var(name)])
        if done.get(tvm_ffi.structural_hash(mod), 0) >= per_task:
            skipped += 1
            continue
        ctx = ms.TuneContext(mod=mod, target=tvm_target, space_generator=_space_generator(mod["main"]),
                             search_strategy="evolutionary", task_name=name, num_threads=num_cores).clone()
        try:
            # MetaSchedule's design-space generation aborts the whole run on a kernel its rules
            # cannot handle; probe each kernel first and keep its rule-based schedule instead.
            ctx.space_generator.generate_design_space(ctx.mod)
        except Exception as e:
            untunable.append(f"{name}: {str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}")
            continue
        tasks.append(ctx)
        weights.append(float(calls.get(k, 1)))
        names.append(name)
    start = time.perf_counter()
    budget = per_task * len(tasks)
    if tasks:
        # Before the search, so that an interrupted run never leaves records without the rule
        # times that decide whether compile may use them.
        _record_baselines(lowered, names, constant, target, tvm_target)
        with tempfile.TemporaryDirectory(prefix="ronn-tune-") as tmp:
            callbacks = ms.MeasureCallback.create("default") + [_progress_callback(budget, start)]
            # Generous timeouts: each builder/runner worker imports TVM first, which takes tens of
            # seconds on a loaded 2-core machine, and a timeout is recorded as a failed trial.
            ms.tune_tasks(tasks=tasks, task_weights=weights, work_dir=str(work_dir or tmp),
                          builder=ms.builder.LocalBuilder(max_workers=num_cores, timeout_sec=300),
                          runner=ms.runner.LocalRunner(timeout_sec=120),
                          max_trials_global=budget, max_trials_per_task=per_task,
                          num_trials_per_iter=min(64, per_task), database=database,
                          cost_model="xgb", measure_callbacks=callbacks)
        sys.stderr.write("\n")
    return TuneSummary(len(built.kernels), len(tasks), skipped, budget, time.perf_counter() - start,
                       database_dir(target), untunable)


def _record_baselines(lowered: Any, names: list[str], constant: dict[str, list[int]], target: Target,
                      tvm_target: Any) -> None:
    """Measure the rule schedule of every kernel just tuned and store it beside the records
    (baselines.py): compile applies a record only where it beat its rule."""
    from .baselines import measure_rules, save_baselines, workload_key

    funcs = [lowered[lowered.get_global_var(n)] for n in names]
    seconds = measure_rules([(f, constant.get(n, [])) for f, n in zip(funcs, names)], target.arch, tvm_target)
    save_baselines(database_dir(target), {workload_key(f): (n, s) for f, n, s in zip(funcs, names, seconds)
                                          if s is not None})
